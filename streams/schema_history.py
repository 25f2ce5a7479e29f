"""Keeping the event catalog backward compatible.

``freeze`` records every current schema version in ``schemas/avro/history/``
and writes a small encoded fixture per version; the compatibility test decodes
every fixture with the current reader schemas. Changing a schema therefore
means: edit ``schemas/avro/<Name>.avsc``, run ``desk schemas freeze``, commit
the new history file and fixture. A change that cannot read old events fails
the test.
"""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import fastavro

from streams.avro import SchemaRegistry, SchemaVersion, encode_with

SAMPLE_TS = 1_678_500_000_000  # 2023-03-11 01:46:40 UTC, inside the recorded de-peg window


def sample_record(version: SchemaVersion) -> dict[str, Any]:
    """A deterministic record exercising every field (non-null branch of unions)."""
    expanded = fastavro.parse_schema(
        json.loads(version.path.read_text()), named_schemas={}, expand=True
    )
    return _sample(expanded, "root")


def _sample(t: Any, name: str) -> Any:
    if isinstance(t, list):
        non_null = [x for x in t if x != "null"]
        return _sample(non_null[0], name) if non_null else None
    if isinstance(t, dict):
        kind = t["type"]
        if t.get("logicalType") == "decimal":
            return Decimal("12345.678901234567890123")
        if kind == "record":
            return {f["name"]: _sample(f["type"], f["name"]) for f in t["fields"]}
        if kind == "enum":
            return t["symbols"][-1]
        if kind == "array":
            return [_sample(t["items"], name)]
        if kind == "map":
            return {"key": _sample(t["values"], name)}
        return _sample(kind, name)
    return {
        "string": f"{name}-sample",
        "long": SAMPLE_TS,
        "int": 7,
        "double": 1.5,
        "float": 0.5,
        "boolean": True,
        "bytes": b"\x00\xffsample",
        "null": None,
    }[t]


def fixture_path(fixtures: Path, version: SchemaVersion) -> Path:
    return fixtures / version.name / f"{version.fingerprint_hex}.avro"


def freeze(registry: SchemaRegistry, fixtures: Path) -> list[str]:
    """Record every current schema version and its fixture; return what was added."""
    added: list[str] = []
    for name in registry.names():
        version = registry.current(name)
        hist = registry.root / "history" / name / f"{version.fingerprint_hex}.avsc"
        if not hist.exists():
            hist.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(version.path, hist)
            added.append(str(hist))
        fixture = fixture_path(fixtures, version)
        if not fixture.exists():
            fixture.parent.mkdir(parents=True, exist_ok=True)
            fixture.write_bytes(encode_with(version, sample_record(version)))
            added.append(str(fixture))
    return added
