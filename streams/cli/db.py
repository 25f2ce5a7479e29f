"""``desk db``: the stores' schemas (versioned migrations, applied idempotently)."""

from __future__ import annotations

from typing import Any

import typer

from streams.cli import context
from streams.cli.options import JsonOpt
from streams.display import desk_table

db_app = typer.Typer(
    help="The desk's stores: schema migrations and retention.", no_args_is_help=True
)


@db_app.command("migrate")
def migrate(json_out: JsonOpt = False) -> None:
    """Apply pending migrations to PostgreSQL (operational state) and ClickHouse (every
    event), and set the analytics tables' retention (TTL) from the config. Safe to run
    again: a second run changes nothing. Works with the desk running or not.

    Examples:

      $ desk db migrate  # needs: PostgreSQL (embedded: no desk may run)
    """
    from connectors.postgres.migrate import applied
    from connectors.postgres.migrate import migrate as migrate_postgres
    from streams.config import load_config
    from streams.runtime.access import analytics_store, postgres_dsn

    settings = context.settings()
    retention = load_config(settings.config_file).analytics.table_retention()
    with (
        context.err.status("migrating PostgreSQL...", spinner="dots"),
        postgres_dsn(settings) as dsn,
    ):
        ran = migrate_postgres(dsn)
        now = applied(dsn)
    with (
        context.err.status("migrating ClickHouse...", spinner="dots"),
        analytics_store(settings) as st,
    ):
        ch = st.migrate(retention)
    report: dict[str, Any] = {
        "postgres": {
            "applied_now": [f"{m.version:04d}_{m.name}" for m in ran],
            "schema_version": max(now, default=0),
        },
        "clickhouse": ch.to_json(),
    }
    if json_out:
        context.print_json(report)
        return
    table = desk_table(
        "store",
        "applied now",
        "schema version",
        "retention",
        title="migrations",
        keys=("store",),
        numbers=("schema version",),
    )
    for store_name, r in report.items():
        kept = ", ".join(f"{t} {d} d" for t, d in sorted(r.get("retention", {}).items()))
        table.add_row(
            store_name,
            ", ".join(r["applied_now"]) or "nothing to apply",
            str(r["schema_version"]),
            kept or ("forever" if store_name == "clickhouse" else ""),
        )
    context.out.print(table)


def register_db(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
