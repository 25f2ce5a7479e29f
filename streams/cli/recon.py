"""``desk reconcile``: one reconciliation pass over the desk's topics, on demand.

The recon agent reconciles continuously in the stream; this reads the whole of
``fills``, ``orders.events`` and ``venue.reports`` from the broker, replays them
in event-time order through the same core (fills before a report of the same
millisecond), and prints every finding. Exit code 1 when a finding is critical,
so a cron job or a gate can act on it.

One pass is the command's only mode (the continuous one is the recon agent in
``desk up``), so the bare command runs it; ``--once`` is still accepted, for
the scripts and runbooks that spell it out.
"""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any

import typer

from streams.cli import context
from streams.cli.options import JsonOpt
from streams.display import desk_table, print_table

RANK = {"fills": 0, "orders.events": 1, "venue.reports": 2}


def reconcile(
    once: Annotated[
        bool,
        typer.Option(
            "--once", help="Accepted for scripts: one pass is what the command always does."
        ),
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Compare the desk's fills, orders and positions with every venue report, once.

    One pass over fills, orders.events and venue.reports, then exit: 1 if a finding
    is CRITICAL. The recon agent in `desk up` does the same continuously.

    Examples:

      $ desk reconcile  # needs: desk up

      $ desk reconcile --json  # needs: desk up
    """
    from agents.recon.desk import reconciler
    from streams.config import load_config
    from streams.kafka import decode_all, read_topic

    del once  # one pass is the only mode
    settings = context.checked_settings()
    bootstrap, prefix = context.bootstrap(settings), settings.topic_prefix
    events: list[tuple[int, int, str, dict[str, Any]]] = []
    with context.err.status("reading the topics...", spinner="dots"):
        for topic, rank in RANK.items():
            for e in decode_all(read_topic(bootstrap, topic, prefix, idle_s=1.0)):
                events.append((int(e["ts_event"]), rank, topic, e))
    events.sort(key=lambda x: (x[0], x[1]))
    recon = reconciler(load_config(settings.config_file))
    findings: list[dict[str, Any]] = []
    reports = Counter[str]()
    for _ts, _rank, topic, e in events:
        if topic == "fills":
            recon.on_fill(e)
        elif topic == "orders.events":
            recon.on_order_event(e)
        else:
            reports[f"{e['venue']}:{e['account']}"] += 1
            findings += recon.on_report(e)
    by_sev = Counter(f["severity"] for f in findings)
    result = {
        "accounts": [{"account": a, "reports": n} for a, n in sorted(reports.items())],
        "fills": sum(1 for x in events if x[2] == "fills"),
        "findings": [
            {
                k: f[k]
                for k in (
                    "ts_event",
                    "venue",
                    "account",
                    "bot_id",
                    "finding",
                    "severity",
                    "message",
                    "evidence",
                )
            }
            for f in findings
        ],
        "critical": by_sev.get("CRITICAL", 0),
        "warning": by_sev.get("WARNING", 0),
    }
    if json_out:
        context.print_json(result)
    else:
        n_reports, n_fills = sum(reports.values()), result["fills"]
        title = f"reconciliation: {n_reports} venue report(s), {n_fills} fill(s)"
        columns = ("severity", "account", "bot", "finding", "message")
        table = desk_table(*columns, title=title, keys=("account", "bot", "finding"))
        for f in findings:
            table.add_row(f["severity"], f"{f['venue']}:{f['account']}", f["bot_id"] or "",
                          f["finding"], f["message"])  # fmt: skip
        if findings:
            print_table(context.out, table, len(findings), "finding")
        else:
            context.out.print("[green]reconciled: no finding[/]")
    if result["critical"]:
        raise typer.Exit(1)


def register_recon(app: typer.Typer) -> None:
    app.command("reconcile")(reconcile)
