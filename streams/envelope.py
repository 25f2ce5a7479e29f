"""The envelope every desk event starts with, filled in one place.

Every Avro event schema (``schemas/avro/``) begins with the same five fields:
``event_id`` (deterministic, ``streams.ids.event_id``), ``ts_event`` (event time,
ms), ``ts_ingest`` (when it entered the desk: event time for anything the desk
derives, so a replay is byte-identical), ``source`` (who made it) and
``correlation_id`` (the event that caused it, or that one's cause). Builders of
events start from ``envelope`` or, for an event another event caused,
``caused_by``, and add their own fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Event = dict[str, Any]


def envelope(
    event_id: str,
    ts_event: int,
    source: str,
    *,
    ts_ingest: int | None = None,
    correlation_id: str | None = None,
) -> Event:
    """The common fields; ``ts_ingest`` defaults to the event time (a derived event)."""
    return {
        "event_id": event_id,
        "ts_event": ts_event,
        "ts_ingest": ts_event if ts_ingest is None else ts_ingest,
        "source": source,
        "correlation_id": correlation_id,
    }


def caused_by(
    cause: Mapping[str, Any], event_id: str, source: str, *, correlation_id: str | None = None
) -> Event:
    """An event ``cause`` led to: its event and ingest times, correlated to it (or to
    ``correlation_id``, e.g. the cause's own cause)."""
    return envelope(
        event_id,
        cause["ts_event"],
        source,
        ts_ingest=cause["ts_ingest"],
        correlation_id=cause["event_id"] if correlation_id is None else correlation_id,
    )
