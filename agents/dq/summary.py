"""``desk dq report``: data-quality reports and clean-bar flags summarized per stream (pure)."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from agents.dq.findings import iso

SEVERITY_RANK = {"INFO": 0, "WARNING": 1, "CRITICAL": 2}
_DURATION = re.compile(r"^(\d+)([smhdw])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str, now: dt.datetime | None = None) -> int:
    """``--since``: ISO date/time (UTC if no zone) or a duration back from now (``6h``)."""
    m = _DURATION.match(text.strip())
    if m:
        now = now or dt.datetime.now(dt.UTC)
        return int((now.timestamp() - int(m.group(1)) * _UNIT_S[m.group(2)]) * 1000)
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"--since {text!r}: expected an ISO date/time (2023-03-11, 2023-03-11T07:00) "
            "or a duration (30m, 6h, 3d, 2w)"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return int(when.timestamp() * 1000)


def summarize(
    reports: Iterable[Mapping[str, Any]],
    clean_bars: Iterable[Mapping[str, Any]] = (),
    since_ms: int | None = None,
) -> dict[str, Any]:
    """Per stream: clean bars and their flags, findings by check and severity, the worst one."""
    streams: dict[str, dict[str, Any]] = defaultdict(
        lambda: {
            "bars_clean": 0,
            "flags": Counter(),
            "adj_close": 0,
            "eod_bars": 0,
            "checks": Counter(),
            "severity": Counter(),
            "last": None,
        }
    )
    for bar in clean_bars:
        if since_ms is not None and bar["ts_event"] < since_ms:
            continue
        s = streams[f"{bar['venue']}:{bar['symbol']}"]
        s["bars_clean"] += 1
        s["flags"].update(bar.get("quality_flags") or ())
        if bar.get("interval") == "1d":
            s["eod_bars"] += 1
            s["adj_close"] += bar.get("adj_close") is not None
    total = Counter()
    for r in sorted(reports, key=lambda r: (r["ts_event"], r["event_id"])):
        if since_ms is not None and r["ts_event"] < since_ms:
            continue
        s = streams[f"{r['venue']}:{r['symbol']}"]
        s["checks"][f"{r['check']}/{r['severity']}"] += 1
        s["severity"][r["severity"]] += 1
        total[r["severity"]] += 1
        if (
            s["last"] is None
            or SEVERITY_RANK[r["severity"]] >= SEVERITY_RANK[s["last"]["severity"]]
        ):
            s["last"] = {
                "severity": r["severity"],
                "check": r["check"],
                "at": iso(r["ts_event"]),
                "message": r["message"],
            }
    rows = []
    for name in sorted(streams):
        s = streams[name]
        worst = max(s["severity"], key=SEVERITY_RANK.__getitem__, default="OK")
        rows.append(
            {
                "stream": name,
                "status": worst,
                "bars_clean": s["bars_clean"],
                "flags": dict(sorted(s["flags"].items())),
                "adj_close_coverage": (
                    round(s["adj_close"] / s["eod_bars"], 6) if s["eod_bars"] else None
                ),
                "reports": dict(sorted(s["checks"].items())),
                "worst": s["last"],
            }
        )
    return {
        "since": iso(since_ms) if since_ms is not None else None,
        "reports": {k: total[k] for k in SEVERITY_RANK},
        "streams": rows,
    }
