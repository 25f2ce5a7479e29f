"""Retrying exchange calls: exponential backoff with jitter, transient errors only.

An exchange that says "slow down" (HTTP 429/418), is briefly down (5xx,
maintenance) or times out will usually answer a little later; a bad symbol or
a rejected key will not, so those fail at once with one line naming the
exchange and the symbol. The RNG and the sleep are injected so tests are
deterministic and never sleep.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import ccxt

from streams.errors import DeskError
from streams.redact import redact

T = TypeVar("T")


class FeedError(DeskError):
    """An exchange call that failed for good; the message is one line."""


class FeedUnavailable(FeedError):
    """Transient failures outlasted the retry budget: the exchange may answer later."""


def is_transient(exc: BaseException) -> bool:
    """Worth retrying: ccxt's ``OperationFailed`` family (network, 429/418, 5xx, timeouts).

    ``ExchangeError`` and its subclasses (``BadSymbol``, ``AuthenticationError``,
    ``BadRequest``...) are the exchange refusing the request itself: never retried.
    """
    return isinstance(exc, ccxt.OperationFailed)


def one_line(exc: BaseException, limit: int = 240) -> str:
    """``Type: first line of the message``, shortened (ccxt messages embed whole bodies)
    and redacted (they embed request URLs too: ``signature=``, keys)."""
    text = " ".join(redact(str(exc)).split()) or "(no message)"
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{type(exc).__name__}: {text}"


@dataclass(frozen=True)
class BackoffPolicy:
    """Delay before retry ``n`` (0-based): ``min(cap, base * 2**n)``, jittered down.

    With ``jitter=0.5`` a delay lies in ``[d/2, d]`` ("equal jitter"): clients
    that failed together do not retry together, and each delay is still at least
    as long as the previous one until the cap is reached.
    """

    base_s: float = 0.5
    cap_s: float = 30.0
    max_attempts: int = 6  # calls in total, the first one included
    jitter: float = 0.5
    max_retry_after_s: float = 300.0  # a longer Retry-After (an IP ban) gives up instead

    def __post_init__(self) -> None:
        if self.base_s <= 0 or self.cap_s < self.base_s:
            raise ValueError("backoff needs 0 < base_s <= cap_s")
        if self.max_attempts < 1:
            raise ValueError("backoff needs max_attempts >= 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("backoff jitter must be within [0, 1]")

    def delay(self, retry: int, rng: random.Random) -> float:
        raw = min(self.cap_s, self.base_s * 2.0**retry)
        return raw * (1.0 - self.jitter * rng.random())


def _retry_after_s(exchange: ccxt.Exchange, exc: BaseException) -> float | None:
    """Seconds the exchange asked us to wait (``Retry-After`` on a 429/418), if any."""
    if not isinstance(exc, ccxt.DDoSProtection | ccxt.RateLimitExceeded):
        return None
    headers = getattr(exchange, "last_response_headers", None) or {}
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP-date: fall back to our own backoff


@dataclass
class Retrier:
    """Runs exchange calls under a :class:`BackoffPolicy`; counts what it did."""

    exchange: ccxt.Exchange
    policy: BackoffPolicy = field(default_factory=BackoffPolicy)
    rng: random.Random = field(default_factory=random.Random)
    sleep: Callable[[float], object] = time.sleep  # e.g. a stop event's wait
    # the latest retries as (error type, sleep s): what a long-running feed went through
    retries: deque[tuple[str, float]] = field(default_factory=lambda: deque(maxlen=1000))

    def call(self, what: str, symbol: str | None, fn: Callable[[], T]) -> T:
        """``fn()`` with retries; raise a one-line :class:`FeedError` when it cannot succeed."""
        where = f"{self.exchange.id} {symbol}" if symbol else str(self.exchange.id)
        for attempt in range(self.policy.max_attempts):
            try:
                return fn()
            except ccxt.BaseError as exc:
                if not is_transient(exc):
                    msg = f"{where}: {what} failed (not retried): {one_line(exc)}"
                    raise FeedError(msg) from exc
                if attempt + 1 == self.policy.max_attempts:
                    raise FeedUnavailable(
                        f"{where}: {what} still failing after {self.policy.max_attempts} "
                        f"attempts: {one_line(exc)}"
                    ) from exc
                delay = self.policy.delay(attempt, self.rng)
                asked = _retry_after_s(self.exchange, exc)
                if asked is not None:
                    if asked > self.policy.max_retry_after_s:
                        raise FeedUnavailable(
                            f"{where}: {what}: exchange asks to wait {asked:.0f} s "
                            f"(Retry-After), more than {self.policy.max_retry_after_s:.0f} s; "
                            f"try again later: {one_line(exc)}"
                        ) from exc
                    delay = max(delay, asked)
                self.retries.append((type(exc).__name__, delay))
                self.sleep(delay)
        raise AssertionError("unreachable")
