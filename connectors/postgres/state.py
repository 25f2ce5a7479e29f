"""Desk events → operational state rows in PostgreSQL, idempotently.

``OperationalState.statements`` turns one event into the SQL that records it;
every statement is written so that applying the same event twice, or an older
event after a newer one, changes nothing:

- orders move forward only (PENDING < ACCEPTED < PARTIALLY_FILLED < terminal; a
  terminal status is final); every order event is kept in ``order_transitions``
  with whether it moved the order;
- fills and snapshots are keyed by ``event_id``;
- positions, balances and venue holdings are replaced only by a view at least as
  new (``as_of``);
- risk commands and trading states are not here: risk records what it made of
  each command itself (``connectors.postgres.risk_state``), so Postgres shows
  exactly what risk enforces, derived once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from streams.decimals import tidy

Statement = tuple[str, Mapping[str, Any]]

TOPICS = (
    "orders.commands",
    "orders.events",
    "fills",
    "portfolio.snapshots",
    "venue.reports",
)


def as_json(value: Any) -> str:
    """Canonical JSON for a jsonb column: exact decimals as strings, keys sorted."""

    def default(x: Any) -> Any:
        if isinstance(x, Decimal):
            return format(tidy(x), "f")
        raise TypeError(f"{type(x).__name__} is not JSON")

    return json.dumps(value, default=default, sort_keys=True, separators=(",", ":"))


def _money(x: Any) -> Decimal | None:
    return None if x is None else tidy(x)


_SUBMIT = """
INSERT INTO orders AS o (client_order_id, venue, account, bot_id, symbol, side, order_type,
    time_in_force, quantity, limit_price, status, decision_id, command_id, created_ts,
    updated_ts, last_event_id)
VALUES (%(client_order_id)s, %(venue)s, %(account)s, %(bot_id)s, %(symbol)s, %(side)s,
    %(order_type)s, %(time_in_force)s, %(quantity)s, %(limit_price)s, 'PENDING',
    %(decision_id)s, %(event_id)s, %(ts_event)s, %(ts_event)s, %(event_id)s)
ON CONFLICT (client_order_id) DO UPDATE SET
    decision_id = coalesce(o.decision_id, EXCLUDED.decision_id),
    command_id = coalesce(o.command_id, EXCLUDED.command_id),
    time_in_force = coalesce(o.time_in_force, EXCLUDED.time_in_force),
    created_ts = least(o.created_ts, EXCLUDED.created_ts)
"""

_ADVANCES = """(
    SELECT coalesce(bool_or(
        order_status_rank(o.status) < order_status_rank(%(status)s)
        OR (o.status = 'PARTIALLY_FILLED' AND %(status)s = 'PARTIALLY_FILLED'
            AND o.filled_quantity < %(filled_quantity)s)
    ), true)
    FROM orders o WHERE o.client_order_id = %(client_order_id)s
)"""

_TRANSITION = f"""
INSERT INTO order_transitions (event_id, client_order_id, status, filled_quantity, reason,
    ts_event, applied)
VALUES (%(event_id)s, %(client_order_id)s, %(status)s, %(filled_quantity)s, %(reason)s,
    %(ts_event)s, {_ADVANCES})
ON CONFLICT (event_id) DO NOTHING
"""

_ORDER_EVENT = """
INSERT INTO orders AS o (client_order_id, venue, account, bot_id, symbol, side, order_type,
    quantity, limit_price, status, filled_quantity, venue_order_id, reason, created_ts,
    updated_ts, last_event_id)
VALUES (%(client_order_id)s, %(venue)s, %(account)s, %(bot_id)s, %(symbol)s, %(side)s,
    %(order_type)s, %(quantity)s, %(limit_price)s, %(status)s, %(filled_quantity)s,
    %(venue_order_id)s, %(reason)s, %(ts_event)s, %(ts_event)s, %(event_id)s)
ON CONFLICT (client_order_id) DO UPDATE SET
    status = EXCLUDED.status,
    filled_quantity = greatest(o.filled_quantity, EXCLUDED.filled_quantity),
    venue_order_id = coalesce(EXCLUDED.venue_order_id, o.venue_order_id),
    reason = coalesce(EXCLUDED.reason, o.reason),
    side = coalesce(o.side, EXCLUDED.side),
    order_type = coalesce(o.order_type, EXCLUDED.order_type),
    quantity = coalesce(o.quantity, EXCLUDED.quantity),
    limit_price = coalesce(o.limit_price, EXCLUDED.limit_price),
    updated_ts = greatest(o.updated_ts, EXCLUDED.updated_ts),
    last_event_id = EXCLUDED.last_event_id
WHERE order_status_rank(o.status) < order_status_rank(EXCLUDED.status)
   OR (o.status = 'PARTIALLY_FILLED' AND EXCLUDED.status = 'PARTIALLY_FILLED'
       AND o.filled_quantity < EXCLUDED.filled_quantity)
"""

_FILL = """
INSERT INTO fills (event_id, client_order_id, venue_order_id, trade_id, bot_id, venue, account,
    symbol, side, price, quantity, fee, fee_currency, liquidity, ts_event)
VALUES (%(event_id)s, %(client_order_id)s, %(venue_order_id)s, %(trade_id)s, %(bot_id)s,
    %(venue)s, %(account)s, %(symbol)s, %(side)s, %(price)s, %(quantity)s, %(fee)s,
    %(fee_currency)s, %(liquidity)s, %(ts_event)s)
ON CONFLICT (event_id) DO NOTHING
"""

_SNAPSHOT = """
INSERT INTO portfolio_snapshots (event_id, bot_id, ts_event, trading_day, quote_currency, cash,
    equity, peak_equity, drawdown, realized_pnl, unrealized_pnl, daily_pnl, fees, positions)
VALUES (%(event_id)s, %(bot_id)s, %(ts_event)s, %(trading_day)s, %(quote_currency)s, %(cash)s,
    %(equity)s, %(peak_equity)s, %(drawdown)s, %(realized_pnl)s, %(unrealized_pnl)s,
    %(daily_pnl)s, %(fees)s, %(positions)s)
ON CONFLICT (event_id) DO NOTHING
"""

_BALANCE = """
INSERT INTO balances AS b (bot_id, currency, cash, equity, peak_equity, drawdown, realized_pnl,
    unrealized_pnl, daily_pnl, fees, trading_day, as_of, snapshot_id)
VALUES (%(bot_id)s, %(quote_currency)s, %(cash)s, %(equity)s, %(peak_equity)s, %(drawdown)s,
    %(realized_pnl)s, %(unrealized_pnl)s, %(daily_pnl)s, %(fees)s, %(trading_day)s,
    %(ts_event)s, %(event_id)s)
ON CONFLICT (bot_id, currency) DO UPDATE SET
    cash = EXCLUDED.cash, equity = EXCLUDED.equity, peak_equity = EXCLUDED.peak_equity,
    drawdown = EXCLUDED.drawdown, realized_pnl = EXCLUDED.realized_pnl,
    unrealized_pnl = EXCLUDED.unrealized_pnl, daily_pnl = EXCLUDED.daily_pnl,
    fees = EXCLUDED.fees, trading_day = EXCLUDED.trading_day, as_of = EXCLUDED.as_of,
    snapshot_id = EXCLUDED.snapshot_id
WHERE b.as_of <= EXCLUDED.as_of
"""

_POSITION = """
INSERT INTO positions AS p (bot_id, venue, symbol, quantity, avg_cost, mark, market_value,
    unrealized_pnl, realized_pnl, as_of, snapshot_id)
VALUES (%(bot_id)s, %(venue)s, %(symbol)s, %(quantity)s, %(avg_cost)s, %(mark)s,
    %(market_value)s, %(unrealized_pnl)s, %(realized_pnl)s, %(as_of)s, %(snapshot_id)s)
ON CONFLICT (bot_id, venue, symbol) DO UPDATE SET
    quantity = EXCLUDED.quantity, avg_cost = EXCLUDED.avg_cost, mark = EXCLUDED.mark,
    market_value = EXCLUDED.market_value, unrealized_pnl = EXCLUDED.unrealized_pnl,
    realized_pnl = EXCLUDED.realized_pnl, as_of = EXCLUDED.as_of,
    snapshot_id = EXCLUDED.snapshot_id
WHERE p.as_of <= EXCLUDED.as_of
"""

_VENUE_BALANCE = """
INSERT INTO venue_balances AS v (venue, account, asset, total, free, as_of, report_id)
VALUES (%(venue)s, %(account)s, %(asset)s, %(total)s, %(free)s, %(as_of)s, %(report_id)s)
ON CONFLICT (venue, account, asset) DO UPDATE SET
    total = EXCLUDED.total, free = EXCLUDED.free, as_of = EXCLUDED.as_of,
    report_id = EXCLUDED.report_id
WHERE v.as_of <= EXCLUDED.as_of
"""

_VENUE_POSITION = """
INSERT INTO venue_positions AS v (venue, account, symbol, quantity, avg_price, as_of, report_id)
VALUES (%(venue)s, %(account)s, %(symbol)s, %(quantity)s, %(avg_price)s, %(as_of)s,
    %(report_id)s)
ON CONFLICT (venue, account, symbol) DO UPDATE SET
    quantity = EXCLUDED.quantity, avg_price = EXCLUDED.avg_price, as_of = EXCLUDED.as_of,
    report_id = EXCLUDED.report_id
WHERE v.as_of <= EXCLUDED.as_of
"""


class OperationalState:
    """Turns desk events into idempotent SQL (it keeps nothing between events)."""

    def statements(self, topic: str, event: Mapping[str, Any]) -> list[Statement]:
        handler = getattr(self, "_" + topic.replace(".", "_"), None)
        if handler is None:
            raise ValueError(f"no operational state is kept for topic {topic!r}")
        return handler(event)

    def _orders_commands(self, e: Mapping[str, Any]) -> list[Statement]:
        if e["command"] != "SUBMIT":
            return []  # cancels change an order only when the venue says so (orders.events)
        row = dict(e, quantity=_money(e["quantity"]), limit_price=_money(e["limit_price"]))
        return [(_SUBMIT, row)]

    def _orders_events(self, e: Mapping[str, Any]) -> list[Statement]:
        row = dict(
            e,
            quantity=_money(e["quantity"]),
            limit_price=_money(e["limit_price"]),
            filled_quantity=tidy(e["filled_quantity"]),
        )
        return [(_TRANSITION, row), (_ORDER_EVENT, row)]

    def _fills(self, e: Mapping[str, Any]) -> list[Statement]:
        money = {k: tidy(e[k]) for k in ("price", "quantity", "fee")}
        return [(_FILL, dict(e, **money))]

    def _portfolio_snapshots(self, e: Mapping[str, Any]) -> list[Statement]:
        money = ("cash", "equity", "peak_equity", "drawdown", "realized_pnl", "unrealized_pnl",
                 "daily_pnl", "fees")  # fmt: skip
        row = dict(e, **{k: tidy(e[k]) for k in money}, positions=as_json(e["positions"]))
        out: list[Statement] = [(_SNAPSHOT, row), (_BALANCE, row)]
        for p in e["positions"]:
            out.append(
                (
                    _POSITION,
                    {
                        **{k: _money(v) for k, v in p.items() if k not in ("venue", "symbol")},
                        "venue": p["venue"],
                        "symbol": p["symbol"],
                        "bot_id": e["bot_id"],
                        "as_of": e["ts_event"],
                        "snapshot_id": e["event_id"],
                    },
                )
            )
        return out

    def _venue_reports(self, e: Mapping[str, Any]) -> list[Statement]:
        head = {"venue": e["venue"], "account": e["account"], "as_of": e["ts_event"],
                "report_id": e["event_id"]}  # fmt: skip
        out: list[Statement] = []
        for b in e["balances"]:
            row = dict(head, asset=b["asset"], total=tidy(b["total"]), free=_money(b["free"]))
            out.append((_VENUE_BALANCE, row))
        for p in e["positions"]:
            row = dict(head, symbol=p["symbol"], quantity=tidy(p["quantity"]),
                       avg_price=_money(p["avg_price"]))  # fmt: skip
            out.append((_VENUE_POSITION, row))
        return out
