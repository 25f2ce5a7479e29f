"""The desk page's judgements, pure: how old each status is (stale shows as stale), each
limit's use, and the one answer to "is it safe?" with its reasons."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

STALE_AFTER_S = 15 * 60  # a status older than this (ingest wall clock) is stale
BAD_WORDS = {"CRITICAL", "WARNING", "ERROR", "FAIL"}  # recon / dq severities, parity status
HALTED = {"HALTED"}  # risk's trading states: ACTIVE, REDUCING (attention), HALTED


def dec(x: Any) -> Decimal | None:
    if x is None:
        return None
    try:
        d = Decimal(str(x))
    except (InvalidOperation, ValueError):
        return None
    return d if d.is_finite() else None


def age_text(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    s = int(max(seconds, 0))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if s >= size:
            return f"{s // size} {unit}"
    return f"{s} s"


def freshness(ts_ingest_ms: Any, now_ms: int, stale_after_s: int = STALE_AFTER_S) -> str:
    """``fresh``, ``stale`` or ``never`` (no report at all)."""
    if not ts_ingest_ms:
        return "never"
    return "stale" if (now_ms - int(ts_ingest_ms)) / 1000 > stale_after_s else "fresh"


@dataclass(frozen=True)
class LimitUse:
    bot_id: str
    limit: str
    value: Decimal
    cap: Decimal

    @property
    def use(self) -> float:
        return float(self.value / self.cap) if self.cap else (1.0 if self.value else 0.0)

    def to_json(self) -> dict[str, Any]:
        return {
            "bot_id": self.bot_id,
            "limit": self.limit,
            "value": float(self.value),
            "cap": float(self.cap),
            "use": round(self.use, 4),
        }


def limit_uses(
    bot_id: str, limits: Mapping[str, Any], book: Mapping[str, Any], legs: Iterable[Mapping]
) -> list[LimitUse]:
    """Each configured limit next to what the bot's latest books use of it: the largest
    position's value, gross and net exposure, today's loss, the drawdown."""
    values = [dec(p.get("market_value")) or Decimal(0) for p in legs]
    loss = -(dec(book.get("daily_pnl")) or Decimal(0))
    measures = {
        "max_position_notional": max((abs(v) for v in values), default=Decimal(0)),
        "max_gross_exposure": sum((abs(v) for v in values), Decimal(0)),
        "max_net_exposure": abs(sum(values, Decimal(0))),
        "max_daily_loss": max(loss, Decimal(0)),
        "max_drawdown": dec(book.get("drawdown")) or Decimal(0),
    }
    out = []
    for name, value in measures.items():
        cap = dec(limits.get(name))
        if cap is not None:
            out.append(LimitUse(bot_id, name, value, cap))
    return out


@dataclass(frozen=True)
class Safety:
    level: str  # SAFE | ATTENTION | STOPPED | NO DATA
    reasons: list[str]


def safety(
    states: Mapping[str, str],
    killed: Iterable[str],
    statuses: Iterable[Mapping[str, Any]],
    uses: Iterable[LimitUse],
    critical_alerts: int,
    now_ms: int,
    have_books: bool,
) -> Safety:
    """One word for the whole desk and every reason behind it: STOPPED when a bot is
    killed or halted, ATTENTION when a check is bad or stale, a limit is 90% used or a
    CRITICAL alert is recent; SAFE otherwise."""
    if not have_books:
        return Safety(
            "NO DATA", ["no portfolio snapshot yet: run `desk up` and a feed, or `desk demo`"]
        )
    stop = [f"{b} is killed" for b in sorted(killed)]
    stop += [f"{b} is {s}" for b, s in sorted(states.items()) if s in HALTED and b not in killed]
    attention = [f"{b} is REDUCING (no new exposure)" for b, s in sorted(states.items())
                 if s == "REDUCING"]  # fmt: skip
    for s in statuses:
        word = str(s.get("status") or "")
        fresh = freshness(s.get("last_ingest"), now_ms)
        if fresh == "never":
            attention.append(f"{s['check']} has never reported")
        elif fresh == "stale":
            attention.append(f"{s['check']} is stale (last said {word or 'nothing'})")
        elif word.upper() in BAD_WORDS:
            attention.append(f"{s['check']}: {word}")
    attention += [f"{u.bot_id} {u.limit} at {u.use:.0%}" for u in uses if u.use >= 0.9]
    if critical_alerts:
        attention.append(f"{critical_alerts} CRITICAL alert(s) in the last hour")
    if stop:
        return Safety("STOPPED", stop + attention)
    if attention:
        return Safety("ATTENTION", attention)
    return Safety("SAFE", ["every bot trading, every check fresh and good, limits in room"])


def desk_uses(
    config: Any, books: Iterable[Mapping[str, Any]], legs: Iterable[Mapping[str, Any]]
) -> list[LimitUse]:
    """Every bot's limit uses, with the desk's limits under the bot's own (a bot not in
    the config has none to show)."""
    known = {b.id for b in config.bots}
    legs = list(legs)
    out: list[LimitUse] = []
    for b in books:
        bot = str(b["bot_id"])
        if bot in known:
            limits = config.limits_for(bot).model_dump(mode="json")
            out += limit_uses(bot, limits, b, [p for p in legs if p["bot_id"] == bot])
    return out


def exposure(
    legs: Iterable[Mapping[str, Any]], reserved: Mapping[tuple[str, str], Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Per bot and instrument: filled, open buys and sells risk reserves, the worst case
    if every open order fills (as ``desk positions`` shows it) and its value at the mark."""
    held = {(str(p["bot_id"]), f"{p['venue']}:{p['symbol']}"): p for p in legs}
    out = []
    for bot, key in sorted(set(held) | set(reserved)):
        p = held.get((bot, key), {})
        filled = dec(p.get("quantity")) or Decimal(0)
        res = reserved.get((bot, key), {})
        buys, sells = dec(res.get("buys")) or Decimal(0), dec(res.get("sells")) or Decimal(0)
        worst = max(abs(filled + buys), abs(filled - sells))
        if not (filled or buys or sells):
            continue
        mark = dec(p.get("mark"))
        out.append({
            "bot_id": bot, "symbol": key, "filled": filled, "open_buys": buys,
            "open_sells": sells, "worst_case": worst,
            "worst_case_value": None if mark is None else worst * mark,
            "market_value": dec(p.get("market_value")),
            "unrealized_pnl": dec(p.get("unrealized_pnl")),
        })  # fmt: skip
    return out
