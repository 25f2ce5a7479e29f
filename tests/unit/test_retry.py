"""The store-write retry loop the sinks and the portfolio checkpoint share."""

from __future__ import annotations

import asyncio
import random

import pytest

from connectors.feeds.backoff import BackoffPolicy
from connectors.retry import until_done

FAST = BackoffPolicy(base_s=0.001, cap_s=0.002)


class Flaky:
    """Fails ``n`` times with ``exc``, then answers."""

    def __init__(self, n: int, exc: Exception) -> None:
        self.n, self.exc, self.calls = n, exc, 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.n:
            raise self.exc
        return "written"


def test_transient_failures_are_retried_until_the_call_succeeds() -> None:
    call, retries = Flaky(5, ConnectionError("store down")), []
    got = asyncio.run(
        until_done(
            "write",
            call,
            transient=lambda e: isinstance(e, ConnectionError),
            on_retry=lambda: retries.append(1),
            policy=FAST,
            rng=random.Random(1),
        )
    )
    assert (got, call.calls, len(retries)) == ("written", 6, 5)


def test_a_permanent_failure_is_raised_at_once() -> None:
    call = Flaky(5, ValueError("bad row"))
    with pytest.raises(ValueError, match="bad row"):
        asyncio.run(
            until_done(
                "write", call, transient=lambda e: isinstance(e, ConnectionError), policy=FAST
            )
        )
    assert call.calls == 1


def test_retries_are_logged_with_what_failed(caplog: pytest.LogCaptureFixture) -> None:
    asyncio.run(until_done("portfolio checkpoint save", Flaky(1, OSError("refused")), policy=FAST))
    assert "portfolio checkpoint save failed (refused); retry 0" in caplog.text
