"""A schema registry server (Redpanda's, Confluent's: the same REST API), the one place
that talks to it, through confluent-kafka's client.

With ``DESK_SCHEMA_REGISTRY_URL`` set, every event schema is registered (subject: the
record's full name, RecordNameStrategy, so one id serves every topic that carries the
type) and messages are framed in the registry's wire format — ``00`` + the 4-byte
schema id + the Avro body — which Redpanda Console and the usual Kafka tools decode.
The desk's decoder reads both framings (``streams.avro``): a desk moving from the
embedded default to Redpanda keeps reading the history it wrote before.
"""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from streams.avro import SchemaVersion


class RemoteSchemas:
    """Schema ids for the desk's schema versions, both ways, cached (a registry is asked
    once per version and per id)."""

    def __init__(self, client: Any, url: str | None = None) -> None:
        self.client = client
        self.url = url
        self._ids: dict[bytes, int] = {}
        self._by_id: dict[int, SchemaVersion] = {}
        self._lock = threading.Lock()

    @classmethod
    def connect(cls, url: str) -> RemoteSchemas:
        from confluent_kafka.schema_registry import SchemaRegistryClient

        return cls(SchemaRegistryClient({"url": url}), url)

    def id_for(self, version: SchemaVersion) -> int:
        """Register ``version`` (idempotent on the registry) and return its id."""
        known = self._ids.get(version.fingerprint)
        if known is not None:
            return known
        from confluent_kafka.schema_registry import Schema

        raw = json.loads(version.path.read_text())
        subject = f"{raw.get('namespace', '')}.{raw['name']}".lstrip(".")
        with self._lock:
            sid = int(self.client.register_schema(subject, Schema(json.dumps(raw), "AVRO")))
            self._ids[version.fingerprint] = sid
            self._by_id[sid] = version
        return sid

    def version_for(self, schema_id: int, local: Any) -> SchemaVersion:
        """The desk's own version of the schema behind ``schema_id``: fetched once from
        the registry and matched by its Avro fingerprint (a schema the desk never had is
        an error: it could not be read safely)."""
        known = self._by_id.get(schema_id)
        if known is not None:
            return known
        import fastavro
        from fastavro.schema import fingerprint, to_parsing_canonical_form

        from streams.avro import DecodeError

        try:
            schema = self.client.get_schema(schema_id)
        except Exception as exc:
            raise DecodeError(
                f"schema id {schema_id}: the registry did not give it ({exc})"
            ) from None
        parsed = fastavro.parse_schema(json.loads(schema.schema_str), named_schemas={})
        fp = bytes.fromhex(fingerprint(to_parsing_canonical_form(parsed), "CRC-64-AVRO"))
        version = local.by_fingerprint(fp)
        with self._lock:
            self._by_id[schema_id] = version
        return version


def configure(settings: Any) -> None:
    """Use the settings' registry for this process's encoding (idempotent)."""
    from streams.avro import registry

    url = getattr(settings, "schema_registry_url", None)
    current = registry().remote
    if url and getattr(current, "url", None) != url:
        registry().use_remote(RemoteSchemas.connect(url))
