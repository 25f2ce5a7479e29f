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
