"""Parity on a real paper day: quiet when the shadow model is the venue's own; a WARNING
when the shadow is made optimistic (every order fills at once, no slippage, no latency)."""

from __future__ import annotations

from functools import cache

import pytest

from agents.parity.core import parity_reports
from connectors.feeds.files import read_files
from streams.avro import registry
from streams.config import DeskConfig, load_config
from streams.engine import Engine
from tests.conftest import SHARED_DATA

CRYPTO = SHARED_DATA / "crypto_1m"
pytestmark = pytest.mark.skipif(not CRYPTO.exists(), reason="../shared/data not present")
DAY = 86_400_000


@cache
def realized() -> dict[str, list[dict]]:
    bars = read_files(sorted(CRYPTO.glob("binanceus_BTC*_1m_*.csv"))).bars
    start = bars[0]["open_time"] + 9 * DAY
    window = [b for b in bars if start <= b["open_time"] < start + DAY]
    out = Engine.for_desk(load_config()).run(window)
    return {t: out.topic(t) for t in ("orders.commands", "orders.events", "fills",
                                      "market.bars.clean")}  # fmt: skip


def reports(config: DeskConfig) -> list[dict]:
    r = realized()
    return parity_reports(config, r["orders.commands"], r["orders.events"], r["fills"],
                          r["market.bars.clean"])  # fmt: skip


def test_the_same_model_on_both_sides_agrees_exactly() -> None:
    got = reports(load_config())
    assert {r["bot_id"] for r in got} == {"trend-btc", "mm-btc"} and len(got) >= 6
    for r in got:
        registry().encode("ParityReport", r)
        assert r["status"] == "OK"
        assert all(m["delta"] in (None, 0.0) for m in r["metrics"]), r["metrics"]


def test_an_optimistic_fill_model_is_flagged() -> None:
    cfg = load_config()
    optimistic = cfg.model_copy(update={"parity": cfg.parity.model_copy(update={"shadow": {
        "volume_share": "1", "slippage_bps_per_share": "0", "latency_ms": 0}})})  # fmt: skip
    got = reports(optimistic)
    warned = {(r["bot_id"], m["name"]) for r in got for m in r["metrics"]
              if m["status"] == "WARNING"}  # fmt: skip
    assert any(r["status"] == "WARNING" for r in got)
    assert ("trend-btc", "slippage_bps") in warned  # market orders: the model paid less
    worst = max((m for r in got for m in r["metrics"] if m["name"] == "slippage_bps"
                 and m["realized"] is not None), key=lambda m: m["delta"])  # fmt: skip
    assert worst["realized"] > worst["expected"]
