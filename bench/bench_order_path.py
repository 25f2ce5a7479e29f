"""Order-path benchmark: a recorded day through the in-process engine, side by side.

    .venv/bin/python -m bench.bench_order_path [--out bench/results/order_path.json]

One run over a day of the three Binance.US files in ../shared/data (4,320 bars,
both reference bots): the data-quality core alone, the whole engine (data
quality → quotes → paper venue → portfolio → strategies → risk), and the loop
with every event through its Avro form (as the broker carries it). Reported as
bars/s and as ratios to the data-quality core alone: what the order path costs
on top of the gate, and what the wire costs on top of that.
"""

from __future__ import annotations

import platform
import time
from typing import Any

from agents.dq.core import DataQualityCore
from bench import CRYPTO, recorded_main
from connectors.feeds.files import read_files
from streams.config import load_config
from streams.engine import Engine

DAY_MS = 86_400_000


def run() -> dict[str, Any]:
    cfg = load_config()
    bars = read_files(sorted(CRYPTO.glob("binanceus_BTC*_1m_*.csv"))).bars
    bars = [b for b in bars if b["open_time"] < bars[0]["open_time"] + DAY_MS]

    t0 = time.perf_counter()
    core = DataQualityCore.from_config(cfg)
    for b in bars:
        core.process(b)
    t_dq = time.perf_counter() - t0

    timings, events = {}, {}
    for name, wire in (("engine", False), ("engine_wire", True)):
        t0 = time.perf_counter()
        out = Engine.for_desk(cfg, wire=wire).run(bars)
        timings[name] = time.perf_counter() - t0
        events[name] = len(out.events)
    stages = {"dq_core": t_dq, **timings}
    n = len(bars)
    return {
        "bench": "order_path",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "bars": n,
        "events": events,
        "stages": {
            k: {
                "seconds": round(v, 4),
                "bars_per_s": round(n / v),
                "ratio_to_dq_core": round(t_dq / v, 3),
            }
            for k, v in stages.items()
        },
    }


def main() -> None:
    recorded_main(__doc__ or "", run)


if __name__ == "__main__":
    main()
