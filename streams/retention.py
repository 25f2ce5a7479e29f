"""Artifact retention in the data dir: what ``desk prune`` may delete, decided by an
allowlist, never by a denylist.

Only the artifact kinds named in ``PRUNABLE`` are candidates (a backtest's run folder, a
gate run's evidence copy, a finished replay's own data dir, a drill's folder, dry-run
alert files, the daily morning reports, fetched end-of-day files). Everything else is
never considered: the stores (PostgreSQL, ClickHouse, and with them the audit trail),
the desk's state and journals, the tickets with their confirmations, the raw inputs
kept by content hash (a ticket's evidence), the golden replay windows. ``protected``
is a second, independent guard that refuses those paths even if a pattern matched one.

An entry's age is its newest modification anywhere inside it, so a folder still being
written is young however old its name.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# (kind, glob under the data dir): each match is one entry, deleted whole
PRUNABLE: tuple[tuple[str, str], ...] = (
    ("backtest", "backtests/*"),
    ("gate_evidence", "gates/gr-*"),
    ("replay_run", "replays/*"),
    ("drill", "drills/*"),
    ("alert_dry_run", "alerts/dry-run/*.json"),
    ("daily_quality", "tickets/*/data_quality"),
    ("daily_report", "tickets/*/morning.txt"),
    ("eod_fetched", "eod/*.csv"),
    ("report", "reports/*"),
)
# never deleted, whatever matched: stores, state, journals, tickets, confirmations, raw
# inputs, golden windows, the live run folder
_NEVER = re.compile(
    r"^(postgres|clickhouse|state|faust|run|audit|replay/windows|tickets/raw)(/|$)"
    r"|^tickets/[^/]+/tk-[^/]+(/|$)|(^|/)confirmations(/|$)|(^|/)desk\.lock$"
)

_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_age(text: str) -> dt.timedelta:
    """``30d``, ``12h``, ``2w``, ``90m``: a one-line error for anything else."""
    m = re.fullmatch(r"\s*(\d+)\s*([mhdw])\s*", text)
    if not m or int(m.group(1)) == 0:
        raise ValueError(f"--older-than {text!r}: a positive number and a unit m, h, d or w")
    return dt.timedelta(seconds=int(m.group(1)) * _UNITS[m.group(2)])


def protected(rel: str) -> bool:
    return bool(_NEVER.search(rel))


@dataclass(frozen=True)
class Entry:
    kind: str
    path: Path
    rel: str
    newest: float  # the newest mtime inside it (epoch seconds)
    size: int

    def to_json(self, now: float) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "path": self.rel,
            "age_days": round((now - self.newest) / 86400, 2),
            "bytes": self.size,
        }


def _walk(path: Path) -> tuple[float, int]:
    if path.is_symlink() or path.is_file():
        st = path.lstat()
        return st.st_mtime, st.st_size
    newest, size = path.lstat().st_mtime, 0
    for p in path.rglob("*"):
        st = p.lstat()
        newest = max(newest, st.st_mtime)
        size += st.st_size if not p.is_dir() else 0
    return newest, size


def plan(root: Path, older_than: dt.timedelta, now: float) -> list[Entry]:
    """The entries older than ``older_than``, oldest first; nothing protected."""
    cutoff = now - older_than.total_seconds()
    found: dict[Path, Entry] = {}
    for kind, pattern in PRUNABLE:
        for p in sorted(root.glob(pattern)):
            rel = p.relative_to(root).as_posix()
            if p in found or protected(rel):
                continue
            newest, size = _walk(p)
            if newest < cutoff:
                found[p] = Entry(kind, p, rel, newest, size)
    return sorted(found.values(), key=lambda e: (e.newest, e.rel))


def delete(entries: list[Entry], root: Path) -> int:
    """Delete the entries (re-checking each against ``protected``); the bytes freed."""
    freed = 0
    for e in entries:
        rel = e.path.relative_to(root).as_posix()
        if protected(rel):  # a second guard, independent of the plan
            raise RuntimeError(f"refusing to delete protected {rel}")
        if e.path.is_dir() and not e.path.is_symlink():
            shutil.rmtree(e.path)
        else:
            e.path.unlink(missing_ok=True)
        freed += e.size
    return freed
