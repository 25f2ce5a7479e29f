"""Replay datasets: a recorded window of the desk's topics that says what it is.

A dataset is a directory::

    manifest.json        format, name, window, config hash, code version, per topic:
                         role (input | golden), file, count, schema and its fingerprint,
                         content hash; the invariants a run must keep (``expect``)
    config.yaml          the desk config the window was recorded with (resolved, no
                         ``extends``), so a run needs nothing else
    inputs/<topic>.avro  what goes in (``market.bars``): Avro object container files
    golden/<topic>.avro  what the desk wrote from it: the regression's reference
    results/<run>.json   each ``desk replay verify`` (PASS/FAIL, first differences)

The container files are written with a sync marker derived from the topic, so the same
events give the same bytes: a dataset built twice from the same bars is identical.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastavro

from streams.avro import registry
from streams.errors import DeskError
from streams.topics import key_of, spec

FORMAT = "deskplane.replay/1"
INPUTS = ("market.bars",)
# the topics the trading graph writes deterministically (event time, ids from inputs):
# what a regression compares, key by key
GOLDEN = (
    "market.bars.clean",
    "dq.reports",
    "orders.intents",
    "risk.decisions",
    "orders.commands",
    "orders.events",
    "fills",
    "portfolio.snapshots",
    "venue.reports",
)
# invariants a dataset may ask of every run: "topic" or "topic:field=value" -> exact count
# (the no-trade variant's "zero orders" is {"orders.commands:command=SUBMIT": 0})
Expect = Mapping[str, int]

Events = dict[str, list[dict[str, Any]]]  # topic -> events, in topic order


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()


def content_hash(topic: str, events: Iterable[Mapping[str, Any]]) -> str:
    """SHA-256 over each event's Avro encoding under the current schema (not the file)."""
    reg, name, h = registry(), spec(topic).value_schema, hashlib.sha256()
    for e in events:
        h.update(reg.encode(name, e))
    return h.hexdigest()


def _write_ocf(path: Path, topic: str, events: Sequence[Mapping[str, Any]]) -> None:
    version = registry().current(spec(topic).value_schema)
    marker = hashlib.sha256(f"deskplane|{topic}".encode()).digest()[:16]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        fastavro.writer(
            f,
            version.parsed,
            list(events),
            codec="deflate",
            sync_marker=marker,
            metadata={"deskplane.topic": topic},
        )


def _read_ocf(path: Path, topic: str) -> list[dict[str, Any]]:
    """Events of a container file under the current schema (the file's own schema is the
    writer's: a dataset recorded before a compatible schema change still reads)."""
    reader_schema = registry().current(spec(topic).value_schema).parsed
    try:
        with path.open("rb") as f:
            return list(fastavro.reader(f, reader_schema=reader_schema))
    except (OSError, ValueError, EOFError, fastavro.read.SchemaResolutionError) as exc:
        raise DeskError(f"{path}: not a readable {topic} container file ({exc})") from None


def write_dataset(
    out: Path,
    name: str,
    inputs: Mapping[str, Sequence[Mapping[str, Any]]],
    golden: Mapping[str, Sequence[Mapping[str, Any]]],
    config_data: Mapping[str, Any],
    *,
    description: str = "",
    expect: Expect | None = None,
    code: str = "unknown",
    source: str = "engine",
) -> dict[str, Any]:
    """Write a dataset (replacing one at ``out``); returns its manifest."""
    if not inputs.get("market.bars"):
        raise DeskError(f"dataset {name}: no market.bars in the window: nothing to replay")
    out.mkdir(parents=True, exist_ok=True)
    for stale in (*out.glob("inputs/*.avro"), *out.glob("golden/*.avro")):
        stale.unlink()
    config_bytes = json.dumps(config_data, indent=2, sort_keys=True, default=str).encode()
    (out / "config.yaml").write_bytes(config_bytes + b"\n")  # JSON is YAML: load_config reads it
    reg, topics = registry(), {}
    for role, group in (("input", inputs), ("golden", golden)):
        for topic, events in sorted(group.items()):
            rel = f"{'inputs' if role == 'input' else 'golden'}/{topic}.avro"
            _write_ocf(out / rel, topic, events)
            version = reg.current(spec(topic).value_schema)
            topics[topic] = {
                "role": role,
                "file": rel,
                "count": len(events),
                "schema": version.name,
                "fingerprint": version.fingerprint_hex,
                "sha256": content_hash(topic, events),
            }
    ts = [int(b["ts_event"]) for b in inputs["market.bars"]]
    manifest = {
        "format": FORMAT,
        "name": name,
        "description": description,
        "window": {"first_ts": min(ts), "last_ts": max(ts)},
        "streams": sorted({f"{b['venue']}:{b['symbol']}" for b in inputs["market.bars"]}),
        "config_sha256": hashlib.sha256(canonical(config_data)).hexdigest(),
        "code_version": code,
        "source": source,
        "expect": dict(sorted((expect or {}).items())),
        "topics": topics,
    }
    manifest["dataset_id"] = "ds-" + hashlib.sha256(canonical(manifest)).hexdigest()[:16]
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


@dataclass
class Dataset:
    root: Path
    manifest: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.manifest["name"])

    @property
    def config_path(self) -> Path:
        return self.root / "config.yaml"

    def topics(self, role: str) -> list[str]:
        return sorted(t for t, m in self.manifest["topics"].items() if m["role"] == role)

    def events(self, topic: str) -> list[dict[str, Any]]:
        meta = self.manifest["topics"][topic]
        events = _read_ocf(self.root / meta["file"], topic)
        if len(events) != meta["count"]:
            raise DeskError(
                f"dataset {self.name}: {meta['file']} holds {len(events)} events, the manifest "
                f"says {meta['count']}: the file was cut short or replaced"
            )
        return events

    def golden(self) -> Events:
        return {t: self.events(t) for t in self.topics("golden")}


def open_dataset(root: Path) -> Dataset:
    """A dataset, checked: its manifest, its files, their counts. A one-line error else."""
    path = root / "manifest.json"
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise DeskError(f"{root}: not a replay dataset (no manifest.json)") from None
    except (OSError, ValueError) as exc:
        raise DeskError(f"{path}: unreadable manifest ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        got = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise DeskError(f"{path}: format {got!r}, this desk reads {FORMAT}")
    for topic, meta in manifest.get("topics", {}).items():
        if not (root / meta["file"]).is_file():
            raise DeskError(f"dataset {manifest['name']}: {meta['file']} is missing")
        spec(topic)  # a topic the catalog no longer has: a clear error
    if not (root / "config.yaml").is_file():
        raise DeskError(f"dataset {manifest['name']}: config.yaml is missing")
    return Dataset(root, manifest)


def by_key(events: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[tuple[str, str], list[bytes]]:
    """Each topic's events per partition key, Avro-encoded: the order a consumer sees."""
    reg, out = registry(), defaultdict(list)
    for topic, evs in events.items():
        name = spec(topic).value_schema
        for e in evs:
            out[(topic, key_of(topic, e))].append(reg.encode(name, e))
    return dict(out)


def differences(
    want: Mapping[str, Sequence[Mapping[str, Any]]],
    have: Mapping[str, Sequence[Mapping[str, Any]]],
    limit: int = 5,
) -> list[str]:
    """The first ``limit`` differences, earliest first (event time of the first differing
    event, then the topic's place in the graph: the cause before its effects), each as a
    line: topic and key, counts, the index of the first differing event, both sides."""
    w, h = by_key(want), by_key(have)
    rank = {t: i for i, t in enumerate((*INPUTS, *GOLDEN))}
    found = []
    for key in set(w) | set(h):
        a, b = w.get(key, []), h.get(key, [])
        if a == b:
            continue
        i = next(
            (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
        )
        ts = min(_ts(v) for v in (*a[i : i + 1], *b[i : i + 1]))
        line = (
            f"{key[0]} key {key[1]}: golden {len(a)} events, run {len(b)}; first "
            f"difference at #{i}: golden {brief(a[i : i + 1])}; run {brief(b[i : i + 1])}"
        )
        if i < min(len(a), len(b)):
            line += f"; differs in {_what_differs(a[i], b[i])}"
        found.append((ts, rank.get(key[0], 99), key, line))
    return [line for *_order, line in sorted(found)[:limit]]


def _what_differs(a: bytes, b: bytes) -> str:
    """The fields two events disagree on; a risk decision's checks by name."""
    reg = registry()
    x, y = reg.decode(a)[1], reg.decode(b)[1]
    out = []
    for k in x:
        if x[k] == y.get(k):
            continue
        if k == "checks" and isinstance(x[k], list) and isinstance(y.get(k), list):
            xs = {c["name"]: c for c in x[k]}
            ys = {c["name"]: c for c in y[k]}
            names = sorted(n for n in set(xs) | set(ys) if xs.get(n) != ys.get(n))
            out += [f"check {n} ({_check(xs.get(n))} -> {_check(ys.get(n))})" for n in names]
        else:
            out.append(k)
    return ", ".join(out) or "encoding"


def _check(c: Mapping[str, Any] | None) -> str:
    if c is None:
        return "absent"
    return f"{'pass' if c.get('passed') else 'FAIL'} {c.get('value')}/{c.get('limit')}"


def _ts(value: bytes) -> int:
    return int(registry().decode(value)[1]["ts_event"])


def brief(values: Sequence[bytes]) -> str:
    """What an event is, in a few fields (time, what it decided or did)."""
    if not values:
        return "(none)"
    reg = registry()
    names = (
        "ts_event",
        "check",
        "severity",
        "decision",
        "reasons",
        "command",
        "status",
        "side",
        "quantity",
        "price",
        "bot_id",
        "equity",
    )
    event = reg.decode(values[0])[1]
    parts = []
    for k in names:
        if k in event and event[k] not in (None, [], ""):
            v = event[k]
            parts.append(f"{k}={','.join(map(str, v)) if isinstance(v, list) else v}")
    return " ".join(parts)


def broken_invariants(expect: Expect, have: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[str]:
    """The dataset's invariants a run broke (``expect``: "topic[:field=value]" -> count)."""
    out = []
    for what, n in sorted(expect.items()):
        topic, _, where = what.partition(":")
        field_, _, value = where.partition("=")
        got = sum(1 for e in have.get(topic, []) if not where or str(e.get(field_)) == value)
        if got != n:
            out.append(f"{what}: {got} events, the dataset expects {n}")
    return out
