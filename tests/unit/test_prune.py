"""``desk prune --older-than``: old artifacts go, young ones stay, and the stores, state,
tickets, confirmations, raw inputs and golden windows are never touched however old
(issue 17, point 8)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from streams.retention import PRUNABLE, parse_age, protected
from tests.conftest import run_desk

DAY = 86400
OLD = [  # (path, what) older than the cutoff and prunable
    "backtests/bt-0123abcd/summary.json",
    "gates/gr-0123456789ab/gates.md",
    "replays/rp-1/broker/segment.log",
    "drills/postgres_stall/report.json",
    "alerts/dry-run/al-1-file.json",
    "tickets/2021-06-03/data_quality/data_quality.md",
    "tickets/2021-06-03/morning.txt",
    "eod/BTC-USD_ohlcv_binanceus_2023-03-01_2023-03-20.csv",
    "reports/universe_validation.md",
]
KEPT_OLD = [  # as old, never pruned
    "postgres/data/base/1/1259",
    "clickhouse/store/market_bars.bin",
    "state/risk-commands.jsonl",
    "state/risk-status.json",
    "run/stack.json",
    "faust/tables/x.db",
    "desk.lock",
    "tickets/2021-06-03/tk-2021-06-03-0123456789/ticket.md",
    "tickets/2021-06-03/tk-2021-06-03-0123456789/confirmations/abcd.json",
    "tickets/raw/0f0f.csv",
    "replay/windows/usdc-depeg/bars.avro",
    "gates/latest.json",
    "alerts.jsonl",
]
YOUNG = "backtests/bt-young/summary.json"
STILL_WRITTEN = ("replays/rp-2/old.log", "replays/rp-2/new.log")  # one file fresh


def tree(root: Path) -> None:
    now = time.time()
    for rel in [*OLD, *KEPT_OLD, YOUNG, *STILL_WRITTEN]:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(rel)
    for rel in [*OLD, *KEPT_OLD, STILL_WRITTEN[0]]:
        os.utime(root / rel, (now - 100 * DAY, now - 100 * DAY))
    for d in sorted(root.rglob("*"), reverse=True):  # folders as old as their files
        if d.is_dir() and d.name != "rp-2":
            os.utime(d, (now - 100 * DAY, now - 100 * DAY))


def test_prune_deletes_old_artifacts_and_nothing_protected(tmp_path: Path) -> None:
    root = tmp_path / "desk"
    tree(root)
    env = {"DESK_DATA_DIR": str(root)}
    dry = run_desk("prune", "--older-than", "30d", "--dry-run", "--json", env=env)
    assert dry.returncode == 0, dry.stderr
    planned = json.loads(dry.stdout)
    tops = {"/".join(e["path"].split("/")[:2]) for e in planned["entries"]}
    assert all((root / rel).exists() for rel in OLD)  # a dry run deletes nothing
    assert len(planned["entries"]) == len(OLD) and planned["bytes_freed"] == 0
    assert "replays/rp-2" not in tops and "backtests/bt-young" not in tops

    done = json.loads(run_desk("prune", "--older-than", "30d", "--json", env=env).stdout)
    assert [e["path"] for e in done["entries"]] == [e["path"] for e in planned["entries"]]
    assert done["bytes_freed"] == sum(len(rel) for rel in OLD)
    assert not any((root / rel).exists() for rel in OLD)
    assert all((root / rel).read_text() == rel for rel in KEPT_OLD)  # untouched
    assert (root / YOUNG).exists() and (root / STILL_WRITTEN[0]).exists()
    again = json.loads(run_desk("prune", "--older-than", "30d", "--json", env=env).stdout)
    assert again["entries"] == []


def test_no_prunable_pattern_can_reach_a_protected_path() -> None:
    for rel in KEPT_OLD:
        assert protected(rel) or not any(Path(rel).match(pattern) for _kind, pattern in PRUNABLE), (
            rel
        )
    for rel in ("tickets/2021-06-03/tk-x", "tickets/x/tk-y/confirmations", "postgres",
                "replay/windows/normal", "state", "tickets/raw"):  # fmt: skip
        assert protected(rel), rel


@pytest.mark.parametrize("bad", ["30", "0d", "-3d", "30 days", "1y", ""])
def test_a_bad_age_is_one_line(bad: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="--older-than"):
        parse_age(bad)
    res = run_desk("prune", "--older-than", bad, env={"DESK_DATA_DIR": str(tmp_path)})
    assert res.returncode == 2 and res.stderr.count("\n") == 1, res.stderr
    assert parse_age("12h").total_seconds() == 12 * 3600
