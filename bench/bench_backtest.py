"""The desk's backtest against backtesting.py, on the same bars, in one run.

    .venv/bin/python -m bench.bench_backtest [--repeat 3] [--out bench/results/backtest.json]

The three weeks of Binance.US BTC/USDT 1-minute bars (2023-03-01 → 03-21), the EMA cross
(``agents.strategies.ema_cross``) with the same rules on both sides (next-bar-open market
fills, 10 bps commission; ``analytics.backtest.peer``):

* ``peer``: backtesting.py (its indicators precomputed, as it does);
* ``engine``: the desk graph alone (``streams.engine``: data quality, quotes, paper
  venue, portfolio, strategies, risk with portfolio risk), every event made;
* ``backtest``: ``desk backtest run``'s core (``run_backtest``): the engine plus per-bar
  records (equity, positions, strategy state) and the figures;
* ``desk``: for scale, the packaged desk's two reference bots on all three BTC streams.

Each is timed ``--repeat`` times (median, spread); the headline is engine bars/s ÷
backtesting.py bars/s (issue 15 wants ≥ 1.0). Both sides' trades are compared once.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from analytics.backtest.peer import run_peer
from analytics.backtest.run import backtest_config, run_backtest
from bench import CRYPTO, recorded_main
from connectors.feeds.files import read_files
from streams.config import load_config
from streams.engine import Engine

FAST, SLOW, QTY, CASH = 10, 30, Decimal("0.01"), Decimal(100_000)


def timed(fn: Callable[[], Any], repeat: int) -> tuple[list[float], Any]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return times, out


def rate(n: int, times: list[float]) -> dict[str, Any]:
    med = statistics.median(times)
    return {"bars": n, "seconds_median": round(med, 3), "bars_per_s": round(n / med),
            "seconds_min_max": [round(min(times), 3), round(max(times), 3)]}  # fmt: skip


def run(args: argparse.Namespace) -> dict[str, Any]:
    usdt = read_files([CRYPTO / "binanceus_BTCUSDT_1m_2023-03-01_2023-03-21.csv"]).bars
    cfg = backtest_config(load_config(), [("binanceus", "BTC/USDT")], strategy="ema_cross",
                          params={"fast": FAST, "slow": SLOW, "quantity": str(QTY)},
                          cash=CASH, latency_ms=0, market_fill="next_open")  # fmt: skip
    commission = float(cfg.fee_profiles[cfg.bots[0].fee_profile].taker_bps) / 10_000
    n = len(usdt)
    peer_t, peer = timed(
        lambda: run_peer(usdt, FAST, SLOW, QTY, float(CASH), commission), args.repeat
    )
    engine_t, out = timed(lambda: Engine.for_desk(cfg).run(usdt), args.repeat)
    backtest_t, bt = timed(lambda: run_backtest(cfg, usdt), args.repeat)
    every = read_files(sorted(CRYPTO.glob("binanceus_BTC*_1m_*.csv"))).bars
    desk_t, _ = timed(lambda: Engine.for_desk(load_config()).run(every), args.repeat)
    fills = out.topic("fills")
    same = len(fills) == len(peer.fills) and all(
        f["side"] == p[0] and abs(float(f["price"]) - p[2]) < 1e-6
        for f, p in zip(fills, peer.fills, strict=False)
    )
    engine, peer_r = rate(n, engine_t), rate(n, peer_t)
    return {
        "machine": {"cpus": __import__("os").cpu_count(), "python": platform.python_version()},
        "window": "binanceus BTC/USDT 1m, 2023-03-01 -> 03-21",
        "strategy": {"kind": "ema_cross", "fast": FAST, "slow": SLOW, "quantity": str(QTY)},
        "peer": peer_r,
        "engine": engine,
        "backtest": rate(n, backtest_t),
        "desk_two_bots_three_streams": rate(len(every), desk_t),
        "fills": {"engine": len(fills), "peer": len(peer.fills), "same_trades": same},
        "final_equity": {
            "backtest": bt.metrics["total"]["final_equity"],
            "peer": round(peer.final_equity, 6),
        },
        "ratio_engine_to_peer": round(engine["bars_per_s"] / peer_r["bars_per_s"], 4),
        "ratio_backtest_to_peer": round(
            rate(n, backtest_t)["bars_per_s"] / peer_r["bars_per_s"], 4
        ),
    }


def main() -> None:
    def options(ap: argparse.ArgumentParser) -> None:
        ap.add_argument("--repeat", type=int, default=3, help="timed runs of each (median)")

    recorded_main(__doc__ or "", run, options=options)


if __name__ == "__main__":
    main()
