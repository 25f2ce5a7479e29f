"""One look for long CLI work: a rich progress bar on a terminal, plain lines in a log.

rich draws its bar only on a terminal: with stderr redirected to a file or a
pipe (a cron job, ``nohup``, a CI log) it would print nothing at all, and a
long replay would look hung. There ``progress_bar`` gives ``LineProgress``
instead: the same calls, and every ``every_s`` seconds (and once at the end) a
plain line per task with done/total, percent, rate and ETA. ``--json`` turns
both off.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

EVERY_S = 10.0  # seconds between two progress lines in a log


def progress_bar(
    console: Console, disable: bool, eta: bool = False, every_s: float = EVERY_S
) -> Progress | LineProgress:
    """Description, bar, done/total (and time left) on a terminal, vanishing when done;
    elsewhere periodic plain lines (``LineProgress``)."""
    if not disable and not console.is_terminal:
        return LineProgress(console, every_s=every_s)
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
    if eta:
        columns.append(TimeRemainingColumn())
    return Progress(*columns, console=console, transient=True, disable=disable)


@dataclass
class _Task:
    description: str
    total: float | None
    completed: float = 0.0
    started: float = 0.0
    reported: float | None = None  # the ``completed`` of the last line printed


@dataclass
class LineProgress:
    """``rich.progress.Progress``'s ``add_task``/``update``/``advance`` as log lines.

    A line per task at most every ``every_s`` seconds, and a last one when the
    ``with`` block ends: ``replay: 12,000/30,240 bars (39.7%), 1,234/s, ETA 15 s``.
    """

    console: Console
    every_s: float = EVERY_S
    clock: Callable[[], float] = time.monotonic
    tasks: dict[TaskID, _Task] = field(default_factory=dict)
    _last_line: float = 0.0

    def __enter__(self) -> LineProgress:
        self._last_line = self.clock()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for task in self.tasks.values():
            if task.reported != task.completed:
                self._line(task)

    def add_task(self, description: str, total: float | None = 100.0, **_: Any) -> TaskID:
        """A new task; its first line comes after ``every_s`` seconds of work (or at the end)."""
        task_id = TaskID(len(self.tasks))
        self.tasks[task_id] = _Task(description, total, started=self.clock())
        return task_id

    def update(
        self,
        task_id: TaskID,
        *,
        completed: float | None = None,
        total: float | None = None,
        advance: float | None = None,
        **_: Any,
    ) -> None:
        """As ``Progress.update``; prints the lines that are due."""
        task = self.tasks[task_id]
        if total is not None:
            task.total = total
        if completed is not None:
            task.completed = completed
        if advance is not None:
            task.completed += advance
        self._tick()

    def advance(self, task_id: TaskID, advance: float = 1) -> None:
        """As ``Progress.advance``."""
        self.update(task_id, advance=advance)

    def _tick(self) -> None:
        now = self.clock()
        if now - self._last_line < self.every_s:
            return
        self._last_line = now
        for task in self.tasks.values():
            if task.reported != task.completed:
                self._line(task)

    def _line(self, task: _Task) -> None:
        task.reported = task.completed
        self.console.print(progress_line(task, self.clock()), markup=False, highlight=False)


def progress_line(task: _Task, now: float) -> str:
    """``NAME: done/total (pct%), rate/s, ETA t`` (what is known of it)."""
    done, total = task.completed, task.total
    elapsed = max(now - task.started, 1e-9)
    rate = done / elapsed
    parts = [f"{task.description}: {done:,.0f}"]
    if total:
        parts[0] += f"/{total:,.0f} ({100 * done / total:.1f}%)"
    parts.append(f"{rate:,.0f}/s")
    if total and done >= total:
        parts.append(f"done in {_duration(elapsed)}")
    elif total and rate > 0:
        parts.append(f"ETA {_duration((total - done) / rate)}")
    return ", ".join(parts)


def _duration(seconds: float) -> str:
    """``42 s``, ``3 min 05 s``, ``2 h 07 min``."""
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def stage_reporters(
    progress: Progress | LineProgress, console: Console, quiet: bool, label: str = ""
) -> tuple[Callable[[str], None], Callable[[str, int, int], None]]:
    """``on_stage(message)`` (a line on ``console`` unless quiet) and ``on_progress(name,
    done, total)`` (a task per name on ``progress``): what long commands hand their work."""
    tasks: dict[str, Any] = {}
    prefix = f"{label}: " if label else ""

    def on_stage(msg: str) -> None:
        if not quiet:
            console.print(f"- {prefix}{msg}", highlight=False)

    def on_progress(name: str, done: int, total: int) -> None:
        if name not in tasks:
            tasks[name] = progress.add_task(f"{label} {name}".strip(), total=total)
        progress.update(tasks[name], completed=done)

    return on_stage, on_progress
