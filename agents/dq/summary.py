"""The data-quality summary: what an operator needs first, per stream and per market pair (pure).

``desk dq check`` (files run through the core in process) and ``desk dq report``
(what the running desk published on ``dq.reports`` and ``market.bars.clean``)
both call ``summarize``, so both print the same figures for the same bars:

- per stream: clean bars, expected and missing intervals, coverage, gap runs and
  the longest gap, zero-volume runs, outliers, findings by check and severity, and
  a headline (an open or past cross-market divergence episode beats any single
  finding: a de-peg must not hide behind a stale at the last minute);
- per pair of a cross-market group: the basis (current, peak with its time, daily
  means) and the divergence episodes (start, end, duration, peak).

Coverage is computed from the clean bars, not from findings: a sparse venue's
short quiet spells are counted here although the gate does not report them.
Windows (``--since/--until``) are event time; a duration counts back from the
latest event time in the data, so a replayed March 2023 still answers ``6h``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from agents.dq.calendars import DAY_MS, expected_missing, session_calendar
from agents.dq.findings import iso
from connectors.feeds.normalize import interval_ms
from streams.config import DataQuality

SEVERITY_RANK = {"INFO": 0, "WARNING": 1, "CRITICAL": 2}
STATUS_ORDER = {"CRITICAL": 0, "WARNING": 1, "INFO": 2, "OK": 3}
DIVERGENCE, CONVERGED = "cross_market_divergence", "cross_market_converged"
INTRADAY_RULES = ("24/7", "24/5")
_DURATION = re.compile(r"^(\d+)([smhdw])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass(frozen=True)
class Bound:
    """A window edge: an explicit event time, or a duration back from the data's latest."""

    at_ms: int | None = None
    back_ms: int | None = None

    def resolve(self, latest_ms: int | None) -> int | None:
        if self.at_ms is not None:
            return self.at_ms
        if self.back_ms is None or latest_ms is None:
            return None
        return latest_ms - self.back_ms


def parse_bound(text: str, flag: str = "--since") -> Bound:
    """``--since/--until``: ISO date/time (UTC if no zone) or a duration (``6h``) back from
    the latest event time in the data (not the wall clock: a replay is months old)."""
    m = _DURATION.match(text.strip())
    if m:
        return Bound(back_ms=int(m.group(1)) * _UNIT_S[m.group(2)] * 1000)
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{flag} {text!r}: expected an ISO date/time (2023-03-11, 2023-03-11T07:00) "
            "or a duration back from the data's latest event time (30m, 6h, 3d, 2w)"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return Bound(at_ms=int(when.timestamp() * 1000))


def parse_since(text: str, now: dt.datetime | None = None) -> int:
    """``--since`` against a given clock (``now``, default the wall clock)."""
    bound = parse_bound(text)
    anchor = int((now or dt.datetime.now(dt.UTC)).timestamp() * 1000)
    resolved = bound.resolve(anchor)
    assert resolved is not None
    return resolved


def _edge(value: int | Bound | None, latest: int | None) -> int | None:
    return value.resolve(latest) if isinstance(value, Bound) else value


def summarize(
    reports: Iterable[Mapping[str, Any]],
    clean_bars: Iterable[Mapping[str, Any]] = (),
    since_ms: int | Bound | None = None,
    until_ms: int | Bound | None = None,
    *,
    cfg: DataQuality | None = None,
    calendar_for: Callable[[str, str], str | None] | None = None,
    profile: str | None = None,
    rows_read: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """Per stream and per cross-market pair, in ``[since, until)`` of event time.

    ``cfg`` gives the cross-market groups and each stream's profile (``profile``
    forces one); ``rows_read`` the bars read per stream (``desk dq check``: input
    rows, before the gate dropped any).
    """
    reports, bars = list(reports), list(clean_bars)
    latest = max((x["ts_event"] for x in (*reports, *bars)), default=None)  # the data's own "now"
    lo, hi = _edge(since_ms, latest), _edge(until_ms, latest)

    def inside(ts: int) -> bool:
        return (lo is None or ts >= lo) and (hi is None or ts < hi)

    bars = [b for b in bars if inside(b["ts_event"])]
    reports = sorted(
        (r for r in reports if inside(r["ts_event"])), key=lambda r: (r["ts_event"], r["event_id"])
    )
    per_stream: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for b in bars:
        per_stream[f"{b['venue']}:{b['symbol']}"].append(b)
    found: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    total: Counter[str] = Counter()
    for r in reports:
        found[f"{r['venue']}:{r['symbol']}"].append(r)
        total[r["severity"]] += 1

    pairs = _pairs(bars, reports, cfg) if cfg is not None else []
    episodes_of: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for pair in pairs:
        for e in pair["episodes"]:
            episodes_of[pair["member"]].append(e | {"reference": pair["reference"]})

    rows = []
    for name in sorted({*per_stream, *found, *(rows_read or {})}):
        own = cfg.for_stream(name, profile) if cfg is not None else None
        run_bars = (
            own.zero_volume_run_bars if own is not None else DataQuality().zero_volume_run_bars
        )
        row = _stream_row(
            name, per_stream.get(name, []), found.get(name, []), calendar_for, run_bars
        )
        if cfg is not None and own is not None:
            row["profile"] = profile or cfg.profile_for(name)
            row["density"] = own.density
        if rows_read is not None:
            row["rows"] = rows_read.get(name, 0)
        episodes = episodes_of.get(name)
        if episodes:
            row["headline"] = _episode_headline(name, max(episodes, key=_episode_size))
        rows.append(row)
    all_episodes = [
        (p["member"], e | {"reference": p["reference"]}) for p in pairs for e in p["episodes"]
    ]
    if all_episodes:
        member, top = max(all_episodes, key=lambda me: _episode_size(me[1]))
        headline: dict[str, Any] | None = _episode_headline(member, top)
    else:
        worst = [r["headline"] for r in rows if r.get("headline")]
        headline = max(worst, key=_finding_rank, default=None)
    return {
        "since": iso(lo) if lo is not None else None,
        "until": iso(hi) if hi is not None else None,
        "latest_event": iso(latest) if latest is not None else None,
        "reports": {k: total[k] for k in SEVERITY_RANK},
        "headline": headline,
        "streams": sorted(rows, key=lambda r: (STATUS_ORDER[r["status"]], r["stream"])),
        "pairs": pairs,
    }


# -- per stream ------------------------------------------------------------------------------


def _stream_row(
    name: str,
    bars: list[Mapping[str, Any]],
    reports: list[Mapping[str, Any]],
    calendar_for: Callable[[str, str], str | None] | None,
    run_bars: int,
) -> dict[str, Any]:
    flags: Counter[str] = Counter()
    eod = adj = 0
    for b in bars:
        flags.update(b.get("quality_flags") or ())
        if b.get("interval") == "1d":
            eod += 1
            adj += b.get("adj_close") is not None
    checks: Counter[str] = Counter(f"{r['check']}/{r['severity']}" for r in reports)
    severities = {r["severity"] for r in reports}
    status = max(severities, key=SEVERITY_RANK.__getitem__, default="OK")
    worst = max(reports, key=_report_rank, default=None)
    row: dict[str, Any] = {
        "stream": name,
        "status": status,
        "bars_clean": len(bars),
        "flags": dict(sorted(flags.items())),
        "adj_close_coverage": round(adj / eod, 6) if eod else None,
        "reports": dict(sorted(checks.items())),
        "worst": _finding_json(worst) if worst else None,
        "headline": _finding_json(worst) if worst else None,
    }
    row.update(_coverage(name, bars, calendar_for, run_bars))
    return row


def _coverage(
    name: str,
    bars: list[Mapping[str, Any]],
    calendar_for: Callable[[str, str], str | None] | None,
    run_bars: int,
) -> dict[str, Any]:
    """Expected and missing intervals between the stream's first and last bar, gap runs,
    zero-volume runs (of ``run_bars`` or more, as the gate reports them) and outliers,
    of the stream's main interval (the one with most bars)."""
    if not bars:
        return {"interval": None, "first": None, "last": None, "expected": 0, "missing": 0,
                "coverage": None, "gap_runs": 0, "longest_gap": None, "zero_volume_bars": 0,
                "zero_volume_runs": 0, "longest_zero_volume_run": 0, "outliers": 0}  # fmt: skip
    interval = Counter(b["interval"] for b in bars).most_common(1)[0][0]
    mine = sorted(
        {b["open_time"]: b for b in bars if b["interval"] == interval}.values(),
        key=lambda b: b["open_time"],
    )
    step = interval_ms(interval)
    calendar = calendar_for(name, interval) if calendar_for else None
    sessions = None
    if interval == "1d" and calendar and calendar not in INTRADAY_RULES:
        sessions = session_calendar(calendar)
    missing = runs = 0
    longest: tuple[int, int, int] | None = None  # bars, first missing, last missing
    zero_bars = zero_runs = zero_longest = zero_now = outliers = 0
    prev: int | None = None
    for b in mine:
        t = b["open_time"]
        if prev is not None:
            if sessions is not None and sessions.covers(t // DAY_MS):
                days = sessions.sessions_between(prev // DAY_MS, t // DAY_MS)
                gap = len(days)
                span = (days[0] * DAY_MS, days[-1] * DAY_MS) if days else (0, 0)
            else:
                gap = expected_missing(calendar, prev, t, step)
                span = (prev + step, t - step)
            if gap:
                missing += gap
                runs += 1
                if longest is None or gap > longest[0]:
                    longest = (gap, *span)
        prev = t
        flags = b.get("quality_flags") or ()
        outliers += "outlier" in flags
        if "zero_volume" in flags:
            zero_bars += 1
            zero_now += 1
            zero_longest = max(zero_longest, zero_now)
            zero_runs += zero_now == run_bars
        else:
            zero_now = 0
    expected = len(mine) + missing
    return {
        "interval": interval,
        "first": iso(mine[0]["open_time"]),
        "last": iso(mine[-1]["open_time"]),
        "expected": expected,
        "missing": missing,
        "coverage": round(len(mine) / expected, 6),
        "gap_runs": runs,
        "longest_gap": None
        if longest is None
        else {
            "bars": longest[0],
            "start": iso(longest[1]),
            "end": iso(longest[2]),
            "duration_s": (longest[2] - longest[1]) // 1000 + step // 1000,
        },
        "zero_volume_bars": zero_bars,
        "zero_volume_runs": zero_runs,
        "longest_zero_volume_run": zero_longest,
        "outliers": outliers,
    }


def _report_rank(r: Mapping[str, Any]) -> tuple[int, int, int]:
    """Worst first: severity, then the longest window, then the latest."""
    start, end = r.get("window_start"), r.get("window_end")
    span = end - start if start is not None and end is not None else 0
    return SEVERITY_RANK[r["severity"]], span, r["ts_event"]


def _finding_json(r: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "severity": r["severity"],
        "check": r["check"],
        "at": iso(r["ts_event"]),
        "message": r["message"],
    }


def _finding_rank(h: Mapping[str, Any]) -> int:
    return SEVERITY_RANK.get(h["severity"], 0)


# -- per pair of a cross-market group ---------------------------------------------------------


def _pairs(
    bars: list[Mapping[str, Any]], reports: list[Mapping[str, Any]], cfg: DataQuality
) -> list[dict[str, Any]]:
    """Basis of every member to its group's reference, from the clean closes, and the
    divergence episodes the gate reported (their peaks measured on the same closes)."""
    closes: dict[tuple[str, str], dict[int, float]] = defaultdict(dict)
    for b in bars:
        closes[(f"{b['venue']}:{b['symbol']}", b["interval"])][b["open_time"]] = float(b["close"])
    out = []
    for g in cfg.cross_market:
        ref = closes.get((g.reference, g.interval), {})
        step = interval_ms(g.interval)
        for member in g.members:
            px = closes.get((member, g.interval), {})
            times = sorted(ref.keys() & px.keys())
            if not times:
                continue
            basis = [(t, (px[t] / ref[t] - 1.0) * 1e4) for t in times]
            episodes = _episodes(member, g.name, reports, basis, step)
            out.append(
                {
                    "group": g.name,
                    "reference": g.reference,
                    "member": member,
                    "interval": g.interval,
                    "compared": len(basis),
                    **_basis_stats(basis),
                    "episodes": episodes,
                }
            )
    return out


def _basis_stats(basis: list[tuple[int, float]]) -> dict[str, Any]:
    """Current, peak (largest magnitude, signed, with its time), mean and daily means (bps)."""
    t_peak, peak = max(basis, key=lambda tb: abs(tb[1]))
    days: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for t, b in basis:
        d = days[t // DAY_MS]
        d[0] += b
        d[1] += 1
    return {
        "current_bps": round(basis[-1][1], 2),
        "current_at": iso(basis[-1][0]),
        "peak_bps": round(peak, 2),
        "peak_at": iso(t_peak),
        "mean_bps": round(sum(b for _, b in basis) / len(basis), 2),
        "daily_mean_bps": {
            iso(day * DAY_MS)[:10]: round(s / n, 2) for day, (s, n) in sorted(days.items())
        },
    }


def _episodes(
    member: str,
    group: str,
    reports: list[Mapping[str, Any]],
    basis: list[tuple[int, float]],
    step: int,
) -> list[dict[str, Any]]:
    """Divergence episodes of one member: opened by its divergence reports, closed by the
    converged one (an episode already open when the window starts, or still open at its
    end, is cut there and says so)."""
    spans: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for r in reports:
        if f"{r['venue']}:{r['symbol']}" != member or r.get("evidence", {}).get("group") != group:
            continue
        if r["check"] == DIVERGENCE:
            if current is None:
                current = {"start": r["window_start"], "severity": r["severity"], "end": None}
                spans.append(current)
            elif SEVERITY_RANK[r["severity"]] > SEVERITY_RANK[current["severity"]]:
                current["severity"] = r["severity"]
        elif r["check"] == CONVERGED:
            if current is None:  # opened before the window: the report carries its start
                current = {"start": r["window_start"], "severity": "WARNING", "end": None}
                current["severity"] = r.get("evidence", {}).get("worst", "WARNING")
                spans.append(current)
            current["end"] = r["window_end"]
            current["smoothed_peak_bps"] = float(r["evidence"]["peak_bps"])
            current = None
    out = []
    for s in spans:
        start = s["start"] if s["start"] is not None else basis[0][0]
        end = s["end"]
        inside = [(t, b) for t, b in basis if t >= start and (end is None or t <= end)]
        if not inside:
            continue
        stats = _basis_stats(inside)
        last = end if end is not None else inside[-1][0]
        out.append(
            {
                "severity": s["severity"],
                "start": iso(start),
                "end": iso(end) if end is not None else None,
                "ongoing": end is None,
                "duration_s": (last - start + step) // 1000,
                "peak_bps": stats["peak_bps"],
                "peak_at": stats["peak_at"],
                "smoothed_peak_bps": s.get("smoothed_peak_bps"),
                "daily_mean_bps": stats["daily_mean_bps"],
            }
        )
    return out


def _episode_size(e: Mapping[str, Any]) -> tuple[int, float]:
    return SEVERITY_RANK[e["severity"]], abs(e["peak_bps"])


def _episode_headline(member: str, e: Mapping[str, Any]) -> dict[str, Any]:
    """A divergence episode as the headline of its stream (and of the whole summary)."""
    until = "ongoing" if e["ongoing"] else f"until {e['end']}"
    hours = e["duration_s"] / 3600
    return {
        "severity": e["severity"],
        "check": DIVERGENCE,
        "stream": member,
        "at": e["peak_at"],
        "message": (
            f"{member} vs {e['reference']}: {e['severity']} divergence from {e['start']} "
            f"({until}, {hours:.1f} h), peak {e['peak_bps']:+,.0f} bps at {e['peak_at']}"
        ),
        "episode": dict(e),
    }
