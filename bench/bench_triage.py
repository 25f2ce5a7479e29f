"""Triage benchmark: every canned `desk sql` query on a day of the desk's events, side by side.

    .venv/bin/python -m bench.bench_triage [--out bench/results/triage.json]

A recorded day (then a week) of the three Binance.US files in ../shared/data goes through the
in-process engine (both reference bots); every event it produces, on every
topic, is written to a fresh chDB store through the ClickHouse sink (the same
tables and code path as the running desk, bars included). Each canned query of
``analytics/triage`` then runs 7 times on that store; reported is the median in
ms, and the ratio to a full ``FINAL`` scan of the biggest table
(``market_bars_clean``) measured in the same run: what a query costs next to
simply reading the day once. The same again on a week (``week_to_day``: how each
query's time grows with 7x the events).
"""

from __future__ import annotations

import platform
import statistics
import tempfile
import time
from collections import Counter, defaultdict
from typing import Any

from analytics.store import migrate
from analytics.triage import load_all
from bench import CRYPTO, recorded_main
from connectors.clickhouse.sink import ClickHouseSink
from connectors.clickhouse.store import DirectStore
from connectors.feeds.files import read_files
from streams.config import load_config
from streams.engine import Engine
from streams.runtime.clickhouse import connect

DAY_MS = 86_400_000
REPEAT = 7
BASELINE = "SELECT count(), sum(volume) FROM market_bars_clean FINAL"


def _median_ms(store: DirectStore, sql: str, repeat: int) -> tuple[float, int]:
    times, rows = [], 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        rows = len(store.query(sql).rows)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), rows


def measure(days: int, repeat: int = REPEAT) -> dict[str, Any]:
    bars = read_files(sorted(CRYPTO.glob("binanceus_BTC*_1m_*.csv"))).bars
    bars = [b for b in bars if b["open_time"] < bars[0]["open_time"] + days * DAY_MS]
    out = Engine.for_desk(load_config(), wire=True).run(bars)
    per_topic: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for topic, _key, event in out.events:
        per_topic[topic].append(event)
    per_topic["market.bars"] = list(bars)

    with tempfile.TemporaryDirectory(prefix="bench-triage-") as tmp:
        client = connect(f"chdb://{tmp}/clickhouse")
        migrate(client)
        store = DirectStore(client, chdb=True)
        sink = ClickHouseSink(store)
        t0 = time.perf_counter()
        for topic, events in sorted(per_topic.items()):
            stored = 0
            for i in range(0, len(events), 1000):  # the sink agent's batch size
                inserted, rejected = sink.write(topic, events[i : i + 1000])
                if rejected:
                    raise SystemExit(f"{topic}: {len(rejected)} rejected: {rejected[0].error}")
                stored += inserted
            if stored != len(events):
                raise SystemExit(f"{topic}: {stored} rows stored for {len(events)} events")
        t_load = time.perf_counter() - t0
        base_ms, _ = _median_ms(store, BASELINE, repeat)
        queries = {}
        for name, q in load_all().items():
            ms, rows = _median_ms(store, q.render(), repeat)
            queries[name] = {
                "median_ms": round(ms, 2),
                "rows": rows,
                "ratio_to_scan": round(ms / base_ms, 2),
            }
        client.close()
    slowest = max(queries, key=lambda n: queries[n]["median_ms"])
    return {
        "days": days,
        "events": dict(sorted(Counter({t: len(e) for t, e in per_topic.items()}).items())),
        "load_seconds": round(t_load, 3),
        "repeat": repeat,
        "baseline": {"sql": BASELINE, "median_ms": round(base_ms, 2)},
        "queries": queries,
        "slowest": {"query": slowest, "median_ms": queries[slowest]["median_ms"]},
    }


def run() -> dict[str, Any]:
    """A day, then a week in the same run: the queries' cost and how it grows with the data."""
    day, week = measure(1), measure(7)
    return {
        "bench": "triage",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "store": "chDB (embedded)",
        "day": day,
        "week": week,
        "week_to_day": {
            n: round(week["queries"][n]["median_ms"] / q["median_ms"], 2)
            for n, q in day["queries"].items()
        },
    }


def main() -> None:
    recorded_main(__doc__ or "", run)


if __name__ == "__main__":
    main()
