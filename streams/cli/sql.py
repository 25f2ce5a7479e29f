"""``desk sql``: read-only SQL on the analytics store, desk running or not.

The on-call's first tool: every event of every topic is a row in ClickHouse.
A query goes to the running desk's store through its owner, or opens the
embedded store directly when no desk runs (``streams.runtime.access``); the
answer is the same either way. Only reads pass (one ``SELECT``/``WITH``/
``SHOW``/``DESCRIBE``/``EXPLAIN`` statement); the canned incident queries of
``docs/triage.md`` run by name with ``--query``.
"""

from __future__ import annotations

import csv
import enum
import sys
from decimal import Decimal
from typing import Annotated, Any

import typer

from streams.cli import context
from streams.display import desk_table, num, print_table
from streams.errors import DeskError


class Format(enum.StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def _cell(value: Any) -> str:
    """One value as text: decimals as short as they are (a ``Decimal(38, 18)`` column holds
    ``1.500000000000000000`` and ``0E-18``), lists and maps as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return num(value)
    if isinstance(value, list | dict):
        import json

        return json.dumps(value, separators=(",", ":"))
    return str(value)


def sql(
    statement: Annotated[
        str | None, typer.Argument(help="One read-only statement (SELECT, WITH, SHOW...).")
    ] = None,
    query: Annotated[
        str | None, typer.Option("--query", "-q", help="Run a canned triage query by name.")
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="NAME=VALUE for a canned query (repeatable)."),
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.table,
    json_out: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
    list_queries: Annotated[
        bool, typer.Option("--list", help="List the canned triage queries.")
    ] = False,
    show: Annotated[
        bool, typer.Option("--show", help="Print the SQL a canned query would run, and stop.")
    ] = False,
) -> None:
    """Read-only SQL on the analytics store (ClickHouse), while `desk up` runs or not.

    With no desk running it opens the data dir's store itself. A table ends with
    its row count; --format csv and json print only the rows.

    Examples:

      $ desk sql "SELECT count() AS fills FROM fills"

      $ desk sql --list

      $ desk sql --query denials-by-reason --param since=2023-03-11 --format csv

      $ desk sql --query worst-slippage --show
    """
    from analytics.triage import find, load_all
    from streams.runtime.access import analytics_store

    fmt = Format.json if json_out else fmt
    if list_queries:
        queries = load_all()
        if fmt is Format.json:
            context.print_json([
                {"name": q.name, "title": q.title, "why": q.why,
                 "params": [{"name": p.name, "type": p.type, "default": p.default}
                            for p in q.params]}
                for q in queries.values()
            ])  # fmt: skip
            return
        table = desk_table(
            "name",
            "title",
            "params",
            keys=("name",),
            title="canned triage queries (desk sql --query NAME)",
        )
        for q in queries.values():
            table.add_row(q.name, q.title, ", ".join(f"{p.name} ({p.type})" for p in q.params))
        print_table(context.out, table, len(queries), "query", "queries")
        return
    if (statement is None) == (query is None):
        raise DeskError("give one SQL statement or --query NAME (desk sql --list shows them)")
    values: dict[str, str] = {}
    for item in param or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise DeskError(f"--param {item!r}: expected NAME=VALUE")
        values[name.strip()] = value
    if query is not None:
        text = find(query).render(values)
    elif values:
        raise DeskError("--param goes with --query (a plain statement carries its own values)")
    else:
        text = statement or ""
    if show:
        sys.stdout.write(text + "\n")
        return
    settings = context.settings()
    status = context.err.status("querying the analytics store...", spinner="dots")
    with status, analytics_store(settings) as store:
        result = store.query(text)
    if fmt is Format.json:
        context.print_json(result.to_json())
    elif fmt is Format.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows([_cell(v) for v in row] for row in result.rows)
    else:
        table = desk_table()
        for col, kind in zip(result.columns, result.types, strict=True):
            numeric = kind.startswith(("Int", "UInt", "Float", "Decimal", "Nullable(Decimal"))
            table.add_column(col, justify="right" if numeric else "left", overflow="fold")
        for row in result.rows:
            table.add_row(*[_cell(v) for v in row])
        print_table(context.out, table, len(result.rows))


def register_sql(app: typer.Typer) -> None:
    app.command("sql")(sql)
