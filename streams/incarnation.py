"""Which life of the broker the desk is talking to.

Broker offsets are positions in one broker's log. The embedded broker keeps its
topics in memory: after a restart it numbers every partition from 0 again, so an
offset saved before the restart says nothing about the records after it (a
checkpoint that skipped "offsets it already holds" skipped every new input). A
durable broker (Redpanda, Kafka) keeps its log and its offsets.

So a durable checkpoint stores offsets together with the incarnation they belong
to, and trusts them only in that incarnation. ``desk up`` gives the embedded
broker a fresh incarnation each time it starts it; an external broker is durable
and its incarnation is its cluster id.
"""

from __future__ import annotations

import uuid

from streams.kafka import admin


def new_incarnation() -> str:
    """A fresh incarnation for a broker that starts empty."""
    return f"ephemeral:{uuid.uuid4()}"


def broker_incarnation(
    bootstrap: str, configured: str | None = None, timeout_s: float = 10.0
) -> str:
    """The configured incarnation (set by the supervisor), else the durable cluster's id."""
    if configured:
        return configured
    md = admin(bootstrap, timeout_s).list_topics(timeout=timeout_s)
    return f"cluster:{md.cluster_id or bootstrap}"


def offsets_valid(saved: str | None, current: str) -> bool:
    """Whether offsets saved under ``saved`` still name the same records now."""
    return saved is not None and saved == current
