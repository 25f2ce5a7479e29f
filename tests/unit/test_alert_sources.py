"""Alerts from data-quality findings and from dead-letter bursts (pure, event time), and
what the router makes of them: one incident per dedup key, CRITICAL never throttled."""

from __future__ import annotations

from typing import Any

import pytest

from agents.alerts.router import AlertRouter, RouteRule
from agents.alerts.sources import DeadLetterBursts, dq_alert
from agents.dq.core import DataQualityCore
from agents.dq.findings import Finding
from streams.avro import registry
from streams.config import load_config, parse_config
from streams.deadletter import dead_letter_record
from streams.errors import ConfigError

T0 = 1_677_628_800_000  # 2023-03-01T00:00:00Z
MIN = 60_000


def report(severity: str = "CRITICAL", check: str = "stale", ts: int = T0, **kw: Any) -> dict:
    f = Finding("binanceus", "BTC/USDT", check, severity, f"{check} happened", ts, ts,
                evidence={"intervals": "7"}, **kw)  # fmt: skip
    return f.event()


def test_only_findings_at_or_above_the_threshold_alert() -> None:
    sev = ("INFO", "WARNING", "CRITICAL")
    got = {m: [s for s in sev if dq_alert(report(s), m)] for m in (*sev, "OFF")}
    assert got == {"INFO": list(sev), "WARNING": ["WARNING", "CRITICAL"],
                   "CRITICAL": ["CRITICAL"], "OFF": []}  # fmt: skip


def test_a_dq_alert_carries_the_finding() -> None:
    r = report("CRITICAL", "cross_market_divergence", window_start=T0 - 5 * MIN, window_end=T0)
    a = dq_alert(r, "CRITICAL")
    assert a is not None
    assert a["dedup_key"] == "dq:binanceus:BTC/USDT:cross_market_divergence"
    assert (a["severity"], a["venue"], a["symbol"], a["bot_id"]) == (
        "CRITICAL", "binanceus", "BTC/USDT", None)  # fmt: skip
    assert (a["ts_event"], a["source"], a["correlation_id"]) == (T0, "agent.dq", r["event_id"])
    assert a["title"] == "Data quality: cross_market_divergence on binanceus:BTC/USDT"
    assert a["message"] == ("cross_market_divergence happened "
                            "(from 2023-02-28T23:55:00Z to 2023-03-01T00:00:00Z)")  # fmt: skip
    assert a["evidence"]["intervals"] == "7" and a["evidence"]["report_id"] == r["event_id"]
    assert a["event_id"] != r["event_id"] and dq_alert(r, "CRITICAL") == a  # deterministic
    registry().encode("Alert", a)  # a valid Alert event


def test_a_real_critical_gap_from_the_dq_core_becomes_an_alert() -> None:
    core = DataQualityCore.from_config(load_config())

    def bar(i: int) -> dict:
        t = T0 + i * MIN
        return {"event_id": f"b{i}", "ts_event": t + MIN, "ts_ingest": t + MIN, "source": "test",
                "correlation_id": None, "venue": "binanceus", "symbol": "BTC/USDT",
                "interval": "1m", "open_time": t, "open": 100.0, "high": 101.0, "low": 99.0,
                "close": 100.0, "volume": 5.0, "trades": 10, "adj_close": None,
                "quality_flags": []}  # fmt: skip

    reports = [r for i in [*range(40), *range(200, 205)] for r in core.process(bar(i)).reports()]
    alerts = [a for r in reports if (a := dq_alert(r, "CRITICAL")) is not None]
    # 160 silent minutes: the stream went stale and has a gap, both CRITICAL; the WARNINGs
    # and INFOs (e.g. stale_cleared) of the same episode are no alert
    assert sorted((a["severity"], a["dedup_key"]) for a in alerts) == [
        ("CRITICAL", "dq:binanceus:BTC/USDT:gap"),
        ("CRITICAL", "dq:binanceus:BTC/USDT:stale"),
    ]
    assert len(reports) > len(alerts)


def test_the_router_keeps_one_incident_per_stream_and_check_and_never_throttles_critical() -> None:
    router = AlertRouter([RouteRule("hook", "WARNING")], dedup_window_ms=15 * MIN,
                         throttle_window_ms=60 * MIN, max_per_window=1)  # fmt: skip

    def act(r: dict) -> str:
        a = dq_alert(r, "WARNING")
        assert a is not None
        return router.route(a)[0].action

    assert act(report("WARNING", "gap", T0)) == "send"
    assert act(report("WARNING", "gap", T0 + MIN)) == "deduplicated"  # the same incident
    assert act(report("WARNING", "outlier", T0 + 2 * MIN)) == "throttled"  # 1 per window
    # escalations and CRITICAL findings of other streams all go out, whatever the throttle
    assert act(report("CRITICAL", "gap", T0 + 3 * MIN)) == "send"
    assert [act(report("CRITICAL", f"check{i}", T0 + (4 + i) * MIN)) for i in range(5)] == [
        "send"
    ] * 5


def dead(n: int, ts: int, topic: str = "market.bars", agent: str = "data-quality") -> dict:
    return dead_letter_record(topic=topic, partition=0, offset=n, key=b"k", raw=b"\x00",
                              error=ValueError("bad bar"), kind="validation", agent=agent,
                              ts_ms=ts)  # fmt: skip


def test_a_dead_letter_burst_raises_one_warning_then_one_critical() -> None:
    b = DeadLetterBursts(window_ms=5 * MIN, warning=3, critical=6)
    raised = [(n, a["severity"]) for n in range(20) if (a := b.observe(dead(n, T0 + n * 1000)))]
    assert raised == [(2, "WARNING"), (5, "CRITICAL")]
    a = DeadLetterBursts(5 * MIN, warning=1, critical=2).observe(dead(99, T0))
    assert (
        a is not None
        and a["severity"] == "WARNING"
        and a["source"] == "agent.alert-sources"
        and a["dedup_key"] == "deadletter:data-quality:market.bars"
    )
    assert a["evidence"]["topic"] == "market.bars" and a["evidence"]["count"] == "1"
    registry().encode("Alert", a)


def test_bursts_are_per_agent_and_topic_and_a_new_burst_alerts_again() -> None:
    b = DeadLetterBursts(window_ms=5 * MIN, warning=3, critical=100)
    first = [b.observe(dead(n, T0 + n)) for n in range(3)]
    other = [b.observe(dead(n, T0 + n, topic="fills", agent="portfolio")) for n in range(2)]
    assert first[-1] is not None and first[-1]["severity"] == "WARNING"
    assert other == [None, None]  # two are not a burst of their own
    assert "within 300 s" in first[-1]["message"] and "validation: bad bar" in first[-1]["message"]
    # the same burst goes on: no new alert; a whole quiet window later: a new burst
    assert b.observe(dead(3, T0 + MIN)) is None
    later = [b.observe(dead(n, T0 + 20 * MIN + n)) for n in range(10, 13)]
    assert [a and a["severity"] for a in later] == [None, None, "WARNING"]
    assert later[-1]["event_id"] != first[-1]["event_id"]  # type: ignore[index]


def test_old_dead_letters_fall_out_of_the_window() -> None:
    b = DeadLetterBursts(window_ms=MIN, warning=3, critical=10)
    got = [b.observe(dead(n, T0 + n * 40_000)) for n in range(10)]  # 1.5 a minute
    assert got == [None] * 10


def test_alerting_config_keys_and_defaults() -> None:
    a = load_config().alerting
    assert (a.dq_min_severity, a.deadletter_burst_window_seconds, a.deadletter_burst_warning,
            a.deadletter_burst_critical) == ("CRITICAL", 300, 10, 100)  # fmt: skip
    from tests.unit.test_settings_config import _default

    data = _default()
    data["alerting"] = {"deadletter_burst_warning": 50, "deadletter_burst_critical": 5}
    with pytest.raises(ConfigError, match="deadletter_burst_critical must be >="):
        parse_config(data)
    data["alerting"] = {"dq_min_severity": "SOMETIMES"}
    with pytest.raises(ConfigError, match=r"alerting\.dq_min_severity"):
        parse_config(data)
