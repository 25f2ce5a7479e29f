"""The common envelope: one place fills it, and every event schema starts with it."""

from __future__ import annotations

import json

from schemas import avro_dir
from streams.envelope import caused_by, envelope

FIELDS = ["event_id", "ts_event", "ts_ingest", "source", "correlation_id"]


def test_a_derived_event_is_ingested_at_its_event_time_and_correlates_to_its_cause() -> None:
    assert envelope("e1", 5, "s") == {"event_id": "e1", "ts_event": 5, "ts_ingest": 5,
                                      "source": "s", "correlation_id": None}  # fmt: skip
    assert envelope("e1", 5, "s", ts_ingest=7, correlation_id="c")["ts_ingest"] == 7
    bar = {"event_id": "bar-1", "ts_event": 60_000, "ts_ingest": 61_234, "correlation_id": None}
    quote = caused_by(bar, "q-1", "agent.quotes")
    assert (quote["ts_event"], quote["ts_ingest"], quote["correlation_id"]) == (
        60_000, 61_234, "bar-1")  # fmt: skip
    assert caused_by(bar, "d-1", "agent.risk", correlation_id="root")["correlation_id"] == "root"


def test_every_event_schema_starts_with_the_envelope() -> None:
    checked = 0
    for path in sorted(avro_dir().glob("*.avsc")):
        schema = json.loads(path.read_text())
        names = {f["name"] for f in schema.get("fields", [])}
        if schema.get("type") != "record" or "event_id" not in names:
            continue
        assert [f["name"] for f in schema["fields"][:5]] == FIELDS, path.name
        checked += 1
    assert checked >= 15  # every topic's schema
