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


def consumers(at: float, **agents: tuple[int, float]) -> dict[str, Any]:
    """agents: name=(inputs waiting, wall time it last took one)."""
    return {"at": at, "agents": {}, "writers": [],
            "consumers": {n: {"waiting": w, "since_input_s": round(at - took, 1)}
                          for n, (w, took) in agents.items()}}  # fmt: skip


def test_stuck_agent_alerts_once_while_input_waits_then_clears() -> None:
    """Input waits for ``fills`` from 10 s on; it takes none until 150 s."""
    w = ProgressWatch(agent_stuck_s=60)
    snaps = []
    for t in range(200):
        fills = (0, float(t)) if t < 10 else ((5, 10.0) if t < 150 else (0, float(t)))
        snaps.append(consumers(float(t), marks=(0, float(t)), fills=fills))
    got = run(w, snaps)
    assert [(t, a.part, a.severity, a.what) for t, a in got] == [
        (70.0, "agent fills", "CRITICAL", "stuck"),
        (150.0, "agent fills", "INFO", "moving again"),
    ]
    assert got[0][1].dedup_key == "supervisor:agent:fills:stuck"
    assert got[1][1].dedup_key == "supervisor:agent:fills:moving"
    assert "5 input(s) waiting; none taken for 60 s" in got[0][1].detail
    assert w.active() == []


def test_an_idle_agent_is_never_stuck() -> None:
    """A bot that never trades: ``fills`` takes nothing for hours, but nothing waits for it
    (the heuristic this replaced alerted here, as peers moved past its event time)."""
    w = ProgressWatch(agent_stuck_s=60)
    snaps = [consumers(float(t), marks=(0, float(t)), fills=(0, 0.0)) for t in range(4 * 3600)]
    assert run(w, snaps) == []


def test_stuck_threshold_respected_and_off_at_zero() -> None:
    def first_alert(limit: float) -> float | None:
        w = ProgressWatch(agent_stuck_s=limit)
        got = run(w, [consumers(float(t), a=(3, 0.0)) for t in range(200)])
        return got[0][0] if got else None

    assert first_alert(30) == 30.0
    assert first_alert(120) == 120.0
    assert first_alert(0) is None


def test_a_restarted_worker_taking_input_again_clears_the_alert() -> None:
    w = ProgressWatch(agent_stuck_s=10)
    snaps = [consumers(float(t), a=(2, 0.0)) for t in range(30)]
    snaps.append(consumers(40.0, a=(0, 39.0)))  # a new worker took it
    got = run(w, snaps)
    assert [(a.part, a.severity) for _, a in got] == [("agent a", "CRITICAL"), ("agent a", "INFO")]


def test_the_worker_sensor_tells_waiting_input_from_none() -> None:
    """``InputSensor`` (registered on the Faust app): the last offset each agent took per
    partition against the consumer's high watermark."""
    from streams.app import InputSensor

    class Stream:
        def __init__(self, prefix: str) -> None:
            self.prefix = prefix

    sensor = InputSensor()
    sensor.on_stream_event_in(("bars", 0), 41, Stream("dq"), None)
    sensor.on_stream_event_in(("bars", 1), 7, Stream("dq"), None)
    sensor.on_stream_event_in(("fills", 0), 3, Stream("portfolio-fills"), None)
    hw = {("bars", 0): 50, ("bars", 1): 8, ("fills", 0): 4}
    view = sensor.view(hw.get, time.time() + 5)
    assert view["dq"]["waiting"] == 8 and view["portfolio-fills"]["waiting"] == 0
    assert view["dq"]["since_input_s"] >= 5


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
