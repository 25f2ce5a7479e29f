"""``desk gates run``: gather the evidence, judge every gate, keep the verdict.

The verdict goes to ``DESK_DATA_DIR/gates/<run>/`` (``gates.json``, ``gates.md``; and
``latest.json``), to PostgreSQL (``gate_runs``: a row per gate and one for the promotion
with its validation level) and to the audit chain (kind ``gate_run``).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from analytics.backtest.records import code_version
from analytics.gates import core
from analytics.gates.core import GateResult, SoakLimits
from analytics.gates.evidence import (
    DeskFacts,
    alert_outcomes,
    desk_facts,
    read_junit,
    read_verifications,
)
from streams.config import DeskConfig
from streams.settings import DeskSettings


@dataclass
class GateRun:
    run_id: str
    started_ms: int
    finished_ms: int
    code_version: str
    as_of: int | None
    window: tuple[int, int] | None
    results: list[GateResult]

    @property
    def status(self) -> str:
        return core.overall(self.results)

    @property
    def validation_level(self) -> int:
        return core.validation_level(self.results)

    def to_json(self) -> dict[str, Any]:
        level = self.validation_level
        return {
            "run_id": self.run_id,
            "status": self.status,
            "validation_level": level,
            "validation_level_name": _level_name(level),
            "live_allowed": level >= core.LIVE_LEVEL,
            "code_version": self.code_version,
            "as_of": self.as_of,
            "window": list(self.window) if self.window else None,
            "started_at": _iso(self.started_ms),
            "finished_at": _iso(self.finished_ms),
            "gates": [r.to_json() for r in self.results],
        }

    def markdown(self) -> str:
        level = self.validation_level
        lines = [
            f"# Promotion gates: {self.status}",
            "",
            f"- run `{self.run_id}`, code `{self.code_version}`, {_iso(self.finished_ms)}",
            f"- validation level **{level}** ({_level_name(level)}); live capital needs "
            f"{core.LIVE_LEVEL}",
            f"- desk evidence as of {_iso(self.as_of) if self.as_of else 'never (no bar)'}",
            "",
            "| gate | status | reasons |",
            "|---|---|---|",
        ]
        for r in self.results:
            reasons = "; ".join(r.reasons) or "—"
            lines.append(f"| {r.gate} | {r.status} | {reasons.replace('|', '/')} |")
        lines += ["", "## Evidence", ""]
        for r in self.results:
            for e in r.evidence:
                mark = "ok" if e.passed else "**no**"
                link = f" ({e.link})" if e.link else ""
                lines.append(f"- {r.gate} / {e.name}: {mark} — {e.detail}{link}")
        return "\n".join(lines) + "\n"


def _level_name(level: int) -> str:
    names = {lv: name for lv, name, _g in core.LADDER}
    return names.get(level, "none")


def _iso(ms: int | None) -> str:
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")


def judge(
    config: DeskConfig,
    facts: DeskFacts,
    junit: core.Junit | None,
    verifications: Sequence[core.Verification],
    alerts: tuple[dict[str, int], int],
    code: str,
    now_ms: int,
) -> list[GateResult]:
    """Every gate from the gathered facts (pure: the same facts, the same verdict)."""
    g = config.gates
    artifact_age = g.artifact_max_age_hours * 3_600_000
    out = [
        core.tests_gate(junit, now_ms, artifact_age),
        core.regression_gate(verifications, code, now_ms, artifact_age),
    ]
    if facts.as_of is None:
        for name in ("paper_smoke", "paper_soak", "reconciliation", "parity", "data_quality"):
            r = GateResult(name)
            r.fail("the desk has taken no bar: no evidence at all")
            out.append(r)
    else:
        limits = SoakLimits(
            g.running_pct,
            g.turnover_x,
            g.daily_loss_pct,
            g.drawdown_pct,
            g.cancel_budget_per_minute,
            g.within_budget_pct,
            g.max_reject_rate,
        )
        stream_age = {
            s: g.stream_max_age_intervals * ms for s, ms in facts.stream_interval_ms.items()
        }
        parity_age = g.parity_max_age_windows * config.parity.window_minutes * 60_000
        bots = [b.bot for b in facts.bots]
        out += [
            core.paper_smoke_gate(facts.bots, facts.as_of, g.snapshot_max_age_minutes * 60_000),
            core.paper_soak_gate(facts.bots, limits),
            core.reconciliation_gate(
                facts.last_venue_report,
                facts.recon_criticals,
                facts.accounts,
                facts.as_of,
                g.venue_report_max_age_minutes * 60_000,
            ),
            core.parity_gate(facts.parity_latest, bots, facts.as_of, parity_age),
            core.data_quality_gate(
                facts.last_clean, facts.dq_criticals, stream_age, facts.as_of, facts.dq_resolved
            ),
        ]
    out.append(core.alert_delivery_gate(*alerts))
    return out


def run_gates(
    settings: DeskSettings,
    config: DeskConfig,
    junit: Path,
    datasets: Sequence[Path],
    since: int | None = None,
    now_ms: int | None = None,
) -> GateRun:
    """Gather, judge, keep."""
    from streams.runtime.access import analytics_store, postgres_dsn

    started = int(time.time() * 1000)
    now = now_ms if now_ms is not None else started
    code = code_version()
    with analytics_store(settings) as store:
        facts = desk_facts(store, config, since)
    with postgres_dsn(settings) as dsn:
        alerts = alert_outcomes(dsn, facts.critical_alert_ids)
        results = judge(
            config, facts, read_junit(junit), read_verifications(datasets), alerts, code, now
        )
        run_id = "gr-" + hashlib.sha256(f"{started}|{code}".encode()).hexdigest()[:12]
        run = GateRun(
            run_id, started, int(time.time() * 1000), code, facts.as_of, facts.window, results
        )
        keep_in_postgres(dsn, run)
    write_artifacts(settings.data_path / "gates", run)
    return run


def keep_in_postgres(dsn: str, run: GateRun) -> None:
    """A ``gate_runs`` row per gate and one for the promotion; the audit chain entry."""
    import psycopg

    from connectors.postgres.audit import AuditLog
    from connectors.postgres.migrate import migrate
    from streams.ids import event_id

    migrate(dsn)  # a desk that is down was maybe never migrated to STALE gates
    started, finished = (
        datetime.fromtimestamp(t / 1000, UTC) for t in (run.started_ms, run.finished_ms)
    )
    rows = [
        (
            f"{run.run_id}:{r.gate}",
            r.gate,
            r.status,
            json.dumps(r.reasons),
            json.dumps([e.to_json() for e in r.evidence]),
            started,
            finished,
            run.run_id,
            None,
        )
        for r in run.results
    ]
    rows.append(
        (
            run.run_id,
            "promotion",
            run.status,
            json.dumps([f"{r.gate}: {r.status}" for r in run.results if r.status != "PASS"]),
            json.dumps({"code_version": run.code_version, "as_of": run.as_of}),
            started,
            finished,
            run.run_id,
            run.validation_level,
        )
    )
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        conn.cursor().executemany(
            "INSERT INTO gate_runs (run_id, gate, result, reasons, evidence, started_at, "
            "finished_at, promotion_run, validation_level) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            rows,
        )
    AuditLog(dsn).append(
        [
            {
                "event_id": event_id("gate_run", run.run_id),
                "ts_event": run.finished_ms,
                "kind": "gate_run",
                "actor": "desk gates run",
                "subject": run.run_id,
                "body": {
                    "status": run.status,
                    "validation_level": run.validation_level,
                    "code_version": run.code_version,
                    "gates": {r.gate: r.status for r in run.results},
                },
            }
        ]
    )


def write_artifacts(root: Path, run: GateRun) -> Path:
    out = root / run.run_id
    out.mkdir(parents=True, exist_ok=True)
    body = json.dumps(run.to_json(), indent=2) + "\n"
    (out / "gates.json").write_text(body)
    (out / "gates.md").write_text(run.markdown())
    (root / "latest.json").write_text(body)
    return out
