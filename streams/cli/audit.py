"""``desk audit``: the hash-chained audit trail (verify it, show it).

Works with the desk running or not (``streams.runtime.access.postgres_dsn``).
``verify`` exits 1 and names the first entry that is not what was written.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import typer

from streams.cli import context
from streams.cli.options import JsonOpt
from streams.display import desk_table, print_table

audit_app = typer.Typer(help="The audit trail: every risk command, kill, resume, gate result.",
                        no_args_is_help=True)  # fmt: skip


@audit_app.command("verify")
def verify_cmd(json_out: JsonOpt = False) -> None:
    """Walk the whole chain; exit 1 and name the first altered, removed or inserted entry.

    Examples:

      $ desk audit verify  # needs: PostgreSQL
    """
    from agents.audit.chain import verify
    from connectors.postgres.audit import AuditLog
    from streams.runtime.access import postgres_dsn

    status = context.err.status("verifying the audit chain...", spinner="dots")
    with status, postgres_dsn(context.settings()) as dsn:
        checked, broken = verify(AuditLog(dsn).entries())
    report: dict[str, Any] = {
        "ok": broken is None,
        "entries_checked": checked,
        "first_break": None if broken is None else broken.to_json(),
    }
    if json_out:
        context.print_json(report)
    elif broken is None:
        context.out.print(f"[green]audit chain intact[/]: {checked} entries")
    else:
        context.out.print(f"[red]audit chain broken at entry {broken.seq}[/]: {broken.reason}")
    if broken is not None:
        raise typer.Exit(1)


@audit_app.command("show")
def show_cmd(
    kind: Annotated[
        str | None, typer.Option("--kind", help="Only kinds starting with this, e.g. risk_command.")
    ] = None,
    last: Annotated[int, typer.Option("--last", min=1, help="The latest N entries.")] = 50,
    json_out: JsonOpt = False,
) -> None:
    """The latest audit entries (who did what, when, why), oldest first.

    Examples:

      $ desk audit show --kind risk_command --last 20  # needs: PostgreSQL
    """
    from collections import deque

    from connectors.postgres.audit import AuditLog
    from streams.runtime.access import postgres_dsn

    with postgres_dsn(context.settings()) as dsn:
        entries = list(deque(AuditLog(dsn).entries(kind), maxlen=last))
    if json_out:
        context.print_json({"entries": [e.to_json() for e in entries]})
        return
    table = desk_table(
        "seq",
        "time (UTC)",
        "kind",
        "actor",
        "subject",
        "reason",
        "hash",
        title=f"audit trail (latest {len(entries)})",
        keys=("kind", "subject"),
        numbers=("seq",),
        left=("time (UTC)", "hash"),
    )
    for e in entries:
        at = dt.datetime.fromtimestamp(e.ts_event / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(str(e.seq), at, e.kind, e.actor, e.subject,
                      str(e.body.get("reason", "")), e.hash[:12])  # fmt: skip
    print_table(context.out, table, len(entries), "entry", "entries")


def register_audit(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
