"""Containment (issue 12, point 4): bars and quotes that cannot be real are rejected with a
reason, never reach ``market.bars.clean`` or a strategy, and never poison the good ones.

Real Binance.US BTC 1-minute bars with bad ones interleaved: every good bar must come out
clean exactly as without the bad ones, every bad one must be rejected with its reason.
"""

from __future__ import annotations

import copy
import math
from collections import Counter
from collections.abc import Callable
from functools import cache

import pytest

from agents.dq.containment import (
    ABSURD_VALUE,
    BAD_VALUE,
    CROSSED_QUOTE,
    FUTURE_TIMESTAMP,
    PRICE_LEVEL,
    UNKNOWN_INSTRUMENT,
    UNREPRESENTABLE_VALUE,
    QuoteGate,
)
from agents.dq.core import DataQualityCore
from agents.quotes.core import SyntheticQuoter
from agents.strategies.runner import STRATEGY_ERROR, StrategyRunner
from connectors.feeds.files import read_bars
from streams.config import load_config
from streams.engine import Engine
from tests.conftest import SHARED_DATA

CRYPTO = SHARED_DATA / "crypto_1m"
pytestmark = pytest.mark.skipif(
    not CRYPTO.exists(),
    reason=f"{CRYPTO} not present: containment tests need the recorded BTC 1-minute bars",
)
MIN, DAY = 60_000, 86_400_000
Y2099 = 4_070_908_800_000  # 2099-01-01T00:00Z


@cache
def _file_bars(quote: str) -> tuple[dict, ...]:
    return tuple(read_bars(CRYPTO / f"binanceus_BTC{quote}_1m_2023-03-01_2023-03-21.csv").bars)


def real(quote: str = "USD", start: int = 0, n: int = 360) -> list[dict]:
    return copy.deepcopy(list(_file_bars(quote)[start : start + n]))


def _at(g: dict, open_time: int) -> dict:
    return g | {"open_time": open_time, "ts_event": open_time + MIN, "ts_ingest": open_time + MIN}


def _scaled(g: dict, k: float) -> dict:
    return g | {p: g[p] * k for p in ("open", "high", "low", "close")}


# each bad bar is made from the good bar it precedes (same minute: a rejected bar must not
# turn the good one into a "duplicate")
BAD_BARS: dict[str, tuple[Callable[[dict], dict], str]] = {
    "dated_2099": (lambda g: _at(g, Y2099), FUTURE_TIMESTAMP),
    "ten_days_ahead": (lambda g: _at(g, g["open_time"] + 10 * DAY), FUTURE_TIMESTAMP),
    "ahead_of_ingest": (
        lambda g: g | {"ts_ingest": g["ts_event"] - 2 * 3_600_000},
        FUTURE_TIMESTAMP,
    ),
    "close_1e308": (lambda g: g | {"close": 1e308, "high": 1e308}, UNREPRESENTABLE_VALUE),
    "high_1e25": (lambda g: g | {"high": 1e25}, UNREPRESENTABLE_VALUE),
    "close_1e-25": (lambda g: g | {"close": 1e-25}, UNREPRESENTABLE_VALUE),
    "nan_close": (lambda g: g | {"close": math.nan}, BAD_VALUE),
    "inf_volume": (lambda g: g | {"volume": math.inf}, BAD_VALUE),
    "negative_low": (lambda g: g | {"low": -1.0}, BAD_VALUE),
    "zero_open": (lambda g: g | {"open": 0.0}, BAD_VALUE),
    "x50": (lambda g: _scaled(g, 50), ABSURD_VALUE),
    "div50": (lambda g: _scaled(g, 1 / 50), ABSURD_VALUE),
    "high_x20": (lambda g: g | {"high": g["high"] * 20}, ABSURD_VALUE),
    "unknown_venue": (lambda g: g | {"venue": "nowhere"}, UNKNOWN_INSTRUMENT),
    "unknown_symbol": (lambda g: g | {"symbol": "DOGE/USD"}, UNKNOWN_INSTRUMENT),
}


def mixed(good: list[dict]) -> tuple[list[dict], dict[str, str]]:
    """The good bars with every bad kind in front of one of them (two passes: each kind is
    seen twice, far apart); returns the bars and bad event_id -> expected reason."""
    out, expected = [], {}
    kinds = list(BAD_BARS)
    slots = {20 + 10 * i: k for i, k in enumerate(kinds + kinds)}
    for i, g in enumerate(good):
        if i in slots:
            make, reason = BAD_BARS[slots[i]]
            bad = make(copy.deepcopy(g)) | {"event_id": f"bad-{slots[i]}-{i}"}
            out.append(bad)
            expected[bad["event_id"]] = reason
        out.append(g)
    return out, expected


def _run(bars: list[dict]) -> tuple[list[dict], dict[str, str], list[dict]]:
    core = DataQualityCore.from_config(load_config())
    clean, rejected, reports = [], {}, []
    for b in bars:
        o = core.process(b)
        reports += o.reports()
        if o.clean is not None:
            clean.append(o.clean)
        else:
            assert o.rejection is not None, f"{b['event_id']} dropped without a reason"
            rejected[b["event_id"]] = o.rejection.reason
    return clean, rejected, reports


def test_bad_bars_are_rejected_with_their_reason_and_good_bars_flow_unchanged() -> None:
    good = real(n=360)  # six hours
    reference, none_rejected, _ = _run(copy.deepcopy(good))
    assert none_rejected == {} and len(reference) == len(good)
    bars, expected = mixed(good)
    assert len(expected) == 2 * len(BAD_BARS)
    clean, rejected, reports = _run(bars)
    assert rejected == expected  # every bad bar, with its reason; no good one
    assert clean == reference  # every good bar clean, flags and all, as without the bad ones
    # visible: a finding per episode, reported under the reason's name
    checks = Counter(r["check"] for r in reports)
    for reason in set(expected.values()):
        assert checks[reason] >= 1, (reason, checks)
    assert not [r for r in reports if r["check"] in ("duplicate", "out_of_order", "gap")]
    assert checks[UNKNOWN_INSTRUMENT] == 2  # once per unknown stream


def test_a_2099_bar_does_not_stop_the_stream() -> None:
    """The drill: a valid bar dated 2099 used to pass and drop the 288 bars after it."""
    good = real(n=289)
    bad = _at(copy.deepcopy(good[0]), Y2099) | {"event_id": "y2099"}
    clean, rejected, reports = _run([good[0], bad, *good[1:]])
    assert rejected == {"y2099": FUTURE_TIMESTAMP}
    assert len(clean) == 289
    (finding,) = [r for r in reports if r["check"] == FUTURE_TIMESTAMP]
    assert finding["severity"] == "WARNING" and "2099" in finding["message"]


def test_a_stream_really_moving_on_is_accepted_after_a_few_bars() -> None:
    """A feed back after a ten-day outage is not rejected forever: after
    ``future_confirm_bars`` consecutive bars the new position is taken (and the gap shown)."""
    before, after = real(n=100), real(start=100, n=100)
    after = [_at(b, b["open_time"] + 10 * DAY) for b in after]
    clean, rejected, reports = _run(before + after)
    confirm = load_config().data_quality.future_confirm_bars
    assert sorted(rejected) == sorted(b["event_id"] for b in after[: confirm - 1])
    assert set(rejected.values()) == {FUTURE_TIMESTAMP}
    assert len(clean) == 200 - (confirm - 1)
    assert ("gap", "CRITICAL") in {(r["check"], r["severity"]) for r in reports}


def test_a_new_price_level_is_accepted_after_a_few_bars_and_the_runner_follows() -> None:
    """A redenomination (x20) is not rejected forever; the first bars of it are."""
    bars = real(n=200)
    bars[100:] = [_scaled(b, 20) for b in bars[100:]]
    clean, rejected, reports = _run(bars)
    confirm = load_config().data_quality.absurd_confirm_bars
    assert sorted(rejected) == sorted(b["event_id"] for b in bars[100 : 100 + confirm - 1])
    assert set(rejected.values()) == {ABSURD_VALUE}
    level = next(c for c in clean if PRICE_LEVEL in c["quality_flags"])
    assert level["event_id"] == bars[100 + confirm - 1]["event_id"]
    assert "price_level_accepted" in {r["check"] for r in reports}
    runner = StrategyRunner(load_config())
    for c in clean:
        runner.on_bar(c, lambda _b: None)
    assert runner.drain_skipped() == []  # the strategies take the new level with DQ


def test_a_legitimate_depeg_is_not_absurd() -> None:
    """USDC's de-peg (2023-03-10 → 03-14, BTC/USDC ~14 % rich) passes: it is flagged as a
    cross-market divergence, never rejected."""
    _clean, rejected, _ = _run(real("USDC", 9 * 1440, 5 * 1440))
    assert rejected == {}


def test_a_corrected_copy_of_a_rejected_bar_is_accepted() -> None:
    good = real(n=50)
    bad = good[20] | {"close": math.nan, "event_id": "nan"}
    clean, rejected, reports = _run([*good[:20], bad, *good[20:]])
    assert rejected == {"nan": BAD_VALUE}
    assert len(clean) == 50
    assert {r["check"] for r in reports} == {BAD_VALUE}


def test_a_bad_first_bar_does_not_poison_the_stream_for_ever() -> None:
    """No reference yet for the first bar: an absurd (representable) first close is taken,
    and the real level wins after ``absurd_confirm_bars`` bars."""
    good = real(n=30)
    first = _scaled(good[0], 1000) | {"event_id": "first"}
    clean, rejected, _ = _run([first, *good[1:]])
    confirm = load_config().data_quality.absurd_confirm_bars
    assert list(rejected) == [b["event_id"] for b in good[1:confirm]]
    assert len(clean) == 30 - (confirm - 1)


def test_the_engine_trades_the_same_with_bad_bars_interleaved() -> None:
    """No single message stops a bot: same clean bars, quotes and intents as without them;
    every bad bar is in the loop's rejections with its reason."""
    cfg = load_config()
    good = real("USDT", 0, 400)
    reference = Engine.for_desk(cfg, wire=True).run(copy.deepcopy(good))
    bars, expected = mixed(copy.deepcopy(good))
    out = Engine.for_desk(cfg, wire=True).run(bars)
    for topic in ("market.bars.clean", "market.quotes", "orders.intents"):
        assert out.topic(topic) == reference.topic(topic), topic
    assert reference.topic("orders.intents")  # the market maker really traded
    assert {(b["event_id"], why.split(":")[0]) for _t, b, why, _kind, _node in out.rejected} == set(
        expected.items()
    )


# -- quotes -----------------------------------------------------------------------------------

BAD_QUOTES: dict[str, tuple[Callable[[dict], dict], str]] = {
    "nan_bid": (lambda q: q | {"bid": math.nan}, BAD_VALUE),
    "inf_ask": (lambda q: q | {"ask": math.inf}, BAD_VALUE),
    "zero_bid": (lambda q: q | {"bid": 0.0}, BAD_VALUE),
    "negative_size": (lambda q: q | {"ask_size": -1.0}, BAD_VALUE),
    "crossed": (lambda q: q | {"bid": q["ask"] * 1.001}, CROSSED_QUOTE),
    "ask_1e308": (lambda q: q | {"ask": 1e308}, UNREPRESENTABLE_VALUE),
    "x50": (lambda q: q | {"bid": q["bid"] * 50, "ask": q["ask"] * 50}, ABSURD_VALUE),
    "unknown_venue": (lambda q: q | {"venue": "nowhere"}, UNKNOWN_INSTRUMENT),
    "unknown_symbol": (lambda q: q | {"symbol": "DOGE/USD"}, UNKNOWN_INSTRUMENT),
    "dated_2099": (lambda q: q | {"ts_event": Y2099, "ts_ingest": Y2099}, FUTURE_TIMESTAMP),
    "ahead_of_ingest": (lambda q: q | {"ts_ingest": q["ts_event"] - 7_200_000}, FUTURE_TIMESTAMP),
}


def test_bad_quotes_are_rejected_with_their_reason_and_good_quotes_pass() -> None:
    cfg = load_config()
    quoter, gate = SyntheticQuoter(cfg.market_data), QuoteGate.from_config(cfg)
    quotes = [quoter.quote(b) for b in real("USDT", 0, 360)]
    kinds = list(BAD_QUOTES)
    slots = {20 + 12 * i: k for i, k in enumerate(kinds + kinds)}
    seen: Counter[str] = Counter()
    for i, q in enumerate(quotes):
        if i in slots:
            make, reason = BAD_QUOTES[slots[i]]
            rejection = gate.check(make(copy.deepcopy(q)))
            assert rejection is not None and rejection.reason == reason, (slots[i], rejection)
            seen[reason] += 1
        assert gate.check(q) is None, (i, q)
    assert sum(seen.values()) == 2 * len(BAD_QUOTES)


def test_quote_gate_follows_a_real_jump_of_a_stream() -> None:
    cfg = load_config()
    quoter, gate = SyntheticQuoter(cfg.market_data), QuoteGate.from_config(cfg)
    quotes = [quoter.quote(b) for b in real("USD", 0, 40)]
    shifted = [q | {"ts_event": q["ts_event"] + 10 * DAY, "ts_ingest": q["ts_ingest"] + 10 * DAY}
               for q in quotes[20:]]  # fmt: skip
    verdicts = [gate.check(q) for q in quotes[:20] + shifted]
    confirm = cfg.data_quality.future_confirm_bars
    assert [v is None for v in verdicts] == [True] * 20 + [False] * (confirm - 1) + [True] * (
        20 - confirm + 1
    )


# -- strategies: defence in depth -------------------------------------------------------------


def _intents(runner: StrategyRunner, bars: list[dict]) -> list[dict]:
    return [it for b in bars for it in runner.on_bar(b, lambda _b: None)]


def test_strategy_skips_an_absurd_bar_and_keeps_trading() -> None:
    """The drill: a 1e308 close reaching the market maker dead-lettered the next bars
    (decimal.InvalidOperation). Past the runner's check, nothing of it reaches a strategy."""
    cfg = load_config()
    good = real("USDT", 0, 400)
    reference = _intents(StrategyRunner(cfg), copy.deepcopy(good))
    assert reference
    poisoned = copy.deepcopy(good)
    runner = StrategyRunner(cfg)
    bad = [
        poisoned[200] | {"close": 1e308, "event_id": "e308"},
        poisoned[250] | {"close": poisoned[250]["close"] * 1e6, "event_id": "x1e6"},
        poisoned[300] | {"low": math.nan, "event_id": "nan"},
    ]
    bars = [*poisoned[:200], bad[0], *poisoned[200:250], bad[1], *poisoned[250:300]]
    bars += [bad[2], *poisoned[300:]]
    assert _intents(runner, bars) == reference
    reasons = [why.split(":")[0] for _kind, why in runner.drain_skipped()]
    assert reasons == [UNREPRESENTABLE_VALUE, ABSURD_VALUE, BAD_VALUE]


def test_a_strategy_that_raises_gets_its_state_back_and_the_next_bars_trade() -> None:
    cfg = load_config()
    good = real("USDT", 0, 400)
    reference = _intents(StrategyRunner(cfg), copy.deepcopy(good[:150] + good[151:]))
    runner = StrategyRunner(cfg)
    (key,) = [k for k in runner.instances if k[2] == "mm-btc"]
    maker = runner.instances[key]
    real_on_bar = maker.on_bar
    boom: list[str] = []

    def on_bar(bar: dict, view: object) -> list[dict]:
        out = real_on_bar(bar, view)  # type: ignore[arg-type]
        if bar["event_id"] == good[150]["event_id"]:  # fails after moving its state on
            boom.append(bar["event_id"])
            raise ArithmeticError("boom")
        return out

    maker.on_bar = on_bar  # type: ignore[method-assign]
    got = _intents(runner, copy.deepcopy(good))
    assert boom == [good[150]["event_id"]]
    assert got == reference  # as if the failing bar was never seen: state restored
    ((kind, why),) = runner.drain_skipped()
    assert kind == "processing" and why.startswith(f"{STRATEGY_ERROR}: bot mm-btc")


def test_universe_and_extra_streams() -> None:
    cfg = load_config()
    assert cfg.known_stream("binanceus", "BTC/USD")
    assert cfg.known_stream("yahoo", "SPY")  # extra_streams: ["yahoo:*"]
    assert not cfg.known_stream("binanceus", "DOGE/USD")
    assert not cfg.known_stream("nowhere", "BTC/USD")


def test_a_recorded_quote_the_gate_rejects_becomes_a_dead_letter() -> None:
    """``desk feed live`` publishes recorded quotes itself: a rejected one goes to deadletter."""
    from streams.avro import registry
    from streams.cli.exchange import quote_dead_letter

    cfg = load_config()
    quote = SyntheticQuoter(cfg.market_data).quote(real(n=1)[0]) | {"bid": math.nan}
    quote |= {"synthetic": False, "fill_model_bias": None}
    rejection = QuoteGate.from_config(cfg).check(quote)
    assert rejection is not None and rejection.reason == BAD_VALUE
    dead = quote_dead_letter(quote, rejection.line())
    assert dead["error"].startswith("bad_value: binanceus:BTC/USD")
    assert dead["error_kind"] == "validation" and dead["topic"] == "market.quotes:binanceus:BTC/USD"
    assert registry().decode(registry().encode("DeadLetter", dead))[1] == dead
