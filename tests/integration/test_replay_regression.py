"""Replay regression on the real embedded stack, the way an operator runs it: the three
windows built from the shared bars, each verified twice through a desk of its own (PASS
both times, the same dataset), and a deliberate change to a risk limit caught by name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import SHARED_DATA, run_desk

CRYPTO = SHARED_DATA / "crypto_1m"
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not CRYPTO.exists(), reason="../shared/data not present"),
]


@pytest.fixture(scope="module")
def windows(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], Path]:
    data = tmp_path_factory.mktemp("regression")
    env = {"DESK_DATA_DIR": str(data)}
    made = run_desk("replay", "windows", "--data", str(CRYPTO), "--json", env=env)
    assert made.returncode == 0, made.stderr
    names = {d["name"] for d in json.loads(made.stdout)["datasets"]}
    assert names == {"normal", "usdc-depeg", "no-trade"}
    return env, data / "replay" / "windows"


@pytest.mark.timeout(900)
def test_every_window_verifies_twice_in_a_row(windows) -> None:
    env, _root = windows
    runs = []
    for _ in range(2):
        out = run_desk("replay", "verify", "--json", env=env, timeout=600)
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
        runs.append(json.loads(out.stdout))
    for r in runs:
        assert r["status"] == "PASS"
        assert sorted(d["dataset"] for d in r["datasets"]) == ["no-trade", "normal", "usdc-depeg"]
    first, second = ({d["dataset"]: d for d in r["datasets"]} for r in runs)
    for name in first:
        assert first[name]["dataset_id"] == second[name]["dataset_id"]
        assert first[name]["run_id"] != second[name]["run_id"]  # two runs, own namespaces
        assert first[name]["counts"] == second[name]["counts"]
    assert first["normal"]["counts"]["fills"]["run"] > 0
    assert first["usdc-depeg"]["counts"]["dq.reports"]["run"] > 0  # the de-peg is seen
    quiet = first["no-trade"]["counts"]
    assert quiet["orders.intents"]["run"] > 0 and quiet["fills"]["run"] == 0
    assert quiet["orders.events"]["run"] == 0  # not one order reached the venue
    shown = run_desk("replay", "show", "--json", env=env)
    assert all(r["latest"]["status"] == "PASS" for r in json.loads(shown.stdout))
    for d in second.values():  # evidence on disk: JSON and markdown per run
        assert Path(d["evidence"]).is_file()
        assert Path(d["evidence"]).with_suffix(".md").read_text().startswith("# Replay")


@pytest.mark.timeout(600)
def test_a_changed_risk_limit_fails_naming_the_first_difference(windows, tmp_path: Path) -> None:
    env, root = windows
    config = json.loads((root / "normal" / "config.yaml").read_text())
    config["limits"]["max_position_notional"] = "2000"
    changed = tmp_path / "changed.yaml"
    changed.write_text(json.dumps(config))
    out = run_desk("replay", "verify", str(root / "normal"), "--config", str(changed),
                   "--json", env=env, timeout=600)  # fmt: skip
    assert out.returncode == 1, out.stderr[-2000:]
    result = json.loads(out.stdout)
    assert result["status"] == "FAIL"
    normal = result["datasets"][0]
    assert normal["config_is_recorded"] is False
    first = normal["differences"][0]
    assert first.startswith("risk.decisions key mm-btc:BTC/USDT"), first
    assert "check max_position_notional (pass" in first and "/2000)" in first, first
