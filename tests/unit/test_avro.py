"""The Avro event catalog: round trips, backward compatibility, bad bytes."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from faust.serializers import codecs

from schemas import avro_dir
from streams.app import codec_name, register_codecs
from streams.avro import HEADER_LEN, MAGIC, DecodeError, EncodeError, SchemaRegistry, registry
from streams.schema_history import fixture_path, freeze, sample_record

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "avro"
ENVELOPE = ["event_id", "ts_event", "ts_ingest", "source", "correlation_id"]
DESIGN_TYPES = {
    "Bar",
    "Quote",
    "OrderIntent",
    "RiskDecision",
    "OrderCommand",
    "OrderEvent",
    "Fill",
    "VenueReport",
    "PortfolioSnapshot",
    "RiskCommand",
    "DataQualityReport",
    "ReconReport",
    "ParityReport",
    "Alert",
    "GateResult",
    "DeadLetter",
}
# money must be exact: these fields are Avro decimals, never doubles
MONEY = {
    "OrderIntent": ["quantity", "limit_price"],
    "OrderCommand": ["quantity", "limit_price"],
    "OrderEvent": ["quantity", "limit_price", "filled_quantity"],
    "Fill": ["price", "quantity", "fee"],
    "PortfolioSnapshot": ["cash", "equity", "realized_pnl", "daily_pnl", "fees"],
}


def _normalize(x: object) -> object:
    if isinstance(x, Decimal):
        return x.normalize()
    if isinstance(x, dict):
        return {k: _normalize(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_normalize(v) for v in x]
    return x


def test_catalog_has_every_design_event_type_with_the_envelope() -> None:
    reg = registry()
    assert set(reg.names()) >= DESIGN_TYPES
    for name in reg.names():
        fields = [f["name"] for f in json.loads(reg.current(name).path.read_text())["fields"]]
        assert fields[: len(ENVELOPE)] == ENVELOPE, name


@pytest.mark.parametrize("name,fields", sorted(MONEY.items()))
def test_money_fields_are_exact_decimals(name: str, fields: list[str]) -> None:
    schema = json.loads(registry().current(name).path.read_text())
    types = {f["name"]: f["type"] for f in schema["fields"]}
    for field in fields:
        t = types[field]
        branches = t if isinstance(t, list) else [t]
        decimal = [b for b in branches if isinstance(b, dict) and b.get("logicalType") == "decimal"]
        assert decimal and decimal[0]["scale"] == 18, f"{name}.{field} is not an exact decimal"


@pytest.mark.parametrize("name", sorted(DESIGN_TYPES))
def test_round_trip_every_type(name: str) -> None:
    reg = registry()
    record = sample_record(reg.current(name))
    data = reg.encode(name, record)
    assert data[:2] == MAGIC and data[2:HEADER_LEN] == reg.current(name).fingerprint
    decoded_name, decoded = reg.decode(data)
    assert decoded_name == name
    assert _normalize(decoded) == _normalize(record)


def test_decimal_is_exact_to_the_last_place() -> None:
    reg = registry()
    fill = sample_record(reg.current("Fill"))
    fill.update(price=Decimal("27123.450000000000000001"), quantity=Decimal("0.00000001"))
    _, back = reg.decode(reg.encode("Fill", fill))
    assert back["price"] == Decimal("27123.450000000000000001")
    assert back["quantity"] == Decimal("0.00000001")


def test_every_current_schema_is_frozen_with_a_fixture() -> None:
    reg = registry()
    for name in reg.names():
        v = reg.current(name)
        hist = avro_dir() / "history" / name / f"{v.fingerprint_hex}.avsc"
        assert hist.exists(), f"{name} changed: run `desk schemas freeze` and commit the result"
        assert fixture_path(FIXTURES, v).exists(), f"{name}: no fixture for {v.fingerprint_hex}"


def test_every_committed_version_decodes_with_the_current_reader() -> None:
    reg = registry()
    versions = reg.versions()
    assert len(versions) >= len(DESIGN_TYPES)
    for v in versions:
        data = fixture_path(FIXTURES, v).read_bytes()
        name, record = reg.decode(data)
        assert name == v.name
        # what was decoded re-encodes with the current schema: the reader really understood it
        reg.decode(reg.encode(name, record))


def _copy_registry(tmp_path: Path) -> Path:
    root = tmp_path / "avro"
    shutil.copytree(avro_dir(), root)
    return root


def test_compatible_change_reads_old_events_with_the_default(tmp_path: Path) -> None:
    root = _copy_registry(tmp_path)
    schema = json.loads((root / "Bar.avsc").read_text())
    schema["fields"].append({"name": "vwap", "type": ["null", "double"], "default": None})
    (root / "Bar.avsc").write_text(json.dumps(schema))
    fixtures = tmp_path / "fixtures"
    shutil.copytree(FIXTURES, fixtures)
    reg = SchemaRegistry(root)
    old = fixture_path(fixtures, registry().current("Bar")).read_bytes()
    name, record = reg.decode(old)
    assert name == "Bar" and record["vwap"] is None
    added = freeze(reg, fixtures)  # the workflow: freeze writes history + fixture
    assert any(a.endswith(".avsc") for a in added) and any(a.endswith(".avro") for a in added)


def test_breaking_change_is_caught(tmp_path: Path) -> None:
    """A new required field without a default cannot read old events: the decode fails."""
    root = _copy_registry(tmp_path)
    schema = json.loads((root / "Bar.avsc").read_text())
    schema["fields"].append({"name": "vwap", "type": "double"})
    (root / "Bar.avsc").write_text(json.dumps(schema))
    reg = SchemaRegistry(root)
    old = fixture_path(FIXTURES, registry().current("Bar")).read_bytes()
    with pytest.raises(DecodeError, match="bad Bar body"):
        reg.decode(old)


@pytest.mark.parametrize(
    "data,message",
    [
        (b"", "not an Avro single-object message"),
        (b'{"json": true}', "not an Avro single-object message"),
        (MAGIC + bytes(8) + b"x", "unknown schema fingerprint"),
        ("text", "expected bytes"),
    ],
)
def test_garbage_is_a_one_line_decode_error(data: object, message: str) -> None:
    with pytest.raises(DecodeError, match=message) as info:
        registry().decode(data)  # type: ignore[arg-type]
    assert "\n" not in str(info.value)


def test_truncated_and_trailing_bytes_are_rejected() -> None:
    reg = registry()
    data = reg.encode("Bar", sample_record(reg.current("Bar")))
    with pytest.raises(DecodeError, match="bad Bar body"):
        reg.decode(data[:-5])
    with pytest.raises(DecodeError, match="trailing bytes"):
        reg.decode(data + b"\x00")


def test_wrong_type_is_rejected_when_a_type_is_expected() -> None:
    reg = registry()
    data = reg.encode("Fill", sample_record(reg.current("Fill")))
    with pytest.raises(DecodeError, match="expected a Bar event, got Fill"):
        reg.decode(data, expect="Bar")


def test_encode_errors_name_the_problem() -> None:
    reg = registry()
    bar = sample_record(reg.current("Bar"))
    with pytest.raises(EncodeError, match="more fields"):
        reg.encode("Bar", {**bar, "typo_field": 1})
    with pytest.raises(EncodeError, match="close"):
        reg.encode("Bar", {k: v for k, v in bar.items() if k != "close"})
    fill = sample_record(reg.current("Fill"))
    with pytest.raises(EncodeError, match="decimal places"):
        reg.encode("Fill", {**fill, "price": Decimal("1." + "1" * 19)})
    with pytest.raises(EncodeError, match="price"):
        reg.encode("Fill", {**fill, "price": 1.5})  # a float is not money


def test_faust_codec_uses_single_object_encoding() -> None:
    register_codecs()
    reg = registry()
    bar = sample_record(reg.current("Bar"))
    data = codecs.dumps(codec_name("Bar"), bar)
    assert data == reg.encode("Bar", bar)
    assert _normalize(codecs.loads(codec_name("Bar"), data)) == _normalize(bar)
    fill = reg.encode("Fill", sample_record(reg.current("Fill")))
    with pytest.raises(DecodeError):
        codecs.loads(codec_name("Bar"), fill)
