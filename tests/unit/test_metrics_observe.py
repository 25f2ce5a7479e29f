"""What the desk's outputs say about its health, as gauges (issue 19, point 4): a bot's
trading state and a check's word are one-hot (the previous word drops to 0), a stream's
freshness is the wall clock of its last clean bar, a check's age the wall clock of its
last report."""

from __future__ import annotations

import time

from prometheus_client import REGISTRY

from streams import metrics


def value(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def test_trading_state_and_check_status_are_one_hot() -> None:
    metrics.observe("risk.decisions", {"bot_id": "obs-a", "trading_state": "ACTIVE"})
    metrics.observe("risk.decisions", {"bot_id": "obs-a", "trading_state": "HALTED"})
    assert value("desk_trading_state", bot="obs-a", state="ACTIVE") == 0
    assert value("desk_trading_state", bot="obs-a", state="HALTED") == 1
    metrics.observe("recon.reports", {"severity": "WARNING"})
    metrics.observe("recon.reports", {"severity": "INFO"})
    assert value("desk_check_status", check="reconciliation", status="WARNING") == 0
    assert value("desk_check_status", check="reconciliation", status="INFO") == 1
    seen = value("desk_check_last_report_timestamp_seconds", check="reconciliation")
    assert seen is not None and abs(time.time() - seen) < 60


def test_a_clean_bar_marks_its_streams_freshness_and_event_time() -> None:
    bar = {"venue": "obs", "symbol": "X/Y", "ts_event": 1_678_060_800_000}
    metrics.observe("market.bars.clean", bar)
    assert value("desk_stream_event_time_seconds", stream="obs:X/Y") == 1_678_060_800
    seen = value("desk_stream_last_seen_timestamp_seconds", stream="obs:X/Y")
    assert seen is not None and abs(time.time() - seen) < 60


def test_a_denial_is_counted_under_each_check_it_failed() -> None:
    from agents.risk.keeper import denied_by

    def check(name: str, passed: bool) -> dict:
        return {"name": name, "passed": passed, "value": None, "limit": None, "detail": ""}

    both = {"checks": [check("kill_switch", False), check("quantity", True),
                       check("max_order_notional", False),
                       check("kill_switch", False)]}  # fmt: skip
    assert denied_by(both) == ["kill_switch", "max_order_notional"]
    assert denied_by({"checks": [check("quantity", True)]}) == ["unspecified"]
    assert denied_by({"checks": []}) == ["unspecified"]
