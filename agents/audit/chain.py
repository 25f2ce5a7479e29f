"""The audit chain, pure: canonical entries, their hashes, and verification.

Each entry's hash is SHA-256 over the previous entry's hash and the entry's
canonical content (its sequence number, event id, time, kind, actor, subject and
body as sorted-key JSON). Editing any field of any entry changes its hash;
removing or inserting an entry breaks the next entry's ``prev_hash``. So
``verify`` finds the first entry that is not what was written, and says why.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from streams.decimals import tidy

GENESIS = "0" * 64  # the prev_hash of the first entry


def canonical(value: Any) -> Any:
    """A body as plain JSON data: exact decimals as strings, tuples as lists, keys as text."""
    if isinstance(value, Decimal):
        return format(tidy(value), "f")
    if isinstance(value, Mapping):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    return value


@dataclass(frozen=True)
class Entry:
    seq: int
    event_id: str
    ts_event: int
    kind: str
    actor: str
    subject: str
    body: dict[str, Any]
    prev_hash: str
    hash: str

    def content(self) -> str:
        return json.dumps(
            {
                "seq": self.seq,
                "event_id": self.event_id,
                "ts_event": self.ts_event,
                "kind": self.kind,
                "actor": self.actor,
                "subject": self.subject,
                "body": self.body,
            },
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )

    def to_json(self) -> dict[str, Any]:
        return dict(vars(self))


def entry_hash(prev_hash: str, content: str) -> str:
    return hashlib.sha256(f"{prev_hash}\n{content}".encode()).hexdigest()


def make_entry(
    prev: Entry | None,
    *,
    event_id: str,
    ts_event: int,
    kind: str,
    actor: str,
    subject: str,
    body: Mapping[str, Any],
) -> Entry:
    """The entry that follows ``prev`` (``None``: the first one)."""
    seq, prev_hash = (1, GENESIS) if prev is None else (prev.seq + 1, prev.hash)
    draft = Entry(
        seq, event_id, int(ts_event), kind, actor, subject, canonical(body), prev_hash, ""
    )
    return Entry(**{**vars(draft), "hash": entry_hash(prev_hash, draft.content())})


@dataclass(frozen=True)
class Break:
    """The first entry that is not what was written."""

    seq: int
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "reason": self.reason}


def verify(entries: Iterable[Entry]) -> tuple[int, Break | None]:
    """Walk the chain in ``seq`` order: (entries checked, the first break or None)."""
    prev_hash, expected_seq, n = GENESIS, 1, 0
    for e in entries:
        n += 1
        if e.seq != expected_seq:
            missing = (
                f"entry {expected_seq}"
                if e.seq == expected_seq + 1
                else (f"entries {expected_seq}..{e.seq - 1}")
            )
            return n, Break(e.seq, f"{missing} removed (sequence jumps to {e.seq})")
        if e.prev_hash != prev_hash:
            return n, Break(e.seq, "prev_hash does not match the entry before it")
        if entry_hash(e.prev_hash, e.content()) != e.hash:
            return n, Break(e.seq, "content altered: its hash does not match")
        prev_hash, expected_seq = e.hash, e.seq + 1
    return n, None
