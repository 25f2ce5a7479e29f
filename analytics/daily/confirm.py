"""Confirmations (pure): the fills an operator got for a ticket's lines, checked before
anything is written.

A fills file is CSV with the header ``symbol,side,units,price,currency,fee,executed_at``
(``fee`` may be empty: 0; ``executed_at`` ISO 8601 with a zone). Every problem is
reported at once, one line each, naming the row; a file with any problem writes nothing.
Refused: a ticket that said NO_TRADE; a symbol or side the ticket has no line for; units
beyond what the line intended (over every confirmation of it); numbers that are not
positive and finite; a file already confirmed (by its content).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

HEADER = ("symbol", "side", "units", "price", "currency", "fee", "executed_at")


@dataclass(frozen=True)
class Fill:
    symbol: str
    side: str
    units: Decimal
    price: Decimal
    currency: str
    fee: Decimal
    executed_at: dt.datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "side": self.side,
            "units": str(self.units),
            "price": str(self.price),
            "currency": self.currency,
            "fee": str(self.fee),
            "executed_at": self.executed_at.isoformat(),
        }


def sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _positive(text: str, what: str, allow_zero: bool = False) -> tuple[Decimal | None, str | None]:
    try:
        d = Decimal(text.strip() or ("0" if allow_zero else ""))
    except InvalidOperation:
        return None, f"{what} {text!r} is not a number"
    if not d.is_finite() or d < 0 or (d == 0 and not allow_zero):
        return None, f"{what} {text!r} must be {'zero or more' if allow_zero else 'above zero'}"
    return d, None


def parse_fills(body: bytes) -> tuple[list[Fill], list[str]]:
    """The fills and every problem with them (row numbers are the file's lines)."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], ["the fills file is not UTF-8 text"]
    reader = csv.reader(io.StringIO(text))
    header = tuple(h.strip() for h in next(reader, []))
    if header != HEADER:
        return [], [f"header must be {','.join(HEADER)}; got {','.join(header) or 'nothing'}"]
    fills, problems = [], []
    for n, rec in enumerate(reader, start=2):
        if not any(c.strip() for c in rec):
            continue
        if len(rec) != len(HEADER):
            problems.append(f"line {n}: {len(rec)} fields, the header has {len(HEADER)}")
            continue
        symbol, side, units, price, currency, fee, when = (c.strip() for c in rec)
        bad = []
        side = side.upper()
        if side not in ("BUY", "SELL"):
            bad.append(f"side {side!r} is not BUY or SELL")
        u, e1 = _positive(units, "units")
        p, e2 = _positive(price, "price")
        f, e3 = _positive(fee, "fee", allow_zero=True)
        bad += [e for e in (e1, e2, e3) if e]
        try:
            at = dt.datetime.fromisoformat(when)
            if at.tzinfo is None:
                bad.append(f"executed_at {when!r} has no time zone")
        except ValueError:
            bad.append(f"executed_at {when!r} is not an ISO 8601 time")
        if bad:
            problems += [f"line {n}: {b}" for b in bad]
            continue
        fills.append(Fill(symbol, side, u, p, currency, f, at))  # type: ignore[arg-type]
    if not fills and not problems:
        problems.append("the fills file has no fill")
    return fills, problems


def check(
    ticket: Mapping[str, Any],
    fills: Sequence[Fill],
    file_sha: str,
    confirmed: Sequence[Mapping[str, Any]],  # fills already confirmed for this ticket
    confirmed_files: Sequence[str],
) -> list[str]:
    """Why these fills cannot be confirmed against the ticket (empty: they can)."""
    if ticket.get("decision") != "TRADE":
        return [
            f"ticket {ticket.get('ticket_id')} said {ticket.get('decision')}: nothing "
            "on it was to be traded"
        ]
    if file_sha in confirmed_files:
        return [f"this file (sha256 {file_sha[:12]}) is already confirmed for the ticket"]
    lines = {
        (ln["symbol"], ln["side"]): Decimal(ln["units"])
        for ln in (ticket.get("plan") or {}).get("lines", [])
    }
    done: dict[tuple[str, str], Decimal] = {}
    for c in confirmed:
        k = (c["symbol"], c["side"])
        done[k] = done.get(k, Decimal(0)) + Decimal(str(c["units"]))
    problems = []
    for i, f in enumerate(fills, start=1):
        key = (f.symbol, f.side)
        if key not in lines:
            problems.append(f"fill {i}: {f.side} {f.symbol} is not a line of the ticket")
            continue
        done[key] = done.get(key, Decimal(0)) + f.units
        if done[key] > lines[key]:
            problems.append(
                f"fill {i}: {f.side} {f.symbol} brings the confirmed units to "
                f"{done[key]}, the line intended {lines[key]}"
            )
    return problems
