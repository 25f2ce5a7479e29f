"""``desk dq check``: the data-quality core run in process over bars read from files.

No desk, no broker: the very core the agent runs judges the bars in event-time
order, and the summary is the one ``desk dq report`` prints for a running desk,
so data can be vetted before it is replayed. Streams outside the desk's
universe are judged anyway (a replay would dead-letter them: they are listed).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agents.dq.core import DataQualityCore, InvalidBar
from agents.dq.summary import SEVERITY_RANK, summarize
from streams.config import DeskConfig

# exit codes of `desk dq check` (docs/data-quality.md)
EXIT_OK, EXIT_FINDINGS, EXIT_UNUSABLE = 0, 1, 2


@dataclass
class CheckRun:
    """What the core made of the bars: its reports, the clean bars, and input counts."""

    reports: list[dict[str, Any]] = field(default_factory=list)
    clean: list[dict[str, Any]] = field(default_factory=list)
    rows: Counter[str] = field(default_factory=Counter)
    invalid: list[str] = field(default_factory=list)
    rejected: Counter[str] = field(default_factory=Counter)


def run_core(
    bars: Iterable[Mapping[str, Any]], config: DeskConfig, profile: str | None = None
) -> CheckRun:
    """Every bar through one ``DataQualityCore`` (bars in event-time order, as a replay)."""
    core = DataQualityCore(config.data_quality, config.calendar_for, None, profile)
    run = CheckRun()
    for bar in bars:
        run.rows[f"{bar.get('venue')}:{bar.get('symbol')}"] += 1
        try:
            outcome = core.process(bar)
        except InvalidBar as exc:
            run.invalid.append(str(exc))
            continue
        run.reports.extend(outcome.reports())
        if outcome.rejection is not None:
            run.rejected[outcome.rejection.reason] += 1
        if outcome.clean is not None:
            run.clean.append(outcome.clean)
    return run


def check_summary(
    run: CheckRun, config: DeskConfig, profile: str | None = None, fail_on: str = "CRITICAL"
) -> dict[str, Any]:
    """The shared summary plus what only a file check knows (input rows, invalid bars,
    streams a replay would dead-letter) and the exit code it implies."""
    summary = summarize(
        run.reports,
        run.clean,
        cfg=config.data_quality,
        calendar_for=config.calendar_for,
        profile=profile,
        rows_read=run.rows,
    )
    unknown = sorted(
        s["stream"]
        for s in summary["streams"]
        if not config.known_stream(*s["stream"].split(":", 1))
    )
    worst = max((r["severity"] for r in run.reports), key=SEVERITY_RANK.__getitem__, default=None)
    failed = (
        fail_on != "never" and worst is not None and SEVERITY_RANK[worst] >= SEVERITY_RANK[fail_on]
    )
    return summary | {
        "profile": profile,
        "rows": sum(run.rows.values()),
        "invalid": len(run.invalid),
        "invalid_samples": run.invalid[:10],
        "rejected": dict(sorted(run.rejected.items())),
        "not_in_universe": unknown,
        "worst": worst or "OK",
        "fail_on": fail_on,
        "exit_code": EXIT_FINDINGS if failed else EXIT_OK,
    }
