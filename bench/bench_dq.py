"""Data-quality benchmark: reading, judging and encoding the recorded bars, side by side.

    .venv/bin/python -m bench.bench_dq [--out bench/results/dq.json]

One run over the three Binance.US files in ../shared/data (90,720 bars):
bars/s for reading the files, for the data-quality core, for the synthetic
quotes core and for Avro-encoding the clean bars, each as a ratio to reading.
Ratios are what to compare across machines, not absolute numbers.
"""

from __future__ import annotations

import platform
import time
from typing import Any

from agents.dq.core import DataQualityCore
from agents.quotes.core import SyntheticQuoter
from bench import CRYPTO, recorded_main
from connectors.feeds.files import read_files
from streams.avro import registry
from streams.config import load_config


def run() -> dict[str, Any]:
    cfg = load_config()
    files = sorted(CRYPTO.glob("binanceus_BTC*_1m_*.csv"))
    t0 = time.perf_counter()
    bars = read_files(files).bars
    t_read = time.perf_counter() - t0

    core = DataQualityCore.from_config(cfg)
    t0 = time.perf_counter()
    outcomes = [core.process(b) for b in bars]
    t_dq = time.perf_counter() - t0
    clean = [o.clean for o in outcomes if o.clean is not None]

    quoter = SyntheticQuoter(cfg.market_data)
    t0 = time.perf_counter()
    for b in clean:
        quoter.quote(b)
    t_quotes = time.perf_counter() - t0

    enc = registry().encode
    t0 = time.perf_counter()
    for b in clean:
        enc("Bar", b)
    t_encode = time.perf_counter() - t0

    n = len(bars)
    stages = {
        "read_files": t_read,
        "dq_core": t_dq,
        "quotes_core": t_quotes,
        "avro_encode": t_encode,
    }
    return {
        "bench": "dq",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "bars": n,
        "reports": sum(len(o.findings) for o in outcomes),
        "stages": {
            k: {
                "seconds": round(v, 4),
                "bars_per_s": round(n / v),
                "ratio_to_read": round(t_read / v, 2),
            }
            for k, v in stages.items()
        },
    }


def main() -> None:
    recorded_main(__doc__ or "", run)


if __name__ == "__main__":
    main()
