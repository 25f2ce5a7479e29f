"""Cross-market divergence: streams that should track each other, compared bar by bar.

Example: BTC quoted in USD, USDT and USDC. The basis of each member to the
reference, in bps, is smoothed by a short median (zero-volume minutes repeat a
stale price) and judged against warning and critical levels with hysteresis:
one report when an episode reaches a level, one when it has converged again.
The converged report carries the whole episode (start, end, duration, peak and
its time, daily mean basis); while an episode lasts, ``open_episode`` gives the
same figures so far (the stream's headline in ``dq-freshness``).

Bars of different streams arrive on different partitions, in any interleaving.
Closes are buffered by open time and a minute is judged only once both legs of
a pair have moved past it (a watermark), so the findings do not depend on
arrival order, and a leg that is not fed at all does not hold the others back.
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from agents.dq.findings import CRITICAL, INFO, WARNING, Finding, iso, num
from connectors.feeds.normalize import interval_ms
from streams.config import CrossMarketGroup

LEVELS = {0: INFO, 1: WARNING, 2: CRITICAL}


@dataclass
class _Pair:
    """Basis state of one member against the reference."""

    window: deque[float]
    level: int = 0
    start: int | None = None
    peak: float = 0.0
    peak_at: int | None = None
    calm: int = 0
    worst: int = 0  # highest level reached in the episode
    last_basis: float = 0.0
    days: dict[int, list[float]] = field(default_factory=dict)  # UTC day -> [sum, n] raw basis


@dataclass
class CrossMarketCheck:
    """One group: a reference stream and its members."""

    group: CrossMarketGroup
    pending: dict[int, dict[str, tuple[float, int]]] = field(default_factory=dict)
    latest: dict[str, int] = field(default_factory=dict)
    pairs: dict[str, _Pair] = field(default_factory=dict)
    judged: dict[str, int] = field(default_factory=dict)  # member -> last open time judged
    skipped: dict[str, int] = field(default_factory=dict)  # member -> minutes never compared
    _floor: int | None = None

    def __post_init__(self) -> None:
        self.legs = (self.group.reference, *self.group.members)
        self.step = interval_ms(self.group.interval)
        for m in self.group.members:
            self.pairs[m] = _Pair(deque(maxlen=self.group.smoothing_bars))

    def wants(self, stream: str, interval: str) -> bool:
        return interval == self.group.interval and stream in self.legs

    def critical_streams(self) -> set[str]:
        return {m for m, p in self.pairs.items() if p.level == 2}

    def open_episode(self, member: str) -> dict[str, str] | None:
        """The divergence episode ``member`` is in, as evidence text; None when calm."""
        p = self.pairs.get(member)
        if p is None or not p.level or p.start is None:
            return None
        return {
            "check": "cross_market_divergence",
            "severity": LEVELS[p.worst],
            "group": self.group.name,
            "reference": self.group.reference,
            "start": iso(p.start),
            "basis_bps": num(p.last_basis),
            "peak_bps": num(p.peak),
            "peak_at": iso(p.peak_at or p.start),
            "daily_mean_bps": _daily(p.days),
        }

    def add(self, stream: str, open_time: int, close: float, ts_ingest: int) -> list[Finding]:
        """Record one usable close; judge every minute both legs of a pair have passed."""
        self.pending.setdefault(open_time, {})[stream] = (close, ts_ingest)
        if open_time > self.latest.get(stream, -1):
            self.latest[stream] = open_time
        ref = self.group.reference
        out: list[Finding] = []
        if ref in self.latest:
            for member in self.group.members:
                if member in self.latest:
                    out.extend(self._advance(member, min(self.latest[ref], self.latest[member])))
        out.extend(self._forget(ts_ingest))
        return out

    def _advance(self, member: str, watermark: int) -> list[Finding]:
        done = self.judged.get(member)
        if done is not None and watermark <= done:
            return []
        if done is None:
            times: Iterable[int] = sorted(t for t in self.pending if t <= watermark)
        else:
            times = range(done + self.step, watermark + 1, self.step)
        out: list[Finding] = []
        ref = self.group.reference
        for t in times:
            closes = self.pending.get(t)
            if closes and ref in closes and member in closes:
                (rpx, ringest), (px, ingest) = closes[ref], closes[member]
                out.extend(self._judge(member, t, rpx, px, max(ringest, ingest)))
        self.judged[member] = watermark
        return out

    def _forget(self, ts_ingest: int) -> list[Finding]:
        """Drop minutes every member has judged; bound the buffer if a leg lags for long.

        A minute dropped before a member could judge it is a comparison that never
        happened: the first skip of each member is reported, and every skipped minute
        is counted in `skipped`; nothing is lost silently.
        """
        # a member not judged yet (its partition may lag) still needs the reference's closes
        members, bound = self.group.members, self.group.max_lag_bars
        floor = min(self.judged[m] for m in members) if self.judged.keys() >= set(members) else None
        if floor == self._floor and len(self.pending) <= bound:
            return []
        self._floor = floor
        lost: dict[str, list[int]] = {}
        for t in sorted(self.pending):
            if (floor is None or t > floor) and len(self.pending) <= bound:
                break
            for m in members:
                if t > self.judged.get(m, -1):
                    lost.setdefault(m, []).append(t)
            del self.pending[t]
        out: list[Finding] = []
        for m, times in lost.items():
            first_skip = m not in self.skipped
            self.skipped[m] = self.skipped.get(m, 0) + len(times)
            self.judged[m] = max(self.judged.get(m, -1), times[-1])
            if first_skip:
                out.append(
                    self._finding(
                        m,
                        times[-1],
                        ts_ingest,
                        "cross_market_lag",
                        WARNING,
                        f"more than {bound} bars buffered while this leg lags or is not fed;"
                        f" minutes from {iso(times[0])} are not compared",
                        skipped_from=iso(times[0]),
                        max_lag_bars=str(bound),
                    )
                )
        return out

    def _judge(self, member: str, t: int, ref: float, px: float, ts_ingest: int) -> list[Finding]:
        g, p = self.group, self.pairs[member]
        raw = (px / ref - 1.0) * 1e4
        p.window.append(raw)
        basis = statistics.median(p.window)
        p.last_basis = basis
        mag = abs(basis)
        level = 2 if mag >= float(g.critical_bps) else 1 if mag >= float(g.warning_bps) else 0
        out: list[Finding] = []
        if p.level and mag > abs(p.peak):
            p.peak, p.peak_at = basis, t
        if level > p.level and p.level == 0:
            p.start, p.peak, p.peak_at, p.days = t, basis, t, {}
        if p.level or level:
            day = p.days.setdefault(t // 86_400_000, [0.0, 0])
            day[0] += raw
            day[1] += 1
        if level > p.level:
            p.level, p.calm, p.worst = level, 0, max(p.worst, level)
            limit = g.critical_bps if level == 2 else g.warning_bps
            out.append(
                self._finding(
                    member,
                    t,
                    ts_ingest,
                    "cross_market_divergence",
                    LEVELS[level],
                    f"basis to {g.reference} {basis:+.0f} bps (limit {limit} bps)",
                    basis_bps=num(basis),
                    limit_bps=str(limit),
                    reference_close=num(ref, 12),
                    close=num(px, 12),
                )
            )
        elif p.level and mag < float(g.warning_bps) / 2:
            p.calm += 1
            if p.calm >= g.clear_bars:
                start = p.start if p.start is not None else t
                out.append(
                    self._finding(
                        member,
                        t,
                        ts_ingest,
                        "cross_market_converged",
                        INFO,
                        f"basis to {g.reference} back to {basis:+.0f} bps; {LEVELS[p.worst]}"
                        f" episode from {iso(start)}, peak {p.peak:+.0f} bps"
                        f" at {iso(p.peak_at or t)}",
                        basis_bps=num(basis),
                        peak_bps=num(p.peak),
                        peak_at=iso(p.peak_at or t),
                        start=iso(start),
                        end=iso(t),
                        duration_ms=str(t - start + self.step),
                        worst=LEVELS[p.worst],
                        daily_mean_bps=_daily(p.days),
                    )
                )
                p.level, p.start, p.peak, p.peak_at, p.calm = 0, None, 0.0, None, 0
                p.worst, p.days = 0, {}
        else:
            p.calm = 0
        return out

    def _finding(
        self,
        member: str,
        t: int,
        ts_ingest: int,
        check: str,
        severity: str,
        message: str,
        **evidence: str,
    ) -> Finding:
        venue, symbol = member.split(":", 1)
        p = self.pairs[member]
        return Finding(
            venue=venue,
            symbol=symbol,
            check=check,
            severity=severity,
            message=f"{member} {self.group.interval}: {message}",
            ts_event=t + self.step,
            ts_ingest=ts_ingest,
            window_start=p.start,
            window_end=t,
            evidence={"group": self.group.name, "reference": self.group.reference, **evidence},
        )


def _daily(days: dict[int, list[float]]) -> str:
    """Daily mean basis of an episode as stable text: ``2023-03-11 +588.8; ...``."""
    return "; ".join(
        f"{iso(d * 86_400_000)[:10]} {total / n:+.1f}" for d, (total, n) in sorted(days.items())
    )
