"""Run a replay dataset through the running desk graph and judge it against its golden.

``run_dataset`` starts a desk of its own (the embedded stack, or the configured external
broker, PostgreSQL and ClickHouse) under ``DESK_DATA_DIR/replays/<run>`` with a topic
namespace of its own (``<run>.``): a broker that keeps topics — Redpanda — never mixes two
runs, and what is read back is only what this run produced. The inputs go in as fast as
the broker takes them; once the core has taken every bar, the golden topics are read back
and compared key by key with the dataset's golden events (``verdict``).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from analytics.backtest.records import code_version
from analytics.regression.dataset import (
    Dataset,
    Events,
    broken_invariants,
    canonical,
    differences,
)
from connectors.feeds.replay import replay
from streams.avro import registry
from streams.config import load_config_data
from streams.errors import DeskError
from streams.kafka import EventProducer, read_topic
from streams.settings import DeskSettings, load_settings

SETTLE_STUCK_S = 45.0  # no new clean bar for this long: the run is over, what is there is it


@dataclass
class Verdict:
    dataset: str
    dataset_id: str
    run_id: str
    config_sha256: str
    config_is_recorded: bool
    passed: bool
    differences: list[str] = field(default_factory=list)
    invariants: list[str] = field(default_factory=list)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    seconds: float = 0.0
    code_version: str = field(default_factory=code_version)

    @property
    def status(self) -> str:
        return "PASS" if self.passed else "FAIL"

    def to_json(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "dataset_id": self.dataset_id,
            "run_id": self.run_id,
            "status": self.status,
            "config_sha256": self.config_sha256,
            "config_is_recorded": self.config_is_recorded,
            "differences": self.differences,
            "invariants": self.invariants,
            "counts": self.counts,
            "seconds": round(self.seconds, 1),
            "code_version": self.code_version,
        }

    def markdown(self) -> str:
        lines = [
            f"# Replay regression: {self.dataset} — {self.status}",
            "",
            f"- dataset `{self.dataset_id}`, run `{self.run_id}`, code `{self.code_version}`",
            f"- config `{self.config_sha256[:16]}`"
            + ("" if self.config_is_recorded else " (not the recorded config)"),
            "",
            "| topic | golden | run |",
            "|---|---:|---:|",
            *(f"| {t} | {c['golden']} | {c['run']} |" for t, c in sorted(self.counts.items())),
        ]
        if self.invariants:
            lines += ["", "## Invariants broken", *(f"- {x}" for x in self.invariants)]
        if self.differences:
            lines += ["", "## First differences", *(f"- {x}" for x in self.differences)]
        return "\n".join(lines) + "\n"


def verdict(
    ds: Dataset, have: Events, run_id: str, config_sha: str, seconds: float = 0.0
) -> Verdict:
    """A run's outputs against the dataset's golden events and invariants."""
    golden = ds.golden()
    diffs = differences(golden, {t: have.get(t, []) for t in golden})
    broken = broken_invariants(ds.manifest.get("expect", {}), have)
    counts = {t: {"golden": len(golden[t]), "run": len(have.get(t, []))} for t in golden}
    return Verdict(
        ds.name,
        ds.manifest["dataset_id"],
        run_id,
        config_sha,
        config_sha == ds.manifest["config_sha256"],
        not diffs and not broken,
        diffs,
        broken,
        counts,
        seconds,
    )


def config_sha(path: Path) -> str:
    data, _chain = load_config_data(path)
    return hashlib.sha256(canonical(data)).hexdigest()


def new_run_id(ds: Dataset) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    return "rp" + hashlib.sha256(f"{ds.manifest['dataset_id']}|{stamp}".encode()).hexdigest()[:10]


def run_dataset(
    ds: Dataset,
    base: DeskSettings,
    config: Path | None = None,
    on_stage: Callable[[str], None] = lambda _s: None,
    on_progress: Callable[[str, int, int], None] = lambda _n, _d, _t: None,
) -> Verdict:
    """Replay the dataset through a desk of its own and judge what it wrote."""
    from streams.runtime.stack import Stack

    t0 = time.perf_counter()
    config_path = (config or ds.config_path).resolve()
    sha = config_sha(config_path)
    run_id = new_run_id(ds)
    prefix = f"{run_id}."
    settings = load_settings(
        **{
            **base.model_dump(exclude_unset=True),
            "data_dir": base.data_path / "replays" / run_id,
            "topic_prefix": prefix,
            "config_file": config_path,
        }
    )
    bars = ds.events("market.bars")
    golden_clean = ds.manifest["topics"].get("market.bars.clean", {}).get("count", len(bars))
    stack = Stack(settings, with_agents=True)
    try:
        stack.start(progress=lambda part: on_stage(f"starting {part}"))
        on_stage(f"replaying {len(bars):,} bars (topics {prefix}*)")
        producer = EventProducer(stack.broker.bootstrap, prefix)
        replay(bars, [], producer, progress=lambda d, n: on_progress("replay", d, n))
        on_stage("waiting for the desk to take every bar")
        _settle(stack.broker.bootstrap, prefix, golden_clean, on_progress)
        on_stage("reading what the desk wrote")
        have = capture(stack.broker.bootstrap, prefix, ds.topics("golden"))
        on_stage("stopping")
    finally:
        stack.stop()
    return verdict(ds, have, run_id, sha, time.perf_counter() - t0)


def _settle(
    bootstrap: str, prefix: str, want: int, on_progress: Callable[[str, int, int], None]
) -> None:
    """Until the core has put out ``want`` clean bars, or none came for ``SETTLE_STUCK_S``
    (a changed config may clean fewer: the comparison then says what differs)."""
    last, since = -1, time.monotonic()
    while True:
        n = len(
            {v for _k, v, _p, _o in read_topic(bootstrap, "market.bars.clean", prefix, idle_s=0.5)}
        )
        on_progress("processed", min(n, want), want)
        if n >= want:
            break
        if n != last:
            last, since = n, time.monotonic()
        elif time.monotonic() - since > SETTLE_STUCK_S:
            break
        time.sleep(0.5)
    time.sleep(2.0)  # the last bar's cascade is published in one go: let it land


def capture(bootstrap: str, prefix: str, topics: list[str]) -> Events:
    """Each topic's events as this run's namespace holds them (read side by side), re-sends
    dropped: the same event id twice is at-least-once delivery; with other content, a
    finding."""
    from concurrent.futures import ThreadPoolExecutor

    reg = registry()
    with ThreadPoolExecutor(max_workers=len(topics) or 1) as pool:
        raw = dict(
            zip(topics, pool.map(lambda t: read_topic(bootstrap, t, prefix), topics), strict=True)
        )
    out = {}
    for topic in topics:
        seen: dict[str, dict[str, Any]] = {}
        for _key, value, _p, _o in raw[topic]:
            event = reg.decode(value)[1]
            first = seen.setdefault(event["event_id"], event)
            if first != event:
                raise DeskError(f"{topic}: event {event['event_id']} sent twice, differently")
        out[topic] = list(seen.values())
    return out


def save_verdict(ds: Dataset, v: Verdict) -> Path:
    """``results/<run>.json`` and ``.md`` in the dataset: the regression's evidence."""
    out = ds.root / "results"
    out.mkdir(exist_ok=True)
    path = out / f"{v.run_id}.json"
    stamped = {**v.to_json(), "finished_at": datetime.now(UTC).isoformat(timespec="seconds")}
    path.write_text(json.dumps(stamped, indent=2, sort_keys=True) + "\n")
    (out / f"{v.run_id}.md").write_text(v.markdown())
    return path


def latest_verdict(root: Path) -> tuple[dict[str, Any], Path] | None:
    """The dataset's most recent verify result, or None."""
    found = []
    for p in (root / "results").glob("*.json"):
        try:
            found.append((json.loads(p.read_text()), p))
        except (OSError, ValueError):
            continue
    found = [f for f in found if isinstance(f[0], dict) and "finished_at" in f[0]]
    return max(found, key=lambda f: f[0]["finished_at"]) if found else None
