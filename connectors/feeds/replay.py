"""Replay read bars into ``market.bars`` as fast as possible, in real time, or N times faster.

Pacing follows event time: bar k goes out ``(ts_k - ts_0) / speed`` seconds after
the first one. Or it follows the desk (``Follower``, ``--speed follow``): as fast as
the desk takes the bars, never more than ``lead`` bars ahead of what it has
committed, so a replay cannot pile a backlog onto the desk whatever its speed.
The clock and the sleep are injected so the pacing is testable
without waiting. Rows the reader rejected go to ``deadletter`` first (they are
known before the first bar goes out), as ``DeadLetter`` events naming the file
and line, with the raw row.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from connectors.feeds.files import Reject
from streams.deadletter import dead_letter_record
from streams.errors import DeskError
from streams.topics import stream_key

SOURCE = "feed.replay"
_SPEED_RE = re.compile(r"x?(\d+(?:\.\d*)?|\.\d+)", re.IGNORECASE)


class Sink(Protocol):
    """What the replay needs of a producer (``streams.kafka.EventProducer`` is one)."""

    def send(self, topic: str, key: str, event: Mapping[str, Any]) -> None: ...

    def flush(self, timeout_s: float = 30.0) -> None: ...


def parse_speed(text: str | float | None) -> float | None:
    """``asap`` → None (no pacing), ``realtime`` → 1.0, ``x10``/``10``/``0.5`` → that factor."""
    if text is None:
        return None
    if isinstance(text, int | float):
        factor = float(text)
    else:
        t = text.strip().lower()
        if t == "asap":
            return None
        if t == "realtime":
            return 1.0
        m = _SPEED_RE.fullmatch(t)
        if m is None:
            raise DeskError(f"bad speed {text!r}: use asap, realtime, x<N> (e.g. x60) or a number")
        factor = float(m.group(1))
    if factor <= 0:
        raise DeskError(f"bad speed {text!r}: the factor must be above 0")
    return factor


class Pacer:
    """Sleeps so that event time advances ``speed`` times faster than the clock."""

    def __init__(
        self,
        speed: float | None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.speed = speed
        self.clock = clock
        self.sleep = sleep
        self._start: tuple[float, int] | None = None  # (clock, event ms) of the first event

    def wait(self, ts_ms: int) -> float:
        """Sleep until ``ts_ms`` is due; returns the seconds slept (0 when late or asap)."""
        if self.speed is None:
            return 0.0
        if self._start is None:
            self._start = (self.clock(), ts_ms)
            return 0.0
        t0, e0 = self._start
        delay = t0 + (ts_ms - e0) / 1000.0 / self.speed - self.clock()
        if delay <= 0:
            return 0.0
        self.sleep(delay)
        return delay


class Follower:
    """Holds the feed at most ``lead`` bars ahead of the desk.

    ``taken()`` says how many of this replay's bars the desk has taken (its consumer
    group's committed offsets, ``streams.kafka.GroupProgress``). It is asked only when
    the feed reaches the lead; what was sent is flushed first so the desk can catch up.
    A desk that takes nothing for ``stall_s`` is a clear error, not a hang.
    """

    def __init__(
        self,
        taken: Callable[[], int],
        lead: int = 5000,
        *,
        poll_s: float = 0.2,
        stall_s: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if lead < 1:
            raise DeskError(f"bad lead {lead}: the feed must be allowed at least one bar ahead")
        self.taken, self.lead, self.poll_s, self.stall_s = taken, lead, poll_s, stall_s
        self.clock, self.sleep = clock, sleep
        self._known = 0  # the desk had taken at least this many when last asked

    def wait(self, sent: int, sink: Sink) -> float:
        """Before sending bar number ``sent`` (0-based): wait while the desk is ``lead``
        behind; returns the seconds waited."""
        if sent - self._known < self.lead:
            return 0.0
        sink.flush()
        start = last_move = self.clock()
        while True:
            taken = self.taken()
            if taken > self._known:
                self._known, last_move = taken, self.clock()
            if sent - self._known < self.lead:
                return self.clock() - start
            if self.clock() - last_move > self.stall_s:
                raise DeskError(
                    f"the desk took no bar for {self.stall_s:.0f} s ({self._known} of {sent} "
                    "sent): is it up? what was sent stays on the broker"
                )
            self.sleep(self.poll_s)


def reject_dead_letter(reject: Reject) -> dict[str, Any]:
    """A ``DeadLetter`` for a file row: topic ``file:<name>``, offset = line, raw row kept."""
    record = dead_letter_record(
        topic=f"file:{Path(reject.file).name}",
        partition=0,
        offset=reject.line,
        key=None,
        raw=reject.raw.encode(),
        error=f"line {reject.line}: {reject.reason}",
        kind="decode",
        agent=SOURCE,
        ts_ms=reject.ts_ms,
    )
    record["source"] = SOURCE  # the helper names agents; here the replay feed wrote it
    return record


@dataclass
class ReplayStats:
    bars: int
    dead_letters: int
    seconds: float
    slept: float


def replay(
    bars: Sequence[Mapping[str, Any]],
    rejects: Sequence[Reject],
    sink: Sink,
    speed: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[int, int], None] | None = None,
    progress_every: int = 2000,
    follow: Follower | None = None,
) -> ReplayStats:
    """Send the rejects to ``deadletter``, then the bars (in their order) to ``market.bars``
    (paced by ``speed``, or held behind the desk by ``follow``)."""
    t0 = time.perf_counter()
    pacer = Pacer(speed, clock, sleep)
    total = len(bars) + len(rejects)
    done = 0
    for r in rejects:
        dead = reject_dead_letter(r)
        sink.send("deadletter", dead["topic"], dead)
        done += 1
    slept = 0.0
    try:
        for i, bar in enumerate(bars):
            slept += pacer.wait(int(bar["ts_event"]))
            if follow is not None:
                slept += follow.wait(i, sink)
            sink.send("market.bars", stream_key(bar), bar)
            done += 1
            if progress is not None and (done % progress_every == 0 or speed is not None):
                progress(done, total)
    except KeyboardInterrupt:  # an operator stopping a slow replay: what was sent still lands
        sink.flush()
        raise
    sink.flush()
    if progress is not None:
        progress(done, total)
    return ReplayStats(len(bars), len(rejects), time.perf_counter() - t0, slept)
