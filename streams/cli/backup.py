"""``desk backup`` / ``desk restore``: both stores to a folder and back, exactly.

PostgreSQL (operational state, the audit trail, tickets, gate runs) with ``pg_dump`` /
``pg_restore`` of the embedded distribution; the analytics store table by table in
ClickHouse's Native format. A manifest names every file with its SHA-256 and row
counts; a restore checks it first and the row counts after.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from streams.cli import context
from streams.cli.options import JsonOpt
from streams.errors import DeskError

MANIFEST = "manifest.json"


def _sha(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _refuse_running_embedded(settings: Any) -> None:
    from streams.runtime.stack import pid_alive, read_state

    state = read_state(settings)
    if state and pid_alive(int(state.get("pid", 0))) and settings.clickhouse_dsn.startswith("chdb"):
        raise DeskError(
            "a desk is running on this data dir and owns its embedded stores: stop it "
            "(Ctrl-C in its terminal) first, or back up a ClickHouse server and PostgreSQL"
        )


def _client(store: Any) -> Any:
    client = getattr(store, "client", None)
    if client is None:
        raise DeskError("the analytics store is reached through a running desk: stop it first")
    return client


def backup(
    out: Annotated[
        Path | None, typer.Option(help="Folder (default: DESK_DATA_DIR/backups/<UTC time>).")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Back up PostgreSQL and the analytics store into one folder with a manifest
    (SHA-256 and row counts of every file). No desk may run on an embedded data dir.

    Examples:

      $ desk backup --out /backups/desk-2026-12-01  # needs: no desk running
    """
    from connectors.clickhouse import backup as ch
    from connectors.postgres import backup as pg
    from connectors.postgres.migrate import applied
    from streams.runtime.access import analytics_store, postgres_dsn

    settings = context.settings()
    _refuse_running_embedded(settings)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    where = out or settings.data_path / "backups" / stamp
    if where.exists() and any(where.iterdir()):
        raise DeskError(f"{where} is not empty: back up into a new folder")
    where.mkdir(parents=True, exist_ok=True)
    with context.err.status("dumping PostgreSQL...", spinner="dots"), \
            postgres_dsn(settings) as dsn:  # fmt: skip
        pg.dump(dsn, where / "postgres.dump")
        pg_version = max(applied(dsn), default=0)
    with context.err.status("exporting the analytics store...", spinner="dots"), \
            analytics_store(settings) as st:  # fmt: skip
        client = _client(st)
        tables = ch.export(client, where / "clickhouse")
        ch_version = int(
            client.query("SELECT max(version) FROM schema_migrations").result_rows[0][0]
        )
    manifest = {
        "created_at": stamp,
        "data_dir": str(settings.data_path),
        "postgres": {"file": "postgres.dump", "sha256": _sha(where / "postgres.dump"),
                     "schema_version": pg_version},
        "clickhouse": {"schema_version": ch_version, "tables": tables},
    }  # fmt: skip
    (where / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    rows = sum(t["rows"] for t in tables.values())
    if json_out:
        context.print_json({**manifest, "folder": str(where)})
        return
    context.out.print(
        f"[green]backed up[/] PostgreSQL (schema {pg_version}) and {len(tables)} analytics "
        f"tables ({rows:,} rows) to {where}",
        highlight=False,
    )


def restore(
    folder: Annotated[Path, typer.Argument(help="A folder `desk backup` wrote.")],
    confirm: Annotated[
        bool, typer.Option("--confirm", help="Required: the stores' contents are replaced.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Restore a backup into this data dir's stores (or the servers the settings name):
    the manifest's hashes are checked first, PostgreSQL is replaced in one transaction,
    each analytics table emptied and refilled, and the row counts checked after.

    Examples:

      $ desk restore /backups/desk-2026-12-01 --confirm  # needs: a backup
    """
    from connectors.clickhouse import backup as ch
    from connectors.postgres import backup as pg
    from connectors.postgres.migrate import migrate
    from streams.runtime.access import analytics_store, postgres_dsn

    if not confirm:
        raise DeskError("desk restore replaces the stores' contents: add --confirm")
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise DeskError(f"{folder}: no readable {MANIFEST} ({exc})") from None
    bad = (
        []
        if _sha(folder / "postgres.dump") == manifest["postgres"]["sha256"]
        else ["postgres.dump"]
    )
    for t, m in manifest["clickhouse"]["tables"].items():
        f = folder / "clickhouse" / f"{t}.native"
        if not f.exists() or _sha(f) != m["sha256"]:
            bad.append(f"clickhouse/{t}.native")
    if bad:
        raise DeskError(f"{folder}: {bad[0]} does not match the manifest (damaged or edited); "
                        "nothing restored")  # fmt: skip
    settings = context.settings()
    _refuse_running_embedded(settings)
    with context.err.status("restoring PostgreSQL...", spinner="dots"), \
            postgres_dsn(settings) as dsn:  # fmt: skip
        pg.restore(dsn, folder / "postgres.dump")
        migrate(dsn)  # an older backup is brought up to this desk's schema
    with context.err.status("restoring the analytics store...", spinner="dots"), \
            analytics_store(settings) as st:  # fmt: skip
        st.migrate({})
        got = ch.load(_client(st), folder / "clickhouse", manifest["clickhouse"]["tables"])
    wrong = {t: (n, manifest["clickhouse"]["tables"][t]["rows"]) for t, n in got.items()
             if n != manifest["clickhouse"]["tables"][t]["rows"]}  # fmt: skip
    if wrong:
        t, (n, want) = next(iter(wrong.items()))
        raise DeskError(f"restored {t} holds {n} rows, the backup {want}")
    if json_out:
        context.print_json({"restored": str(folder), "tables": got,
                            "postgres_schema": manifest["postgres"]["schema_version"]})  # fmt: skip
        return
    context.out.print(
        f"[green]restored[/] {folder}: PostgreSQL and {len(got)} analytics tables "
        f"({sum(got.values()):,} rows)",
        highlight=False,
    )


def register_backup(app: typer.Typer) -> None:
    app.command("backup")(backup)
    app.command("restore")(restore)
