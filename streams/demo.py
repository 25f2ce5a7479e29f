"""``desk demo``: a full desk replay on the embedded stack, offline, on real bundled bars.

Starts the embedded stack and the agents, replays the real sample bars (EUR/USD
hourly and GOOG daily from the ``backtesting`` wheel) into ``market.bars`` in
event-time order, adds a few malformed messages to show the dead-letter path,
waits until the agents have processed everything, and reports what happened.
The same bars also go through the data-quality core in this process: the
agents' reports must be exactly the ones the core predicts (stream = replay).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agents.dq.core import DataQualityCore
from agents.dq.summary import summarize
from connectors.feeds.sample import demo_bars
from streams.config import load_config
from streams.errors import DeskError
from streams.kafka import EventProducer, TopicReader, decode_all, event_time_headers, read_topic
from streams.runtime.stack import Stack
from streams.settings import DeskSettings
from streams.topics import stream_key

BAD_MESSAGES: tuple[tuple[bytes, bytes], ...] = (
    (b"sample:EUR/USD", b"this is not avro"),
    (b"sample:GOOG", b"\xc3\x01" + bytes(8) + b"unknown fingerprint"),
)


def run_demo(
    settings: DeskSettings,
    limit_per_sample: int | None = None,
    on_stage: Callable[[str], None] = lambda _s: None,
    on_progress: Callable[[str, int, int], None] = lambda _t, _d, _n: None,
    timeout_s: float = 120.0,
) -> dict[str, Any]:
    """Run the demo and return its report (JSON-ready)."""
    t_start = time.perf_counter()
    bars = list(demo_bars(limit_per_sample))
    core = DataQualityCore.from_config(load_config(settings.config_file))
    outcomes = [core.process(b) for b in bars]
    want_clean = sum(o.clean is not None for o in outcomes)
    want_reports = {r["event_id"] for o in outcomes for r in o.reports()}
    with Stack(settings) as stack:
        stack.start(progress=lambda part: on_stage(f"starting {part}"))
        t_ready = time.perf_counter()
        bootstrap, prefix = stack.broker.bootstrap, settings.topic_prefix
        on_stage("replaying bars into market.bars")
        producer = EventProducer(bootstrap, prefix)
        for n, bar in enumerate(bars, 1):
            producer.send("market.bars", stream_key(bar), bar)
            if n == len(bars) // 2:
                for key, raw in BAD_MESSAGES:
                    producer.send_raw(
                        "market.bars", key, raw, headers=event_time_headers(bar["ts_event"])
                    )
            if n % 500 == 0 or n == len(bars):
                on_progress("replay", n, len(bars))
        producer.flush()
        on_stage("agents processing")
        deadline = time.monotonic() + timeout_s
        with TopicReader(bootstrap, "market.bars.clean", prefix) as clean_reader:
            while len(clean_reader.records) < want_clean:
                clean_reader.poll()
                on_progress("processed", len(clean_reader.records), want_clean)
                if time.monotonic() > deadline:
                    raise DeskError(
                        f"agents processed {len(clean_reader.records)} of {want_clean} bars in "
                        f"{timeout_s:.0f} s; see {Path(stack.run_dir) / 'worker.log'}"
                    )
            t_done = time.perf_counter()
            clean_events = decode_all(clean_reader.read(idle_s=0.5))
        on_stage("reading results")
        dead = decode_all(
            read_topic(bootstrap, "deadletter", prefix, until_count=len(BAD_MESSAGES))
        )
        reports = decode_all(
            read_topic(bootstrap, "dq.reports", prefix, until_count=len(want_reports))
        )
        health = [p.to_json() for p in stack.health()]
    got_reports = {r["event_id"] for r in reports}
    if got_reports != want_reports:
        raise DeskError(
            f"data-quality agent and core disagree: {len(got_reports - want_reports)} extra, "
            f"{len(want_reports - got_reports)} missing report(s)"
        )
    per_stream_in = Counter(stream_key(b) for b in bars)
    per_stream_out = Counter(stream_key(b) for b in clean_events)
    return {
        "bars_in": len(bars),
        "bars_clean": len(clean_events),
        "streams": [
            {
                "stream": k,
                "bars_in": per_stream_in[k],
                "bars_clean": per_stream_out[k],
                "first": min(b["ts_event"] for b in bars if stream_key(b) == k),
                "last": max(b["ts_event"] for b in bars if stream_key(b) == k),
            }
            for k in sorted(per_stream_in)
        ],
        "data_quality": summarize(reports, clean_events),
        "dead_letters": [
            {
                "topic": d["topic"],
                "partition": d["partition"],
                "offset": d["offset"],
                "kind": d["error_kind"],
                "error": d["error"],
            }
            for d in dead
        ],
        "health": health,
        "seconds": {
            "stack_start": round(t_ready - t_start, 2),
            "replay_and_process": round(t_done - t_ready, 2),
        },
        "bars_per_second": round(len(bars) / max(t_done - t_ready, 1e-9)),
    }
