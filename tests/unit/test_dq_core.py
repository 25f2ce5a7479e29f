"""The data-quality core on real recorded bars: every defect class injected, found once."""

from __future__ import annotations

import copy
import math
from collections import Counter
from functools import cache

import pytest

from agents.dq.core import DataQualityCore, InvalidBar
from agents.dq.findings import iso
from connectors.feeds.files import ReadOptions, read_bars
from connectors.feeds.normalize import merge_by_event_time
from streams.avro import registry
from streams.config import load_config
from tests.conftest import SHARED_DATA

CRYPTO = SHARED_DATA / "crypto_1m"
ETF = SHARED_DATA / "etf_daily"
pytestmark = pytest.mark.skipif(not CRYPTO.exists(), reason="../shared/data not present")
DAY = 1440


@cache
def _file_bars(quote: str) -> tuple[dict, ...]:
    path = CRYPTO / f"binanceus_BTC{quote}_1m_2023-03-01_2023-03-21.csv"
    return tuple(read_bars(path).bars)


def real(quote: str = "USD", start: int = 0, n: int = 2 * DAY) -> list[dict]:
    """Real Binance.US bars (deep copies: tests inject defects into them)."""
    return copy.deepcopy(list(_file_bars(quote)[start : start + n]))


def run(bars: list[dict]) -> list[dict]:
    core = DataQualityCore.from_config(load_config())
    out: list[dict] = []
    for bar in bars:
        out.extend(core.process(bar).reports())
    return out


def found(reports: list[dict]) -> Counter:
    return Counter((r["check"], r["severity"]) for r in reports)


def test_clean_real_week_has_no_critical_and_no_gap() -> None:
    week = list(merge_by_event_time(*(real(q, 0, 7 * DAY) for q in ("USD", "USDT", "USDC"))))
    reports = run(week)
    assert not [r for r in reports if r["severity"] == "CRITICAL"], reports
    assert not [r for r in reports if r["check"] in ("gap", "stale", "duplicate", "out_of_order")]


def _with_gap(bars: list[dict], at: int, n: int) -> list[dict]:
    return bars[:at] + bars[at + n :]


def test_gap_is_one_warning_with_the_missing_count() -> None:
    reports = run(_with_gap(real(), 500, 3))
    assert found(reports) == Counter({("gap", "WARNING"): 1})
    (gap,) = reports
    assert gap["evidence"]["missing"] == "3"
    assert gap["window_start"] == real()[500]["open_time"]


def test_long_silence_is_stale_critical_once_then_cleared() -> None:
    reports = run(_with_gap(real(), 500, 10))
    got = found(reports)
    assert got[("stale", "CRITICAL")] == 1
    assert got[("stale_cleared", "INFO")] == 1
    assert got[("gap", "WARNING")] == 1


def test_stale_on_the_wall_clock_for_live_feeds_is_reported_once() -> None:
    core = DataQualityCore.from_config(load_config())
    bars = real(n=10)
    for b in bars:
        core.process(b)
    last = bars[-1]["ts_event"]
    assert core.tick(last + 4 * 60_000) == []
    (stale,) = core.tick(last + 6 * 60_000)
    assert (stale.check, stale.severity) == ("stale", "CRITICAL")
    assert core.tick(last + 60 * 60_000) == []  # once per episode
    assert core.freshness("binanceus", "BTC/USD", "1m")["critical"] == ["stale"]


@pytest.mark.parametrize(
    ("change", "severity"), [({}, "INFO"), ({"close": 1.0}, "WARNING")], ids=["exact", "conflict"]
)
def test_duplicate_is_dropped_and_reported_once(change: dict, severity: str) -> None:
    bars = real()
    dup = copy.deepcopy(bars[700]) | change
    core = DataQualityCore.from_config(load_config())
    reports, clean = [], []
    for b in [*bars[:701], dup, *bars[701:]]:
        outcome = core.process(b)
        reports += outcome.reports()
        clean += [outcome.clean] if outcome.clean else []
    assert found(reports) == Counter({("duplicate", severity): 1})
    assert len(clean) == len(bars)


def test_out_of_order_bar_is_dropped_and_reported_once() -> None:
    bars = real()
    bars[900], bars[901] = bars[901], bars[900]
    got = found(run(bars))
    assert got[("out_of_order", "WARNING")] == 1
    assert got[("gap", "WARNING")] == 1  # when 901 came, 900 was missing


@pytest.mark.parametrize("bad", [math.nan, 0.0, -5.0], ids=["nan", "zero", "negative"])
def test_bad_price_is_critical_once_and_never_reaches_clean(bad: float) -> None:
    bars = real()
    for i in (1200, 1201):  # a two-bar episode: one report
        bars[i]["close"] = bad
    core = DataQualityCore.from_config(load_config())
    reports = []
    for i, b in enumerate(bars):
        outcome = core.process(b)
        reports += outcome.reports()
        assert (outcome.clean is None) == (i in (1200, 1201))
    assert found(reports) == Counter({("bad_value", "CRITICAL"): 1})


def test_ohlc_inconsistency_is_flagged_and_reported_once() -> None:
    bars = real()
    bars[1500]["high"] = bars[1500]["low"] * 0.999
    core = DataQualityCore.from_config(load_config())
    reports, flags = [], {}
    for b in bars:
        o = core.process(b)
        reports += o.reports()
        flags[b["open_time"]] = o.clean["quality_flags"]
    assert found(reports) == Counter({("ohlc_inconsistent", "WARNING"): 1})
    assert "ohlc_inconsistent" in flags[bars[1500]["open_time"]]


def test_zero_volume_run_with_carried_price_is_one_warning() -> None:
    bars = real()
    base = bars[1999]["close"]
    for b in bars[2000:2020]:
        b.update(open=base, high=base, low=base, close=base, volume=0.0)
    reports = run(bars)
    assert found(reports) == Counter({("zero_volume_run", "WARNING"): 1})
    (r,) = reports
    assert r["evidence"]["bars"] == "20" and r["evidence"]["carried_forward"] == "20"
    assert r["window_start"] == bars[2000]["open_time"]
    assert r["window_end"] == bars[2019]["open_time"]


@pytest.mark.parametrize(("factor", "severity"), [(1.2, "CRITICAL"), (1.03, "WARNING")])
def test_price_spike_is_one_outlier_with_severity_by_size(factor: float, severity: str) -> None:
    bars = real()
    for k in ("open", "high", "low", "close"):
        bars[2500][k] *= factor
    reports = run(bars)
    assert found(reports) == Counter({("outlier", severity): 1})
    assert reports[0]["window_start"] == bars[2500]["open_time"]


def test_cross_market_divergence_is_critical_once_then_converges() -> None:
    usd, usdt = real("USD"), real("USDT")
    for b in usdt[1000:1120]:  # USDT leg 4 % rich for two hours
        for k in ("open", "high", "low", "close"):
            b[k] *= 1.04
    reports = [r for r in run(list(merge_by_event_time(usd, usdt))) if r["check"] != "outlier"]
    assert found(reports) == Counter(
        {("cross_market_divergence", "CRITICAL"): 1, ("cross_market_converged", "INFO"): 1}
    )
    assert reports[0]["symbol"] == "BTC/USDT" and reports[0]["evidence"]["group"] == "BTC"


def test_cross_market_findings_do_not_depend_on_arrival_order() -> None:
    day = {q: real(q, 10 * DAY, DAY) for q in ("USD", "USDT", "USDC")}  # 2023-03-11
    interleaved = run(list(merge_by_event_time(*day.values())))
    # a whole partition can lag behind the others: one leg arrives after the rest
    usdc_late = run(list(merge_by_event_time(day["USD"], day["USDT"])) + day["USDC"])
    usdt_late = run(list(merge_by_event_time(day["USD"], day["USDC"])) + day["USDT"])
    ref_late = run(list(merge_by_event_time(day["USDT"], day["USDC"])) + day["USD"])

    def cross(rs: list[dict]) -> list[tuple]:
        return sorted((r["symbol"], r["ts_event"], r["event_id"]) for r in rs
                      if r["check"].startswith("cross"))  # fmt: skip

    assert {r[0] for r in cross(interleaved)} == {"BTC/USDT", "BTC/USDC"}
    assert cross(interleaved) == cross(usdc_late) == cross(usdt_late) == cross(ref_late)


def _cross(rs: list[dict]) -> list[tuple]:
    return sorted((r["symbol"], r["check"], r["ts_event"], r["event_id"]) for r in rs
                  if r["check"].startswith("cross"))  # fmt: skip


def test_a_whole_file_arriving_after_the_others_gives_the_same_divergences() -> None:
    """One partition can be consumed weeks ahead of another (seen in CI): 30,240 bars late."""
    usd, usdt, usdc = (list(_file_bars(q)) for q in ("USD", "USDT", "USDC"))
    interleaved = _cross(run(list(merge_by_event_time(usd, usdt, usdc))))
    assert ("BTC/USDC", "cross_market_divergence") in {r[:2] for r in interleaved}
    assert _cross(run(list(merge_by_event_time(usd, usdt)) + usdc)) == interleaved
    assert _cross(run(list(merge_by_event_time(usdt, usdc)) + usd)) == interleaved


def test_a_leg_lagging_past_the_buffer_bound_is_reported_not_silently_skipped() -> None:
    config = load_config()
    group = config.data_quality.cross_market[0].model_copy(update={"max_lag_bars": 1000})
    dq = config.data_quality.model_copy(update={"cross_market": [group]})
    core = DataQualityCore(dq, config.calendar_for)
    usd, usdc = real("USD", 10 * DAY, DAY), real("USDC", 10 * DAY, DAY)
    reports = [r for b in usd + usdc for r in core.process(b).reports()]
    lag = [r for r in reports if r["check"] == "cross_market_lag"]
    # USDC lags a whole day; USDT (configured, never fed) is not compared either
    assert sorted((r["symbol"], r["severity"]) for r in lag) == [
        ("BTC/USDC", "WARNING"), ("BTC/USDT", "WARNING")]  # fmt: skip
    assert core.groups[0].skipped["binanceus:BTC/USDC"] == DAY - 1000
    # the minutes still buffered were compared: the de-peg day is still flagged
    assert any(r["check"] == "cross_market_divergence" for r in reports)


def test_three_week_replay_flags_the_usdc_depeg_and_is_byte_identical() -> None:
    bars = list(merge_by_event_time(*(_file_bars(q) for q in ("USD", "USDT", "USDC"))))
    first = run(bars)
    critical = [r for r in first if r["severity"] == "CRITICAL"]
    assert [(r["symbol"], r["check"]) for r in critical] == [
        ("BTC/USDC", "cross_market_divergence")
    ]
    assert iso(critical[0]["ts_event"]).startswith("2023-03-11")
    converged = next(r for r in first if r["check"] == "cross_market_converged"
                     and r["symbol"] == "BTC/USDC")  # fmt: skip
    assert float(converged["evidence"]["peak_bps"]) > 1300  # ~+1,400 bps around 07:50 UTC
    zero_runs = [r for r in first if r["check"] == "zero_volume_run"]
    assert zero_runs and {r["symbol"] for r in zero_runs} == {"BTC/USDC"}
    assert not [r for r in first if r["check"] in ("gap", "stale", "missing_session")]
    second = run(bars)
    enc = registry().encode
    assert [enc("DataQualityReport", r) for r in first] == [
        enc("DataQualityReport", r) for r in second
    ]


def test_bar_without_identity_is_invalid_not_a_crash() -> None:
    core = DataQualityCore.from_config(load_config())
    with pytest.raises(InvalidBar, match="empty venue"):
        core.process(real(n=1)[0] | {"venue": ""})
    with pytest.raises(InvalidBar, match="unknown bar interval"):
        core.process(real(n=1)[0] | {"interval": "7m"})


# -- end-of-day data against the NYSE calendar ------------------------------------------------


@cache
def _etf(name: str, symbols: tuple[str, ...] | None = None) -> tuple[dict, ...]:
    return tuple(read_bars(ETF / name, ReadOptions(symbols=symbols)).bars)


def test_wide_file_not_listed_yet_is_not_missing() -> None:
    wide = "adjclose_35etf_btc_1993-01-29_2023-05-18.csv"
    bars = list(_etf(wide, symbols=("BIL", "SPY", "XLC", "BTC-USD")))
    reports = run(bars)
    assert not [r for r in reports if r["check"] in ("missing_session", "gap", "stale")]
    listing = {r["symbol"]: r["evidence"]["first_session"] for r in reports
               if r["check"] == "first_listing"}  # fmt: skip
    assert listing == {"BIL": "2007-05-30", "SPY": "1993-01-29", "XLC": "2018-06-19"}
    # the wide file carries ETF values on BTC's weekend rows: flagged, reported once per fund
    non_session = Counter(r["symbol"] for r in reports if r["check"] == "non_session_bar")
    assert non_session == {"BIL": 1, "SPY": 1, "XLC": 1}


def test_injected_missing_trading_day_and_missing_adj_close_are_flagged_once() -> None:
    spy = copy.deepcopy(list(_etf("SPY_ohlcv_2017-01-03_2021-06-04.csv")))
    assert found(run(spy)) == Counter({("first_listing", "INFO"): 1})
    del spy[300]  # one NYSE session gone
    spy[600]["adj_close"] = None
    got = run(spy)
    missing = [r for r in got if r["check"] == "missing_session"]
    assert found(got) == Counter(
        {
            ("first_listing", "INFO"): 1,
            ("missing_session", "WARNING"): 1,
            ("adj_close_missing", "WARNING"): 1,
        }
    )
    assert missing[0]["evidence"]["missing"] == "1"
