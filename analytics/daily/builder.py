"""The trade builder (pure): portfolio targets + cash movements + latest prices → the
trades that would move the account onto its targets.

Contract: ``docs/daily-ticket.md`` and ``docs/trade-builder.schema.json``. Exact decimals
throughout, no external call, no clock: the same inputs give the same lines in the same
order. Rules, in the order they bite:

* a symbol with no price, or marked not tradable, is skipped with the reason (its holding
  stays and still counts in the account's value);
* the account's value is cash + cash movements + holdings at the latest prices (in the
  account currency through the FX rate); ``cash_buffer_pct`` of it is never invested;
* each symbol's trade is its target value less its current value, in whole lots, rounded
  toward zero (never past the target); a target under one lot is skipped, said so;
* a trade under ``min_notional`` (account currency) is skipped: not worth its costs;
* sells come first (their proceeds fund the buys); a buy that the cash left cannot pay
  (fees included) is cut to what it can, in whole lots, or skipped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Any

ZERO = Decimal(0)
ONE = Decimal(1)


class BuilderError(ValueError):
    """Inputs the builder cannot use (a one-line reason)."""


@dataclass(frozen=True)
class Rules:
    min_notional: Decimal = Decimal(100)  # account currency
    lot_size: Mapping[str, Decimal] = field(default_factory=dict)  # symbol -> units; default 1
    fee_bps: Decimal = ZERO
    cash_buffer_pct: Decimal = ZERO
    not_tradable: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Line:
    symbol: str
    side: str
    units: Decimal
    price: Decimal
    price_currency: str
    notional: Decimal  # price currency
    notional_account: Decimal  # account currency, fees excluded
    fee_account: Decimal
    target_weight: Decimal
    weight_before: Decimal
    weight_after: Decimal
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in vars(self).items()}


@dataclass(frozen=True)
class Plan:
    account_currency: str
    account_value: Decimal
    investable: Decimal
    cash_before: Decimal
    cash_after: Decimal
    lines: tuple[Line, ...]
    skipped: tuple[tuple[str, str], ...]  # (symbol, reason)

    def to_json(self) -> dict[str, Any]:
        return {
            "account_currency": self.account_currency,
            "account_value": str(self.account_value),
            "investable": str(self.investable),
            "cash_before": str(self.cash_before),
            "cash_after": str(self.cash_after),
            "lines": [ln.to_json() for ln in self.lines],
            "skipped": [{"symbol": s, "reason": r} for s, r in self.skipped],
        }


def _dec(x: Any, what: str) -> Decimal:
    try:
        d = Decimal(str(x))
    except ArithmeticError:
        raise BuilderError(f"{what}: {x!r} is not a number") from None
    if not d.is_finite():
        raise BuilderError(f"{what}: {x!r} is not a finite number")
    return d


def build(
    targets: Mapping[str, Any],
    holdings: Mapping[str, Any],
    cash: Any,
    prices: Mapping[str, tuple[Any, str]],
    fx_to_account: Mapping[str, Any],
    account_currency: str = "GBP",
    cash_movements: tuple[Any, ...] = (),
    rules: Rules = Rules(),
) -> Plan:
    """The plan. ``prices``: symbol -> (price, its currency); ``fx_to_account``: currency ->
    units of the account currency per unit of it (``{"USD": "0.79"}``)."""
    w = {s: _dec(v, f"target {s}") for s, v in targets.items()}
    if any(v < 0 for v in w.values()):
        raise BuilderError("a target weight is negative: long-only targets")
    if sum(w.values(), ZERO) > ONE:
        raise BuilderError(f"target weights add up to {sum(w.values(), ZERO)}, more than 1")
    held = {s: _dec(v, f"holding {s}") for s, v in holdings.items()}
    fx = {c: _dec(v, f"fx {c}") for c, v in fx_to_account.items()} | {account_currency: ONE}
    cash_now = _dec(cash, "cash") + sum((_dec(m, "cash movement") for m in cash_movements), ZERO)
    px: dict[str, tuple[Decimal, str, Decimal]] = {}  # symbol -> (price, ccy, fx)
    skipped: list[tuple[str, str]] = []
    for s in sorted(set(w) | set(held)):
        if s not in prices:
            skipped.append((s, "no price"))
            continue
        price, ccy = _dec(prices[s][0], f"price {s}"), prices[s][1]
        if price <= 0:
            skipped.append((s, f"price {price} is not positive"))
            continue
        if ccy not in fx:
            skipped.append((s, f"no FX rate {ccy}->{account_currency}"))
            continue
        px[s] = (price, ccy, fx[ccy])
    value_of = {s: held.get(s, ZERO) * p * f for s, (p, _c, f) in px.items()}
    account = cash_now + sum(value_of.values(), ZERO)
    if account <= 0:
        raise BuilderError(
            f"the account is worth {account.normalize():f} {account_currency}: nothing to build"
        )
    investable = account * (ONE - rules.cash_buffer_pct / 100)
    fee_rate = rules.fee_bps / 10_000
    wants: list[tuple[str, Decimal]] = []  # (symbol, signed units)
    for s in sorted(px):
        if s in rules.not_tradable:
            skipped.append((s, "not tradable (rules)"))
            continue
        price, _ccy, f = px[s]
        lot = rules.lot_size.get(s, ONE)
        delta_acct = w.get(s, ZERO) * investable - value_of[s]
        units = (delta_acct / (price * f) / lot).to_integral_value(ROUND_DOWN) * lot
        if units == 0:
            if w.get(s, ZERO) > 0 and held.get(s, ZERO) == 0:  # a target it cannot reach at all
                skipped.append((s, f"the target is less than one lot ({lot} units)"))
            continue
        if abs(units) * price * f < rules.min_notional:
            skipped.append(
                (
                    s,
                    f"{abs(units) * price * f:.2f} {account_currency} is under the "
                    f"minimum notional {rules.min_notional}",
                )
            )
            continue
        wants.append((s, units))
    lines: list[Line] = []
    cash_left = cash_now
    after = dict(value_of)
    for s, units in sorted(wants, key=lambda x: (x[1] > 0, x[0])):  # sells first
        price, ccy, f = px[s]
        lot = rules.lot_size.get(s, ONE)
        note = ""
        if units > 0:
            affordable = (cash_left / (price * f * (ONE + fee_rate)) / lot).to_integral_value(
                ROUND_DOWN
            ) * lot
            if affordable < units:
                if affordable <= 0 or affordable * price * f < rules.min_notional:
                    skipped.append((s, "cash constraint: the cash left pays no minimum trade"))
                    continue
                note = f"cut from {units} to {affordable} units: cash constraint"
                units = affordable
        gross = abs(units) * price * f
        fee = gross * fee_rate
        cash_left += -gross - fee if units > 0 else gross - fee
        after[s] = after[s] + units * price * f
        lines.append(
            Line(
                s,
                "BUY" if units > 0 else "SELL",
                abs(units),
                price,
                ccy,
                abs(units) * price,
                gross,
                fee,
                w.get(s, ZERO),
                value_of[s] / account,
                after[s] / account,
                note,
            )
        )
    return Plan(
        account_currency,
        account,
        investable,
        cash_now,
        cash_left,
        tuple(lines),
        tuple(sorted(skipped)),
    )
