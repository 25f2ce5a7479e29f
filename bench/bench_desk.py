"""The full desk in the stream against the worker's ceiling, on the same bars, in one run.

    .venv/bin/python -m bench.bench_desk [--days 3] [--out bench/results/desk.json]

Three runs on the embedded stack, each on a fresh desk, with the same recorded bars
(the three Binance.US BTC files from 2023-03-02, both reference bots):

* ``ceiling``: a pass-through agent alone (``bench.passthrough``): bars in, bars out;
* ``desk``: the whole desk (the fused core, ``streams.core``): data quality,
  quotes, paper venue, portfolio, strategies, risk in one engine, every event they
  make published, and the sinks, reconciliation, parity, audit and alerts beside;
* ``engine``: the same bars through the in-process engine (no broker), for scale.

Throughput is input bars per second from the first bar sent until the last one is
out (clean) on the broker; the headline is ``desk ÷ ceiling`` (issue 14 wants ≥ 0.5).
Each broker run is repeated (``--repeat``, median reported: one run varies by ±20% here,
with how the sinks' batches fall). Beside the rates, the CPU seconds each process spent
in the median run (broker, worker, this process's feed and the ClickHouse owner): on a
small machine the desk is bound by the total, and the broker's share alone says what a
ratio near the pass-through's can cost.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import CRYPTO, recorded_main
from connectors.feeds.files import read_files
from connectors.feeds.replay import replay
from streams.config import load_config
from streams.engine import Engine
from streams.kafka import EventProducer, TopicReader
from streams.runtime.stack import Stack
from streams.settings import load_settings

DAY_MS = 86_400_000


def bars_for(days: float) -> list[dict[str, Any]]:
    bars = read_files(sorted(CRYPTO.glob("binanceus_BTC*_1m_*.csv"))).bars
    start = bars[0]["open_time"] + DAY_MS
    return [b for b in bars if start <= b["open_time"] < start + days * DAY_MS]


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used (Linux ``/proc``)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def through_broker(
    bars: list[dict[str, Any]], want_out: int, **settings: Any
) -> tuple[float, dict[str, float]]:
    """Seconds from the first bar sent until ``want_out`` clean bars are on the broker, and
    the CPU seconds each process spent meanwhile."""
    with tempfile.TemporaryDirectory() as tmp:
        prefix = "bench."
        stack = Stack(load_settings(data_dir=Path(tmp), topic_prefix=prefix, **settings),
                      with_agents=True, supervise=False)  # fmt: skip
        stack.start()
        try:
            reader = TopicReader(stack.broker.bootstrap, "market.bars.clean", prefix)
            pids = {"broker": getattr(stack.broker, "proc", None), "worker": stack.worker}
            procs = {k: p.pid for k, p in pids.items() if p is not None}
            procs["feed+store"] = os.getpid()
            cpu0 = {k: cpu_seconds(pid) for k, pid in procs.items()}
            t0 = time.perf_counter()
            replay(bars, [], EventProducer(stack.broker.bootstrap, prefix))
            deadline = t0 + 1800
            while len(reader.records) < want_out and time.perf_counter() < deadline:
                reader.poll(0.2)
            took = time.perf_counter() - t0
            cpu = {k: round(cpu_seconds(pid) - cpu0[k], 2) for k, pid in procs.items()}
            reader.close()
            if len(reader.records) < want_out:
                raise SystemExit(f"only {len(reader.records)} of {want_out} bars came out")
            return took, cpu
        finally:
            stack.stop()


def median_run(repeat: int, bars: list[dict[str, Any]], want_out: int, **settings: Any
               ) -> tuple[float, dict[str, float], list[float]]:  # fmt: skip
    """The median of ``repeat`` runs (its CPU split with it), and every run's seconds."""
    runs = sorted((through_broker(bars, want_out, **settings) for _ in range(repeat)),
                  key=lambda r: r[0])  # fmt: skip
    took, cpu = runs[len(runs) // 2]
    return took, cpu, [round(t, 2) for t, _ in runs]


def run(days: float, repeat: int = 3) -> dict[str, Any]:
    bars = bars_for(days)
    t0 = time.perf_counter()
    out = Engine.for_desk(load_config()).run(bars)
    t_engine = time.perf_counter() - t0
    clean = len(out.topic("market.bars.clean"))
    ceiling = median_run(repeat, bars, len(bars), agent_modules="bench.passthrough")
    t_ceiling, cpu_ceiling, runs_ceiling = ceiling
    t_desk, cpu_desk, runs_desk = median_run(repeat, bars, clean)
    n = len(bars)
    rate = {"ceiling": n / t_ceiling, "desk": n / t_desk, "engine": n / t_engine}
    return {
        "bench": "desk",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "bars": n,
        "events_per_bar": round(len(out.events) / n, 2),
        "repeat": repeat,
        "seconds": {k: round(n / v, 2) for k, v in rate.items()},
        "runs_seconds": {"ceiling": runs_ceiling, "desk": runs_desk},
        "bars_per_s": {k: round(v) for k, v in rate.items()},
        "cpu_seconds": {"ceiling": cpu_ceiling, "desk": cpu_desk},
        "desk_to_ceiling": round(rate["desk"] / rate["ceiling"], 3),
        "desk_to_ceiling_spread": [
            round(t_ceiling / max(runs_desk), 3),
            round(t_ceiling / min(runs_desk), 3),
        ],
    }


def main() -> None:
    def options(ap: argparse.ArgumentParser) -> None:
        ap.add_argument("--days", type=float, default=3.0, help="days of bars (from 2023-03-02)")
        ap.add_argument("--repeat", type=int, default=3, help="runs of each broker desk (median)")

    recorded_main(__doc__ or "", lambda args: run(args.days, args.repeat), options=options)


if __name__ == "__main__":
    main()
