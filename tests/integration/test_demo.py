"""``desk demo`` as a newcomer runs it (bundled bars only, nothing from ../shared), then
``desk gates run`` over what it left: PASS on the clean run, and FAIL or STALE, with the
reason, when any single input is failing or old."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from streams.config import DEFAULT_CONFIG
from tests.conftest import DEMO_LIMIT as LIMIT
from tests.conftest import run_desk

pytestmark = pytest.mark.integration
DEMO_CONFIG = DEFAULT_CONFIG.parent / "desk.demo.yaml"


def test_the_demo_trades_agrees_with_its_backtest_and_passes_its_gates(demo) -> None:
    r, _env = demo
    assert r["passed"] and r["bars_in"] == 2 * int(LIMIT)
    assert r["events"]["market.bars.clean"] == r["bars_in"]
    bots = {b["bot"]: b for b in r["bots"]}
    assert set(bots) == {"trend-fx", "mm-fx"}
    for b in bots.values():
        assert b["orders"] > 0 and b["fills"] > 0 and b["pnl"] is not None
        assert b["max_drawdown"] is not None
    assert r["stream_vs_engine"]["agree"] and r["stream_vs_engine"]["differences"] == []
    engine = r["stream_vs_engine"]["engine_events"]
    assert all(r["events"][t] == engine[t] for t in ("fills", "orders.commands", "risk.decisions"))
    assert r["regression"]["status"] == "PASS"
    ch = r["rows"]["clickhouse"]
    assert ch["fills"] == r["events"]["fills"] == r["rows"]["postgres"]["fills"]
    assert ch["market_bars_clean"] == r["bars_in"]
    assert sorted(d["kind"] for d in r["dead_letters"]) == ["decode", "decode"]
    assert r["gates"]["status"] == "PASS" and r["gates"]["validation_level"] == 4
    assert {g["gate"] for g in r["gates"]["gates"]} == {
        "tests", "replay_regression", "paper_smoke", "paper_soak", "reconciliation", "parity",
        "data_quality", "alert_delivery"}  # fmt: skip
    md = Path(r["artifacts"]["markdown"]).read_text()
    assert "they agree, event for event" in md and "## Gates: PASS" in md
    for bot in bots:
        png = Path(r["artifacts"][f"equity_{bot}"])
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"]({png.name})" in md
    assert "shared" not in json.dumps(r["config"])
    # the engine run is recorded as a backtest (desk backtest show, the dashboard)
    assert r["backtest"]["run_id"].startswith("bt-") and r["backtest"]["rows"] > 0
    assert (
        json.loads(Path(r["backtest"]["summary"]).read_text())["run_id"] == r["backtest"]["run_id"]
    )


def gates(env: dict[str, str]) -> tuple[int, dict]:
    res = run_desk("gates", "run", "--json", env={**env, "DESK_CONFIG_FILE": str(DEMO_CONFIG)},
                   timeout=180)  # fmt: skip
    assert res.stdout, res.stderr[-2000:]
    return res.returncode, json.loads(res.stdout)


def status(report: dict) -> dict[str, str]:
    return {g["gate"]: g["status"] for g in report["gates"]}


def reasons(report: dict, gate: str) -> str:
    return " ".join(next(g for g in report["gates"] if g["gate"] == gate)["reasons"])


@pytest.mark.timeout(900)
def test_gates_pass_on_the_demo_and_fail_on_any_single_bad_input(demo) -> None:
    _r, env = demo
    data = Path(env["DESK_DATA_DIR"])
    rc, clean = gates(env)
    assert rc == 0 and clean["status"] == "PASS", [g for g in clean["gates"] if g["reasons"]]
    assert clean["live_allowed"] is True
    shown = run_desk("gates", "show", "--json", env=env)
    assert json.loads(shown.stdout)["run_id"] == clean["run_id"]
    audit = json.loads(run_desk("audit", "show", "--kind", "gate_run", "--json", env=env).stdout)
    entry = next(e for e in audit["entries"] if e["subject"] == clean["run_id"])
    assert entry["body"]["status"] == "PASS" and entry["body"]["validation_level"] == 4
    assert pg(
        env,
        "SELECT gate, result, validation_level FROM gate_runs WHERE promotion_run = "
        f"'{clean['run_id']}' ORDER BY gate",
    ) == sorted([[g["gate"], "PASS", None] for g in clean["gates"]] + [["promotion", "PASS", 4]])
    junit = data / "gates" / "junit.xml"
    good = junit.read_text()

    # the suite failed
    junit.write_text(good.replace('failures="0"', 'failures="1"').replace(
        'name="bots_trade"></testcase>',
        'name="bots_trade"><failure message="no fill"/></testcase>'))  # fmt: skip
    rc, bad = gates(env)
    assert rc == 1 and bad["status"] == "FAIL" and status(bad)["tests"] == "FAIL"
    assert "desk.demo::bots_trade" in reasons(bad, "tests")
    assert {k: v for k, v in status(bad).items() if k != "tests"} == {
        k: "PASS" for k in status(bad) if k != "tests"}  # fmt: skip
    assert bad["validation_level"] == -1
    junit.write_text(good)

    # the suite's result is two days old
    old = time.time() - 48 * 3600
    os.utime(junit, (old, old))
    rc, stale = gates(env)
    assert rc == 1 and status(stale)["tests"] == "STALE" and "48.0 h old" in reasons(stale, "tests")
    junit.write_text(good)

    # the replay regression was never verified, then verified two days ago
    results = data / "replay" / "windows" / "demo" / "results"
    aside = results.with_name("results.aside")
    results.rename(aside)
    rc, never = gates(env)
    assert rc == 1 and status(never)["replay_regression"] == "FAIL"
    assert "never verified" in reasons(never, "replay_regression")
    aside.rename(results)
    kept = {p: p.read_text() for p in results.glob("*.json")}  # both demos verified it
    for path, body in kept.items():
        path.write_text(
            json.dumps({**json.loads(body), "finished_at": "2020-01-01T00:00:00+00:00"})
        )
    rc, aged = gates(env)
    assert rc == 1 and status(aged)["replay_regression"] == "STALE"
    for path, body in kept.items():
        path.write_text(body)

    # the desk's own evidence: a CRITICAL reconciliation finding, then a bar far later than
    # every bot's books (the desk's clock moved on; its evidence did not)
    insert(env, "recon_reports", {
        "event_id": "drill-recon", "ts_event": clean["as_of"], "ts_ingest": clean["as_of"],
        "source": "test", "correlation_id": None, "venue": "sample", "account": "main",
        "bot_id": "mm-fx", "finding": "position_drift", "severity": "CRITICAL",
        "message": "drill: 1 EUR more at the venue", "evidence": {}})  # fmt: skip
    rc, drift = gates(env)
    assert rc == 1 and status(drift)["reconciliation"] == "FAIL"
    assert "position_drift" in reasons(drift, "reconciliation")
    later = clean["as_of"] + 30 * 86_400_000
    insert(env, "market_bars_clean", {
        "event_id": "drill-later", "ts_event": later, "ts_ingest": later, "source": "test",
        "correlation_id": None, "venue": "sample", "symbol": "GOOG", "interval": "1d",
        "open_time": later - 86_400_000, "open": "1", "high": "1", "low": "1", "close": "1",
        "volume": "1", "trades": None, "adj_close": None, "quality_flags": []})  # fmt: skip
    rc, moved = gates(env)
    assert rc == 1
    assert {status(moved)[g] for g in ("paper_smoke", "parity", "data_quality")} == {"STALE"}


def pg(env: dict[str, str], sql: str) -> list[list]:
    """Rows of the stopped demo's PostgreSQL."""
    code = (
        "import json, psycopg\n"
        "from streams.runtime.access import postgres_dsn\n"
        "from streams.settings import load_settings\n"
        "with postgres_dsn(load_settings()) as dsn, psycopg.connect(dsn) as c:\n"
        f"    print(json.dumps([list(r) for r in c.execute({sql!r}).fetchall()]))\n"
    )
    import subprocess

    full = {k: v for k, v in os.environ.items() if not k.startswith("DESK_")} | env
    done = subprocess.run([sys.executable, "-c", code], text=True, capture_output=True,
                          env=full, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def insert(env: dict[str, str], table: str, row: dict) -> None:
    """One row into the stopped demo's analytics store (its own process: chDB has one owner
    per path)."""
    code = (
        "import json, sys\n"
        "from streams.runtime.access import analytics_store\n"
        "from streams.settings import load_settings\n"
        "with analytics_store(load_settings()) as s:\n"
        f"    s.insert({table!r}, sys.stdin.read().encode())\n"
    )
    import subprocess

    full = {k: v for k, v in os.environ.items() if not k.startswith("DESK_")} | env
    done = subprocess.run([sys.executable, "-c", code], input=json.dumps(row), text=True,
                          capture_output=True, env=full, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
