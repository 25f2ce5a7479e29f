"""``desk db``: the stores' schemas (versioned migrations, applied idempotently)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]

db_app = typer.Typer(help="The desk's stores: schema migrations.", no_args_is_help=True)


@db_app.command("migrate")
def migrate(json_out: JsonOpt = False) -> None:
    """Apply pending migrations to PostgreSQL (operational state). Safe to run again:
    a second run applies nothing. Works with the desk running or not."""
    from connectors.postgres.migrate import applied
    from connectors.postgres.migrate import migrate as migrate_postgres
    from streams import cli
    from streams.runtime.access import postgres_dsn

    settings = cli._settings()
    with cli.err.status("migrating PostgreSQL...", spinner="dots"), postgres_dsn(settings) as dsn:
        ran = migrate_postgres(dsn)
        now = applied(dsn)
    report: dict[str, Any] = {
        "postgres": {
            "applied_now": [f"{m.version:04d}_{m.name}" for m in ran],
            "schema_version": max(now, default=0),
        }
    }
    if json_out:
        cli._print_json(report)
        return
    table = Table(title="migrations")
    for col in ("store", "applied now", "schema version"):
        table.add_column(col)
    for store, r in report.items():
        table.add_row(store, ", ".join(r["applied_now"]) or "nothing to apply",
                      str(r["schema_version"]))  # fmt: skip
    cli.out.print(table)


def register_db(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
