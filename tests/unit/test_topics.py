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


def test_retention_overrides_from_settings_replace_the_catalogs() -> None:
    import pytest

    from streams.errors import ConfigError
    from streams.settings import load_settings
    from streams.topics import parse_retention, with_retention

    assert parse_retention("") == {}
    assert parse_retention(" market.quotes = 3d , fills=forever,") == {
        "market.quotes": 3,
        "fills": None,
    }
    specs = {s.name: s for s in with_retention({"market.quotes": 3, "fills": None})}
    assert specs["market.quotes"].config()["retention.ms"] == str(3 * 86_400_000)
    assert specs["fills"].config()["retention.ms"] == "-1"
    assert specs["orders.intents"] == spec("orders.intents")  # the rest as the catalog says
    for bad, why in (
        ("market.quote=3d", "not in the topic catalog"),
        ("fills=3", "expected TOPIC=<days>d"),
        ("fills=0d", "at least 1d"),
        ("fills=-1d", "expected TOPIC=<days>d"),
    ):
        with pytest.raises(ValueError, match=why):
            parse_retention(bad)
        with pytest.raises(ConfigError, match="DESK_TOPIC_RETENTION") as info:
            load_settings(topic_retention=bad)
        assert "\n" not in str(info.value)
    settings = load_settings(topic_retention="dq.reports=7d", topic_replication_factor=3)
    assert {s.name: s.retention_days for s in settings.catalog}["dq.reports"] == 7
    assert load_settings().topic_replication_factor == -1  # the broker's default
    with pytest.raises(ConfigError, match=r"DESK_TOPIC_REPLICATION_FACTOR.*-1"):
        load_settings(topic_replication_factor=0)


def test_plan_reports_fewer_replicas_than_the_settings_ask_as_drift() -> None:
    bars = spec("market.bars")
    one = {"market.bars": ObservedTopic(bars.partitions, bars.config(), replicas=1)}
    assert plan([bars], one)[0].action == "ok"  # -1: whatever the broker chose
    assert plan([bars], one, replication_factor=1)[0].action == "ok"
    short = plan([bars], one, replication_factor=3)[0]
    assert short.action == "drift" and "1 replica(s) on the broker, settings say 3" in short.detail
    assert not short.changes_anything
    three = {"market.bars": ObservedTopic(bars.partitions, bars.config(), replicas=3)}
    assert plan([bars], three, replication_factor=3)[0].action == "ok"
