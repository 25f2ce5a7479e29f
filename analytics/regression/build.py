"""Where datasets come from: a desk's broker (``record``), or bar files through the engine
of the desk graph (``from_bars``), and the three regression windows built from the shared
recorded data (``WINDOWS``: not committed; ``desk replay windows`` makes them).

The engine's output is the stream's (the one-graph tests hold the two equal key by key),
so a window built from bars has the golden a running desk must reproduce.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from analytics.backtest.records import code_version
from analytics.regression.dataset import GOLDEN, INPUTS, Events, Expect, write_dataset
from streams.avro import registry
from streams.config import load_config, load_config_data
from streams.engine import Engine
from streams.errors import DeskError
from streams.kafka import read_topic


def parse_time(iso: str) -> int:
    try:
        dt = datetime.fromisoformat(iso)
    except ValueError:
        raise DeskError(f"{iso!r}: not a time (YYYY-MM-DD[THH:MM], UTC)") from None
    return int((dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp() * 1000)


@dataclass(frozen=True)
class Window:
    """A regression window over the shared crypto bars."""

    name: str
    since: str
    until: str
    description: str
    # config changes (dotted path -> value) that make the variant, e.g. no trading at all
    overrides: Mapping[str, Any] = field(default_factory=dict)
    expect: Expect = field(default_factory=dict)


WINDOWS = (
    Window(
        "normal",
        "2023-03-02T00:00",
        "2023-03-02T04:00",
        "a quiet morning: both reference bots trade BTC/USD and BTC/USDT",
    ),
    Window(
        "usdc-depeg",
        "2023-03-11T00:00",
        "2023-03-11T04:00",
        "USDC de-peg: BTC/USDC rich against BTC/USD, cross-market findings, containment",
    ),
    Window(
        "no-trade",
        "2023-03-02T00:00",
        "2023-03-02T04:00",
        "the normal window with every bot at zero orders a minute: strategies still decide,"
        " risk denies each new order (cancels pass), not one order reaches the venue",
        overrides={"limits.max_orders_per_minute": 0},
        expect={"orders.commands:command=SUBMIT": 0, "orders.events": 0, "fills": 0},
    ),
)


def with_overrides(data: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The config data with each dotted path set (``limits.max_orders_per_minute``); a bot's
    own limits block wins over the desk's, so a desk-wide limit is set in each bot too."""
    out = copy.deepcopy(dict(data))
    for path, value in overrides.items():
        *parents, leaf = path.split(".")
        node = out
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
        if parents == ["limits"]:
            for bot in out.get("bots", []):
                if leaf in (bot.get("limits") or {}):
                    bot["limits"][leaf] = value
    return out


def from_bars(
    out: Path,
    name: str,
    bars: Sequence[Mapping[str, Any]],
    config_data: Mapping[str, Any],
    description: str = "",
    expect: Expect | None = None,
) -> dict[str, Any]:
    """A dataset of these bars, its golden made by the engine of the desk graph."""
    tmp = out / ".config.yaml"
    out.mkdir(parents=True, exist_ok=True)
    import json

    tmp.write_text(json.dumps(config_data, default=str))
    try:
        config = load_config(tmp)
    finally:
        tmp.unlink()
    events = Engine.for_desk(config).run(list(bars)).events
    golden: Events = {t: [] for t in GOLDEN}
    for topic, _key, event in events:
        if topic in golden:
            golden[topic].append(event)
    return write_dataset(
        out,
        name,
        {"market.bars": list(bars)},
        golden,
        config_data,
        description=description,
        expect=expect,
        code=code_version(),
        source="engine",
    )


def build_windows(
    bars: Sequence[Mapping[str, Any]],
    out: Path,
    config: Path | None = None,
    only: Sequence[str] = (),
    on_window: Callable[[str, dict[str, Any]], None] = lambda _n, _m: None,
) -> list[dict[str, Any]]:
    """Each of ``WINDOWS`` (or the ones named) as a dataset under ``out/<name>``."""
    from streams.config import DEFAULT_CONFIG

    base, _chain = load_config_data(config or DEFAULT_CONFIG)
    unknown = sorted(set(only) - {w.name for w in WINDOWS})
    if unknown:
        raise DeskError(f"no window {unknown[0]!r}; windows: {', '.join(w.name for w in WINDOWS)}")
    made = []
    for w in WINDOWS:
        if only and w.name not in only:
            continue
        lo, hi = parse_time(w.since), parse_time(w.until)
        chosen = [b for b in bars if lo <= int(b["open_time"]) < hi]
        manifest = from_bars(
            out / w.name, w.name, chosen, with_overrides(base, w.overrides), w.description, w.expect
        )
        on_window(w.name, manifest)
        made.append(manifest)
    return made


def record(
    bootstrap: str,
    prefix: str,
    out: Path,
    name: str,
    topics: Sequence[str],
    since: int | None,
    until: int | None,
    config: Path,
) -> dict[str, Any]:
    """A dataset of what a desk's broker holds for these topics in [since, until) (event
    time): the inputs as they went in, the rest as the desk wrote them (the golden)."""
    reg = registry()
    inputs: Events = {}
    golden: Events = {}
    for topic in topics:
        events = [reg.decode(v)[1] for _k, v, _p, _o in read_topic(bootstrap, topic, prefix)]
        events = [
            e
            for e in events
            if (since is None or e["ts_event"] >= since)
            and (until is None or e["ts_event"] < until)
        ]
        (inputs if topic in INPUTS else golden)[topic] = _once(events)
    data, _chain = load_config_data(config)
    return write_dataset(
        out,
        name,
        inputs,
        golden,
        data,
        code=code_version(),
        source="broker",
        description=f"recorded from {bootstrap} ({prefix or 'no prefix'})",
    )


def _once(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Re-sends of the same event id dropped (at-least-once delivery)."""
    seen: dict[str, dict[str, Any]] = {}
    for e in events:
        seen.setdefault(e["event_id"], e)
    return list(seen.values())
