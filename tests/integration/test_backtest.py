"""``desk backtest`` as an operator runs it: the real entry point in a subprocess, on its own
data dir (its embedded analytics store), over a day of the shared bars."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from tests.conftest import run_desk

CRYPTO = Path(__file__).resolve().parents[3] / "shared" / "data" / "crypto_1m"
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not CRYPTO.exists(), reason="../shared/data not present"),
]
DAY = ("--since", "2023-03-02", "--until", "2023-03-03")


def desk(data_dir: Path, *args: str) -> dict:
    done = run_desk(*args, "--json", env={"DESK_DATA_DIR": str(data_dir)}, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def fails(data_dir: Path, *args: str) -> str:
    done = run_desk(*args, env={"DESK_DATA_DIR": str(data_dir)}, timeout=120)
    assert done.returncode != 0, done.stdout
    lines = [x for x in done.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    return lines[0]


def test_run_twice_same_bytes_stored_once_listed_shown_and_compared(tmp_path: Path) -> None:
    store, other = tmp_path / "store", tmp_path / "other"
    a = desk(store, "backtest", "run", "--data", str(CRYPTO), *DAY)
    again = desk(other, "backtest", "run", "--data", str(CRYPTO), *DAY, "--no-store")
    assert a["run_id"] == again["run_id"] and a["rows_stored"] > 0 and again["rows_stored"] == 0
    one = Path(a["run_dir"], "summary.json").read_bytes()
    assert one == Path(again["run_dir"], "summary.json").read_bytes()  # byte for byte
    assert a["fill_model_bias"] == "optimistic_estimated"
    assert {b["id"] for b in a["bots"]} == {"trend-btc", "mm-btc"}  # trend-fx has no bars here
    assert a["counts"]["fills"] > 0 and a["metrics"]["bots"]["mm-btc"]["fills"] > 0

    b = desk(store, "backtest", "run", "--data", str(CRYPTO), *DAY,
             "--strategy", "trend_ema", "--param", "fast=8", "--param", "slow=30")  # fmt: skip
    assert b["run_id"] != a["run_id"]
    assert {x["params"]["fast"] for x in b["bots"]} == {8} and len(b["bots"]) == 3
    desk(store, "backtest", "run", "--data", str(CRYPTO), *DAY)  # the same run once more

    listed = desk(store, "backtest", "list")
    assert sorted(r["run_id"] for r in listed) == sorted([a["run_id"], b["run_id"]])
    shown = desk(store, "backtest", "show", a["run_id"][:8])
    assert json.dumps(shown, sort_keys=True) == json.dumps(json.loads(one), sort_keys=True)
    counts = desk(store, "sql", "SELECT (SELECT count() FROM backtest_bar FINAL WHERE run_id = "
                  f"'{a['run_id']}') AS bars, (SELECT count() FROM backtest_fill FINAL WHERE "
                  f"run_id = '{a['run_id']}') AS fills")  # fmt: skip
    bars, fills = counts["rows"][0]
    assert fills == a["counts"]["fills"]  # written twice, kept once
    assert bars == sum(m["bars"] for m in a["metrics"]["bots"].values())

    cmp = desk(store, "backtest", "compare", a["run_id"], b["run_id"], "--out",
               str(tmp_path / "review" / "eq"))  # fmt: skip
    assert Path(cmp["png"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "plotly" in Path(cmp["html"]).read_text()[:200_000].lower()
    net = next(f for f in cmp["figures"] if f["figure"] == "net_profit")
    want = float(b["metrics"]["total"]["net_profit"]) - float(a["metrics"]["total"]["net_profit"])
    assert float(net["delta"]) == pytest.approx(want, abs=1e-9)


def test_the_data_hash_is_the_bars_not_the_file_format(tmp_path: Path) -> None:
    src = CRYPTO / "binanceus_BTCUSDT_1m_2023-03-01_2023-03-21.csv"
    as_parquet = tmp_path / "binanceus_BTCUSDT_1m.parquet"
    pq.write_table(pacsv.read_csv(src), as_parquet)
    args = ("backtest", "run", *DAY, "--strategy", "trend_ema", "--no-store")
    csv_run = desk(tmp_path / "a", *args, "--data", str(src))
    parquet_run = desk(tmp_path / "b", *args, "--data", str(as_parquet))
    assert csv_run["data_hash"] == parquet_run["data_hash"]
    assert csv_run["run_id"] == parquet_run["run_id"]
    assert csv_run["metrics"] == parquet_run["metrics"]


RECORD = """
import sys
from connectors.clickhouse.sink import ClickHouseSink
from connectors.feeds.files import ReadOptions, parse_when, read_files
from streams.runtime.access import analytics_store
from streams.settings import load_settings
opts = ReadOptions(since=parse_when(sys.argv[2]), until=parse_when(sys.argv[3]))
bars = read_files([sys.argv[1]], opts).bars
with analytics_store(load_settings()) as store:
    store.migrate({})
    inserted, rejected = ClickHouseSink(store).write("market.bars", bars)
    assert inserted == len(bars) and not rejected
"""


def test_a_run_on_the_bars_the_desk_recorded_is_the_run_on_their_files(tmp_path: Path) -> None:
    """``--from-store`` reads ``market_bars`` (what the sinks stored of a replay): the same
    bars give the same data hash, so the same run id and figures as the files."""
    src = CRYPTO / "binanceus_BTCUSDT_1m_2023-03-01_2023-03-21.csv"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESK_")}
    done = subprocess.run([sys.executable, "-c", RECORD, str(src), "2023-03-01", "2023-03-04"],
                          env=env | {"DESK_DATA_DIR": str(tmp_path)}, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    args = ("backtest", "run", *DAY, "--strategy", "trend_ema", "--no-store")
    recorded = desk(tmp_path, *args, "--from-store")
    files = desk(tmp_path / "files", *args, "--data", str(src))
    assert recorded["data"]["bars"] == files["data"]["bars"] == 1440
    assert recorded["data_hash"] == files["data_hash"] and recorded["run_id"] == files["run_id"]
    assert recorded["metrics"] == files["metrics"]
    assert recorded["data"]["files"] == ["market_bars (the analytics store)"]


def test_bad_requests_are_one_line(tmp_path: Path) -> None:
    run = ("backtest", "run", "--data", str(CRYPTO), *DAY, "--no-store")
    assert "--param goes with --strategy" in fails(tmp_path, *run, "--param", "fast=8")
    assert "not in the config nor a known kind" in fails(tmp_path, *run, "--strategy", "nope")
    assert "not a number" in fails(tmp_path, *run, "--strategy", "trend_ema", "--cash", "lots")
    late = ("backtest", "run", "--data", str(CRYPTO), "--since", "2030-01-01", "--no-store")
    assert "no bars in the files for that window" in fails(tmp_path, *late)
    assert "--data FILES or --from-store" in fails(tmp_path, "backtest", "run", *DAY)
    usdc = ("backtest", "run", "--data", str(CRYPTO), *DAY, "--symbols", "BTC/USDC", "--no-store")
    assert "no bot of the config trades" in fails(tmp_path, *usdc)  # nobody trades BTC/USDC
    assert "no backtest run" in fails(tmp_path, "backtest", "show", "bt-0000")
    assert "not a run id" in fails(tmp_path, "backtest", "show", "x'; DROP TABLE t")
