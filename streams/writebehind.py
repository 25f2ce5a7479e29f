"""Stores off the hot path: write-behind with acknowledgements deferred until a write lands.

An agent that waited for PostgreSQL or ClickHouse on every input froze with the
store, and, because one Faust consumer feeds every agent of a worker, froze the
whole desk with it (a 60 s PostgreSQL stall stopped every decision). Here the
agent hands over what must be written and the input events it covers, and goes
on; a background task writes and only then acknowledges those events. Faust
commits a partition's offset only up to its first unacknowledged message, so
after a crash the broker re-delivers exactly the inputs whose effect is not yet
durable (at-least-once; every writer here is idempotent).

Two shapes:

* ``Checkpointer``: an agent's whole state. Saves coalesce: the saver takes the
  state as it is *now*, under the agent's lock, so one save covers every input
  applied so far and a stalled store costs one save when it comes back, not one
  per input.
* ``RowBuffer``: a sink's rows, written in batches in arrival order.

Both are bounded: past ``max_pending`` unwritten inputs the agent waits
(backpressure), and ``status()`` says how far behind the store is, since when,
and why, for ``desk status`` and the alerts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from connectors.retry import until_done
from streams.metrics import WRITE_BACKLOG

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class Backlog:
    """What a writer owes its store, for status and alerts."""

    name: str
    pending: int = 0
    oldest_wall: float | None = None  # wall time the oldest unwritten input was handed over
    last_written_wall: float | None = None
    failing_since: float | None = None
    last_error: str | None = None
    written: int = 0

    def to_json(self, now: float | None = None) -> dict[str, Any]:
        now = time.time() if now is None else now
        return {
            "name": self.name,
            "pending": self.pending,
            "behind_s": None if self.oldest_wall is None else round(now - self.oldest_wall, 1),
            "failing_for_s": (
                None if self.failing_since is None else round(now - self.failing_since, 1)
            ),
            "last_error": self.last_error,
            "written": self.written,
        }


def _ack(events: Sequence[Any]) -> None:
    for e in events:
        e.ack()


class _Writer:
    def __init__(self, name: str, max_pending: int) -> None:
        self.backlog = Backlog(name)
        self.max_pending = max_pending
        self._events: list[Any] = []
        self._inflight: list[Any] = []  # taken by the writer, not yet written
        self._pending_since: float | None = None
        self._inflight_since: float | None = None
        self._wake = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._task: asyncio.Task[None] | None = None

    def _retried(self, exc: BaseException | None = None) -> None:
        if self.backlog.failing_since is None:
            self.backlog.failing_since = time.time()
        if exc is not None:
            self.backlog.last_error = str(exc).splitlines()[0][:200] if str(exc) else None

    def _take(self, n: int | None = None) -> list[Any]:
        """The writer takes the oldest ``n`` (all) pending inputs; they stay owed until written."""
        n = len(self._events) if n is None else n
        taken, self._events = self._events[:n], self._events[n:]
        self._inflight, self._inflight_since = taken, self._pending_since
        if not self._events:
            self._pending_since = None
        return taken

    def _written(self, n: int) -> None:
        b = self.backlog
        self._inflight, self._inflight_since = [], None
        b.written += n
        b.pending = len(self._events)
        b.last_written_wall = time.time()
        b.failing_since, b.last_error = None, None
        b.oldest_wall = self._pending_since
        WRITE_BACKLOG.labels(b.name).set(b.pending)
        if b.pending < self.max_pending:
            self._room.set()

    async def room(self) -> None:
        """Wait while the writer holds ``max_pending`` inputs (the store is behind): call it
        *before* taking the agent's lock, which the writer needs to capture the state."""
        await self._room.wait()

    async def _handed(self, events: Sequence[Any], wait: bool = True) -> None:
        if self._pending_since is None and events:
            self._pending_since = time.time()
        self._events.extend(events)
        self.backlog.pending = len(self._events) + len(self._inflight)
        self.backlog.oldest_wall = self._inflight_since or self._pending_since
        WRITE_BACKLOG.labels(self.backlog.name).set(self.backlog.pending)
        self._start()
        self._wake.set()
        if len(self._events) >= self.max_pending:
            if self._room.is_set():
                log.warning("%s: %d inputs not yet written; waiting for the store",
                            self.backlog.name, len(self._events))  # fmt: skip
            self._room.clear()
            if wait:
                await self._room.wait()

    def _start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._loop())

    async def _loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self._write_pending()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # not transient: logged, the same inputs retried
                self._events[:0], self._inflight = self._inflight, []  # still owed, in order
                self._inflight_since = None
                self._retried(exc)
                log.error("%s: write failed: %s", self.backlog.name, exc)
                await asyncio.sleep(1.0)
                self._wake.set()

    async def _write_pending(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    async def flush(self, timeout_s: float = 10.0) -> bool:
        """Write what is pending now (a graceful stop); False if the store did not take it."""
        if not (self._events or self._inflight):
            return True
        self._start()
        self._wake.set()
        deadline = time.monotonic() + timeout_s
        while (self._events or self._inflight) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return not (self._events or self._inflight)


class Checkpointer(_Writer, Generic[T]):
    """Write-behind of one agent's state (see the module doc).

    ``capture`` runs under the agent's ``lock`` and returns the state to save;
    ``save`` runs in a thread and is retried while ``transient`` says so.
    """

    def __init__(
        self,
        name: str,
        lock: asyncio.Lock,
        capture: Callable[[], T],
        save: Callable[[T], None],
        *,
        transient: Callable[[BaseException], bool] = lambda exc: True,
        max_pending: int = 20_000,
        min_interval_s: float = 0.0,
    ) -> None:
        super().__init__(name, max_pending)
        self.lock, self.capture, self.save, self.transient = lock, capture, save, transient
        self.min_interval_s = min_interval_s  # a cadence: saves no closer than this

    async def applied(self, events: Sequence[Any]) -> None:
        """The agent applied these inputs (call it holding the agent's lock). It never
        waits: the writer needs that lock; the agent waits in ``room()`` before taking it."""
        await self._handed(events, wait=False)

    async def _write_pending(self) -> None:
        if not self._events:
            return
        async with self.lock:
            state, events = self.capture(), self._take()
        await until_done(f"{self.backlog.name} save", lambda: self.save(state),
                         transient=self.transient, on_retry=self._retried)  # fmt: skip
        _ack(events)
        self._written(len(events))
        if self.min_interval_s:
            await asyncio.sleep(self.min_interval_s)  # inputs meanwhile wait for the next one


class RowBuffer(_Writer):
    """Write-behind of a sink's rows: batches in arrival order, each acked once written.

    ``write(values)`` runs as a coroutine (it may retry); it returns once the
    batch is in the store."""

    def __init__(
        self,
        name: str,
        write: Callable[[list[Any]], Awaitable[None]],
        *,
        batch: int = 1000,
        max_pending: int = 100_000,
    ) -> None:
        super().__init__(name, max_pending)
        self.write, self.batch = write, batch

    async def add(self, events: Sequence[Any]) -> None:
        await self._handed(events)

    async def _write_pending(self) -> None:
        while self._events:
            events = self._take(self.batch)
            await self.write(events)
            _ack(events)
            self._written(len(events))
