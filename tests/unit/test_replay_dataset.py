"""Replay datasets without a broker: the format, its determinism, what a bad dataset says,
and how a verdict names what differs (the bundled EUR/USD bars: no ../shared needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analytics.regression.build import from_bars, with_overrides
from analytics.regression.dataset import (
    broken_invariants,
    differences,
    open_dataset,
)
from analytics.regression.run import verdict
from connectors.feeds.sample import sample_bars
from streams.config import DEFAULT_CONFIG, load_config_data
from streams.engine import Engine
from streams.errors import DeskError

BARS = list(sample_bars("EURUSD", 600))


@pytest.fixture(scope="module")
def config_data() -> dict:
    return load_config_data(DEFAULT_CONFIG)[0]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory, config_data: dict) -> Path:
    out = tmp_path_factory.mktemp("ds") / "fx"
    from_bars(out, "fx", BARS, config_data, "EUR/USD hourly")
    return out


def test_a_dataset_is_self_describing_and_built_twice_byte_identical(
    dataset: Path, tmp_path: Path, config_data: dict
) -> None:
    m = json.loads((dataset / "manifest.json").read_text())
    assert m["format"] == "deskplane.replay/1"
    assert m["topics"]["market.bars"] == {**m["topics"]["market.bars"], "role": "input",
                                          "count": 600, "schema": "Bar"}  # fmt: skip
    assert len(m["topics"]["market.bars"]["fingerprint"]) == 16
    assert m["topics"]["fills"]["count"] > 0, "the trend bot trades EUR/USD in 600 hours"
    assert m["window"] == {"first_ts": BARS[0]["ts_event"], "last_ts": BARS[-1]["ts_event"]}
    again = tmp_path / "fx"
    from_bars(again, "fx", BARS, config_data, "EUR/USD hourly")
    files = sorted(p.relative_to(dataset) for p in dataset.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for rel in files:
        assert (dataset / rel).read_bytes() == (again / rel).read_bytes(), rel
    ds = open_dataset(dataset)
    assert ds.events("market.bars") == BARS  # what went in comes out, exactly


def test_the_golden_of_a_dataset_is_its_own_verdict(dataset: Path) -> None:
    ds = open_dataset(dataset)
    v = verdict(ds, ds.golden(), "rp-self", ds.manifest["config_sha256"])
    assert v.passed and v.config_is_recorded and not v.differences
    assert v.counts["fills"]["golden"] == v.counts["fills"]["run"] > 0


def test_a_changed_risk_limit_is_named_at_its_first_decision(
    dataset: Path, tmp_path: Path, config_data: dict
) -> None:
    """A run with a tighter position limit: the first difference reported is the earliest,
    and it is risk's decision (the cause), before the orders and fills it changed."""
    ds = open_dataset(dataset)
    tight = with_overrides(config_data, {"limits.max_position_notional": "20000"})
    path = tmp_path / "tight.yaml"
    path.write_text(json.dumps(tight))
    from streams.config import load_config

    have: dict[str, list] = {t: [] for t in ds.topics("golden")}
    for topic, _key, event in Engine.for_desk(load_config(path)).run(BARS).events:
        if topic in have:
            have[topic].append(event)
    v = verdict(ds, have, "rp-tight", "other")
    assert not v.passed and not v.config_is_recorded
    first = v.differences[0]
    assert first.startswith("risk.decisions key trend-fx:"), first
    # the check that moved, by name, with its value against the old and the new limit
    assert "check max_position_notional (pass " in first and "/100000 -> " in first, first
    assert "/20000)" in first, first


def test_invariants_count_what_a_variant_must_never_do() -> None:
    have = {"orders.commands": [{"command": "CANCEL_ALL"}, {"command": "CANCEL_ALL"}],
            "fills": []}  # fmt: skip
    assert broken_invariants({"orders.commands:command=SUBMIT": 0, "fills": 0}, have) == []
    have["orders.commands"].append({"command": "SUBMIT"})
    assert broken_invariants({"orders.commands:command=SUBMIT": 0}, have) == [
        "orders.commands:command=SUBMIT: 1 events, the dataset expects 0"
    ]
    assert differences({"fills": []}, {"fills": []}) == []


def test_overrides_reach_every_bot_that_sets_the_limit_itself(config_data: dict) -> None:
    out = with_overrides(config_data, {"limits.max_orders_per_minute": 0})
    assert out["limits"]["max_orders_per_minute"] == 0
    mm = next(b for b in out["bots"] if b["id"] == "mm-btc")
    assert "max_orders_per_minute" not in mm["limits"]  # inherits the desk's
    bot_set = {**config_data, "bots": [{**mm, "limits": {"max_orders_per_minute": 9}}]}
    assert with_overrides(bot_set, {"limits.max_orders_per_minute": 0})["bots"][0]["limits"] == {
        "max_orders_per_minute": 0
    }
    assert config_data["limits"]["max_orders_per_minute"] == 60  # the input is not changed


@pytest.mark.parametrize(
    "damage, says",
    [
        (lambda d: (d / "manifest.json").unlink(), "not a replay dataset (no manifest.json)"),
        (lambda d: (d / "manifest.json").write_text("{not json"), "unreadable manifest"),
        (lambda d: (d / "manifest.json").write_text('{"format": "other/9"}'),
         "format 'other/9', this desk reads deskplane.replay/1"),
        (lambda d: (d / "golden" / "fills.avro").unlink(), "golden/fills.avro is missing"),
        (lambda d: (d / "config.yaml").unlink(), "config.yaml is missing"),
    ],
)  # fmt: skip
def test_a_damaged_dataset_is_a_one_line_error(
    dataset: Path, tmp_path: Path, damage, says: str
) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(dataset, copy)
    damage(copy)
    with pytest.raises(DeskError, match=says.replace("(", r"\(").replace(")", r"\)")):
        open_dataset(copy)


def test_a_container_file_cut_short_or_swapped_is_caught(dataset: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(dataset, copy)
    fills = copy / "golden" / "fills.avro"
    fills.write_bytes(fills.read_bytes()[: len(fills.read_bytes()) // 2])
    with pytest.raises(DeskError, match="fills"):
        open_dataset(copy).events("fills")
    shutil.copy(copy / "golden" / "venue.reports.avro", copy / "golden" / "orders.events.avro")
    with pytest.raises(DeskError, match=r"orders\.events"):
        open_dataset(copy).events("orders.events")
