"""Resume a replay from where the desk's analytics store says the desk got to.

A replay stopped half-way (Ctrl-C, a crash, a stopped desk) is run again with
``--resume``. Per stream (venue, symbol, interval) the store is asked for the
latest bar open time ``market_bars`` holds (raw bars: what the broker accepted
and the sink stored) *within the span this replay covers*, and every bar of the
stream at or before it is skipped. Bar ids are deterministic, so a re-sent bar
would be de-duplicated downstream anyway: resuming saves re-sending days.

Why the span: a desk that also holds later bars of a stream (a live feed, a
later window) has not got an older window just because its latest bar is newer;
asking within the replay's own span makes ``--since`` win over an older point
and a never-seen stream replay in full.

Why the count: the latest stored bar says how far the desk got only if
everything before it (in the span) is there too. A stream whose store holds
fewer distinct open times up to that point than the files do has a *gap* (an
earlier replay of a later part, a bar the sink set aside); it is replayed in
full (ids keep it exact) and reported, never skipped past silently.

Everything here is pure (bars and the store's rows in, a plan out) so it is
tested without a desk; ``desk feed replay`` (``streams.cli.replay``) asks the store.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Stream = tuple[str, str, str]  # venue, symbol, interval
TABLE = "market_bars"  # raw bars: what the broker accepted and the sink stored


def stream_of(bar: Mapping[str, Any]) -> Stream:
    return (str(bar["venue"]), str(bar["symbol"]), str(bar["interval"]))


def stream_name(stream: Stream) -> str:
    """``venue:symbol:interval``, as ``overlapping_streams`` names streams."""
    return ":".join(stream)


def iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000))


@dataclass(frozen=True)
class Stored:
    """What the store holds of one stream within the replay's span."""

    until: int  # the latest open time stored (ms)
    bars: int  # distinct open times stored in the span


def spans(bars: Iterable[Mapping[str, Any]]) -> dict[Stream, tuple[int, int]]:
    """Per stream, the first and last ``ts_event`` of the bars to replay (the store's
    partition and sort key: the query reads only those days of those streams)."""
    out: dict[Stream, tuple[int, int]] = {}
    for b in bars:
        k, ts = stream_of(b), int(b["ts_event"])
        lo, hi = out.get(k, (ts, ts))
        out[k] = (min(lo, ts), max(hi, ts))
    return out


def _text(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def stored_sql(streams: Mapping[Stream, tuple[int, int]], table: str = TABLE) -> str:
    """Per stream: the latest open time and the distinct open times the table holds in the
    stream's span. One read-only statement (``desk sql`` rules); no streams, no rows."""
    if not streams:
        return f"SELECT venue, symbol, `interval`, 0, 0 FROM {table} WHERE 0"
    where = "\n   OR ".join(
        f"(venue = {_text(v)} AND symbol = {_text(s)} AND `interval` = {_text(i)} "
        f"AND ts_event BETWEEN {int(lo)} AND {int(hi)})"
        for (v, s, i), (lo, hi) in sorted(streams.items())
    )
    return (
        f"SELECT venue, symbol, `interval`, max(open_time), uniqExact(open_time)\n"
        f"FROM {table}\nWHERE {where}\nGROUP BY venue, symbol, `interval`"
    )


def parse_stored(rows: Iterable[Sequence[Any]]) -> dict[Stream, Stored]:
    """The rows of :func:`stored_sql` (values as the store's JSON gives them)."""
    return {
        (str(v), str(s), str(i)): Stored(int(until), int(n))
        for v, s, i, until, n in rows
        if int(n) > 0
    }


def resume_points(
    bars: Iterable[Mapping[str, Any]], stored: Mapping[Stream, Stored]
) -> tuple[dict[Stream, int], dict[Stream, tuple[int, int]]]:
    """Per stream the open time to resume after, and the streams with a gap.

    A stream the store has never seen gets no point (replayed in full). A gap
    — the store holds fewer distinct open times up to its latest than the bars
    do — also gets no point; it is returned as ``(stored, expected)``.
    """
    expected: dict[Stream, set[int]] = {}
    for b in bars:
        k = stream_of(b)
        s = stored.get(k)
        if s is not None and int(b["open_time"]) <= s.until:
            expected.setdefault(k, set()).add(int(b["open_time"]))
    points: dict[Stream, int] = {}
    gaps: dict[Stream, tuple[int, int]] = {}
    for k, s in stored.items():
        want = len(expected.get(k, ()))
        if s.bars < want:
            gaps[k] = (s.bars, want)
        else:
            points[k] = s.until
    return points, gaps


def resume_filter(
    bars: Iterable[Mapping[str, Any]], resume_points: Mapping[Stream, int]
) -> tuple[list[Mapping[str, Any]], dict[Stream, int]]:
    """The bars opening after their stream's point (order kept), and per stream how many
    were skipped. Compared bar by bar, so duplicates and out-of-order bars are judged on
    their own open time; a stream without a point keeps every bar."""
    kept: list[Mapping[str, Any]] = []
    skipped: dict[Stream, int] = {}
    for b in bars:
        k = stream_of(b)
        point = resume_points.get(k)
        if point is not None and int(b["open_time"]) <= point:
            skipped[k] = skipped.get(k, 0) + 1
        else:
            kept.append(b)
    return kept, skipped


@dataclass
class ResumePlan:
    """What ``--resume`` decided: the bars to send and, per stream, why."""

    bars: list[Mapping[str, Any]]
    stored_until: dict[Stream, int | None]
    skipped: dict[Stream, int]
    resumed_from: dict[Stream, int | None]  # open time of the first bar sent; None: none left
    gaps: dict[Stream, tuple[int, int]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Keys are ``venue:symbol:interval``; times ISO-8601 UTC (bar open times)."""
        names = sorted(self.stored_until)

        def when(ms: int | None) -> str | None:
            return None if ms is None else iso(ms)

        return {
            "skipped": {stream_name(k): self.skipped.get(k, 0) for k in names},
            "resumed_from": {stream_name(k): when(self.resumed_from[k]) for k in names},
            "stored_until": {stream_name(k): when(self.stored_until[k]) for k in names},
            "gaps": {
                stream_name(k): {"stored": s, "expected": e}
                for k, (s, e) in sorted(self.gaps.items())
            },
        }


def plan(bars: Sequence[Mapping[str, Any]], stored: Mapping[Stream, Stored]) -> ResumePlan:
    """The resume decision for ``bars`` given what the store holds of their streams."""
    points, gaps = resume_points(bars, stored)
    kept, skipped = resume_filter(bars, points)
    first: dict[Stream, int] = {}
    for b in kept:
        k, t = stream_of(b), int(b["open_time"])
        first[k] = min(first.get(k, t), t)
    every = {stream_of(b) for b in bars}
    return ResumePlan(
        bars=kept,
        stored_until={k: stored[k].until if k in stored else None for k in every},
        skipped=skipped,
        resumed_from={k: first.get(k) for k in every},
        gaps=gaps,
    )
