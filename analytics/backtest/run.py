"""A backtest: the desk's own graph (``streams.engine``) fed with recorded bars.

The very nodes the running desk fuses into its worker — data quality, synthetic
quotes, the paper venue, portfolio, strategies, risk with portfolio risk — run here
in one process, bar by bar, on the run's config. A run is deterministic: the same
bars, config and code give the same events, byte for byte, and the same
``summary.json`` (no wall clock, no random id: the run id is a hash of the inputs).
Every venue is the paper venue in a backtest, whatever the config says.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from analytics.backtest.metrics import Point, bot_metrics
from streams.config import DeskConfig, parse_config
from streams.engine import Engine, Output
from streams.errors import DeskError

SYNTHETIC = "optimistic_estimated"  # fills against quotes made from bars (agents.quotes)
REAL_QUOTES = "recorded_quotes"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def parse_params(items: Iterable[str]) -> dict[str, Any]:
    """``k=v`` pairs; a value is read as YAML (numbers, booleans, lists), a decimal stays a
    string so it stays exact."""
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise DeskError(f"--param {item!r}: expected NAME=VALUE")
        value = yaml.safe_load(raw) if raw.strip() else ""
        out[key.strip()] = raw.strip() if isinstance(value, float) else value
    return out


def backtest_config(
    base: DeskConfig,
    streams: Sequence[tuple[str, str]],
    *,
    strategy: str | None = None,
    params: Mapping[str, Any] | None = None,
    cash: Decimal = Decimal("100000"),
    seed: int | None = None,
    fee_profile: str | None = None,
    latency_ms: int | None = None,
    market_fill: str | None = None,
) -> DeskConfig:
    """The run's config: ``base`` with every venue on paper (and ``seed``, ``latency_ms``,
    ``market_fill`` when given: the fill model is part of the run config); with
    ``strategy``, one bot of it per stream of the data (its params laid over the
    config's), the streams the universe lacks added to it."""
    data = base.model_dump(mode="json", exclude_none=True)
    if params and strategy is None:
        raise DeskError("--param goes with --strategy (a config file carries its own params)")
    if strategy is not None:
        data = _one_strategy(data, base, streams, strategy, dict(params or {}), cash, fee_profile)
    else:  # the config's bots: those with no stream in the data sit the run out
        have = {f"{v}:{s}" for v, s in streams}
        for bot in data["bots"]:
            if not any(f"{bot['venue']}:{s}" in have for s in bot["symbols"]):
                bot["enabled"] = False
        if not any(b.get("enabled", True) for b in data["bots"]):
            raise DeskError(
                "no bot of the config trades a stream of the data "
                f"({', '.join(sorted(have)) or 'no bars'}): pick --strategy, or other data"
            )
    venues = {b["venue"] for b in data["bots"]} | set(data.get("venues", {}))
    given = {"seed": seed, "latency_ms": latency_ms, "market_fill": market_fill}
    fill = {k: v for k, v in given.items() if v is not None}
    data["venues"] = {
        v: {**data.get("venues", {}).get(v, {}), "mode": "paper", **fill} for v in sorted(venues)
    }
    data["alert_routes"] = []  # a backtest alerts nobody
    # the paper model against itself tells nothing, and costs a shadow venue on every bar
    data["parity"] = {**data.get("parity", {}), "enabled": False}
    return parse_config(data, "backtest config")


def _one_strategy(
    data: dict[str, Any],
    base: DeskConfig,
    streams: Sequence[tuple[str, str]],
    name: str,
    params: dict[str, Any],
    cash: Decimal,
    fee_profile: str | None,
) -> dict[str, Any]:
    from agents.strategies.base import known_kinds

    if name in base.strategies:
        spec = base.strategies[name]
        kind, merged = spec.kind, {**spec.params, **params}
    elif name in known_kinds():
        kind, merged = name, params
    else:
        known = sorted({*base.strategies, *known_kinds()})
        raise DeskError(
            f"--strategy {name!r}: not in the config nor a known kind ({', '.join(known)})"
        )
    if fee_profile is not None and fee_profile not in base.fee_profiles:
        raise DeskError(f"--fee-profile {fee_profile!r}: not in the config's fee_profiles")
    if not streams:
        raise DeskError("no bars to trade: check the files and --since/--until")
    data["strategies"] = {name: {"kind": kind, "params": merged}}
    known_streams = {i.key for i in base.universe}
    bots = []
    for venue, symbol in streams:
        if f"{venue}:{symbol}" not in known_streams:
            quote = symbol.partition("/")[2] or base.desk.base_currency
            kind_ = "crypto" if "/" in symbol else "equity"
            data["universe"].append({"venue": venue, "symbol": symbol, "quote_currency": quote,
                                     "asset_class": kind_})  # fmt: skip
        profile = fee_profile or next(
            (b.fee_profile for b in base.bots if b.venue == venue), sorted(base.fee_profiles)[0]
        )
        bots.append(
            {
                "id": _slug(f"{name}-{venue}-{symbol}"),
                "strategy": name,
                "venue": venue,
                "symbols": [symbol],
                "fee_profile": profile,
                "starting_cash": str(cash),
            }
        )
    data["bots"] = bots
    return data


@dataclass
class BarState:
    """A bot after one of its bars: the row of ``backtest_bar``."""

    bot_id: str
    ts_event: int
    symbol: str
    equity: Decimal
    cash: Decimal
    drawdown: Decimal
    positions: list[dict[str, Any]]
    state: str  # the strategy's own state, JSON (any strategy, no schema)
    ohlc: tuple[float, float, float, float] | None = None  # the bar's, for the candles


@dataclass
class Run:
    """What a backtest made: every event, per-bar state, the figures."""

    config: DeskConfig
    bars: int
    first_ts: int | None
    last_ts: int | None
    out: Output
    states: list[BarState] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    fill_model_bias: str = SYNTHETIC


def _plain(obj: Any) -> Any:
    """What ``json`` cannot write itself: decimals as strings, objects as their fields."""
    if isinstance(obj, Decimal):
        return str(obj)
    if isinstance(obj, set | frozenset):
        return sorted(obj, key=repr)
    if hasattr(obj, "__dict__"):
        return {k: v for k, v in vars(obj).items() if not k.startswith("__")}
    try:
        return list(obj)  # a deque, an array
    except TypeError:
        return repr(obj)


_STATE = json.JSONEncoder(default=_plain, sort_keys=True, separators=(",", ":"))


def strategy_state(strategy: Any) -> str:
    """A strategy's own state as JSON (its fields; indicators are flat objects), for any
    strategy and without a schema: the C encoder does the walking."""
    return _STATE.encode(vars(strategy))


def _ohlc(bar: Mapping[str, Any]) -> tuple[float, float, float, float] | None:
    try:
        return tuple(float(bar[k]) for k in ("open", "high", "low", "close"))  # type: ignore[return-value]
    except (KeyError, TypeError, ValueError):
        return None


def periods_per_year(config: DeskConfig) -> int:
    """365 when every traded stream trades every day (crypto), else 252 (exchange days)."""
    every_day = all(
        config.calendar_for(f"{b.venue}:{s}", "1m") == "24/7"
        for b in config.bots
        if b.enabled
        for s in b.symbols
    )
    return 365 if every_day else 252


def run_backtest(
    config: DeskConfig,
    bars: Sequence[Mapping[str, Any]],
    on_bar: Callable[[int], None] = lambda _n: None,
) -> Run:
    """Every bar through the desk graph; per-bar state of every bot the bar moved."""
    engine = Engine.for_desk(config)
    runner = engine.nodes["strategies"].runner
    states: list[BarState] = []
    events = engine.out.events
    for n, bar in enumerate(bars, 1):
        before = len(events)
        engine.feed("market.bars", bar)
        last: dict[str, dict[str, Any]] = {}
        for topic, _key, e in events[before:]:
            if topic == "portfolio.snapshots":
                last[e["bot_id"]] = e
        for bot_id, snap in last.items():
            strategy = runner.instances.get((bar["venue"], bar["symbol"], bot_id))
            states.append(
                BarState(
                    bot_id,
                    int(bar["ts_event"]),
                    bar["symbol"],
                    Decimal(snap["equity"]),
                    Decimal(snap["cash"]),
                    Decimal(snap["drawdown"]),
                    [dict(p) for p in snap["positions"]],
                    strategy_state(strategy) if strategy else "null",
                    _ohlc(bar),
                )
            )
        on_bar(n)
    out = engine.out
    run = Run(config, len(bars), _ts(bars, 0), _ts(bars, -1), out, states)
    biases = {f.get("fill_model_bias") for f in out.topic("fills")}
    run.fill_model_bias = (
        SYNTHETIC if (SYNTHETIC in biases or not config.market_data.recorded_books) else REAL_QUOTES
    )
    run.metrics = measure(run)
    return run


def _ts(bars: Sequence[Mapping[str, Any]], i: int) -> int | None:
    return int(bars[i]["ts_event"]) if bars else None


def measure(run: Run) -> dict[str, Any]:
    """Each bot's figures, and the desk's (bots summed, their cash currencies at par)."""
    periods = periods_per_year(run.config)
    fills = run.out.topic("fills")
    submitted = [c for c in run.out.topic("orders.commands") if c["command"] == "SUBMIT"]
    per_bot: dict[str, Any] = {}
    curves: dict[str, list[Point]] = {}
    by_bot: dict[str, list[Point]] = {}
    for st in run.states:  # one pass: a long run has a row per bot and bar
        exposed = any(p["quantity"] != 0 for p in st.positions)
        by_bot.setdefault(st.bot_id, []).append(Point(st.ts_event, st.equity, exposed))
    for b in run.config.bots:
        if not b.enabled:
            continue
        curve = by_bot.get(b.id, [])
        curves[b.id] = curve
        per_bot[b.id] = bot_metrics(
            curve,
            [f for f in fills if f["bot_id"] == b.id],
            [c["client_order_id"] for c in submitted if c["bot_id"] == b.id],
            b.starting_cash,
            periods,
        )
    total_curve = _summed(curves, {b.id: b.starting_cash for b in run.config.bots if b.enabled})
    start = sum((b.starting_cash for b in run.config.bots if b.enabled), Decimal(0))
    total = bot_metrics(total_curve, fills, [c["client_order_id"] for c in submitted], start,
                        periods)  # fmt: skip
    currencies = sorted(
        {
            run.config.instrument(b.venue, b.symbols[0]).quote_currency
            for b in run.config.bots
            if b.enabled
        }
    )
    total["currencies"] = currencies
    return {"bots": per_bot, "total": total}


def _summed(curves: Mapping[str, list[Point]], start: Mapping[str, Decimal]) -> list[Point]:
    """The desk's curve: at each bar time, every bot's latest equity summed."""
    latest = dict(start)
    exposed: dict[str, bool] = dict.fromkeys(start, False)
    points = sorted((p.ts, bot, p) for bot, c in curves.items() for p in c)
    out: list[Point] = []
    for ts, bot, p in points:
        latest[bot], exposed[bot] = p.equity, p.exposed
        point = Point(ts, sum(latest.values(), Decimal(0)), any(exposed.values()))
        if out and out[-1].ts == ts:
            out[-1] = point
        else:
            out.append(point)
    return out
