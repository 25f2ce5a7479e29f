"""The audit log in PostgreSQL: append under a table lock, read in order.

Appenders take ``LOCK TABLE audit_log IN EXCLUSIVE MODE`` for the transaction
(readers are not blocked), read the last entry, and chain the new ones after it
(``agents.audit.chain``). An item whose ``event_id`` is already in the log is
skipped, so a re-delivered event is recorded once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import psycopg

from agents.audit.chain import Entry, make_entry

_COLUMNS = "seq, event_id, ts_event, kind, actor, subject, body, prev_hash, hash"
_INSERT = f"INSERT INTO audit_log ({_COLUMNS}) VALUES ({', '.join(['%s'] * 9)})"


def _entry(row: Sequence[Any]) -> Entry:
    seq, event_id, ts, kind, actor, subject, body, prev_hash, hash_ = row
    return Entry(int(seq), event_id, int(ts), kind, actor, subject, body, prev_hash, hash_)


class AuditLog:
    """Synchronous (run it in a thread from an agent); one connection per call."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    def append(self, items: Sequence[Mapping[str, Any]]) -> list[Entry]:
        """Chain ``items`` (event_id, ts_event, kind, actor, subject, body) onto the log;
        returns the entries written (items already in the log are skipped)."""
        if not items:
            return []
        with psycopg.connect(self.dsn, connect_timeout=5) as conn, conn.transaction():
            conn.execute("LOCK TABLE audit_log IN EXCLUSIVE MODE")
            ids = [i["event_id"] for i in items]
            seen = {
                r[0]
                for r in conn.execute(
                    "SELECT event_id FROM audit_log WHERE event_id = ANY(%s)", (ids,)
                ).fetchall()
            }
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM audit_log ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            prev = None if row is None else _entry(row)
            written = []
            for item in items:
                if item["event_id"] in seen:
                    continue
                seen.add(item["event_id"])
                prev = make_entry(prev, **{k: item[k] for k in (
                    "event_id", "ts_event", "kind", "actor", "subject", "body")})  # fmt: skip
                conn.execute(
                    _INSERT,
                    (prev.seq, prev.event_id, prev.ts_event, prev.kind, prev.actor, prev.subject,
                     json.dumps(prev.body), prev.prev_hash, prev.hash),
                )  # fmt: skip
                written.append(prev)
        return written

    def entries(self, kind: str | None = None) -> Iterator[Entry]:
        """Every entry in ``seq`` order (of one kind prefix, if given)."""
        sql = f"SELECT {_COLUMNS} FROM audit_log"
        params: tuple[Any, ...] = ()
        if kind:
            sql += " WHERE kind LIKE %s"
            params = (kind.replace("%", r"\%") + "%",)
        with psycopg.connect(self.dsn, connect_timeout=5) as conn:
            cur = conn.cursor(name="audit_entries")  # server-side: the log can be long
            cur.execute(sql + " ORDER BY seq", params)
            for row in cur:
                yield _entry(row)
