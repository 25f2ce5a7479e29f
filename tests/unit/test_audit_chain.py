"""The hash chain of the audit trail: any edit, removal or rewrite is found and named."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from itertools import pairwise

from agents.audit.chain import GENESIS, Entry, entry_hash, make_entry, verify


def chain(n: int = 5) -> list[Entry]:
    out: list[Entry] = []
    for i in range(1, n + 1):
        out.append(make_entry(
            out[-1] if out else None, event_id=f"e{i}", ts_event=1_678_000_000_000 + i,
            kind="risk_command.KILL" if i % 2 else "risk_command.RESUME", actor="ops",
            subject="desk", body={"reason": f"step {i}", "limit": Decimal("0.05"), "n": [i]},
        ))  # fmt: skip
    return out


def test_an_untouched_chain_verifies_and_links_from_genesis() -> None:
    entries = chain()
    assert verify(entries) == (5, None)
    assert entries[0].prev_hash == GENESIS and entries[0].seq == 1
    assert all(b.prev_hash == a.hash for a, b in pairwise(entries))
    assert entries[0].body["limit"] == "0.05"  # exact decimals as text, JSON round-trips


def test_an_edited_entry_is_named() -> None:
    entries = chain()
    entries[2] = replace(entries[2], body={**entries[2].body, "reason": "nothing to see"})
    assert verify(entries)[1].to_json() == {
        "seq": 3, "reason": "content altered: its hash does not match"}  # fmt: skip


def test_a_removed_entry_is_named_by_the_one_after_it() -> None:
    entries = chain()
    del entries[2]
    broken = verify(entries)[1]
    assert broken is not None and (broken.seq, broken.reason) == (
        4, "entry 3 removed (sequence jumps to 4)")  # fmt: skip
    assert verify(chain()[:4])[1] is None  # the tail cut off is not detectable by the chain


def test_a_rewritten_entry_with_a_recomputed_hash_breaks_the_next_link() -> None:
    entries = chain()
    forged = replace(entries[2], actor="someone else")
    entries[2] = replace(forged, hash=entry_hash(forged.prev_hash, forged.content()))
    broken = verify(entries)[1]
    assert broken is not None and broken.seq == 4 and "prev_hash" in broken.reason
