"""Dashboard benchmark: every page rendered on a day and on the whole recorded window of the
desk's 1-minute events, side by side, against the 2 s a page may take.

    .venv/bin/python -m bench.bench_dashboard [--days 21] [--out bench/results/dashboard.json]

The three Binance.US files in ../shared/data go through the in-process engine (the
reference bots) and every event it produces is written through the ClickHouse sink
into a fresh data dir's chDB (the tables and code path of the running desk), with the
run recorded as a backtest (the backtest review page's data), once for
one day and once for ``--days`` (the recorded window is 21 days: three weeks of the
"month of 1-minute events" the issue asks for). Each store is seeded in a process of
its own (chDB: one data path per process), then every page is rendered ``REPEAT``
times through Streamlit's AppTest (``tests/dashboard_apptest.py``, the dashboard's
own test harness) in another; reported per page: the median seconds, the ratio to
the 2 s budget and how the time grows from a day to the window.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from bench import CRYPTO, recorded_main

REPO = Path(__file__).resolve().parents[1]
DAY_MS = 86_400_000
REPEAT = 3
BUDGET_S = 2.0


def seed(data_dir: Path, days: int) -> dict[str, Any]:
    """The engine's events of ``days`` recorded days in ``data_dir``'s analytics store."""
    from analytics.backtest.records import summary, table_rows
    from analytics.backtest.run import run_backtest
    from analytics.store import migrate
    from connectors.clickhouse.backtests import save
    from connectors.clickhouse.sink import ClickHouseSink
    from connectors.clickhouse.store import DirectStore
    from connectors.feeds.files import read_files
    from streams.config import load_config
    from streams.runtime.clickhouse import connect

    bars = read_files(sorted(CRYPTO.glob("binanceus_BTC*_1m_*.csv"))).bars
    bars = [b for b in bars if b["open_time"] < bars[0]["open_time"] + days * DAY_MS]
    t0 = time.perf_counter()
    run = run_backtest(load_config(), bars)  # the desk graph's events, and a backtest
    out = run.out
    t_engine = time.perf_counter() - t0
    per_topic: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for topic, _key, event in out.events:
        per_topic[topic].append(event)
    per_topic["market.bars"] = list(bars)
    client = connect(f"chdb://{data_dir / 'clickhouse'}")
    migrate(client)
    sink = ClickHouseSink(DirectStore(client, chdb=True))
    t0 = time.perf_counter()
    for topic, events in sorted(per_topic.items()):
        for i in range(0, len(events), 5000):
            _n, rejected = sink.write(topic, events[i : i + 5000])
            if rejected:
                raise SystemExit(f"{topic}: {len(rejected)} rejected: {rejected[0].error}")
    save(sink.store, list(table_rows(summary(run, bars, ["binanceus 1m"]), run)))
    client.close()
    return {
        "days": days,
        "bars": len(bars),
        "events": dict(sorted(Counter({t: len(e) for t, e in per_topic.items()}).items())),
        "engine_seconds": round(t_engine, 1),
        "load_seconds": round(time.perf_counter() - t0, 1),
    }


def _python(args: list[str], env: dict[str, str]) -> str:
    full = {k: v for k, v in os.environ.items() if not k.startswith("DESK_")} | env
    res = subprocess.run([sys.executable, *args], cwd=REPO, env=full, capture_output=True,
                         text=True, timeout=7200)  # fmt: skip
    if res.returncode:
        raise SystemExit(res.stderr[-3000:])
    return res.stdout.strip().splitlines()[-1]


def pages(data_dir: Path, repeat: int) -> dict[str, Any]:
    runs = [
        json.loads(_python(["-m", "tests.dashboard_apptest"],
                           {"DESK_DATA_DIR": str(data_dir), "DESK_DASHBOARD_REFRESH_S": "0"}))
        for _ in range(repeat)
    ]  # fmt: skip
    out = {}
    for page in runs[0]:
        bad = [e for r in runs for e in r[page]["exceptions"] + r[page]["errors"]]
        if bad:
            raise SystemExit(f"{page}: {bad[0]}")
        s = statistics.median(r[page]["seconds"] for r in runs)
        out[page] = {"median_s": round(s, 3), "ratio_to_budget": round(s / BUDGET_S, 3)}
    return out


def measure(days: int, repeat: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as tmp:
        data_dir = Path(tmp) / "desk"
        seeded = json.loads(_python(["-m", "bench.bench_dashboard", "--seed", str(data_dir),
                                     "--days", str(days)], {}))  # fmt: skip
        return {**seeded, "pages": pages(data_dir, repeat)}


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.seed:
        print(json.dumps(seed(Path(args.seed), args.days)))
        raise SystemExit(0)
    day, window = measure(1, REPEAT), measure(args.days, REPEAT)
    return {
        "bench": "dashboard",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "store": "chDB (embedded), pages through Streamlit AppTest",
        "budget_s": BUDGET_S,
        "day": day,
        "window": window,
        "window_to_day": {
            p: round(v["median_s"] / max(day["pages"][p]["median_s"], 1e-6), 2)
            for p, v in window["pages"].items()
        },
        "slowest": max(
            ((p, v["median_s"]) for p, v in window["pages"].items()), key=lambda x: x[1]
        ),
    }


def _options(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--days", type=int, default=21, help="days of the recorded window")
    ap.add_argument("--seed", help=argparse.SUPPRESS)  # the seeding child process


def main() -> None:
    recorded_main(__doc__ or "", run, options=_options)


if __name__ == "__main__":
    main()
