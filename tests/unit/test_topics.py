"""The topic catalog and the pure apply plan."""

from __future__ import annotations

from streams.avro import registry
from streams.topics import CATALOG, ObservedTopic, plan, spec


def test_catalog_matches_the_design_and_the_schemas() -> None:
    names = [t.name for t in CATALOG]
    assert len(names) == len(set(names))
    for expected in (
        "market.bars",
        "market.bars.clean",
        "orders.intents",
        "risk.decisions",
        "orders.commands",
        "fills",
        "venue.reports",
        "risk.commands",
        "deadletter",
    ):
        assert expected in names
    for t in CATALOG:
        registry().current(t.value_schema)  # every value schema exists
        assert t.partitions >= 1
    assert spec("risk.commands").partitions == 1  # kill/resume are totally ordered


def test_plan_creates_alters_and_leaves_partitions_alone() -> None:
    bars, fills = spec("market.bars"), spec("fills")
    observed = {
        "p.market.bars": ObservedTopic(bars.partitions, bars.config()),
        "p.fills": ObservedTopic(
            fills.partitions, {"cleanup.policy": "delete", "retention.ms": "1"}
        ),
        "p.deadletter": ObservedTopic(9, spec("deadletter").config()),
    }
    by_topic = {c.topic: c for c in plan(CATALOG, observed, "p.")}
    assert by_topic["p.market.bars"].action == "ok"
    assert by_topic["p.fills"].action == "alter"
    assert by_topic["p.fills"].config == {"retention.ms": "-1"}
    assert by_topic["p.deadletter"].action == "drift"
    assert by_topic["p.orders.intents"].action == "create"
    assert not by_topic["p.deadletter"].changes_anything


def test_a_records_event_time_is_its_header_else_its_timestamp() -> None:
    from streams.kafka import EVENT_TIME_HEADER, event_time_headers, event_time_s

    assert event_time_s(1.5, event_time_headers(1_678_000_000_000)) == 1_678_000_000.0
    assert event_time_s(1.5, {EVENT_TIME_HEADER: b"2000"}) == 2.0  # Faust gives a mapping
    assert event_time_s(1.5, None) == 1.5
    assert event_time_s(1.5, [("other", b"9")]) == 1.5
    assert event_time_s(1.5, [(EVENT_TIME_HEADER, b"not a number")]) == 1.5


def test_the_core_takes_its_outside_inputs_as_one_stream_each() -> None:
    """The desk's bars in the order the feed wrote them, the risk commands totally ordered:
    one partition each, so Faust (which co-partitions topics of one partition count) gives
    both to the worker that runs the desk's core."""
    assert spec("market.bars").partitions == 1
    assert spec("risk.commands").partitions == 1
