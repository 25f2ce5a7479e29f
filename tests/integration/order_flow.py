"""Reading a running desk's order path off the broker, for the tests that drive one."""

from __future__ import annotations

import time

from streams.kafka import decode_all, read_topic
from streams.runtime.stack import Stack

ORDER_TOPICS = ("orders.intents", "risk.decisions", "orders.commands", "orders.events", "fills",
                "portfolio.snapshots")  # fmt: skip


def topic(stack: Stack, name: str, prefix: str) -> list[dict]:
    return decode_all(read_topic(stack.broker.bootstrap, name, prefix, idle_s=1.0))


def caught_up(stack: Stack, prefix: str) -> bool:
    """Every intent decided, every approval sent, every submitted order acknowledged."""
    intents, decisions, commands, events = (
        topic(stack, name, prefix)
        for name in ("orders.intents", "risk.decisions", "orders.commands", "orders.events")
    )
    approved = {d["event_id"] for d in decisions if d["decision"] == "APPROVE"}
    return (
        {i["event_id"] for i in intents} <= {d["intent_id"] for d in decisions}
        and approved <= {c["decision_id"] for c in commands}
        and {c["client_order_id"] for c in commands if c["command"] == "SUBMIT"}
        <= {e["client_order_id"] for e in events}
    )


def settle(
    stack: Stack,
    prefix: str,
    names: tuple[str, ...] = ORDER_TOPICS,
    quiet_s: float = 4.0,
    limit_s: float = 180,
) -> None:
    """Wait until the order path has caught up with its inputs, then until none of the
    topics grew for ``quiet_s`` (fills and snapshots follow the acknowledgements)."""
    counts: dict[str, int] = {}
    deadline, calm_since = time.monotonic() + limit_s, time.monotonic()
    while time.monotonic() < deadline:
        now = {n: len(read_topic(stack.broker.bootstrap, n, prefix, idle_s=0.5)) for n in names}
        if now != counts or not caught_up(stack, prefix):
            counts, calm_since = now, time.monotonic()
        elif time.monotonic() - calm_since >= quiet_s:
            return
        time.sleep(0.5)
    raise AssertionError(f"the desk did not drain within {limit_s} s: {counts}")
