"""Store writes from an agent: retry a blocking call until it succeeds.

A sink or checkpoint that gives up loses data or commits offsets past rows
that never landed, so an agent waits out an unreachable store instead: the
call runs in a thread (the event loop keeps serving), transient failures are
retried with jittered exponential backoff, forever, each one logged and
counted; anything else is raised at once.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import TypeVar

from connectors.feeds.backoff import BackoffPolicy

T = TypeVar("T")
log = logging.getLogger(__name__)
STORE_BACKOFF = BackoffPolicy(base_s=0.2, cap_s=10.0)


async def until_done(
    what: str,
    fn: Callable[[], T],
    *,
    transient: Callable[[BaseException], bool] = lambda exc: True,
    on_retry: Callable[[], object] | None = None,
    policy: BackoffPolicy = STORE_BACKOFF,
    rng: random.Random | None = None,
) -> T:
    """``fn()`` in a thread, retried while it fails transiently; returns its result."""
    rng = rng or random.Random()
    retry = 0
    while True:
        try:
            return await asyncio.to_thread(fn)
        except Exception as exc:
            if not transient(exc):
                raise
            delay = policy.delay(min(retry, 8), rng)
            if on_retry is not None:
                on_retry()
            log.warning("%s failed (%s); retry %d in %.1f s", what, exc, retry, delay)
            retry += 1
            await asyncio.sleep(delay)
