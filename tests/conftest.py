"""Shared fixtures: the real embedded stack (Tansu, PostgreSQL, chDB) once per session.

``DESK_TEST_BROKER_URL`` points the broker-using tests at an external broker (one
that keeps its topics, as Redpanda does) instead of an embedded one each: every
topic namespace then carries this run's tag, so a second run on the same broker
never meets the first's topics. Tests that kill or restart the broker keep an
embedded one of their own.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from streams.settings import DeskSettings, load_settings

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
TEST_BROKER = os.environ.get("DESK_TEST_BROKER_URL", "").strip() or None
RUN_TAG = uuid.uuid4().hex[:6]  # this test run's: its topic namespaces are its own


def namespace(name: str) -> str:
    """A topic prefix of this run's own (``op`` -> ``op-3fa2c1.``)."""
    return f"{name.rstrip('.')}-{RUN_TAG}."


def broker_overrides() -> dict[str, str]:
    """Settings that put a test's stack on ``DESK_TEST_BROKER_URL`` when one is given."""
    return {"broker_url": TEST_BROKER} if TEST_BROKER else {}


def desk_config_file(directory: Path, **changes: object) -> Path:
    """The packaged desk config with top-level sections replaced, written to ``directory``."""
    from streams.config import DEFAULT_CONFIG

    data = yaml.safe_load(DEFAULT_CONFIG.read_text()) | changes
    path = directory / "desk.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def stack_settings(tmp_path_factory: pytest.TempPathFactory) -> DeskSettings:
    """The shared stack runs the data path only (no bots): data-heavy tests stay fast there;
    the order path gets its own stack (tests/integration/test_order_path.py)."""
    from streams.config import DEFAULT_CONFIG
    from streams.runtime.proc import free_port

    data_dir = tmp_path_factory.mktemp("desk")
    # the tests' own synthetic streams (venue itest) are not in the universe: accept them
    dq = yaml.safe_load(DEFAULT_CONFIG.read_text())["data_quality"]
    dq["extra_streams"] = [*dq.get("extra_streams", []), "itest:*"]
    return load_settings(
        data_dir=data_dir,
        topic_prefix=namespace("it"),
        **broker_overrides(),
        metrics_port=free_port(),
        config_file=desk_config_file(data_dir, bots=[], data_quality=dq),
    )


@pytest.fixture(scope="session")
def stack(stack_settings: DeskSettings) -> Iterator[object]:
    """Broker + PostgreSQL + chDB + the agents worker, started once for the session."""
    from streams.runtime.stack import Stack

    s = Stack(stack_settings, with_agents=True)
    s.start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="session")
def bootstrap(request: pytest.FixtureRequest) -> str:
    """A broker to talk to: the external one when given (no desk needed), else the
    session stack's."""
    if TEST_BROKER:
        return TEST_BROKER
    return request.getfixturevalue("stack").broker.bootstrap


def desk_free_env(**extra: str) -> dict[str, str]:
    """This process's environment without any ``DESK_*`` setting, plus ``extra``: a child
    sees only the settings the test gives it."""
    return {k: v for k, v in os.environ.items() if not k.startswith("DESK_")} | extra


def run_desk(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120, **kw: object
) -> subprocess.CompletedProcess[str]:
    """Run the real `desk` entry point in a subprocess (as an operator would)."""
    full_env = desk_free_env(**(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        cwd=kw.get("cwd", REPO),  # type: ignore[arg-type]
    )


DEMO_LIMIT = "2000"  # bars per bundled sample: both bots trade, a couple of minutes on 2 cores


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict[str, str]]:
    """One ``desk demo`` for the session (test_demo judges it, the dashboard tests read
    the desk it leaves): its report and the environment naming its data dir."""
    import json

    data = tmp_path_factory.mktemp("demo")
    env = {"DESK_DATA_DIR": str(data)}
    # from a folder with no ../shared beside it: the demo needs nothing but the package
    cwd = tmp_path_factory.mktemp("elsewhere")
    res = run_desk("demo", "--json", "--limit", DEMO_LIMIT, env=env, timeout=600, cwd=cwd)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return json.loads(res.stdout), env


@pytest.fixture
def new_database(stack: object, request: pytest.FixtureRequest) -> Iterator[Callable[[], str]]:
    """Makes fresh, migrated databases on the session's embedded PostgreSQL (dropped after)."""
    import re

    import psycopg
    from psycopg.conninfo import make_conninfo

    from connectors.postgres.migrate import migrate

    server = stack.postgres.dsn  # type: ignore[attr-defined]
    base = "t_" + re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:40]
    made: list[str] = []

    def make() -> str:
        name = f"{base}_{len(made)}"
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        dsn = make_conninfo(server, dbname=name)
        migrate(dsn)
        return dsn

    try:
        yield make
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            for name in made:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_dsn(new_database: Callable[[], str]) -> str:
    """A fresh, migrated database of its own."""
    return new_database()


def wait_for(check: Callable[[], object], what: str, limit_s: float = 120) -> None:
    """Poll ``check`` until it holds: tests wait on content, never on a lull."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def metric_samples(port: int) -> dict[tuple, float]:
    """Every desk_ sample a worker's /metrics serves: (name, sorted labels) -> value."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith("desk_")
    }
