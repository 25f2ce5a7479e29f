"""Reliability drills: the failures an operator meets, run on a real embedded desk and measured.

Each drill starts a whole desk (Tansu, PostgreSQL, ClickHouse, the agents) in a
directory of its own, replays a window of real bars through ``desk feed replay``
as an operator would, breaks something in the middle, and then measures what
matters: bars published against bars in every store (lost, duplicated), orders
left PENDING with no venue answer, fills, and how long the desk took to recover.

``desk drill NAME`` runs one; ``tests/drills`` runs them as tests;
``docs/reliability.md`` keeps the figures.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streams.drills.desk import DEFAULT_DATA, DrillDesk, DrillResult, Window, bar_files
from streams.drills.inputs import drill_bad_values, drill_secrets, route_env, secrets_config
from streams.drills.process import (
    drill_broker_kill,
    drill_postgres_stall,
    drill_restart,
    drill_worker_crash,
)
from streams.drills.stores import drill_clickhouse_outage

__all__ = ["DEFAULT_DATA", "DRILLS", "DrillResult", "Window", "run_drill"]


@dataclass(frozen=True)
class Drill:
    run: Callable[..., DrillResult]
    config: Callable[[Path], Path] | None = None  # writes the drill desk's config file
    env: Callable[[], AbstractContextManager[Any]] = contextlib.nullcontext


DRILLS: dict[str, Drill] = {
    "worker-crash": Drill(drill_worker_crash),
    "restart": Drill(drill_restart),
    "postgres-stall": Drill(drill_postgres_stall),
    "broker-kill": Drill(drill_broker_kill),
    "clickhouse-outage": Drill(drill_clickhouse_outage),
    "bad-values": Drill(drill_bad_values),
    "secrets": Drill(drill_secrets, config=secrets_config, env=route_env),
}


def run_drill(
    name: str,
    directory: Path,
    *,
    data: Path = DEFAULT_DATA,
    clickhouse_url: str | None = None,
    window: Window | None = None,
) -> DrillResult:
    """One drill on a fresh desk in ``directory`` (stopped afterwards, whatever happens)."""
    drill = DRILLS[name]
    files = bar_files(data)
    directory.mkdir(parents=True, exist_ok=True)
    config = drill.config(directory) if drill.config else None
    with drill.env():
        desk = DrillDesk(directory, f"drill.{name}.", clickhouse_url, config)
        desk.start()
        try:
            return drill.run(desk, files, window or Window())
        finally:
            desk.stop()
