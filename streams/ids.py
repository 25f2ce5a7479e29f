"""Deterministic ids: the same inputs give the same id on any machine, in any replay."""

from __future__ import annotations

import uuid

DESK_NAMESPACE = uuid.UUID("6f1d3c2a-7d0e-5b7c-9a51-2f0c1d8e4b10")


def event_id(kind: str, *parts: object) -> str:
    """UUIDv5 over the event kind and the inputs that identify it."""
    return str(uuid.uuid5(DESK_NAMESPACE, "|".join([kind, *map(str, parts)])))
