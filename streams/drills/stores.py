"""Drills on the stores: ClickHouse unavailable mid-replay."""

from __future__ import annotations

import time

from streams.drills.desk import DrillDesk, DrillResult, Window, measure


def drill_clickhouse_outage(desk: DrillDesk, files: list[str], w: Window, down_s: float = 20
                            ) -> DrillResult:  # fmt: skip
    """ClickHouse refuses every insert (503) for ``down_s`` mid-replay: the agents keep
    trading (orders and fills reach PostgreSQL meanwhile), status shows the ClickHouse
    writer's backlog, and afterwards every bar is in ClickHouse exactly once."""
    r = DrillResult("clickhouse-outage")
    proc = desk.replay(files, w)
    time.sleep(5)
    orders_before = sum(desk.orders_by_status().values())
    with desk.stack.clickhouse_unavailable():
        time.sleep(down_s / 2)
        status = desk.stack.health()
        time.sleep(down_s / 2)
        orders_during = sum(desk.orders_by_status().values()) - orders_before
    t0 = time.monotonic()
    desk.finish(proc)
    measure(desk, r)
    backlog = {p.part.removeprefix("writer "): p.detail for p in status
               if p.part.startswith("writer") and not p.detail.startswith("0 pending")}  # fmt: skip
    r.figures |= {"down_s": down_s, "orders_stored_during_outage": orders_during,
                  "status_during_outage": backlog,
                  "caught_up_s": round(time.monotonic() - t0, 1)}  # fmt: skip
    r.check(orders_during > 0, "no order reached PostgreSQL while ClickHouse was down")
    r.check(any("clickhouse" in k for k in backlog), "status showed no ClickHouse backlog")
    return r
