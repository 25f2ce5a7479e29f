"""Drills on the desk's processes: the worker SIGKILLed, the desk stopped and started, PostgreSQL
frozen, the broker killed."""

from __future__ import annotations

import os
import signal
import time

from streams.drills.desk import DrillDesk, DrillResult, Window, later, measure
from streams.runtime.proc import wait_until


def _worker_restarts(desk: DrillDesk) -> int:
    sup = desk.stack.supervisor
    return 0 if sup is None else sup.policy.parts["worker"].restarts


def _worker_back(desk: DrillDesk, restarts_before: int) -> bool:
    """Restarted since, and up again (the supervisor saw it running after its restart)."""
    sup = desk.stack.supervisor
    return (sup is not None and sup.policy.parts["worker"].restarts > restarts_before
            and sup.policy.parts["worker"].up)  # fmt: skip


def kill_worker(desk: DrillDesk) -> bool | None:
    """SIGKILL the agents' worker and wait (up to 2 min) for the supervisor to bring it
    back: whether it came back, None if there was no worker to kill."""
    worker = desk.stack.worker
    if worker is None:
        return None
    before = _worker_restarts(desk)
    os.kill(worker.pid, signal.SIGKILL)
    return wait_until(lambda: _worker_back(desk, before), 120, 0.2)


def drill_worker_crash(desk: DrillDesk, files: list[str], w: Window, kills: int = 3) -> DrillResult:
    """SIGKILL the agents' worker ``kills`` times mid-replay: the supervisor restarts it, the
    broker keeps what it accepted, every bar lands once."""
    r = DrillResult("worker-crash")
    proc = desk.replay(files, w)
    recover: list[float] = []
    for _ in range(kills):
        time.sleep(6)
        t0 = time.monotonic()
        back = kill_worker(desk)
        if back is None:
            continue
        recover.append(round(time.monotonic() - t0, 1))
        r.check(back, "the supervisor did not restart the worker")
    desk.finish(proc)
    measure(desk, r)
    r.figures |= {"worker_kills": kills, "worker_restarts": _worker_restarts(desk),
                  "recover_s": recover}  # fmt: skip
    r.check(r.figures["fills"] > 0, "no fill at all")
    return r


def drill_restart(desk: DrillDesk, files: list[str], w: Window) -> DrillResult:
    """Replay, stop the whole desk, start it again, replay the next window: the paper venue
    carries on filling (its checkpoint is of another broker incarnation), nothing pending."""
    r = DrillResult("restart")
    first = desk.finish(desk.replay(files, w))
    desk.settle(desk.published)
    fills_before = desk.fills()
    desk.stop()
    t0 = time.monotonic()
    desk.start()
    up_s = round(time.monotonic() - t0, 1)
    nxt = Window(w.until, later(w.until, w), w.speed)
    desk.finish(desk.replay(files, nxt))
    measure(desk, r)
    r.figures |= {
        "first_window_bars": first["bars"],
        "fills_before_restart": fills_before,
        "fills_after_restart": r.figures["fills"] - fills_before,
        "restart_s": up_s,
    }
    r.check(r.figures["fills_after_restart"] > 0, "the paper venue stopped filling after restart")
    return r


def _pg_pid(desk: DrillDesk) -> int:
    pid = desk.stack.postgres.server_pid()  # type: ignore[union-attr]
    if pid is None:
        raise RuntimeError("no embedded PostgreSQL to stall")
    return pid


def drill_postgres_stall(desk: DrillDesk, files: list[str], w: Window, stall_s: float = 20
                         ) -> DrillResult:  # fmt: skip
    """Freeze PostgreSQL (SIGSTOP) mid-replay: the agents keep processing (clean bars reach
    ClickHouse during the stall), status shows the writers' backlog, then everything lands."""
    r = DrillResult("postgres-stall")
    proc = desk.replay(files, w)
    time.sleep(5)
    pid = _pg_pid(desk)
    _n, clean_at_stop = desk.stored_bars("market_bars_clean")
    os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(stall_s / 2)
        status = desk.stack.health()
        time.sleep(stall_s / 2)
        _n, clean_at_end = desk.stored_bars("market_bars_clean")
    finally:
        os.kill(pid, signal.SIGCONT)
    desk.finish(proc)
    measure(desk, r)
    backlog = {p.part.removeprefix("writer "): p.detail for p in status
               if p.part.startswith("writer") and not p.detail.startswith("0 pending")}  # fmt: skip
    r.figures |= {"stall_s": stall_s, "clean_bars_during_stall": clean_at_end - clean_at_stop,
                  "status_during_stall": backlog}  # fmt: skip
    r.check(clean_at_end > clean_at_stop, "no clean bar reached ClickHouse during the stall")
    return r


def drill_broker_kill(desk: DrillDesk, files: list[str], w: Window) -> DrillResult:
    """Kill the embedded broker between two windows: the supervisor notices, alerts, starts
    a new one (an empty incarnation) and the agents; the next window trades."""
    r = DrillResult("broker-kill")
    desk.finish(desk.replay(files, w))
    desk.settle(desk.published)
    fills_before = desk.fills()
    sup = desk.stack.supervisor
    assert sup is not None and desk.stack.broker.proc is not None  # type: ignore[union-attr]
    t0 = time.monotonic()
    os.kill(desk.stack.broker.proc.pid, signal.SIGKILL)  # type: ignore[union-attr]
    back = wait_until(
        lambda: (
            sup.policy.parts["broker"].restarts > 0
            and desk.stack.broker_alive()
            and desk.stack.worker_alive()
        ),
        90,
        0.2,
    )
    recover_s = round(time.monotonic() - t0, 1)
    r.check(back, "the supervisor did not bring the broker back")
    nxt = Window(w.until, later(w.until, w), w.speed)
    desk.finish(desk.replay(files, nxt))
    measure(desk, r)
    since = int((time.time() - 600) * 1000)
    alerts = desk.ch(f"SELECT title FROM alerts WHERE source = 'supervisor' AND ts_event > {since} "
                     "ORDER BY ts_event")  # fmt: skip
    r.figures |= {"recover_s": recover_s, "fills_after": r.figures["fills"] - fills_before,
                  "supervisor_alerts": [a[0] for a in alerts]}  # fmt: skip
    r.check(any("broker down" in a[0] for a in alerts), "no broker-down alert stored")
    r.check(r.figures["fills_after"] > 0, "no fill after the broker came back")
    return r
