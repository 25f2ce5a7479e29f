"""Run the Faust worker (all registered agents) in this process until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from typing import Any

from streams import metrics
from streams.app import create_app
from streams.redact import install_log_redaction
from streams.settings import DeskSettings


def run_worker(settings: DeskSettings, bootstrap: str) -> None:
    import faust

    run_dir = settings.data_path / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    (settings.data_path / "faust").mkdir(parents=True, exist_ok=True)
    # the first worker keeps the plain names (desk status reads its agents.json)
    suffix = "" if settings.worker_index == 0 else f"-{settings.worker_index}"
    ready = run_dir / f"worker{suffix}.ready"
    install_log_redaction()  # before anything logs (the app adds its config's alert URLs)
    desk = create_app(settings, bootstrap)

    @desk.app.on_rebalance_complete.connect
    async def _mark_ready(sender: Any, **kwargs: Any) -> None:
        # the supervisor (desk up) waits for this file: partitions assigned, tables recovered
        ready.write_text(str(os.getpid()))
        metrics.mark_ready()  # /readyz

    status_path = run_dir / f"{settings.topic_prefix}agents{suffix}.json"

    @desk.app.timer(1.0)
    async def _write_status() -> None:
        # desk status reads it: every agent's progress, every store writer's backlog
        tmp = status_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(desk.status()))
        tmp.replace(status_path)

    @desk.app.timer(5.0)
    async def _lag() -> None:
        # the broker's end offsets: its own timer, bounded, so a slow answer never holds
        # the status file back
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(_consumer_lag(desk.app.consumer), timeout=3.0)

    @desk.app.on_before_shutdown.connect
    async def _flush(sender: Any, **kwargs: Any) -> None:
        # a graceful stop writes what the stores are owed (bounded; the rest is re-delivered)
        metrics.mark_ready(False)
        for w in desk.writers:
            await w.flush(timeout_s=5.0)

    # each worker its own port on one machine (desk up --workers N); in compose each
    # container has its own address and every worker serves the same port
    port = settings.metrics_port + settings.worker_index if settings.metrics_port else 0
    metrics.serve(port, settings.metrics_address)
    worker = faust.Worker(desk.app, loglevel=settings.log_level, redirect_stdouts=False, quiet=True)
    worker.execute_from_commandline()  # installs its own signal handlers; stops cleanly


async def _consumer_lag(consumer: Any) -> None:
    """Per assigned partition: the broker's end offset less what the group committed
    (or, before a commit, what this worker has read)."""
    try:
        assigned = list(consumer.assignment())
        highs = await consumer.highwaters(*assigned) if assigned else {}
    except Exception:  # rebalancing, the broker away: no lag to tell this round
        return
    for tp in assigned:
        high = highs.get(tp)
        if high is None:
            continue
        done = consumer._committed_offset.get(tp)
        if done is None:
            read = consumer._read_offset.get(tp)
            done = 0 if read is None else read + 1
        metrics.child(metrics.CONSUMER_LAG, tp.topic, str(tp.partition)).set(max(0, high - done))
