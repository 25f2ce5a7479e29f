"""Reconciliation on a real paper day: quiet when clean; each injected fault found once."""

from __future__ import annotations

import copy
from decimal import Decimal
from functools import cache

import pytest

from agents.paper_venue.desk import PaperDesk
from agents.recon.core import Reconciler
from connectors.feeds.files import read_files
from streams.config import load_config
from streams.engine import Engine
from tests.conftest import SHARED_DATA

CRYPTO = SHARED_DATA / "crypto_1m"
pytestmark = pytest.mark.skipif(not CRYPTO.exists(), reason="../shared/data not present")
DAY = 86_400_000


@cache
def day_events() -> tuple[tuple[str, dict], ...]:
    """Every fill, order event and venue report of a real day, in production order."""
    bars = read_files(sorted(CRYPTO.glob("binanceus_BTC*_1m_*.csv"))).bars
    start = bars[0]["open_time"] + 9 * DAY
    window = [b for b in bars if start <= b["open_time"] < start + DAY]
    out = Engine.for_desk(load_config()).run(window)
    keep = ("fills", "orders.events", "venue.reports")
    return tuple((t, e) for t, _k, e in out.events if t in keep)


def reconcile(events: list[tuple[str, dict]], clock=None) -> list[dict]:
    """``clock(i)``: the arrival time of the i-th event (the stream); none: event time only."""
    cfg = load_config()
    funding = {k: dict(pv.balances) for k, pv in PaperDesk(cfg).venues.items()}
    recon = Reconciler(cfg.reconciliation, funding)
    found = []
    for i, (topic, e) in enumerate(events):
        now = 0 if clock is None else clock(i)
        if topic == "fills":
            recon.on_fill(e, now)
        elif topic == "orders.events":
            recon.on_order_event(e)
        else:
            found += recon.on_report(e, now)
    return found


def test_a_clean_paper_day_reconciles_without_a_finding() -> None:
    events = list(day_events())
    assert sum(t == "venue.reports" for t, _ in events) >= 20
    assert sum(t == "fills" for t, _ in events) >= 50
    assert reconcile(events) == []


def injected_day() -> tuple[list[tuple[str, dict]], dict, dict]:
    """The real day with three faults: a fill the desk never booked (missing), a fill the
    venue never made (phantom), a report with 5% more BTC/USD than the venue holds."""
    events = [(t, copy.deepcopy(e)) for t, e in day_events()]
    fills = [i for i, (t, _) in enumerate(events) if t == "fills"]
    ghost = copy.deepcopy(events[fills[30]][1])  # a fill the venue never made: phantom
    ghost |= {"trade_id": "ghost-1", "event_id": "ghost-1", "quantity": Decimal("0.01")}
    events.insert(fills[30], ("fills", ghost))
    lost = events.pop(fills[10])[1]  # the desk never booked a fill the venue made: missing
    reports = [i for i, (t, _) in enumerate(events) if t == "venue.reports"]
    tampered = events[reports[-3]][1]  # the venue reports 5% more BTC/USD than it holds
    for p in tampered["positions"]:
        if p["symbol"] == "BTC/USD":
            p["quantity"] = p["quantity"] * Decimal("1.05")
    return events, lost, tampered


def test_injected_faults_are_each_found_once_with_their_severity() -> None:
    events, lost, tampered = injected_day()
    found = reconcile(events)
    got = sorted((f["finding"], f["severity"]) for f in found)
    assert got == [("missing_fill", "CRITICAL"), ("phantom_fill", "CRITICAL"),
                   ("position_drift", "WARNING")]  # fmt: skip
    by = {f["finding"]: f for f in found}
    assert by["missing_fill"]["evidence"]["trade_id"] == lost["trade_id"]
    assert by["phantom_fill"]["evidence"]["trade_id"] == "ghost-1"
    assert by["position_drift"]["evidence"]["drift_pct"].startswith("4.76")
    assert by["position_drift"]["correlation_id"] == tampered["event_id"]


def test_a_restarted_reconciler_takes_the_next_report_as_its_start() -> None:
    events = list(day_events())
    reports = [i for i, (t, _) in enumerate(events) if t == "venue.reports"]
    cfg = load_config()
    funding = {k: dict(pv.balances) for k, pv in PaperDesk(cfg).venues.items()}
    recon = Reconciler(cfg.reconciliation, funding, rebaseline=True)
    found = []
    for topic, e in events[reports[5] - 40 :]:  # joins mid-day, a few fills before a report
        if topic == "fills":
            recon.on_fill(e)
        elif topic == "orders.events":
            recon.on_order_event(e)
        else:
            found += recon.on_report(e)
    assert found == []  # no false drift, no phantom from the fills before its start


def test_in_the_stream_a_fault_waits_out_the_arrival_grace() -> None:
    """A replay runs hours of event time in a second: before 30 s of wall time have passed
    since a fill was listed (or booked), it is not called missing (or phantom)."""
    events, _lost, _tampered = injected_day()
    fast = reconcile(events, clock=lambda i: 1_000_000 + i)  # the whole day in milliseconds
    assert sorted(f["finding"] for f in fast) == ["position_drift"]
    slow = reconcile(events, clock=lambda i: 1_000_000 + i * 1_000)  # a second per event
    assert sorted(f["finding"] for f in slow) == ["missing_fill", "phantom_fill",
                                                   "position_drift"]  # fmt: skip


RANK = {"fills": 0, "orders.events": 1, "venue.reports": 2}


def event_time_order(events: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    """The order ``desk reconcile --once`` reads the topics in: by event time, then
    fills, order events, reports (streams/cli/recon.py)."""
    keyed = sorted(enumerate(events), key=lambda x: (int(x[1][1]["ts_event"]), RANK[x[1][0]], x[0]))
    return [e for _i, e in keyed]


def test_a_clean_day_in_event_time_order_has_no_orphan_order() -> None:
    """A report lists what was open at its time; an order the venue fills on the same bar
    is already closed at the desk when the report is read. That used to be an orphan at
    once (204 warnings on a healthy x600 desk); only one still listed a grace later is."""
    assert reconcile(event_time_order(list(day_events()))) == []


def test_an_order_the_desk_never_had_is_an_orphan_once_past_the_grace() -> None:
    events = event_time_order([(t, copy.deepcopy(e)) for t, e in day_events()])
    reports = [i for i, (t, _) in enumerate(events) if t == "venue.reports"]
    grace = load_config().reconciliation.order_grace_seconds * 1000
    first = events[reports[0]][1]
    stray = {"client_order_id": "stray-1", "symbol": "BTC/USD", "side": "BUY",
             "remaining": Decimal("0.01"), "price": Decimal("20000")}  # fmt: skip
    listed = [
        i for i in reports if int(events[i][1]["ts_event"]) - first["ts_event"] <= grace + 3_600_000
    ]
    for i in listed:  # on the venue for more than the grace, never at the desk
        events[i][1]["open_orders"] = [*events[i][1]["open_orders"], {**stray}]
    found = reconcile(events)
    assert [(f["finding"], f["severity"]) for f in found] == [("orphan_order", "WARNING")]
    assert found[0]["evidence"]["client_order_id"] == "stray-1"
