"""Sweeps and walk-forward (``analytics.backtest.sweep``): the grid, the folds, a pool that
gives what one process gives, and no leakage from a test window into the choice before it."""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path

import pytest

from analytics.backtest.sweep import Fold, Job, folds, grid, run_all, walk_forward
from connectors.feeds.files import ReadOptions, parse_when, read_files
from streams.config import load_config
from streams.errors import DeskError

CRYPTO = Path(__file__).resolve().parents[3] / "shared" / "data" / "crypto_1m"
DAY = 86_400_000


def test_grid_is_every_combination_first_key_slowest() -> None:
    assert grid(["fast=5,10", "slow=30,60"]) == [
        {"fast": 5, "slow": 30}, {"fast": 5, "slow": 60},
        {"fast": 10, "slow": 30}, {"fast": 10, "slow": 60},
    ]  # fmt: skip
    assert grid(["risk_per_trade=0.01,0.02"]) == [{"risk_per_trade": "0.01"},
                                                  {"risk_per_trade": "0.02"}]  # fmt: skip
    for bad in (["fast"], ["fast="], ["=1,2"], ["fast=1", "fast=2"], []):
        with pytest.raises(DeskError):
            grid(bad)


def test_folds_train_then_test_rolled_by_the_test_window() -> None:
    got = folds(0, 5 * DAY - 1, 2 * DAY, DAY)
    assert got == [Fold(0, 2 * DAY, 3 * DAY), Fold(DAY, 3 * DAY, 4 * DAY),
                   Fold(2 * DAY, 4 * DAY, 5 * DAY)]  # fmt: skip
    assert all(f.train_from < f.test_from < f.test_until for f in got)
    with pytest.raises(DeskError, match="shorter than one training window"):
        folds(0, DAY, 2 * DAY, DAY)


@pytest.fixture(scope="module")
def bars() -> list[dict]:
    if not CRYPTO.exists():
        pytest.skip("../shared/data not present")
    opts = ReadOptions(since=parse_when("2023-03-01"), until=parse_when("2023-03-04"))
    return read_files([CRYPTO / "binanceus_BTCUSDT_1m_2023-03-01_2023-03-21.csv"], opts).bars


def template() -> Job:
    return Job(load_config(), (("binanceus", "BTC/USDT"),), "ema_cross", {}, None, None,
               {"cash": Decimal(100_000), "seed": 7})  # fmt: skip


def test_a_pool_gives_what_one_process_gives(bars: list[dict]) -> None:
    jobs = [Job(**{**template().__dict__, "params": p}) for p in grid(["fast=5,10", "slow=30"])]
    one, pool = run_all(bars, jobs, workers=1), run_all(bars, jobs, workers=2)
    assert [r["summary"] for r in one] == [r["summary"] for r in pool]
    assert one[0]["summary"]["run_id"] != one[1]["summary"]["run_id"]


def test_walk_forward_never_sees_the_test_window_before_choosing(bars: list[dict]) -> None:
    first, last = bars[0]["open_time"], bars[-1]["open_time"]
    fold_list = folds(first, last, DAY, DAY)
    combos = grid(["fast=3,5,10", "slow=20,40"])
    base = walk_forward(bars, template(), combos, fold_list, "net_profit", workers=2)
    assert len(base) == 2
    for k, fold in enumerate(fold_list):
        # every bar from this fold's test window on is changed beyond recognition
        changed = [b if b["open_time"] < fold.test_from else _warp(b) for b in bars]
        again = walk_forward(changed, template(), combos, fold_list, "net_profit", workers=2)
        for j in range(k + 1):  # this fold's choice, and every earlier one, stands
            keep = ("params", "train_figure", "train_run")
            assert {x: again[j][x] for x in keep} == {x: base[j][x] for x in keep}
        assert again[k]["test_run"] != base[k]["test_run"]  # its test did see the change


def _warp(bar: dict) -> dict:
    f = 1.0 + 0.02 * math.sin(bar["open_time"] / 600_000)
    return {**bar, **{k: bar[k] * f for k in ("open", "high", "low", "close")}}
