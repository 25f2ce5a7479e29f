"""``desk topics``, ``schemas`` and ``config``: the catalogs the desk is built from.

The topic catalog against the broker (``apply`` is idempotent), the Avro event
types with their committed versions, and the desk config file checked the way
the desk loads it (an overlay merged over its base).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from streams.cli import context
from streams.cli.options import JsonOpt
from streams.display import desk_table, print_table

topics_app = typer.Typer(help="The topic catalog on the broker.", no_args_is_help=True)
schemas_app = typer.Typer(help="The Avro event catalog (schemas/avro).", no_args_is_help=True)
config_app = typer.Typer(help="The desk config file.", no_args_is_help=True)


# -- topics ---------------------------------------------------------------------------------


def _topic_rows(changes: list[Any]) -> list[dict[str, Any]]:
    return [
        {
            "topic": c.topic,
            "action": c.action,
            "detail": c.detail,
            "value_schema": c.spec.value_schema,
            "key": c.spec.key,
            "partitions": c.spec.partitions,
            "retention_days": c.spec.retention_days,
        }
        for c in changes
    ]


def _topic_table(rows: list[dict[str, Any]], title: str) -> Table:
    t = desk_table(
        "topic",
        "value",
        "key",
        "partitions",
        "retention",
        "state",
        "detail",
        title=title,
        keys=("topic",),
        numbers=("partitions", "retention"),
    )
    for r in rows:
        ret = "forever" if r["retention_days"] is None else f"{r['retention_days']} d"
        t.add_row(
            r["topic"],
            r["value_schema"],
            r["key"],
            str(r["partitions"]),
            ret,
            r["action"],
            r["detail"],
        )
    return t


@topics_app.command("apply")
def topics_apply(json_out: JsonOpt = False) -> None:
    """Create missing topics and fix drifted configs (idempotent; says when nothing changed).

    Examples:

      $ desk topics apply  # needs: desk up
    """
    from streams.admin import apply_desk_topics

    settings = context.settings()
    changes = apply_desk_topics(context.bootstrap(settings), settings)
    rows = _topic_rows(changes)
    changed = sum(1 for c in changes if c.changes_anything)
    if json_out:
        context.print_json({"changed": changed, "topics": rows})
        return
    context.out.print(_topic_table(rows, "topics apply"))
    context.out.print(
        "nothing to change: every topic is up to date"
        if changed == 0
        else f"{changed} topic(s) created or altered"
    )


@topics_app.command("list")
def topics_list(json_out: JsonOpt = False) -> None:
    """The catalog and each topic's state on the broker (changes nothing).

    Examples:

      $ desk topics list --json  # needs: desk up
    """
    from streams.admin import list_desk_topics

    settings = context.settings()
    rows = _topic_rows(list_desk_topics(context.bootstrap(settings), settings))
    for r in rows:
        r["action"] = {"create": "missing", "alter": "drifted"}.get(r["action"], r["action"])
    if json_out:
        context.print_json({"topics": rows})
    else:
        context.out.print(_topic_table(rows, "topic catalog"))


# -- schemas / config -----------------------------------------------------------------------


@schemas_app.command("list")
def schemas_list(json_out: JsonOpt = False) -> None:
    """Every event type with its current fingerprint and how many versions are committed.

    Examples:

      $ desk schemas list
    """
    from streams.avro import registry

    reg = registry()
    rows = []
    for name in reg.names():
        versions = [v for v in reg.versions() if v.name == name]
        rows.append(
            {
                "type": name,
                "fingerprint": reg.current(name).fingerprint_hex,
                "versions": len(versions),
            }
        )
    if json_out:
        context.print_json(rows)
        return
    t = desk_table(
        "type",
        "current fingerprint",
        "versions",
        keys=("type",),
        numbers=("current fingerprint", "versions"),
    )
    for r in rows:
        t.add_row(r["type"], r["fingerprint"], str(r["versions"]))
    print_table(context.out, t, len(rows), "type")


@schemas_app.command("freeze")
def schemas_freeze(
    fixtures: Annotated[Path, typer.Option(help="Fixture folder.")] = Path("tests/fixtures/avro"),
) -> None:
    """Record current schema versions in history/ and write an encoded fixture for each."""
    from schemas import avro_dir
    from streams.avro import SchemaRegistry
    from streams.schema_history import freeze

    added = freeze(SchemaRegistry(avro_dir()), fixtures)
    for a in added:
        context.out.print(f"added {a}")
    context.out.print(
        "every schema version is frozen" if not added else f"{len(added)} file(s) added"
    )


@config_app.command("check")
def config_check(
    path: Annotated[Path | None, typer.Argument(help="Config file (default: settings').")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Validate the desk config file; one line naming the bad key if it is wrong.

    An overlay (extends: default, or a base file) is checked merged over its base.

    Examples:

      $ desk config check

      $ desk config check streams/desk.default.yaml --json
    """
    from streams.config import DEFAULT_CONFIG, load_config, load_config_data

    settings = context.settings()
    path = path or settings.config_file or DEFAULT_CONFIG
    cfg = load_config(path)
    chain = [str(p) for p in load_config_data(path)[1][1:]]
    summary = {
        "config": str(path),
        "extends": chain,
        "desk": cfg.desk.name,
        "instruments": len(cfg.universe),
        "bots": [b.id for b in cfg.bots],
        "strategies": sorted(cfg.strategies),
        "fee_profiles": sorted(cfg.fee_profiles),
        "alert_routes": [r.name for r in cfg.alert_routes],
    }
    if json_out:
        context.print_json(summary)
    else:
        over = f" (extends {' < '.join(chain)})" if chain else ""
        context.out.print(
            f"config ok: {path}{over}: desk {cfg.desk.name!r}, {len(cfg.universe)} instruments, "
            f"{len(cfg.bots)} bots ({', '.join(summary['bots'])})"
        )


def register_catalog(app: typer.Typer) -> None:
    app.add_typer(topics_app, name="topics")
    app.add_typer(schemas_app, name="schemas")
    app.add_typer(config_app, name="config")
