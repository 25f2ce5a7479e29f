"""The dashboard's judgements and figures, pure: freshness (stale shows as stale), limit
use, the one answer to "is it safe?", regime bands and the monthly heatmap."""

from __future__ import annotations

import pandas as pd
import pytest

from dashboard import charts, status

NOW = 1_700_000_000_000
FRESH = {"check": "parity", "status": "OK", "last_ingest": NOW - 60_000}


def test_freshness_and_ages() -> None:
    assert status.freshness(NOW - 60_000, NOW) == "fresh"
    assert status.freshness(NOW - (status.STALE_AFTER_S + 1) * 1000, NOW) == "stale"
    assert status.freshness(0, NOW) == status.freshness(None, NOW) == "never"
    assert [status.age_text(s) for s in (None, 5, 125, 7300, 200000)] == [
        "never", "5 s", "2 min", "2 h", "2 d"]  # fmt: skip


def test_limit_uses_measure_the_latest_books_against_each_configured_limit() -> None:
    legs = [{"market_value": "60000"}, {"market_value": "-20000"}]
    book = {"daily_pnl": "-1500", "drawdown": "0.05"}
    limits = {"max_position_notional": "100000", "max_gross_exposure": "100000",
              "max_net_exposure": "50000", "max_daily_loss": "5000", "max_drawdown": "0.10",
              "max_order_notional": "25000"}  # fmt: skip
    uses = {u.limit: round(u.use, 4) for u in status.limit_uses("b", limits, book, legs)}
    assert uses == {
        "max_position_notional": 0.6,
        "max_gross_exposure": 0.8,
        "max_net_exposure": 0.8,
        "max_daily_loss": 0.3,
        "max_drawdown": 0.5,
    }
    gain = status.limit_uses("b", {"max_daily_loss": "5000"}, {"daily_pnl": "900"}, [])
    assert gain[0].use == 0.0  # a gain uses none of the loss limit


@pytest.mark.parametrize(
    ("states", "killed", "checks", "critical", "level", "says"),
    [
        ({"a": "ACTIVE"}, set(), [FRESH], 0, "SAFE", "every bot trading"),
        ({"a": "ACTIVE"}, {"a"}, [FRESH], 0, "STOPPED", "a is killed"),
        ({"a": "HALTED"}, set(), [FRESH], 0, "STOPPED", "a is HALTED"),
        ({"a": "ACTIVE"}, set(), [{**FRESH, "last_ingest": NOW - 10**8}], 0, "ATTENTION",
         "parity is stale"),
        ({"a": "ACTIVE"}, set(), [{**FRESH, "last_ingest": 0}], 0, "ATTENTION",
         "parity has never reported"),
        ({"a": "ACTIVE"}, set(), [{**FRESH, "status": "CRITICAL"}], 0, "ATTENTION",
         "parity: CRITICAL"),
        ({"a": "ACTIVE"}, set(), [FRESH], 2, "ATTENTION", "2 CRITICAL alert(s)"),
        ({"a": "REDUCING"}, set(), [FRESH], 0, "ATTENTION", "a is REDUCING"),
        ({"a": "ACTIVE"}, set(), [{**FRESH, "status": "WARNING"}], 0, "ATTENTION",
         "parity: WARNING"),
    ],
)  # fmt: skip
def test_is_it_safe(states, killed, checks, critical, level, says) -> None:
    got = status.safety(states, killed, checks, [], critical, NOW, True)
    assert got.level == level and any(says in r for r in got.reasons), got


def test_a_limit_nearly_used_asks_for_attention_and_no_books_is_no_data() -> None:
    use = status.LimitUse("a", "max_gross_exposure", status.dec("95000"), status.dec("100000"))
    got = status.safety({"a": "ACTIVE"}, set(), [FRESH], [use], 0, NOW, True)
    assert got.level == "ATTENTION" and got.reasons == ["a max_gross_exposure at 95%"]
    empty = status.safety({}, set(), [], [], 0, NOW, False)
    assert empty.level == "NO DATA" and "desk demo" in empty.reasons[0]


def test_regime_bands_are_contiguous_runs_and_the_heatmap_is_year_by_month() -> None:
    regimes = ["", "normal", "normal", "high_vol", "high_vol", "normal"]
    df = pd.DataFrame({"ts": [1, 2, 3, 4, 5, 6], "regime": regimes})
    assert charts.regime_spans(df) == [(2, 3, "normal"), (4, 5, "high_vol"), (6, 6, "normal")]
    fig = charts.monthly_heatmap({"2022-12": -0.01, "2023-01": 0.02, "2023-03": None})
    hm = fig.data[0]
    assert list(hm.y) == ["2022", "2023"] and hm.z[0][11] == -1.0 and hm.z[1][0] == 2.0
    assert hm.z[1][2] is None and hm.z[1][1] is None  # no return, no month: no cell


def test_exposure_puts_risks_reserved_orders_beside_the_filled_position() -> None:
    legs = [{"bot_id": "a", "venue": "v", "symbol": "X", "quantity": "2", "mark": "10",
             "market_value": "20", "unrealized_pnl": "1"}]  # fmt: skip
    reserved = {
        ("a", "v:X"): {"buys": "3", "sells": "1"},
        ("b", "v:Y"): {"buys": "0", "sells": "4"},
        ("c", "v:Z"): {"buys": "0", "sells": "0"},
    }
    rows = {(r["bot_id"], r["symbol"]): r for r in status.exposure(legs, reserved)}
    assert set(rows) == {("a", "v:X"), ("b", "v:Y")}  # nothing held, nothing open: no row
    a = rows[("a", "v:X")]
    assert (a["filled"], a["open_buys"], a["open_sells"], a["worst_case"]) == (2, 3, 1, 5)
    assert a["worst_case_value"] == 50  # every open buy filled, at the mark
    b = rows[("b", "v:Y")]
    assert b["worst_case"] == 4 and b["worst_case_value"] is None  # no mark held: unknown
