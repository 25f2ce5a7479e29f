"""Drills on the stores: ClickHouse unavailable mid-replay, and the worker killed while it is."""

from __future__ import annotations

import time

from streams.drills.desk import DrillDesk, DrillResult, Window, measure
from streams.drills.process import kill_worker


def _bars_committed(desk: DrillDesk) -> int:
    """How far the desk's consumer group has committed on ``market.bars`` (the broker's view:
    what a restarted worker would not be given again)."""
    from streams.kafka import GroupProgress

    s = desk.settings
    progress = GroupProgress(desk.stack.broker.bootstrap, f"{s.topic_prefix}{s.app_id}",
                             "market.bars", s.topic_prefix)  # fmt: skip
    try:
        return progress.committed()
    finally:
        progress.close()


def drill_clickhouse_outage(desk: DrillDesk, files: list[str], w: Window, down_s: float = 20
                            ) -> DrillResult:  # fmt: skip
    """ClickHouse refuses every insert (503) for ``down_s`` mid-replay: the agents keep
    trading (orders and fills reach PostgreSQL meanwhile), status shows the ClickHouse
    writer's backlog, the consumer group commits no bar the sink has not written, and the
    worker SIGKILLed at the end of the outage (its unwritten rows die with it) loses
    nothing: afterwards every bar is in ClickHouse exactly once."""
    r = DrillResult("clickhouse-outage")
    proc = desk.replay(files, w)
    time.sleep(5)
    orders_before = sum(desk.orders_by_status().values())
    with desk.stack.clickhouse_unavailable():
        time.sleep(down_s / 3)  # the last commit of what was written before has landed
        committed_early = _bars_committed(desk)
        status = desk.stack.health()
        time.sleep(down_s * 2 / 3)
        committed_late = _bars_committed(desk)
        orders_during = sum(desk.orders_by_status().values()) - orders_before
        killed = kill_worker(desk) is True
    t0 = time.monotonic()
    desk.finish(proc)
    measure(desk, r)
    backlog = {p.part.removeprefix("writer "): p.detail for p in status
               if p.part.startswith("writer") and not p.detail.startswith("0 pending")}  # fmt: skip
    r.figures |= {"down_s": down_s, "orders_stored_during_outage": orders_during,
                  "status_during_outage": backlog,
                  "bars_committed_during_outage": committed_late - committed_early,
                  "worker_killed_in_outage": killed,
                  "caught_up_s": round(time.monotonic() - t0, 1)}  # fmt: skip
    r.check(orders_during > 0, "no order reached PostgreSQL while ClickHouse was down")
    r.check(any("clickhouse" in k for k in backlog), "status showed no ClickHouse backlog")
    r.check(committed_late == committed_early,
            f"the group committed {committed_late - committed_early} bars ClickHouse had not "
            "taken (a crash would lose them)")  # fmt: skip
    r.check(killed, "the worker was not killed and restarted during the outage")
    return r
