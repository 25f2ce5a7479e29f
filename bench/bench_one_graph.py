"""The running desk equals the in-process engine over a long window, run after run.

    .venv/bin/python -m bench.bench_one_graph [--from 2023-03-01] [--days 21]
        [--speeds asap,600] [--repeat 2] [--workers 1] [--out bench/results/one_graph.json]

Issue 14's full check (the tests do three days, ``tests/integration/test_one_graph.py``):
the three shared Binance.US BTC files from ``--from`` for ``--days``, both reference
bots, through the in-process engine once, then through a fresh embedded desk per run
(the fused core and every other agent) at each speed, ``--repeat`` times. Each run
reports its seconds and whether every topic the trading nodes write equals the
engine's — key by key, the very Avro payloads — or the first difference, once
at-least-once re-sends are dropped (the same event id with the same bytes;
``repeats`` counts them: the embedded broker has no idempotent producer, so a
produce retried under load lands twice). At ``x600``
a day takes 144 s of replay, so the full window is ~50 min a run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench import CRYPTO, recorded_main
from connectors.feeds.files import read_files
from connectors.feeds.replay import parse_speed, replay
from streams.avro import registry
from streams.config import load_config
from streams.engine import Engine
from streams.kafka import EventProducer, read_topic
from streams.runtime.stack import Stack
from streams.settings import load_settings
from streams.topics import spec

DAY_MS = 86_400_000
TOPICS = ("market.bars.clean", "dq.reports", "orders.intents", "risk.decisions",
          "orders.commands", "orders.events", "fills", "portfolio.snapshots",
          "venue.reports")  # fmt: skip
Keyed = dict[tuple[str, str], list[bytes]]


def window(start: str, days: float) -> list[dict[str, Any]]:
    t0 = int(dt.datetime.fromisoformat(start).replace(tzinfo=dt.UTC).timestamp() * 1000)
    bars = read_files(sorted(CRYPTO.glob("binanceus_BTC*_1m_*.csv"))).bars
    return [b for b in bars if t0 <= b["open_time"] < t0 + days * DAY_MS]


def by_key(events: list[tuple[str, str, dict[str, Any]]]) -> Keyed:
    reg, out = registry(), defaultdict(list)
    for topic, key, event in events:
        if topic in TOPICS:
            out[(topic, key)].append(reg.encode(spec(topic).value_schema, event))
    return dict(out)


def on_the_broker(stack: Stack, prefix: str, clean: int, limit_s: float) -> Keyed:
    """Every trading topic, once the core has taken every bar (or stalled for a minute)."""
    deadline, last, calm = time.monotonic() + limit_s, -1, time.monotonic()
    while time.monotonic() < deadline:
        n = len(read_topic(stack.broker.bootstrap, "market.bars.clean", prefix, idle_s=0.5))
        if n >= clean:
            break
        if n != last:
            last, calm = n, time.monotonic()
        elif time.monotonic() - calm > 60:
            break
        time.sleep(min(5.0, 1.0 + clean / 20_000))  # reading a long topic has its cost too
    time.sleep(2)  # the last cascade's sends
    have: Keyed = defaultdict(list)
    for topic in TOPICS:
        for key, value, _p, _o in read_topic(stack.broker.bootstrap, topic, prefix):
            have[(topic, (key or b"").decode())].append(value)
    return dict(have)


def without_repeats(have: Keyed) -> tuple[Keyed, int]:
    """Each key's events with at-least-once re-sends dropped (the same event id again; a
    re-send with other content is a difference and is kept), and how many were dropped."""
    reg, out, dropped = registry(), {}, 0
    for key, values in have.items():
        seen: dict[str, bytes] = {}
        kept = []
        for v in values:
            eid = reg.decode(v)[1]["event_id"]
            if seen.get(eid) == v:
                dropped += 1
                continue
            seen.setdefault(eid, v)
            kept.append(v)
        out[key] = kept
    return out, dropped


def first_difference(want: Keyed, have: Keyed) -> str | None:
    for key in sorted(set(want) | set(have)):
        w, h = want.get(key, []), have.get(key, [])
        if w != h:
            i = next((i for i, (a, b) in enumerate(zip(w, h, strict=False)) if a != b),
                     min(len(w), len(h)))  # fmt: skip
            return f"{key}: engine {len(w)} events, broker {len(h)}; first difference at #{i}"
    return None


def one_run(bars: list[dict[str, Any]], want: Keyed, speed: str, workers: int) -> dict[str, Any]:
    clean = sum(len(v) for (t, _k), v in want.items() if t == "market.bars.clean")
    with tempfile.TemporaryDirectory() as tmp:
        prefix = "og."
        settings = load_settings(data_dir=Path(tmp), topic_prefix=prefix)
        stack = Stack(settings, with_agents=True, workers=workers, supervise=False)
        stack.start()
        try:
            t0 = time.perf_counter()
            producer = EventProducer(stack.broker.bootstrap, prefix)
            replay(bars, [], producer, speed=parse_speed(speed))
            have = on_the_broker(stack, prefix, clean, limit_s=600 + len(bars) / 50)
            took = time.perf_counter() - t0
        finally:
            stack.stop()
    have, repeats = without_repeats(have)
    diff = first_difference(want, have)
    return {"speed": speed, "workers": workers, "seconds": round(took, 1),
            "equal_to_engine": diff is None, "first_difference": diff, "repeats": repeats,
            "fills": sum(len(v) for (t, _k), v in have.items() if t == "fills")}  # fmt: skip


def run(start: str, days: float, speeds: list[str], repeat: int, workers: int) -> dict[str, Any]:
    bars = window(start, days)
    t0 = time.perf_counter()
    want = by_key(Engine.for_desk(load_config()).run(bars).events)
    t_engine = time.perf_counter() - t0
    runs = [one_run(bars, want, s, workers) for s in speeds for _ in range(repeat)]
    return {
        "bench": "one_graph",
        "from": start,
        "days": days,
        "bars": len(bars),
        "engine": {
            "seconds": round(t_engine, 1),
            "fills": sum(len(v) for (t, _k), v in want.items() if t == "fills"),
            "events": sum(len(v) for v in want.values()),
        },
        "runs": runs,
        "all_equal": all(r["equal_to_engine"] for r in runs),
    }


def main() -> None:
    def options(ap: argparse.ArgumentParser) -> None:
        ap.add_argument("--from", dest="start", default="2023-03-01", help="first UTC day")
        ap.add_argument("--days", type=float, default=21.0, help="days of bars")
        ap.add_argument("--speeds", default="asap,600", help="replay speeds, comma-separated")
        ap.add_argument("--repeat", type=int, default=2, help="runs per speed")
        ap.add_argument("--workers", type=int, default=1, help="desk workers")

    recorded_main(__doc__ or "", lambda a: run(a.start, a.days, a.speeds.split(","), a.repeat,
                                               a.workers), options=options)  # fmt: skip


if __name__ == "__main__":
    main()
