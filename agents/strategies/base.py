"""The strategy adapter interface and the registry that maps config ``kind`` to a class.

A strategy is a pure object: ``on_bar(bar, view)`` returns the ``OrderIntent``
events (new orders and cancels) the bot wants after this clean bar. It never
talks to a venue or decides whether an order is allowed: pre-trade risk does.
The same object runs in the stream, in a replay and in the backtest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Any, Protocol

from streams.envelope import caused_by
from streams.ids import event_id


@dataclass(frozen=True)
class BotView:
    """What a strategy may know about its bot when a bar arrives (from the portfolio)."""

    bot_id: str
    venue: str
    symbol: str
    position: Decimal = Decimal(0)  # base units, signed
    equity: Decimal = Decimal(0)  # quote currency
    open_orders: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # by client id


LONG_ONLY, LONG_SHORT = "long_only", "long_short"


class Strategy(Protocol):
    """What the desk calls; ``kind`` is the registry name used in the desk config.

    ``side`` declares what the strategy may hold: ``long_only`` (risk denies any
    order that could take the position below zero, even if every open sell fills)
    or ``long_short``. Risk enforces it; the strategy never has to get it right.
    """

    kind: str
    side: str
    # optional: ``references``, streams (``venue:symbol``) the strategy reads but does not
    # trade; their clean bars reach ``on_bar`` too, with a view of that stream (no
    # position), and any intent it returns for them is set aside (a bot trades only its
    # own symbols). A basis or pairs strategy needs nothing else.

    def on_bar(self, bar: Mapping[str, Any], view: BotView) -> list[dict[str, Any]]: ...


_REGISTRY: dict[str, Callable[..., Strategy]] = {}


def register(kind: str) -> Callable[[Callable[..., Strategy]], Callable[..., Strategy]]:
    """Class decorator: make a strategy available to the desk config as ``kind``."""

    def deco(cls: Callable[..., Strategy]) -> Callable[..., Strategy]:
        if kind in _REGISTRY:
            raise ValueError(f"strategy kind {kind!r} registered twice")
        _REGISTRY[kind] = cls
        return cls

    return deco


def known_kinds() -> list[str]:
    """Every registered strategy kind (the reference strategies included)."""
    _load_references()
    return sorted(_REGISTRY)


def _load_references() -> None:
    """Import the reference strategies (each registers its kind)."""
    from agents.strategies import basis, ema_cross, market_maker, trend  # noqa: F401


def build(kind: str, params: Mapping[str, Any]) -> Strategy:
    """A configured strategy; an unknown kind or a bad parameter is a one-line ValueError."""
    _load_references()

    try:
        cls = _REGISTRY[kind]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise ValueError(f"unknown strategy kind {kind!r} (known: {known})") from None
    try:
        return cls(**params)
    except TypeError as exc:
        raise ValueError(f"strategy {kind}: {exc}") from None


def quantize_down(qty: Decimal, step: Decimal) -> Decimal:
    """Round a size toward zero to the lot step (never trade more than asked)."""
    return (qty / step).to_integral_value(rounding=ROUND_DOWN) * step


def intent(
    bar: Mapping[str, Any],
    view: BotView,
    kind: str,
    *,
    action: str = "NEW",
    seq: int = 0,
    side: str | None = None,
    order_type: str | None = None,
    quantity: Decimal | None = None,
    limit_price: Decimal | None = None,
    time_in_force: str = "GTC",
    reduce_only: bool = False,
    client_order_id: str | None = None,
    reason: str = "",
) -> dict[str, Any]:
    """An ``OrderIntent`` caused by ``bar``, its ids replay-stable (bot, symbol, bar time, seq)."""
    eid = event_id("intent", view.bot_id, view.symbol, bar["ts_event"], seq, action)
    return {
        **caused_by(bar, eid, f"strategy.{kind}"),
        "bot_id": view.bot_id,
        "strategy": kind,
        "venue": view.venue,
        "symbol": view.symbol,
        "action": action,
        "client_order_id": client_order_id or f"{view.bot_id}-{eid[:18]}",
        "side": side,
        "order_type": order_type,
        "quantity": quantity,
        "limit_price": limit_price,
        "time_in_force": time_in_force,
        "reduce_only": reduce_only,
        "reason": reason,
    }
