"""The risk-command journal: an append-only, fsynced file the kill switch can rely on.

A kill must survive a desk restart even when PostgreSQL is down, and the
embedded broker forgets its topics on restart. So the operator's command is
written here (one JSON line, flushed and fsynced, directory included) before
it is sent or acknowledged; risk folds the journal into its trading states at
start and re-publishes what the durable stores have not recorded yet (the audit
trail and the sink take each command once, by event id).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
KEEP = 5_000  # commands kept when the journal is compacted


class CommandJournal:
    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, cmd: Mapping[str, Any]) -> None:
        """Write one command durably; raises ``OSError`` if it could not be."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = not self.path.exists()
        line = json.dumps(dict(cmd), sort_keys=True, default=str) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        if new:  # the file's directory entry must be durable too
            dfd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)

    def read(self) -> list[dict[str, Any]]:
        """Every command, oldest first; a torn last line (a crash mid-write) is skipped."""
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return []
        out: dict[str, dict[str, Any]] = {}  # once per event id (the CLI and risk both write)
        for n, line in enumerate(text.splitlines(), 1):
            try:
                cmd = json.loads(line)
            except json.JSONDecodeError:
                log.warning("risk journal %s line %d unreadable: skipped", self.path, n)
                continue
            if isinstance(cmd, dict) and "event_id" in cmd and "command" in cmd:
                out.setdefault(cmd["event_id"], cmd)
        return sorted(out.values(), key=lambda c: (c["ts_event"], c["event_id"]))

    def compact(self) -> None:
        """Keep the newest ``KEEP`` commands (atomic replace)."""
        cmds = self.read()
        if len(cmds) <= KEEP:
            return
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(c, sort_keys=True) + "\n" for c in cmds[-KEEP:]))
        os.replace(tmp, self.path)


def journal_path(data_path: Path, prefix: str = "") -> Path:
    """One journal per desk namespace (topic prefix) under the desk's data dir."""
    return data_path / "state" / f"{prefix}risk-commands.jsonl"
