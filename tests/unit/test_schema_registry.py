"""Events in a schema registry's wire format (issue 19, point 3): the desk registers each
schema and frames ``00`` + id + body so Console and Kafka tools read them; it reads what
the registry client library's own serializer writes; and it still reads the Avro
single-object history it wrote before a registry existed.

No registry-compatible server installs from the package registries here (Redpanda's
registry is inside its binary, Karapace is not on the index): the round trip runs
against confluent-kafka's own client, serializer and deserializer over its in-memory
registry (``MockSchemaRegistryClient``), the same API as a server's.
"""

from __future__ import annotations

import json

import pytest
from confluent_kafka.schema_registry._sync.mock_schema_registry_client import (
    MockSchemaRegistryClient,  # the library's own in-memory registry (tests)
)
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from schemas import avro_dir
from streams.avro import DecodeError, SchemaRegistry
from streams.schema_history import sample_record
from streams.schema_registry import RemoteSchemas

TYPES = ("Bar", "Fill", "RiskDecision", "PortfolioSnapshot", "Alert")


@pytest.fixture
def desk() -> SchemaRegistry:
    return SchemaRegistry(avro_dir())  # a registry of its own: the process-wide one untouched


def mock() -> MockSchemaRegistryClient:
    return MockSchemaRegistryClient({"url": "mock://desk-test"})


@pytest.mark.parametrize("name", TYPES)
def test_what_the_desk_writes_the_registry_client_reads(desk: SchemaRegistry, name: str) -> None:
    client = mock()
    desk.use_remote(RemoteSchemas(client))
    record = sample_record(desk.current(name))
    wire = desk.encode(name, record)
    assert wire[:1] == b"\x00" and len(wire) > 5
    schema_id = int.from_bytes(wire[1:5], "big")
    assert json.loads(client.get_schema(schema_id).schema_str)["name"] == name
    ctx = SerializationContext("orders.events", MessageField.VALUE)
    assert AvroDeserializer(client)(wire, ctx) == record  # what Console-like tools see
    assert desk.decode(wire, expect=name) == (name, record)
    assert desk.encode(name, record) == wire  # registered once: the same id


@pytest.mark.parametrize("name", TYPES)
def test_what_the_registry_clients_serializer_writes_the_desk_reads(
    desk: SchemaRegistry, name: str
) -> None:
    client = mock()
    desk.use_remote(RemoteSchemas(client))
    schema_str = desk.current(name).path.read_text()
    serialize = AvroSerializer(client, schema_str, conf={"auto.register.schemas": True})
    record = sample_record(desk.current(name))
    wire = serialize(record, SerializationContext("any-topic", MessageField.VALUE))
    assert wire[:1] == b"\x00"
    assert desk.decode(wire, expect=name) == (name, record)


def test_the_single_object_history_still_decodes_and_bad_framings_are_one_line(
    desk: SchemaRegistry,
) -> None:
    record = sample_record(desk.current("Bar"))
    before = desk.encode("Bar", record)  # written before the desk had a registry
    assert before[:2] == b"\xc3\x01"
    desk.use_remote(RemoteSchemas(mock()))
    assert desk.decode(before, expect="Bar") == ("Bar", record)
    with pytest.raises(DecodeError, match="schema id 4242"):
        desk.decode(b"\x00" + (4242).to_bytes(4, "big") + b"\x02", expect="Bar")
    desk.use_remote(None)
    framed = b"\x00\x00\x00\x00\x07" + before[10:]
    with pytest.raises(DecodeError, match="no registry is configured"):
        desk.decode(framed)


def test_a_schema_the_desk_never_had_is_refused(desk: SchemaRegistry) -> None:
    client = mock()
    foreign = {"type": "record", "name": "Bar", "fields": [{"name": "x", "type": "int"}]}
    wire = AvroSerializer(client, json.dumps(foreign))(
        {"x": 1}, SerializationContext("t", MessageField.VALUE)
    )
    desk.use_remote(RemoteSchemas(client))
    with pytest.raises(DecodeError, match="unknown schema fingerprint"):
        desk.decode(wire)
