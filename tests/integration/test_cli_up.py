"""`desk up` / `desk status` / `desk demo` as an operator runs them, in subprocesses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from analytics.store import MIGRATIONS
from connectors.migrations import load
from connectors.postgres.migrate import MIGRATIONS as PG_MIGRATIONS
from tests.conftest import REPO, desk_config_file, run_desk

pytestmark = pytest.mark.integration


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESK_")}
    return env | {"DESK_DATA_DIR": str(data_dir)}


MIGRATIONS_SQL = "SELECT version, name, checksum FROM schema_migrations ORDER BY version"
CH_VERSION = max(m.version for m in load(MIGRATIONS))  # the analytics store's newest migration
PG_VERSION = max(m.version for m in load(PG_MIGRATIONS))


def _status(data_dir: Path) -> tuple[int, dict]:
    res = run_desk("status", "--json", env={"DESK_DATA_DIR": str(data_dir)})
    return res.returncode, json.loads(res.stdout)


def test_up_status_refuse_second_and_stop_cleanly(tmp_path: Path) -> None:
    data_dir = tmp_path / "desk"
    denv = {"DESK_DATA_DIR": str(data_dir)}
    code, report = _status(data_dir)
    assert code == 1 and report["running"] is False

    up = subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "up"],
        env=_env(data_dir),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            code, report = _status(data_dir)
            if code == 0:
                break
            assert up.poll() is None, up.stdout.read() if up.stdout else ""
            time.sleep(0.5)
        assert code == 0, report
        parts = {p["part"]: p for p in report["parts"]}
        assert {"broker", "postgres", "clickhouse", "agents", "risk"} <= set(parts)
        assert all(p["healthy"] for p in parts.values()) and report["healthy"]

        # a second desk on the same data dir refuses, one line, and changes nothing
        second = run_desk("up", env={"DESK_DATA_DIR": str(data_dir)}, timeout=60)
        assert second.returncode == 2
        assert "already running" in second.stderr and f"pid {up.pid}" in second.stderr
        assert _status(data_dir)[0] == 0

        # beside the running desk, `desk db migrate` uses its PostgreSQL: already migrated
        migrated = run_desk("db", "migrate", "--json", env=denv)
        assert migrated.returncode == 0, migrated.stderr
        assert json.loads(migrated.stdout) == {
            "postgres": {"applied_now": [], "schema_version": PG_VERSION},
            "clickhouse": {"applied_now": [], "schema_version": CH_VERSION, "retention": {}},
        }  # ClickHouse through the desk's store owner (chDB: one process per data path)

        # `desk sql` reads through the owner too, and refuses anything but a read
        running = run_desk("sql", MIGRATIONS_SQL, "--format", "csv", env=denv)
        assert running.returncode == 0, running.stderr
        lines = running.stdout.splitlines()
        assert lines[0] == "version,name,checksum"
        assert [ln.split(",")[0] for ln in lines[1:]] == [str(v) for v in range(1, CH_VERSION + 1)]
        for bad in ("DROP TABLE fills", "SELECT 1; DROP TABLE fills",
                    "SELECT * FROM file('/etc/passwd', 'LineAsString')"):  # fmt: skip
            refused = run_desk("sql", bad, env=denv)
            assert refused.returncode == 2 and "Traceback" not in refused.stderr, bad
            assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr

        owned = psutil.Process(up.pid).children(recursive=True)
        postmaster = int((data_dir / "postgres" / "postmaster.pid").read_text().split()[0])
        owned.append(psutil.Process(postmaster))
        assert len(owned) >= 3  # broker, worker, postgres (at least)
    finally:
        up.send_signal(signal.SIGINT)  # what Ctrl-C does
        out, _ = up.communicate(timeout=90)
    assert up.returncode == 0, out
    assert "desk stopped" in out
    _gone, alive = psutil.wait_procs(owned, timeout=10)
    assert not alive, [p.info if hasattr(p, "info") else p.pid for p in alive]
    assert _status(data_dir)[1]["running"] is False
    # with no desk running, it starts the embedded server itself (and stops it again)
    alone = run_desk("db", "migrate", "--json", env=denv)
    assert alone.returncode == 0, alone.stderr
    assert json.loads(alone.stdout)["postgres"]["schema_version"] == PG_VERSION
    assert json.loads(alone.stdout)["clickhouse"]["schema_version"] == CH_VERSION
    assert not (data_dir / "postgres" / "postmaster.pid").exists()
    # ...and `desk sql` opens the store itself: the same answer as through the running desk
    stopped = run_desk("sql", MIGRATIONS_SQL, "--format", "csv", env=denv)
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout == running.stdout
    empty = run_desk("sql", "SELECT 1 AS x, 'a' AS y WHERE 0", "--format", "csv", env=denv)
    assert empty.stdout == "x,y\n"  # no rows, still the header

    # retention comes from the config: a TTL per table, set once, lifted again
    keep = {"DESK_CONFIG_FILE": str(desk_config_file(tmp_path, analytics={
        "retention_days": {"market.quotes": 30, "dq.reports": 365}}))} | denv  # fmt: skip
    for _ in range(2):  # a second run changes nothing
        ttl = run_desk("db", "migrate", "--json", env=keep)
        assert ttl.returncode == 0, ttl.stderr
        assert json.loads(ttl.stdout)["clickhouse"] == {
            "applied_now": [], "schema_version": CH_VERSION,
            "retention": {"dq_reports": 365, "market_quotes": 30},
        }  # fmt: skip
    ddl = run_desk("sql", "SHOW CREATE TABLE market_quotes", "--json", env=denv)
    assert "toIntervalDay(30)" in json.loads(ddl.stdout)["rows"][0][0]
    lifted = run_desk("db", "migrate", "--json", env=denv)
    assert json.loads(lifted.stdout)["clickhouse"]["retention"] == {}


def _up(data_dir: Path) -> subprocess.Popen[str]:
    up = subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "up"],
        env=_env(data_dir),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and _status(data_dir)[0] != 0:
        assert up.poll() is None, up.stdout.read() if up.stdout else ""
        time.sleep(0.5)
    assert _status(data_dir)[0] == 0
    return up


def test_a_sigkilled_desk_leaves_nothing_the_next_up_does_not_clean(tmp_path: Path) -> None:
    """SIGKILL of `desk up`: the worker and the broker die with it; the PostgreSQL it
    started survives (it is not its child's child), and the next `desk up` stops that
    orphan before it starts its own, instead of failing or sharing the data dir."""
    data_dir = tmp_path / "desk"
    pidfile = data_dir / "postgres" / "postmaster.pid"
    up = _up(data_dir)
    children = psutil.Process(up.pid).children(recursive=True)
    orphan = int(pidfile.read_text().split()[0])
    up.kill()
    up.wait(10)
    _gone, alive = psutil.wait_procs([c for c in children if c.pid != orphan], timeout=15)
    assert not [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert psutil.pid_exists(orphan), "the orphan drill needs PostgreSQL to outlive desk up"

    again = _up(data_dir)
    try:
        assert not psutil.pid_exists(orphan) or psutil.Process(orphan).status() == "zombie"
        fresh = int(pidfile.read_text().split()[0])
        assert fresh != orphan and psutil.pid_exists(fresh)
    finally:
        again.send_signal(signal.SIGINT)
        out, _ = again.communicate(timeout=90)
    assert again.returncode == 0, out
    assert "left running by a desk that died" in out, out[-2000:]
    gone, _alive = psutil.wait_procs([psutil.Process(fresh)], timeout=15)
    assert gone, "the second desk's PostgreSQL outlived its clean stop"
