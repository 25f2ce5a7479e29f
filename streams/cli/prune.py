"""``desk prune``: delete old artifacts from the data dir (streams/retention.py): an
allowlist of artifact kinds; never the stores, the audit trail, tickets or confirmations."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from streams.cli import context
from streams.cli.options import JsonOpt
from streams.display import desk_table
from streams.errors import DeskError


def prune(
    older_than: Annotated[
        str, typer.Option("--older-than", help="Age to delete from: 30d, 12h, 2w, 90m.")
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would go; delete nothing.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Delete artifacts older than --older-than from DESK_DATA_DIR: backtest folders, gate
    evidence copies, finished replays' data dirs, drill folders, dry-run alert files,
    daily morning reports, fetched end-of-day files, validation reports.

    Never touched: PostgreSQL and ClickHouse (the audit trail, gate results, tickets and
    fills live there), the desk's state and journals, ticket folders with their
    confirmations, raw inputs kept by content hash, golden replay windows. An entry's
    age is its newest file's.

    Examples:

      $ desk prune --older-than 30d --dry-run
      $ desk prune --older-than 90d --json
    """
    from streams.retention import delete, parse_age, plan

    try:
        age = parse_age(older_than)
    except ValueError as exc:
        raise DeskError(str(exc)) from None
    root = context.settings().data_path
    now = time.time()
    entries = plan(root, age, now) if root.exists() else []
    freed = 0 if dry_run else delete(entries, root)
    if json_out:
        context.print_json(
            {
                "data_dir": str(root),
                "older_than": older_than,
                "dry_run": dry_run,
                "entries": [e.to_json(now) for e in entries],
                "bytes_freed": freed,
            }
        )
        return
    if not entries:
        context.out.print(f"nothing older than {older_than} to prune in {root}", highlight=False)
        return
    t = desk_table(
        "kind", "path", "age (days)", "bytes", keys=("path",), numbers=("age (days)", "bytes")
    )
    for e in entries:
        j = e.to_json(now)
        t.add_row(j["kind"], j["path"], f"{j['age_days']:.1f}", f"{j['bytes']:,}")
    context.out.print(t)
    verb = "would delete" if dry_run else "deleted"
    total = sum(e.size for e in entries)
    context.out.print(f"{verb} {len(entries)} entries, {total:,} bytes", highlight=False)


def register_prune(app: typer.Typer) -> None:
    app.command("prune")(prune)
