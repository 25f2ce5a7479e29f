"""Parameter sweeps and walk-forward splits over the desk graph, on the machine's cores.

A grid (``fast=8,12 slow=30,48``) is every combination; each is one backtest. Walk-forward
cuts the data into consecutive folds — ``train`` then ``test``, rolled forward by
``test`` — picks on each fold the combination with the best figure on the training bars
only, and runs that one on the test bars, from a fresh state: nothing of a test window
reaches the choice made before it (``tests/unit/test_backtest_sweep.py`` changes the
test windows' bars and shows the choices do not move).

Runs go to a process pool (fork: the bars are read once, in the parent, and shared).
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from analytics.backtest.records import summary
from analytics.backtest.run import backtest_config, parse_params, run_backtest
from streams.config import DeskConfig
from streams.errors import DeskError

LOWER_IS_BETTER = {"max_drawdown", "max_drawdown_duration_s", "fees", "turnover"}
_BARS: Sequence[Mapping[str, Any]] = ()  # the sweep's bars, inherited by the forked workers


def grid(items: Iterable[str]) -> list[dict[str, Any]]:
    """``k=v1,v2`` options -> every combination (the first key varies slowest)."""
    axes: dict[str, list[Any]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        if not sep or not key.strip() or not values.strip():
            raise DeskError(f"--grid {item!r}: expected NAME=V1,V2,...")
        if key.strip() in axes:
            raise DeskError(f"--grid {key.strip()}: given twice")
        axes[key.strip()] = [parse_params([f"v={v.strip()}"])["v"] for v in values.split(",")]
    if not axes:
        raise DeskError("a sweep needs at least one --grid NAME=V1,V2,...")
    return [dict(zip(axes, combo, strict=True)) for combo in itertools.product(*axes.values())]


@dataclass(frozen=True)
class Fold:
    """One walk-forward fold: bars opening in [train_from, test_from) train, then
    [test_from, test_until) test."""

    train_from: int
    test_from: int
    test_until: int


def folds(first: int, last: int, train_ms: int, test_ms: int) -> list[Fold]:
    """Consecutive folds over [first, last]: each test window starts where its training
    window ends, and the next fold moves on by one test window."""
    if train_ms <= 0 or test_ms <= 0:
        raise DeskError("--train and --test must be positive")
    out, start = [], first
    while start + train_ms < last:
        out.append(Fold(start, start + train_ms, min(start + train_ms + test_ms, last + 1)))
        start += test_ms
    if not out:
        raise DeskError("the data is shorter than one training window: less --train, or more data")
    return out


def score(s: Mapping[str, Any], figure: str) -> float:
    """A summary's figure as a number where higher is better (missing: worst)."""
    raw = s["metrics"]["total"].get(figure)
    if raw is None:
        return float("-inf")
    value = float(Decimal(str(raw)))
    return -value if figure in LOWER_IS_BETTER else value


@dataclass(frozen=True)
class Job:
    base: DeskConfig
    streams: tuple[tuple[str, str], ...]
    strategy: str
    params: dict[str, Any]
    since: int | None  # bar open time bounds over the shared bars
    until: int | None
    options: dict[str, Any]  # cash, seed, fee_profile, latency_ms, market_fill


def run_job(job: Job) -> dict[str, Any]:
    """One backtest of the shared bars (in a worker): its summary, tagged with its params."""
    bars = [
        b for b in _BARS
        if (job.since is None or b["open_time"] >= job.since)
        and (job.until is None or b["open_time"] < job.until)
    ]  # fmt: skip
    cfg = backtest_config(job.base, job.streams, strategy=job.strategy, params=job.params,
                          **job.options)  # fmt: skip
    s = summary(run_backtest(cfg, bars), bars, [])
    return {"params": job.params, "since": job.since, "until": job.until, "summary": s}


def run_all(
    bars: Sequence[Mapping[str, Any]],
    jobs: Sequence[Job],
    workers: int | None = None,
    on_done: Callable[[dict[str, Any]], None] = lambda _r: None,
) -> list[dict[str, Any]]:
    """Every job, on ``workers`` processes (default: the machine's cores); results in job
    order. One worker (or one job) runs here, without a pool."""
    global _BARS
    _BARS = bars
    n = min(workers or os.cpu_count() or 1, len(jobs))
    if n <= 1:
        out = []
        for job in jobs:
            out.append(run_job(job))
            on_done(out[-1])
        return out
    results: list[dict[str, Any] | None] = [None] * len(jobs)
    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=n, mp_context=ctx) as pool:
        futures = {pool.submit(run_job, job): i for i, job in enumerate(jobs)}
        from concurrent.futures import as_completed

        for fut in as_completed(futures):
            results[futures[fut]] = fut.result()
            on_done(results[futures[fut]])  # type: ignore[arg-type]
    return [r for r in results if r is not None]


def walk_forward(
    bars: Sequence[Mapping[str, Any]],
    template: Job,
    combos: Sequence[dict[str, Any]],
    fold_list: Sequence[Fold],
    figure: str,
    workers: int | None = None,
    on_done: Callable[[dict[str, Any]], None] = lambda _r: None,
) -> list[dict[str, Any]]:
    """Per fold: every combination on the training bars, the best by ``figure`` on the
    test bars. Returns per fold its windows, the choice, its training and test figures."""
    train_jobs = [
        Job(**{**template.__dict__, "params": p, "since": f.train_from, "until": f.test_from})
        for f in fold_list
        for p in combos
    ]
    trained = run_all(bars, train_jobs, workers, on_done)
    chosen = []
    for i, f in enumerate(fold_list):
        runs = trained[i * len(combos) : (i + 1) * len(combos)]
        best = max(runs, key=lambda r: score(r["summary"], figure))  # first best on ties
        chosen.append((f, best))
    test_jobs = [
        Job(
            **{
                **template.__dict__,
                "params": best["params"],
                "since": f.test_from,
                "until": f.test_until,
            }
        )
        for f, best in chosen
    ]
    tested = run_all(bars, test_jobs, workers, on_done)
    return [
        {
            "train": [f.train_from, f.test_from],
            "test": [f.test_from, f.test_until],
            "params": best["params"],
            "train_figure": best["summary"]["metrics"]["total"].get(figure),
            "test_figure": t["summary"]["metrics"]["total"].get(figure),
            "train_run": best["summary"]["run_id"],
            "test_run": t["summary"]["run_id"],
            "test_net_profit": t["summary"]["metrics"]["total"]["net_profit"],
        }
        for (f, best), t in zip(chosen, tested, strict=True)
    ]
