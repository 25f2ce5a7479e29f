"""Running indicators equal a from-scratch computation; synthetic quotes never use high/low."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agents.dq.summary import parse_since, summarize
from agents.quotes.core import BIAS, SyntheticQuoter
from analytics.indicators import Ema, EwmaVol, WilderAtr
from connectors.feeds.normalize import bar_event
from streams.avro import registry
from streams.config import MarketData

prices = st.lists(st.floats(1, 1e5, allow_nan=False), min_size=1, max_size=80)


def ema_from_scratch(xs: list[float], period: int) -> float | None:
    if len(xs) < period:
        return None
    value = sum(xs[:period]) / period
    for x in xs[period:]:
        value = value + 2 / (period + 1) * (x - value)
    return value


def atr_from_scratch(bars: list[tuple[float, float, float]], period: int) -> float | None:
    trs = [
        h - lo if i == 0 else max(h - lo, abs(h - bars[i - 1][2]), abs(lo - bars[i - 1][2]))
        for i, (h, lo, _c) in enumerate(bars)
    ]
    if len(trs) < period:
        return None
    value = sum(trs[:period]) / period
    for tr in trs[period:]:
        value = (value * (period - 1) + tr) / period
    return value


@given(prices, st.integers(1, 30))
def test_running_ema_equals_from_scratch(xs: list[float], period: int) -> None:
    ema = Ema(period)
    for i, x in enumerate(xs):
        got = ema.update(x)
        want = ema_from_scratch(xs[: i + 1], period)
        assert (got is None) == (want is None)
        if want is not None:
            assert got == pytest.approx(want, rel=1e-9)


@given(prices, st.integers(1, 20))
def test_running_wilder_atr_equals_from_scratch(closes: list[float], period: int) -> None:
    bars = [(c * 1.01, c * 0.99, c) for c in closes]
    atr = WilderAtr(period)
    for i, (h, lo, c) in enumerate(bars):
        got = atr.update(h, lo, c)
        want = atr_from_scratch(bars[: i + 1], period)
        assert (got is None) == (want is None)
        if want is not None:
            assert got == pytest.approx(want, rel=1e-9)


def test_ewma_vol_waits_for_warmup_then_tracks_rms() -> None:
    vol = EwmaVol(halflife=10, warmup=5)
    assert [vol.update(0.01) for _ in range(4)] == [None] * 4
    assert vol.update(0.01) == pytest.approx(0.01)


def _bar(close: float, high: float, low: float, volume: float = 2.0, t: int = 0) -> dict:
    return bar_event(venue="v", symbol="X/USD", interval="1m", open_time_ms=t, open=close,
                     high=high, low=low, close=close, volume=volume, source="t")  # fmt: skip


def test_synthetic_quote_is_mid_plus_minus_atr_spread_and_labelled() -> None:
    cfg = MarketData(
        synthetic_spread_atr=0.5, synthetic_min_spread_bps=0, synthetic_max_spread_bps=2000
    )
    q = SyntheticQuoter(cfg)
    quote = q.quote(_bar(100.0, 110.0, 90.0))
    assert quote is not None
    # ATR after one bar = 20 (high - low); spread 0.5 x 20 = 10 around the close, not high/low
    assert (quote["bid"], quote["ask"]) == (95.0, 105.0)
    assert quote["synthetic"] is True and quote["fill_model_bias"] == BIAS
    assert quote["bid_size"] == pytest.approx(0.2)
    registry().encode("Quote", quote)  # a valid event


def test_synthetic_spread_is_clamped_and_recorded_books_are_left_alone() -> None:
    q = SyntheticQuoter(MarketData(synthetic_min_spread_bps=10, synthetic_max_spread_bps=50))
    flat = q.quote(_bar(100.0, 100.0, 100.0))
    assert flat is not None and flat["ask"] - flat["bid"] == pytest.approx(0.1)  # 10 bps floor
    wild = q.quote(_bar(100.0, 200.0, 50.0, t=60_000))
    assert wild is not None and wild["ask"] - wild["bid"] == pytest.approx(0.5)  # 50 bps cap
    recorded = SyntheticQuoter(MarketData(recorded_books=["v:X/USD"]))
    assert recorded.quote(_bar(100.0, 101.0, 99.0)) is None


@given(prices)
def test_a_restored_quoter_quotes_as_if_never_stopped(closes: list[float]) -> None:
    import json

    bars = [_bar(c, c * 1.01, c * 0.99, t=i * 60_000) for i, c in enumerate(closes)]
    cut = len(bars) // 2
    whole, first = SyntheticQuoter(MarketData()), SyntheticQuoter(MarketData())
    want = [whole.quote(b) for b in bars]
    got = [first.quote(b) for b in bars[:cut]]
    second = SyntheticQuoter(MarketData())
    second.restore(json.loads(json.dumps(first.to_state())))
    assert got + [second.quote(b) for b in bars[cut:]] == want


def test_since_accepts_iso_and_durations_and_rejects_garbage() -> None:
    import datetime as dt

    assert parse_since("2023-03-11") == 1_678_492_800_000
    now = dt.datetime(2023, 3, 11, 12, tzinfo=dt.UTC)
    assert parse_since("6h", now) == 1_678_514_400_000
    with pytest.raises(ValueError, match="expected an ISO"):
        parse_since("yesterday-ish")


def test_summary_counts_per_stream_and_filters_by_since() -> None:
    bars = [_bar(100.0, 101.0, 99.0, t=i * 60_000) | {"quality_flags": ["zero_volume"] * (i % 2)}
            for i in range(4)]  # fmt: skip
    report = {"event_id": "r1", "ts_event": 180_000, "venue": "v", "symbol": "X/USD",
              "check": "gap", "severity": "WARNING", "message": "m"}  # fmt: skip
    s = summarize([report], bars)
    (row,) = s["streams"]
    assert row["status"] == "WARNING" and row["bars_clean"] == 4
    assert row["flags"] == {"zero_volume": 2} and row["reports"] == {"gap/WARNING": 1}
    later = summarize([report], bars, since_ms=200_000)
    assert later["streams"][0]["status"] == "OK" and later["streams"][0]["bars_clean"] == 1
    assert math.isclose(s["reports"]["WARNING"], 1)
