"""Reconciliation, pure: the desk's fills and orders against each venue report.

Per venue account, from the desk's own events (``fills``, ``orders.events``) and
the venue's (``venue.reports``: fills since the last report, positions,
balances, open orders). At each report:

* **missing_fill** (CRITICAL): a trade the venue reported that the desk never
  booked, still unbooked one report later (the desk's fill and the venue's
  report travel on different topics; in the stream, also ``arrival_grace_seconds``
  of wall time, since a fast replay runs hours of event time in a second);
* **phantom_fill** (CRITICAL): a fill the desk booked that no report listed,
  although a report at least one full period after it came;
* **fill_mismatch** (WARNING, CRITICAL past ``critical_x`` times the
  tolerance): price, quantity or fee of a matched trade beyond tolerance;
* **position_drift**: venue position vs the desk's fills for the symbol, in %
  of the larger (warning > 1%, critical > 5% by default); an absolute floor
  keeps dust from alarming;
* **balance_drift**: for paper accounts (whose funding the desk knows), each
  asset's venue total vs starting cash + the desk's fills;
* **orphan_order** (WARNING): an order open on the venue that the desk does not
  have open, or the reverse, for longer than the grace.

Each finding is reported once per (kind, subject) until it clears, so a drift
that persists is one report, not one per hour. Cost per event is constant: the
desk's positions and balances are kept running, matched fills are dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from streams.config import Reconciliation
from streams.decimals import tidy
from streams.envelope import caused_by
from streams.ids import event_id

SOURCE = "agent.recon"
ZERO, HUNDRED = Decimal(0), Decimal(100)
OPEN = ("ACCEPTED", "PARTIALLY_FILLED")
CLOSED_KEPT = 10_000  # ended orders remembered, so a late event does not reopen one


def _d(x: Any) -> Decimal:
    return x if isinstance(x, Decimal) else Decimal(str(x))


def _fmt(x: Decimal) -> str:
    return format(tidy(x.quantize(Decimal("1e-8"))), "f")


def split_symbol(symbol: str) -> tuple[str, str]:
    base, _, quote = symbol.partition("/")
    return base, quote.split(":")[0]


def _position_effect(f: Mapping[str, Any]) -> dict[str, Decimal]:
    sign = 1 if f["side"] == "BUY" else -1
    return {f["symbol"]: sign * _d(f["quantity"])}


def _balance_effect(f: Mapping[str, Any]) -> dict[str, Decimal]:
    """What a fill does to the account's assets (spot): base in, quote and fee out."""
    sign = 1 if f["side"] == "BUY" else -1
    qty, price, fee = _d(f["quantity"]), _d(f["price"]), _d(f["fee"])
    base, quote = split_symbol(f["symbol"])
    quote = quote or f.get("fee_currency") or ""  # a share: quoted in its fee's currency
    out = {base: sign * qty, quote: -sign * qty * price}
    fee_ccy = f.get("fee_currency") or quote
    out[fee_ccy] = out.get(fee_ccy, ZERO) - fee
    return out


def _add(into: dict[str, Decimal], effect: Mapping[str, Decimal], sign: int) -> None:
    for k, v in effect.items():
        into[k] = into.get(k, ZERO) + sign * v


@dataclass
class _DeskFill:
    fill: Mapping[str, Any]
    arrived: int = 0  # arrival clock (wall ms; 0 in an event-time pass)


@dataclass
class Account:
    """The desk's running view of one venue account."""

    positions: dict[str, Decimal] = field(default_factory=dict)
    balances: dict[str, Decimal] = field(default_factory=dict)
    unconfirmed: dict[str, _DeskFill] = field(default_factory=dict)  # trade id -> desk fill
    confirmed: set[str] = field(default_factory=set)  # trade ids matched (kept for late dupes)
    expected: dict[str, tuple[int, Mapping[str, Any]]] = field(default_factory=dict)
    open_orders: dict[str, tuple[str, int]] = field(default_factory=dict)  # cid -> (bot, ts)
    reports: list[int] = field(default_factory=list)  # the last two report times
    active: dict[tuple[str, str], str] = field(default_factory=dict)  # (kind, subject) -> sev
    # the effect of fills already reported missing (+) or phantom (-): counted as the venue
    # counts them, so the drift checks report what those findings do not already explain
    explained_pos: dict[str, Decimal] = field(default_factory=dict)
    explained_bal: dict[str, Decimal] = field(default_factory=dict)
    baseline_ts: int | None = None  # a restarted reconciler's starting report
    # arrival clock (wall ms) when a venue-open order unknown here was first seen
    # an order open on one side only: (event time of the first report that showed it, wall)
    orphan_since: dict[str, tuple[int, int]] = field(default_factory=dict)
    closed: dict[str, None] = field(default_factory=dict)  # the latest orders that ended


class Reconciler:
    def __init__(
        self,
        cfg: Reconciliation,
        funding: Mapping[tuple[str, str], Mapping[str, Any]],
        *,
        rebaseline: bool = False,
    ):
        """``funding``: (venue, account) -> asset -> starting amount, for accounts whose
        starting balances the desk knows (paper); others get no balance check.

        ``rebaseline``: for a reconciler that starts mid-stream (a restarted agent): each
        account's first report is taken as the starting point (its positions, balances and
        the fills it lists) and checked from the next report on. Divergence from before
        the restart was reported before it."""
        self.cfg = cfg
        self.rebaseline = rebaseline
        self.funding = {k: {a: _d(v) for a, v in f.items()} for k, f in funding.items()}
        self.accounts: dict[tuple[str, str], Account] = {}
        self._late: list[tuple[Mapping[str, Any], Mapping[str, Any]]] = []  # booked after listed

    def _account(self, venue: str, account: str) -> Account:
        key = (venue, account)
        if key not in self.accounts:
            self.accounts[key] = Account(balances=dict(self.funding.get(key, {})))
        return self.accounts[key]

    # -- the desk's events ------------------------------------------------------------------

    def on_fill(self, f: Mapping[str, Any], now_ms: int = 0) -> None:
        acc = self._account(f["venue"], f["account"])
        tid = f["trade_id"]
        if tid in acc.confirmed or tid in acc.unconfirmed:
            return  # a re-delivery
        if acc.baseline_ts is not None and int(f["ts_event"]) < acc.baseline_ts:
            return  # already in the venue's numbers the reconciler started from
        for sym, q in _position_effect(f).items():
            acc.positions[sym] = acc.positions.get(sym, ZERO) + q
        for asset, q in _balance_effect(f).items():
            acc.balances[asset] = acc.balances.get(asset, ZERO) + q
        if tid in acc.expected:  # the venue reported it first
            _ts, reported, _arrived = acc.expected.pop(tid)
            acc.confirmed.add(tid)
            self._late.append((f, reported))
        else:
            acc.unconfirmed[tid] = _DeskFill(f, now_ms)

    def on_order_event(self, e: Mapping[str, Any]) -> None:
        acc = self._account(e["venue"], e["account"])
        cid = e["client_order_id"]
        if e["status"] in OPEN:
            if cid not in acc.closed:  # an order's end is final, whatever comes after it
                acc.open_orders.setdefault(cid, (e["bot_id"], int(e["ts_event"])))
        else:
            acc.open_orders.pop(cid, None)
            acc.closed[cid] = None
            if len(acc.closed) > CLOSED_KEPT:
                del acc.closed[next(iter(acc.closed))]

    # -- the venue's report -----------------------------------------------------------------

    def _overdue(self, arrived: int, now_ms: int) -> bool:
        """In the stream, also a wall-clock grace: the desk's topics and the venue's reports
        are consumed at their own pace, and a fast replay runs hours of event time in a
        second (an event-time pass, ``now_ms == 0``, has event time only)."""
        return now_ms == 0 or now_ms - arrived >= self.cfg.arrival_grace_seconds * 1000

    def on_report(self, r: Mapping[str, Any], now_ms: int = 0) -> list[dict[str, Any]]:
        """The findings this report brings (new ones, and escalations), as ReconReports.
        ``now_ms``: the arrival clock in the stream (wall time), 0 in an event-time pass."""
        venue, account, ts = r["venue"], r["account"], int(r["ts_event"])
        acc = self._account(venue, account)
        if self.rebaseline and not acc.reports:
            self._baseline(acc, r)
            return []
        found: list[tuple[str, str, str, str | None, str, dict[str, str]]] = []
        prev = acc.reports[-1] if acc.reports else None

        # fills: match what the venue lists against what the desk booked
        for vf in r["fills"]:
            tid = vf["trade_id"]
            if tid in acc.unconfirmed:
                desk = acc.unconfirmed.pop(tid).fill
                acc.confirmed.add(tid)
                found += self._compare(desk, vf)
            elif tid not in acc.confirmed:
                acc.expected[tid] = (ts, vf, now_ms)
        late = [(f, v) for f, v in self._late if (f["venue"], f["account"]) == (venue, account)]
        self._late = [x for x in self._late if x not in late]
        found += [m for f, v in late for m in self._compare(f, v)]
        for tid, (seen_at, vf, arrived) in list(acc.expected.items()):
            # missing: a whole report period later (and the stream's grace) still unbooked
            if prev is not None and seen_at <= prev and self._overdue(arrived, now_ms):
                del acc.expected[tid]
                acc.confirmed.add(tid)  # settled: a very late booking changes nothing now
                _add(acc.explained_pos, _position_effect(vf), 1)
                _add(acc.explained_bal, _balance_effect(vf), 1)
                found.append(("missing_fill", tid, "CRITICAL", self._bot_of(acc, vf),
                              f"venue trade {tid} ({vf['side']} {vf['quantity']} {vf['symbol']} @ "
                              f"{vf['price']}) is not in the desk's fills",
                              {"trade_id": tid, "client_order_id": vf["client_order_id"],
                               "reported_at": str(seen_at)}))  # fmt: skip
        for tid, df in list(acc.unconfirmed.items()):
            f = df.fill
            if prev is not None and int(f["ts_event"]) < prev and self._overdue(df.arrived, now_ms):
                del acc.unconfirmed[tid]
                acc.confirmed.add(tid)  # settled: a very late listing changes nothing now
                _add(acc.explained_pos, _position_effect(f), -1)
                _add(acc.explained_bal, _balance_effect(f), -1)
                found.append(("phantom_fill", tid, "CRITICAL", f["bot_id"],
                              f"desk fill {tid} ({f['side']} {f['quantity']} {f['symbol']} @ "
                              f"{f['price']}) was never reported by the venue",
                              {"trade_id": tid, "client_order_id": f["client_order_id"],
                               "fill_ts": str(f["ts_event"])}))  # fmt: skip

        # positions and balances: the venue's numbers against the desk's running ones, seen as
        # the venue sees them: fills in flight (booked here, not yet listed; listed there, not
        # yet booked here) count as the venue counts them until their grace is over, when
        # they are missing or phantom fills above (and drift from then on)
        pos, bal = dict(acc.positions), dict(acc.balances)
        _add(pos, acc.explained_pos, 1)
        _add(bal, acc.explained_bal, 1)
        for df in acc.unconfirmed.values():
            _add(pos, _position_effect(df.fill), -1)
            _add(bal, _balance_effect(df.fill), -1)
        for _seen, vf, _arrived in acc.expected.values():
            _add(pos, _position_effect(vf), 1)
            _add(bal, _balance_effect(vf), 1)
        venue_pos = {p["symbol"]: _d(p["quantity"]) for p in r["positions"]}
        for sym in sorted(set(venue_pos) | {s for s, q in pos.items() if q}):
            found += self._drift(
                "position_drift",
                sym,
                venue_pos.get(sym, ZERO),
                pos.get(sym, ZERO),
                self.cfg.position_abs_tolerance,
            )
        if (venue, account) in self.funding:
            venue_bal = {b["asset"]: _d(b["total"]) for b in r["balances"]}
            for asset in sorted(set(venue_bal) | set(bal)):
                found += self._drift(
                    "balance_drift",
                    asset,
                    venue_bal.get(asset, ZERO),
                    bal.get(asset, ZERO),
                    self.cfg.balance_abs_tolerance,
                )

        # open orders: both sides should agree once the graces have passed
        grace = self.cfg.order_grace_seconds * 1000
        venue_open = {o["client_order_id"]: o for o in r["open_orders"]}
        for key in list(acc.orphan_since):  # settled since: both sides agree now
            cid = key.removeprefix("desk:")
            if (cid in venue_open) == (cid in acc.open_orders):
                del acc.orphan_since[key]
        for cid, o in venue_open.items():
            if cid in acc.open_orders:
                continue
            # a report lists what was open at its time; the desk may already have the order's
            # end (a fill on the same bar): only an order still listed a grace later is one
            first_ts, first_wall = acc.orphan_since.setdefault(cid, (ts, now_ms))
            if ts - first_ts > grace and self._overdue(first_wall, now_ms):
                found.append(
                    (
                        "orphan_order",
                        cid,
                        "WARNING",
                        None,
                        f"order {cid} ({o['side']} {o['remaining']} {o['symbol']}) is open "
                        "on the venue but not at the desk",
                        {"client_order_id": cid},
                    )
                )
        for cid, (bot, since) in acc.open_orders.items():
            if cid in venue_open or ts - since <= grace:
                continue
            _first_ts, first_wall = acc.orphan_since.setdefault(f"desk:{cid}", (ts, now_ms))
            if self._overdue(first_wall, now_ms):
                found.append(
                    (
                        "orphan_order",
                        cid,
                        "WARNING",
                        bot,
                        f"order {cid} is open at the desk but not on the venue",
                        {"client_order_id": cid, "open_since": str(since)},
                    )
                )

        acc.reports = [*acc.reports, ts][-2:]
        return self._report(r, acc, found)

    def _baseline(self, acc: Account, r: Mapping[str, Any]) -> None:
        ts = int(r["ts_event"])
        listed = {vf["trade_id"] for vf in r["fills"]}
        later = [df.fill for tid, df in acc.unconfirmed.items()
                 if tid not in listed and int(df.fill["ts_event"]) > ts]  # fmt: skip
        acc.positions = {p["symbol"]: _d(p["quantity"]) for p in r["positions"]}
        acc.balances = {b["asset"]: _d(b["total"]) for b in r["balances"]}
        acc.unconfirmed, acc.expected = {}, {}
        acc.confirmed |= listed
        for f in later:  # booked here after the report: not in the venue's numbers yet
            _add(acc.positions, _position_effect(f), 1)
            _add(acc.balances, _balance_effect(f), 1)
            acc.unconfirmed[f["trade_id"]] = _DeskFill(f)
        for o in r["open_orders"]:  # the orders it started with are known open
            acc.open_orders.setdefault(o["client_order_id"], ("", ts))
        acc.reports = [ts]
        acc.baseline_ts = ts

    # -- helpers ------------------------------------------------------------------------------

    def _bot_of(self, acc: Account, vf: Mapping[str, Any]) -> str | None:
        cid = vf.get("client_order_id") or ""
        return acc.open_orders.get(cid, ("", 0))[0] or (cid.rsplit("-", 3)[0] or None)

    def _compare(self, desk: Mapping[str, Any], vf: Mapping[str, Any]) -> list[Any]:
        out = []
        tol = {"price": self.cfg.price_tolerance_bps / 10_000, "quantity": ZERO,
               "fee": self.cfg.fee_tolerance}  # fmt: skip
        for key in ("price", "quantity", "fee"):
            a, b = _d(desk[key]), _d(vf[key])
            diff = abs(a - b) if key != "price" else (abs(a - b) / b if b else abs(a))
            if diff > tol[key]:
                critical = key == "quantity" or diff > tol[key] * self.cfg.critical_x
                out.append(("fill_mismatch", f"{desk['trade_id']}:{key}",
                            "CRITICAL" if critical else "WARNING", desk["bot_id"],
                            f"trade {desk['trade_id']} {key}: desk {_fmt(a)} vs venue {_fmt(b)}",
                            {"trade_id": desk["trade_id"], "field": key, "desk": _fmt(a),
                             "venue": _fmt(b)}))  # fmt: skip
        return out

    def _drift(self, kind: str, subject: str, venue: Decimal, desk: Decimal,
               floor: Decimal) -> list[Any]:  # fmt: skip
        gap = abs(venue - desk)
        if gap <= floor:
            return []
        pct = gap / max(abs(venue), abs(desk)) * HUNDRED
        if pct <= self.cfg.drift_warning_pct:
            return []
        sev = "CRITICAL" if pct > self.cfg.drift_critical_pct else "WARNING"
        return [(kind, subject, sev, None,
                 f"{subject}: venue {_fmt(venue)} vs desk {_fmt(desk)} ({_fmt(pct)}%)",
                 {"venue": _fmt(venue), "desk": _fmt(desk), "drift_pct": _fmt(pct)})]  # fmt: skip

    def _report(self, r: Mapping[str, Any], acc: Account, found: Iterable[Any]) -> list[dict]:
        """Each (kind, subject) once until it clears (or escalates); drift kinds clear when a
        report no longer shows them."""
        now: dict[tuple[str, str], str] = {}
        out = []
        for kind, subject, sev, bot, message, evidence in found:
            key = (kind, subject)
            now[key] = sev
            before = acc.active.get(key)
            if before == sev or (before == "CRITICAL" and sev == "WARNING"):
                continue
            out.append({
                **caused_by(r, event_id("recon", r["event_id"], kind, subject), SOURCE),
                "venue": r["venue"], "account": r["account"],
                "bot_id": bot, "finding": kind, "severity": sev, "message": message,
                "evidence": evidence | {"report_id": r["event_id"]},
            })  # fmt: skip
        # fills found once stay found; drifts and orphans are judged afresh each report
        kept = {k: v for k, v in acc.active.items() if k[0] in ("missing_fill", "phantom_fill",
                                                                 "fill_mismatch")}  # fmt: skip
        acc.active = kept | now
        return out
