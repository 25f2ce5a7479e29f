"""The daily jobs, run once (by hand, or by ``desk daily serve`` at the scheduled instants):
each step in order, the run recorded in PostgreSQL (``daily_runs``) with the step it
reached; a failure says where, is recorded, and is alerted on every configured route.

``morning``: ingest (the end-of-day files into ``market_prices_eod``, the raw files kept
by content hash), data_quality (the gate's report), report (the day's status in a line).
``ticket``: the ticket, stored. ``dry_run``: the same steps, nothing written to
PostgreSQL and no alert sent (the smoke test of a desk's daily setup).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analytics.daily.schedule import JOBS
from connectors.clickhouse.store import Store
from streams import redact
from streams.config import DeskConfig
from streams.errors import DeskError

STEPS = {j.name: j.steps for j in JOBS}


@dataclass
class JobRun:
    run_id: str
    job: str
    as_of: dt.date
    dry_run: bool
    steps_done: list[str] = field(default_factory=list)
    failed_step: str | None = None
    error: str | None = None
    artifacts: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return "FAILED" if self.failed_step else "OK"

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "job": self.job,
            "as_of": self.as_of.isoformat(),
            "dry_run": self.dry_run,
            "status": self.status,
            "steps_done": self.steps_done,
            "failed_step": self.failed_step,
            "error": self.error,
            "artifacts": self.artifacts,
        }


def run_job(
    job: str,
    as_of: dt.date,
    inputs: Path,
    data: list[Path],
    out: Path,
    dsn: str | None,
    config: DeskConfig,
    data_dir: Path,
    scheduled_for: dt.datetime | None = None,
    store: Store | None = None,
) -> JobRun:
    """Run ``job`` for ``as_of``; ``dsn`` None is a dry run. Never raises for a step's
    failure: it is in the result (and recorded, and alerted). ``store``: the analytics
    store the ingest also writes the prices to."""
    if job not in STEPS:
        raise DeskError(f"no job {job!r}; jobs: {', '.join(STEPS)}")
    stamp = f"{job}|{as_of}|{time.time_ns()}"
    run = JobRun("dr-" + hashlib.sha256(stamp.encode()).hexdigest()[:12], job, as_of, dsn is None)
    if dsn is not None:
        _record_start(dsn, run, scheduled_for)
    state: dict[str, Any] = {}
    steps: dict[str, Callable[[], None]] = {
        "ingest": lambda: _ingest(state, inputs, data, out, dsn, store),
        "data_quality": lambda: _quality(state, inputs, data, as_of, out),
        "status": lambda: state.setdefault("status", "recorded"),
        "gates": lambda: state.setdefault("gates", state["quality"].status),
        "report": lambda: _report(state, run, out),
        "ticket": lambda: _ticket(state, inputs, data, as_of, out, dsn),
    }
    for step in STEPS[job]:
        try:
            steps[step]()
        except Exception as exc:  # a step's failure is the run's result, said where
            run.failed_step, run.error = step, redact.error_text(exc, 500)
            break
        run.steps_done.append(step)
    run.artifacts = {k: v for k, v in state.items() if isinstance(v, str | int)}
    if dsn is not None:
        if run.failed_step:
            run.artifacts["alerts"] = _alert(config, data_dir, run)
        _record_end(dsn, run)
    return run


def _ingest(
    state: dict, inputs: Path, data: list[Path], out: Path, dsn: str | None, store: Store | None
) -> None:
    from analytics.daily.eod import csv_files, keep_raw, parse, read_raw
    from analytics.daily.run import load_inputs

    spec, _sha = load_inputs(inputs)
    files = csv_files(data)
    wanted = {i.symbol for i in spec.needed()}
    rows = [r.to_json() for f in files for r in parse(read_raw(f)) if r.symbol in wanted]
    state["rows"] = len(rows)
    if dsn is not None:
        from connectors.postgres.daily import save_prices

        state["rows_new"] = save_prices(dsn, rows)
        keep_raw(files, out / "raw")
    if dsn is not None and store is not None:
        from connectors.clickhouse import daily as ch

        state["rows_analytics"] = ch.save_prices(store, rows)


def _quality(state: dict, inputs: Path, data: list[Path], as_of: dt.date, out: Path) -> None:
    from analytics.daily.run import build_ticket

    tk, _spec = build_ticket(inputs, data, as_of, dry_run_trades=False)
    state["quality"] = tk.quality
    where = out / as_of.isoformat() / "data_quality"
    where.mkdir(parents=True, exist_ok=True)
    (where / "data_quality.json").write_text(json.dumps(tk.quality.to_json(), indent=2) + "\n")
    (where / "data_quality.md").write_text(tk.quality.markdown())
    state["data_quality"] = str(where / "data_quality.md")
    state["data_quality_status"] = tk.quality.status


def _report(state: dict, run: JobRun, out: Path) -> None:
    q = state["quality"]
    line = (
        f"{run.as_of}: end-of-day data quality {q.status} (as of {q.effective}); "
        f"{len(q.prices)} prices, {len(q.failures)} failure(s)"
    )
    path = out / run.as_of.isoformat() / "morning.txt"
    path.write_text(line + "\n")
    state["report"] = str(path)


def _ticket(
    state: dict, inputs: Path, data: list[Path], as_of: dt.date, out: Path, dsn: str | None
) -> None:
    from analytics.daily.run import build_ticket, write_ticket

    tk, _spec = build_ticket(inputs, data, as_of)
    state["ticket"] = str(write_ticket(tk, out) / "ticket.md")
    state["decision"] = tk.decision
    if dsn is not None:
        from connectors.postgres.daily import save_ticket

        save_ticket(dsn, tk.to_json())


def _record_start(dsn: str, run: JobRun, scheduled_for: dt.datetime | None) -> None:
    import psycopg

    with psycopg.connect(dsn, connect_timeout=5) as conn:
        conn.execute(
            "INSERT INTO daily_runs (run_id, job, as_of, scheduled_for, started_at, status) "
            "VALUES (%s, %s, %s, %s, now(), 'RUNNING')",
            (run.run_id, run.job, run.as_of, scheduled_for),
        )


def _record_end(dsn: str, run: JobRun) -> None:
    import psycopg

    with psycopg.connect(dsn, connect_timeout=5) as conn:
        conn.execute(
            "UPDATE daily_runs SET finished_at = now(), status = %s, failed_step = %s, "
            "error = %s, artifacts = %s WHERE run_id = %s",
            (run.status, run.failed_step, run.error, json.dumps(run.artifacts), run.run_id),
        )


def _alert(config: DeskConfig, data_dir: Path, run: JobRun) -> str:
    """CRITICAL on every configured route (a failed daily run is somebody's morning);
    what each route did, for the run's record (a route that failed is said, not lost)."""
    from connectors.alerts.delivery import Deliverer
    from streams.envelope import envelope
    from streams.ids import event_id

    now = int(time.time() * 1000)
    alert = {
        **envelope(event_id("daily_run_failed", run.run_id), now, "daily.jobs"),
        "severity": "CRITICAL",
        "dedup_key": f"daily:{run.job}:{run.as_of}",
        "title": f"Daily {run.job} run failed at {run.failed_step}",
        "message": f"{run.job} for {run.as_of} failed at step {run.failed_step}: {run.error}",
        "bot_id": None,
        "venue": None,
        "symbol": None,
        "evidence": {"run_id": run.run_id, "step": run.failed_step or ""},
    }
    said = []
    for route in config.alert_routes:
        got = Deliverer(route, data_dir).deliver(alert)
        said.append(f"{route.name}: {got.outcome}" + (f" ({got.error})" if got.error else ""))
    return "; ".join(said) or "no alert route configured"


def last_runs(dsn: str, n: int = 10) -> list[dict[str, Any]]:
    import psycopg

    with psycopg.connect(dsn, connect_timeout=5) as conn:
        rows = conn.execute(
            "SELECT run_id, job, as_of, scheduled_for, started_at, finished_at, status, "
            "failed_step, error FROM daily_runs ORDER BY started_at DESC LIMIT %s",
            (n,),
        ).fetchall()
    keys = (
        "run_id",
        "job",
        "as_of",
        "scheduled_for",
        "started_at",
        "finished_at",
        "status",
        "failed_step",
        "error",
    )
    return [
        {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in zip(keys, r, strict=True)}
        for r in rows
    ]
