"""One look for long CLI work: a rich progress bar on stderr, off for ``--json``."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)


def progress_bar(console: Console, disable: bool, eta: bool = False) -> Progress:
    """Description, bar, done/total (and time left); vanishes when done."""
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
    if eta:
        columns.append(TimeRemainingColumn())
    return Progress(*columns, console=console, transient=True, disable=disable)
