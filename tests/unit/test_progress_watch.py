"""Writer-backlog and stuck-consumer alerts from the worker's status file: one CRITICAL per
condition, one INFO when it ends, nothing while the desk is merely idle."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from streams.config import load_config
from streams.runtime.progress_watch import ProgressWatch
from streams.runtime.supervisor import Supervisor


def writer(
    name: str = "clickhouse",
    pending: int = 0,
    behind: float | None = None,
    failing: float | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    return {
        "name": name,
        "pending": pending,
        "behind_s": behind,
        "failing_for_s": failing,
        "last_error": error,
        "written": 10,
    }


def body(at: float, writers: list[dict[str, Any]] | None = None, **agents: Any) -> dict[str, Any]:
    """agents: name=(event_time ms, wall time of its last progress, inputs)."""
    return {
        "at": at,
        "agents": {
            n: {"event_time": ts, "idle_s": round(at - wall, 1), "inputs": k}
            for n, (ts, wall, k) in agents.items()
        },
        "writers": writers or [],
    }


def run(watch: ProgressWatch, snapshots: list[dict[str, Any]]) -> list[tuple[float, Any]]:
    out = []
    for b in snapshots:
        out += [(b["at"], a) for a in watch.observe(b, b["at"])]
    return out


# -- store writers -------------------------------------------------------------------------


def test_writer_behind_alerts_once_then_clears_once() -> None:
    w = ProgressWatch(writer_behind_s=30)
    snaps = [body(t, [writer(pending=5, behind=float(t))]) for t in range(0, 61)]  # growing
    snaps += [body(t, [writer(pending=0, behind=None)]) for t in range(61, 70)]  # drained
    got = run(w, snaps)
    assert [(t, a.severity, a.what) for t, a in got] == [
        (30, "CRITICAL", "behind"),
        (61, "INFO", "caught up"),
    ]
    crit, info = got[0][1], got[1][1]
    assert crit.part == "writer clickhouse"
    assert crit.dedup_key == "supervisor:writer:clickhouse:behind"
    assert info.dedup_key == "supervisor:writer:clickhouse:caught_up"
    assert "5 pending" in crit.detail and "30.0 s ago" in crit.detail
    assert w.active() == []


def test_store_failing_alerts_and_clears_only_when_the_store_answers() -> None:
    w = ProgressWatch(writer_behind_s=30)
    failing = [body(t, [writer(pending=3, behind=1.0, failing=float(t), error="refused")])
               for t in range(0, 40)]  # fmt: skip
    # the store answers again but the backlog is still old: not caught up yet
    slow = [body(t, [writer(pending=3, behind=20.0)]) for t in range(40, 45)]
    fine = [body(t, [writer(pending=2, behind=2.0)]) for t in range(45, 50)]
    got = run(w, failing + slow + fine)
    assert [(t, a.severity, a.what) for t, a in got] == [
        (30, "CRITICAL", "store failing"),
        (45, "INFO", "caught up"),
    ]
    assert "store failing for 30.0 s: refused" in got[0][1].detail


def test_writer_threshold_respected_and_writers_are_separate() -> None:
    w = ProgressWatch(writer_behind_s=30)
    snaps = [body(t, [writer("pg", pending=1, behind=29.9), writer("ch", pending=1, behind=31.0)])
             for t in range(5)]  # fmt: skip
    got = run(w, snaps)
    assert [(a.part, a.severity) for _, a in got] == [("writer ch", "CRITICAL")]
    assert w.active() == ["writer ch"]


def test_slow_writer_hovering_near_the_threshold_does_not_flap() -> None:
    w = ProgressWatch(writer_behind_s=30)
    behind = [31.0, 28.0, 30.5, 25.0, 32.0, 16.0, 14.0, 31.0]
    got = run(w, [body(t, [writer(pending=9, behind=b)]) for t, b in enumerate(behind)])
    assert [(t, a.severity) for t, a in got] == [(0, "CRITICAL"), (6, "INFO"), (7, "CRITICAL")]


def test_writer_alert_off_at_zero() -> None:
    w = ProgressWatch(writer_behind_s=0)
    assert run(w, [body(t, [writer(pending=1, behind=1e6, failing=1e6)]) for t in range(3)]) == []


# -- stuck consumers -----------------------------------------------------------------------


def test_stuck_agent_alerts_once_while_others_advance_then_clears() -> None:
    w = ProgressWatch(agent_stuck_s=60)
    snaps = []
    for t in range(0, 200):
        marks = (1_000 + t * 60_000, float(t), t + 1)  # a bar each second, event time racing
        fills = (1_000, 0.0, 1) if t < 150 else (1_000 + t * 60_000, float(t), 2)  # moves at 150
        snaps.append(body(float(t), marks=marks, fills=fills))
    got = run(w, snaps)
    assert [(t, a.part, a.severity, a.what) for t, a in got] == [
        (61.0, "agent fills", "CRITICAL", "stuck"),
        (150.0, "agent fills", "INFO", "moving again"),
    ]
    assert got[0][1].dedup_key == "supervisor:agent:fills:stuck"
    assert got[1][1].dedup_key == "supervisor:agent:fills:moving"
    assert "no progress for 61 s" in got[0][1].detail
    assert w.active() == []


def test_idle_desk_is_not_stuck() -> None:
    """Nothing new anywhere: every agent stops (one a moment after the other), for hours."""
    w = ProgressWatch(agent_stuck_s=60)
    snaps = [body(float(t), a=(5_000, 0.0, 10), b=(9_000, 0.4, 12), c=(7_000, 0.2, 3))
             for t in range(0, 4 * 3600, 1)]  # fmt: skip
    assert run(w, snaps) == []


def test_desk_resuming_after_a_long_idle_is_not_stuck() -> None:
    """Input comes back after an hour: the slower agent gets to it a few seconds later."""
    w = ProgressWatch(agent_stuck_s=60)
    snaps = [body(float(t), a=(5_000, 0.0, 1), b=(5_000, 0.0, 1)) for t in range(3600)]
    for t in range(3600, 3700):
        b_ = (10_000 + t, float(t), t)
        a_ = (5_000, 0.0, 1) if t < 3605 else (10_000 + t, float(t), t)
        snaps.append(body(float(t), a=a_, b=b_))
    assert run(w, snaps) == []


def test_peers_stopping_soon_after_is_not_stuck() -> None:
    """The others carry on briefly past it, then the whole desk goes quiet."""
    w = ProgressWatch(agent_stuck_s=60)
    snaps = []
    for t in range(600):
        b_ = (1_000 + min(t, 20) * 1_000, float(min(t, 20)), min(t, 20) + 1)
        snaps.append(body(float(t), a=(1_000, 0.0, 1), b=b_))
    assert run(w, snaps) == []


def test_agent_ahead_of_the_others_is_not_stuck() -> None:
    """Peers advance, but not past its event time: nothing for it to do."""
    w = ProgressWatch(agent_stuck_s=60)
    snaps = [body(float(t), ahead=(10**12, 0.0, 1), b=(1_000 + t, float(t), t + 1))
             for t in range(300)]  # fmt: skip
    assert run(w, snaps) == []


def test_stuck_threshold_respected() -> None:
    def first_alert(limit: float) -> float | None:
        w = ProgressWatch(agent_stuck_s=limit)
        snaps = [body(float(t), a=(0, 0.0, 1), b=(t * 1_000, float(t), t + 1)) for t in range(200)]
        got = run(w, snaps)
        return got[0][0] if got else None

    assert first_alert(30) == 31.0  # the peer first advances past it at 1 s
    assert first_alert(120) == 121.0
    assert first_alert(0) is None  # off


def test_worker_restart_counts_as_moving_again() -> None:
    """A new worker starts its counters over: the agent's progress is newer, so it moved."""
    w = ProgressWatch(agent_stuck_s=10)
    snaps = [body(float(t), a=(0, 0.0, 5), b=(t * 1_000, float(t), t + 1)) for t in range(30)]
    snaps.append(body(40.0, a=(0, 39.0, 1)))  # a restarted worker: a progressed, b not yet
    got = run(w, snaps)
    assert [(a.part, a.severity) for _, a in got] == [("agent a", "CRITICAL"), ("agent a", "INFO")]


def test_thresholds_from_the_desk_config() -> None:
    a = load_config(None).alerting
    assert (a.writer_behind_seconds, a.agent_stuck_seconds) == (30, 60)


# -- the supervisor reads the file and alerts through its usual path -----------------------


class FakeStack:
    """Every part alive; alerts kept."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.settings = SimpleNamespace(topic_prefix="t.", config_file=None)
        self.with_agents = True
        self.alerts: list[dict[str, Any]] = []

    def broker_alive(self) -> bool:
        return True

    def postgres_alive(self) -> bool:
        return True

    def worker_alive(self) -> bool:
        return True

    def publish_alert(self, alert: dict[str, Any]) -> None:
        self.alerts.append(alert)

    def _never(self) -> bool:
        raise AssertionError("nothing is down: nothing to restart")

    restart_broker = restart_postgres = restart_worker = _never


def test_supervisor_alerts_writer_behind_from_the_status_file(tmp_path: Path) -> None:
    stack = FakeStack(tmp_path)
    sup = Supervisor(stack)
    status = tmp_path / "t.agents.json"

    def write(at: float, behind: float | None) -> None:
        status.write_text(json.dumps(body(at, [writer("pg", pending=4, behind=behind)])))

    sup.check()  # no file yet: nothing
    write(time.time() - 60, 999.0)  # stale: the worker is not writing it, nothing said
    sup.check()
    assert stack.alerts == []
    write(time.time(), 45.0)
    sup.check()
    sup.check()  # still behind: said once
    write(time.time(), None)
    sup.check()
    assert [(a["severity"], a["title"], a["dedup_key"], a["source"]) for a in stack.alerts] == [
        ("CRITICAL", "writer pg behind", "supervisor:writer:pg:behind", "supervisor"),
        ("INFO", "writer pg caught up", "supervisor:writer:pg:caught_up", "supervisor"),
    ]
    logged = [json.loads(line) for line in (tmp_path / "supervisor.log").read_text().splitlines()]
    assert [(x["part"], x["what"]) for x in logged] == [
        ("writer pg", "behind"),
        ("writer pg", "caught up"),
    ]
    assert sup.status()["alerting"] == []
