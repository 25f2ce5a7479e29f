"""Avro single-object encoding with ``schemas/avro/`` as the schema registry.

A message is ``C3 01`` + the writer schema's 8-byte CRC-64-AVRO fingerprint +
the Avro body (the Avro spec's single-object encoding), so every message names
its own schema and no registry server is needed. Decoding resolves the writer
schema by fingerprint among every committed version and reads it with the
*current* schema of the same type: old recorded events keep decoding after a
(backward-compatible) schema change.

With a schema registry server configured (``use_remote``, ``streams.schema_registry``)
messages are written in the registry's wire format instead (``00`` + schema id + body)
so Redpanda Console and Kafka tools decode them; the decoder reads both framings.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

MAGIC = b"\xc3\x01"
HEADER_LEN = len(MAGIC) + 8


class AvroError(ValueError):
    """Base for encode/decode failures; the message is one line."""


class DecodeError(AvroError):
    """Bytes that are not a decodable single-object Avro event."""


class EncodeError(AvroError):
    """A record that does not fit its schema."""


@dataclass(frozen=True)
class SchemaVersion:
    """One version of one event type's schema."""

    name: str
    fingerprint: bytes
    parsed: Any
    path: Path

    @property
    def fingerprint_hex(self) -> str:
        return self.fingerprint.hex()


def _parse(path: Path) -> SchemaVersion:
    raw = json.loads(path.read_text())
    parsed = fastavro.parse_schema(raw, named_schemas={})
    canonical = to_parsing_canonical_form(parsed)
    fp = bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO"))
    return SchemaVersion(name=raw["name"], fingerprint=fp, parsed=parsed, path=path)


class SchemaRegistry:
    """Every committed schema version under one ``schemas/avro/`` directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.remote: Any = None  # streams.schema_registry.RemoteSchemas, when configured
        self._current: dict[str, SchemaVersion] = {}
        self._by_fp: dict[bytes, SchemaVersion] = {}
        for path in sorted(root.glob("*.avsc")):
            version = _parse(path)
            if version.name != path.stem:
                raise AvroError(f"{path}: record name {version.name!r} must match the file name")
            self._current[version.name] = version
            self._by_fp[version.fingerprint] = version
        for path in sorted(root.glob("history/*/*.avsc")):
            version = _parse(path)
            if version.name != path.parent.name:
                raise AvroError(f"{path}: record name {version.name!r} must match its folder")
            self._by_fp.setdefault(version.fingerprint, version)

    def names(self) -> list[str]:
        return sorted(self._current)

    def current(self, name: str) -> SchemaVersion:
        try:
            return self._current[name]
        except KeyError:
            raise AvroError(
                f"unknown event type {name!r}; known: {', '.join(self.names())}"
            ) from None

    def versions(self) -> list[SchemaVersion]:
        """Every known version (current and historic), stable order."""
        return sorted(self._by_fp.values(), key=lambda v: (v.name, v.fingerprint_hex))

    def by_fingerprint(self, fp: bytes) -> SchemaVersion:
        try:
            return self._by_fp[fp]
        except KeyError:
            raise DecodeError(f"unknown schema fingerprint {fp.hex()}") from None

    def use_remote(self, remote: Any) -> None:
        """Write in a registry's wire format from now on (``None``: single-object again)."""
        self.remote = remote

    def encode(self, name: str, record: Mapping[str, Any]) -> bytes:
        """Encode ``record`` with the current schema of ``name`` (single-object, or the
        registry's wire format when one is configured)."""
        version = self.current(name)
        if self.remote is None:
            return encode_with(version, record)
        body = encode_with(version, record)[HEADER_LEN:]  # the registry's wire format
        return b"\x00" + self.remote.id_for(version).to_bytes(4, "big") + body

    def decode(self, data: bytes, expect: str | None = None) -> tuple[str, dict[str, Any]]:
        """Decode a single-object message into (type name, record) with the current reader."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise DecodeError(f"expected bytes, got {type(data).__name__}")
        data = bytes(data)
        if len(data) >= 5 and data[:1] == b"\x00":  # the registry's wire format
            schema_id = int.from_bytes(data[1:5], "big")
            if self.remote is None:
                raise DecodeError(
                    f"not an Avro single-object message (starts with {data[:4].hex()}): in a "
                    f"schema registry's framing (schema id {schema_id}), and no registry is "
                    "configured (DESK_SCHEMA_REGISTRY_URL)"
                )
            writer, start = self.remote.version_for(schema_id, self), 5
        elif len(data) >= HEADER_LEN and data[:2] == MAGIC:
            writer, start = self.by_fingerprint(data[2:HEADER_LEN]), HEADER_LEN
        else:
            raise DecodeError(
                f"not an Avro single-object message (starts with {data[:4].hex() or 'nothing'})"
            )
        if expect is not None and writer.name != expect:
            raise DecodeError(f"expected a {expect} event, got {writer.name}")
        reader = self._current.get(writer.name)
        if reader is None:
            raise DecodeError(f"event type {writer.name} is no longer in the catalog")
        body = io.BytesIO(data[start:])
        try:
            record = fastavro.schemaless_reader(
                body,
                writer.parsed,
                None if reader.fingerprint == writer.fingerprint else reader.parsed,
            )
        except Exception as exc:  # fastavro raises many types on garbage
            raise DecodeError(f"bad {writer.name} body: {type(exc).__name__}: {exc}") from None
        if body.tell() != len(data) - start:
            raise DecodeError(f"trailing bytes after a {writer.name} body")
        return writer.name, record


def encode_with(version: SchemaVersion, record: Mapping[str, Any]) -> bytes:
    """Encode ``record`` with one specific schema version (used for fixtures too)."""
    out = io.BytesIO()
    out.write(MAGIC)
    out.write(version.fingerprint)
    try:
        fastavro.schemaless_writer(out, version.parsed, record, strict_allow_default=True)
    except Exception as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "Scale provided in schema" in msg:
            msg = "a decimal has more decimal places than the schema's scale (18)"
        raise EncodeError(f"{version.name}: {msg}") from None
    return out.getvalue()


@cache
def registry() -> SchemaRegistry:
    """The process-wide registry over the packaged ``schemas/avro/``."""
    from schemas import avro_dir

    return SchemaRegistry(avro_dir())
