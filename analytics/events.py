"""Every event topic as a typed ClickHouse table, and events as rows for it.

One table per catalog topic (``orders.events`` → ``orders_events``), its columns
the Avro fields: exact decimals stay ``Decimal(38, 18)``, enums are
``LowCardinality(String)``, optional fields ``Nullable``, arrays and maps of
scalars are ``Array``/``Map`` columns (``has(reasons, ...)``, ``arrayJoin``),
nested records are canonical JSON strings, one per element in an array of
records (query them with ``JSONExtract*``), raw bytes are base64. Tables are
``ReplacingMergeTree`` partitioned by the UTC day of the event time and ordered
by the topic's key, then time, then ``event_id``: a row written twice collapses
to one (the sink also skips ids it already wrote, so counts are exact without
``FINAL``).

``events_ddl`` renders the DDL from the Avro catalog; the result was committed as
migration ``0001_events.sql``: later schema changes are new migrations.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from streams.avro import registry
from streams.decimals import tidy
from streams.topics import CATALOG, TopicSpec

# the columns a desk filters on first, per topic key (then ts_event, event_id)
ORDER_BY = {
    "venue:symbol": ("venue", "symbol"),
    "bot:symbol": ("bot_id", "symbol"),
    "venue:account": ("venue", "account"),
    "bot": ("bot_id",),
    "scope": ("scope",),
    "source": ("source",),
    "gate": ("gate",),
    "topic": ("topic",),
}


def table_name(topic: str) -> str:
    return topic.replace(".", "_")


_SCALARS = ("String", "LowCardinality(String)", "Int64", "Int32", "Float64", "Bool")


def _is_decimal(t: Any) -> bool:
    return isinstance(t, dict) and t.get("logicalType") == "decimal"


def column_type(avro_type: Any) -> str:
    """The ClickHouse type of one Avro field type."""
    if isinstance(avro_type, list):
        inner = [t for t in avro_type if t != "null"]
        if len(inner) == 1 and "null" in avro_type:
            base = column_type(inner[0])
            if base.startswith("LowCardinality("):
                return "LowCardinality(Nullable(String))"
            return f"Nullable({base})"
        return "String"  # a union of several types: JSON
    if _is_decimal(avro_type):
        return f"Decimal({avro_type['precision']}, {avro_type['scale']})"
    if isinstance(avro_type, dict):
        kind = avro_type["type"]
        if kind == "enum":
            return "LowCardinality(String)"
        if kind == "array" and column_type(avro_type["items"]) in _SCALARS:
            return f"Array({column_type(avro_type['items'])})"
        if kind == "map" and column_type(avro_type["values"]) == "String":
            return "Map(String, String)"
        if kind in ("record", "array", "map"):
            return "String"
        return column_type(kind)
    return {
        "string": "String",
        "long": "Int64",
        "int": "Int32",
        "double": "Float64",
        "float": "Float32",
        "boolean": "Bool",
        "bytes": "String",
    }[avro_type]


def _schema_fields(spec: TopicSpec) -> list[dict[str, Any]]:
    return json.loads(registry().current(spec.value_schema).path.read_text())["fields"]


def columns(spec: TopicSpec) -> list[tuple[str, str]]:
    return [(f["name"], column_type(f["type"])) for f in _schema_fields(spec)]


def table_ddl(spec: TopicSpec) -> str:
    cols = columns(spec)
    names = {c for c, _t in cols}
    key = [c for c in ORDER_BY[spec.key] if c in names]
    body = ",\n".join(f"    `{c}` {t}" for c, t in cols)
    return (
        f"-- {spec.name} ({spec.value_schema}): {spec.doc}\n"
        f"CREATE TABLE IF NOT EXISTS {table_name(spec.name)}\n(\n{body}\n)\n"
        "ENGINE = ReplacingMergeTree\n"
        "PARTITION BY toDate(fromUnixTimestamp64Milli(ts_event))\n"
        f"ORDER BY ({', '.join([*key, 'ts_event', 'event_id'])});\n"
    )


def events_ddl(catalog: Iterable[TopicSpec] = CATALOG) -> str:
    head = (
        "-- One typed table per event topic (rendered from the Avro catalog by\n"
        "-- analytics.events.events_ddl). Later schema changes are new migrations.\n\n"
    )
    return head + "\n".join(table_ddl(s) for s in catalog)


def _cell(value: Any, ch_type: str) -> Any:
    if value is None:
        return None
    if ch_type.startswith(("Decimal", "Nullable(Decimal")):
        return format(tidy(value), "f")
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if ch_type == "Array(String)":  # records in an array: one JSON document per element
        return [v if isinstance(v, str) else canonical_json(v) for v in value]
    if ch_type == "String" and not isinstance(value, str):
        return canonical_json(value)
    return value


def canonical_json(value: Any) -> str:
    """JSON with exact decimals as strings, bytes as base64 and sorted keys."""

    def default(x: Any) -> Any:
        if isinstance(x, Decimal):
            return format(tidy(x), "f")
        if isinstance(x, bytes):
            return base64.b64encode(x).decode()
        raise TypeError(f"{type(x).__name__} is not JSON")

    return json.dumps(value, default=default, sort_keys=True, separators=(",", ":"))


class RowEncoder:
    """Decoded events of one topic → ``JSONEachRow`` lines for its table."""

    def __init__(self, topic: str) -> None:
        from streams.topics import spec

        self.topic = topic
        self.table = table_name(topic)
        self.columns = columns(spec(topic))

    def row(self, event: Mapping[str, Any]) -> dict[str, Any]:
        missing = [c for c, _t in self.columns if c not in event]
        if missing:
            raise ValueError(f"{self.topic} event lacks {', '.join(missing)}")
        return {c: _cell(event[c], t) for c, t in self.columns}

    def lines(self, events: Iterable[Mapping[str, Any]]) -> bytes:
        return b"".join(canonical_json(self.row(e)).encode() + b"\n" for e in events)


EVENT_TABLES = frozenset(table_name(s.name) for s in CATALOG)


def existing_ids_sql(table: str, ids: Iterable[str], lo_ms: int, hi_ms: int) -> str:
    """The ids of a batch a table already holds (the time range prunes partitions)."""
    quoted = ",".join("'" + i.replace("\\", "\\\\").replace("'", "\\'") + "'" for i in ids)
    return (
        f"SELECT event_id FROM {table} WHERE ts_event BETWEEN {int(lo_ms)} AND {int(hi_ms)} "
        f"AND event_id IN ({quoted})"
    )
