"""The dashboard on the desk ``desk demo`` leaves (a real replay through the embedded
stack, and its engine run recorded as a backtest) and on an empty data dir: every page
renders through Streamlit's AppTest without an exception or an error, the key numbers it
shows equal the analytics store's, empty pages say what to run; then ``desk dashboard``
is served and opened in headless Chromium, and the desk and backtest pages are kept as
screenshots (test artifacts, not committed)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from decimal import Decimal
from pathlib import Path

import pytest

from streams.config import DEFAULT_CONFIG
from tests.conftest import REPO, run_desk

pytestmark = pytest.mark.integration
DEMO_CONFIG = str(DEFAULT_CONFIG.parent / "desk.demo.yaml")
ARTIFACTS = Path(os.environ.get("DESK_TEST_ARTIFACTS", REPO / "tests" / "artifacts"))
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PAGES = ("pages/desk.py", "pages/backtests.py", "pages/triage.py", "pages/tickets.py",
         "pages/execution.py")  # fmt: skip


def apptest(env: dict[str, str]) -> dict[str, dict]:
    """Every page through AppTest, in a process of its own (it opens the data dir's stores;
    this session's own chDB lives in this process)."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("DESK_")}
    full |= env | {"DESK_DASHBOARD_REFRESH_S": "0"}
    res = subprocess.run([sys.executable, "-m", "tests.dashboard_apptest"], cwd=REPO,
                         env=full, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


def sql(env: dict[str, str], statement: str) -> list[dict]:
    res = run_desk("sql", statement, "--json", env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    got = json.loads(res.stdout)
    return [dict(zip(got["columns"], row, strict=True)) for row in got["rows"]]


def money(x: object) -> str:
    return f"{Decimal(str(x)):,.2f}"


def test_every_page_shows_the_stores_numbers_after_a_real_replay(demo) -> None:
    report, env = demo
    env = {**env, "DESK_CONFIG_FILE": DEMO_CONFIG}
    shown = apptest(env)
    for page in PAGES:
        assert shown[page]["exceptions"] == [], (page, shown[page]["exceptions"])
        assert shown[page]["errors"] == [], (page, shown[page]["errors"])

    desk = shown["pages/desk.py"]
    books = sql(env, "SELECT bot_id, argMax(equity, (ts_event, ts_ingest)) AS equity, "
                     "argMax(daily_pnl, (ts_event, ts_ingest)) AS pnl "
                     "FROM portfolio_snapshots FINAL GROUP BY bot_id")  # fmt: skip
    assert {b["bot_id"] for b in books} == {"trend-fx", "mm-fx"}
    assert desk["metrics"]["Equity (all bots)"] == money(sum(Decimal(b["equity"]) for b in books))
    assert desk["metrics"]["Daily PnL"] == money(sum(Decimal(b["pnl"]) for b in books))
    [n] = sql(env, "SELECT (SELECT count() FROM fills FINAL) AS fills, "
                   "(SELECT count() FROM alerts FINAL) AS alerts, (SELECT count() FROM "
                   "orders_commands FINAL WHERE command = 'SUBMIT') AS orders")  # fmt: skip
    assert desk["metrics"]["Fills"] == f"{int(n['fills']):,}" == f"{report['events']['fills']:,}"
    assert desk["metrics"]["Alerts"] == f"{int(n['alerts']):,}"
    assert desk["charts"] >= 3  # equity and drawdown, limits, daily PnL
    assert any(m.startswith("## :") for m in desk["markdown"])  # the "is it safe?" word

    bt = shown["pages/backtests.py"]
    [run] = sql(env, "SELECT run_id, summary FROM backtest_run FINAL")
    assert run["run_id"] == report["backtest"]["run_id"]
    total = json.loads(run["summary"])["metrics"]["total"]
    assert bt["metrics"]["Net profit"] == money(total["net_profit"])
    assert bt["metrics"]["Sharpe"] == ("—" if total["sharpe"] is None else f"{total['sharpe']:.3f}")
    assert bt["metrics"]["Trades"] == f"{total['trades']:,}"
    assert bt["charts"] >= 3  # equity and underwater, monthly returns, candles with fills
    if "optimistic" in json.loads(run["summary"])["fill_model_bias"]:
        assert any("Optimistic fill model" in w for w in bt["warnings"])

    ex = shown["pages/execution.py"]
    assert ex["metrics"]["Orders submitted"] == f"{int(n['orders']):,}"
    assert ex["charts"] >= 1 and ex["tables"] >= 2
    gates = shown["pages/tickets.py"]
    assert gates["tables"] >= 1  # the demo's gate run, gate by gate
    assert shown["pages/triage.py"]["tables"] == 1


def test_every_page_of_an_empty_store_says_what_to_run(tmp_path: Path) -> None:
    shown = apptest({"DESK_DATA_DIR": str(tmp_path / "empty")})
    hints = {
        "pages/desk.py": "desk demo",
        "pages/backtests.py": "desk backtest run",
        "pages/tickets.py": "desk gates run",
        "pages/execution.py": "desk demo",
    }
    for page in PAGES:
        assert shown[page]["exceptions"] == [] and shown[page]["errors"] == [], shown[page]
    for page, hint in hints.items():
        assert any(hint in i for i in shown[page]["info"]), (page, shown[page]["info"])
    assert any("desk daily ticket" in i for i in shown["pages/tickets.py"]["info"])


def settled(page: object, quiet_s: float = 2.0, limit_s: float = 60.0) -> None:
    """Until the script has finished (Streamlit's running indicator gone) and the page has
    not changed its chart count for ``quiet_s``: the picture shows the whole page."""
    deadline, last, since = time.monotonic() + limit_s, -1, time.monotonic()
    while time.monotonic() < deadline:
        running = page.locator('[data-testid="stStatusWidget"]').count()  # type: ignore[attr-defined]
        charts = page.locator(".js-plotly-plot").count()  # type: ignore[attr-defined]
        if running or charts != last:
            last, since = charts, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return
        time.sleep(0.25)
    raise AssertionError("the page kept running for 60 s")


def test_desk_dashboard_serves_charts_to_a_browser(demo, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    from streams.runtime.proc import free_port

    assert Path(CHROMIUM).exists(), "chromium is missing: ./dev test installs it (apt)"
    _report, env = demo
    port = free_port()
    full = {k: v for k, v in os.environ.items() if not k.startswith("DESK_")}
    full |= env | {"DESK_CONFIG_FILE": DEMO_CONFIG}
    log = (tmp_path / "dashboard.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "dashboard", "--port", str(port), "--refresh", "0"],
        cwd=REPO, env=full, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                    break
            except OSError:
                assert proc.poll() is None, (tmp_path / "dashboard.log").read_text()[-2000:]
                assert time.monotonic() < deadline, "the dashboard did not come up in 60 s"
                time.sleep(0.5)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                      "--disable-background-networking", "--disable-component-update",
                      "--disable-sync"],
            )  # fmt: skip
            page = browser.new_page(viewport={"width": 1500, "height": 2600})
            for name, path, title in (("desk", "/", "Desk"),
                                      ("backtests", "/backtests", "Backtest review")):  # fmt: skip
                page.goto(f"http://127.0.0.1:{port}{path}")
                page.get_by_role("heading", name=title).first.wait_for(timeout=60_000)
                page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
                settled(page)
                shot = ARTIFACTS / f"dashboard-{name}.png"
                page.screenshot(path=str(shot), full_page=True)
                assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
                assert page.locator(".js-plotly-plot").count() >= 3, name
                assert page.locator('[data-testid="stException"]').count() == 0, name
                assert page.locator('[data-testid="stAlertContentError"]').count() == 0, name
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)  # the stores it held are closed before the next test
        log.close()
