"""Exact decimals as they come off the wire.

Avro's ``decimal(38, 18)`` decodes every value at scale 18 (``1.5`` arrives as
``1.500000000000000000``). Multiplying two such values gives scale 36, which no
longer fits the schema although the true product is short. ``tidy`` drops the
trailing zeros first, so products stay as short as the numbers really are.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def tidy(x: Any) -> Decimal:
    """The same number without trailing zeros, never in exponent form (``1E+2`` → ``100``)."""
    d = x if isinstance(x, Decimal) else Decimal(str(x))
    if not d.is_finite():
        return d
    n = d.normalize()
    exponent = n.as_tuple().exponent
    return n.quantize(Decimal(1)) if isinstance(exponent, int) and exponent > 0 else n


# Every exact amount on the wire is Avro ``decimal(38, 18)`` (schemas/avro/*.avsc).
PRECISION, SCALE = 38, 18
MAX_ABS = Decimal(10) ** (PRECISION - SCALE)  # 20 integer digits
MIN_STEP = Decimal(1).scaleb(-SCALE)  # 1e-18


def unrepresentable(x: Any, *, positive: bool = False) -> str | None:
    """Why ``x`` cannot be an Avro ``decimal(38, 18)``, or None when it can.

    ``positive``: a price, which must also stay above zero at scale 18 (``1e-30`` is not a
    price the desk can write down). Never raises, whatever ``x`` is.
    """
    if type(x) is float and 1e-17 < abs(x) < 1e19:  # the usual case, clear of both bounds
        return None
    try:
        d = x if isinstance(x, Decimal) else Decimal(repr(x) if isinstance(x, float) else str(x))
    except (ArithmeticError, ValueError, TypeError):
        return f"{x!r} is not a number"
    if not d.is_finite():
        return f"{x!r} is not finite"
    if abs(d) >= MAX_ABS:
        digits = PRECISION - SCALE
        return f"{x!r} has more than {digits} integer digits (decimal({PRECISION}, {SCALE}))"
    if positive and abs(d) < MIN_STEP:
        return f"{x!r} rounds to zero at scale {SCALE}"
    return None
