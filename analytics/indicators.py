"""Running indicators: O(1) per update, equal to the from-scratch computation.

Shared by data quality (volatility for outliers), synthetic quotes (ATR spread)
and strategies, so the stream, the replay and the backtest use the same numbers.
Each keeps only the state it needs; ``value`` is ``None`` until warmed up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class Ema:
    """Exponential moving average seeded with the simple mean of the first ``period`` values."""

    period: int
    value: float | None = None
    _n: int = 0
    _sum: float = 0.0

    @property
    def alpha(self) -> float:
        return 2.0 / (self.period + 1)

    def update(self, x: float) -> float | None:
        self._n += 1
        if self._n < self.period:
            self._sum += x
        elif self._n == self.period:
            self.value = (self._sum + x) / self.period
        else:
            assert self.value is not None
            self.value += self.alpha * (x - self.value)
        return self.value


@dataclass
class WilderAtr:
    """Average true range with Wilder's smoothing (seeded by the mean of the first TRs)."""

    period: int
    value: float | None = None
    _prev_close: float | None = None
    _n: int = 0
    _sum: float = 0.0

    def update(self, high: float, low: float, close: float) -> float | None:
        if self._prev_close is None:
            tr = high - low
        else:
            tr = max(high - low, abs(high - self._prev_close), abs(low - self._prev_close))
        self._prev_close = close
        self._n += 1
        if self._n < self.period:
            self._sum += tr
        elif self._n == self.period:
            self.value = (self._sum + tr) / self.period
        else:
            assert self.value is not None
            self.value = (self.value * (self.period - 1) + tr) / self.period
        return self.value

    @property
    def partial(self) -> float | None:
        """Mean true range so far while warming up (quotes need a spread from bar one)."""
        if self.value is not None:
            return self.value
        return self._sum / self._n if self._n else None


@dataclass
class EwmaVol:
    """Exponentially weighted RMS of returns (zero-mean volatility, RiskMetrics style)."""

    halflife: int
    warmup: int
    _var: float | None = None
    _n: int = 0
    _lambda: float = field(init=False)

    def __post_init__(self) -> None:
        self._lambda = 0.5 ** (1.0 / self.halflife)

    @property
    def value(self) -> float | None:
        if self._var is None or self._n < self.warmup:
            return None
        return math.sqrt(self._var)

    def update(self, r: float) -> float | None:
        sq = r * r
        self._var = sq if self._var is None else self._lambda * self._var + (1 - self._lambda) * sq
        self._n += 1
        return self.value
