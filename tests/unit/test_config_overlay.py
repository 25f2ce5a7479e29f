"""Config overlays: a small file laid over the default (or another base) instead of a copy."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.config import ConfigError, load_config, merge_config
from tests.conftest import run_desk

ADD_KRAKEN = """\
extends: default
universe:
  - {venue: kraken, symbol: BTC/USD, quote_currency: USD}
  - {venue: binanceus, symbol: BTC/USD, quote_currency: USD, tick_size: "0.01"}
data_quality:
  extra_streams: ["research:*"]
  cross_market:
    - name: BTC
      members: [kraken:BTC/USD]
"""


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_overlay_adds_a_venue_to_the_universe_and_the_cross_market_group(tmp_path: Path) -> None:
    base = load_config()
    cfg = load_config(_write(tmp_path / "kraken.yaml", ADD_KRAKEN))
    keys = [i.key for i in cfg.universe]
    assert keys == [*(i.key for i in base.universe), "kraken:BTC/USD"]  # appended, none lost
    assert cfg.instrument("binanceus", "BTC/USD").tick_size is not None  # same key: merged
    (group,) = cfg.data_quality.cross_market
    assert group.reference == "binanceus:BTC/USD" and group.members == [
        "binanceus:BTC/USDT",
        "binanceus:BTC/USDC",
        "kraken:BTC/USD",
    ]
    assert group.warning_bps == base.data_quality.cross_market[0].warning_bps  # kept
    assert cfg.data_quality.extra_streams == ["yahoo:*", "research:*"]
    assert cfg.known_stream("kraken", "BTC/USD") and cfg.known_stream("research", "X")
    assert [b.id for b in cfg.bots] == [b.id for b in base.bots]
    assert cfg.limits == base.limits and cfg.portfolio_risk == base.portfolio_risk


def test_replace_tag_and_chains_of_bases(tmp_path: Path) -> None:
    _write(tmp_path / "mid.yaml", ADD_KRAKEN)
    (tmp_path / "sub").mkdir()
    top = _write(
        tmp_path / "sub" / "top.yaml",
        "extends: ../mid.yaml\nbots: !replace []\nlimits: {max_order_notional: '100'}\n",
    )
    cfg = load_config(top)
    assert cfg.bots == [] and "kraken:BTC/USD" in {i.key for i in cfg.universe}
    assert cfg.limits.max_order_notional == 100 and cfg.limits.max_leverage == 2  # key by key


def test_overlay_problems_are_one_line_naming_the_file(tmp_path: Path) -> None:
    cases = {
        "extends: nowhere.yaml\n": "extends: .*nowhere.yaml: no such file",
        "extends: [default]\n": "extends: expected 'default' or a config file path",
        "extends: default\nuniverse: [{venue: kraken, symbol: X/Y}]\n": (
            r"overlay.yaml \(extends .*desk.default.yaml\): universe.5.quote_currency"
        ),
        "extends: overlay.yaml\n": "extends: a loop",
    }
    for text, says in cases.items():
        with pytest.raises(ConfigError, match=says) as exc:
            load_config(_write(tmp_path / "overlay.yaml", text))
        assert "\n" not in str(exc.value)


def test_merge_rules() -> None:
    base = {"a": {"x": 1, "y": [1, 2]}, "items": [{"id": "p", "v": 1}], "z": [{"k": 1}]}
    over = {"a": {"y": [2, 3]}, "items": [{"id": "p", "w": 2}, {"id": "q"}], "z": [{"k": 2}]}
    assert merge_config(base, over) == {
        "a": {"x": 1, "y": [1, 2, 3]},
        "items": [{"id": "p", "v": 1, "w": 2}, {"id": "q"}],
        "z": [{"k": 1}, {"k": 2}],  # no identity: appended
    }
    assert base["a"]["y"] == [1, 2]  # the base is not changed


def test_config_check_shows_the_base(tmp_path: Path) -> None:
    # a long path (CI's checkout is deeper than ours): the message stays one line, not
    # folded at 80 columns where a pipe or grep would split "6 \ninstruments"
    deep = tmp_path / "a-checkout-somewhere-deeper-than-this-machine's" / "overlays"
    deep.mkdir(parents=True)
    overlay = _write(deep / "kraken.yaml", ADD_KRAKEN)
    res = run_desk("config", "check", str(overlay), env={"DESK_DATA_DIR": str(tmp_path / "d")})
    assert res.returncode == 0, res.stderr
    lines = res.stdout.strip().splitlines()
    assert len(lines) == 1, res.stdout
    assert "extends" in lines[0] and "6 instruments" in lines[0]


def test_a_listed_instrument_without_a_calendar_takes_the_end_of_day_default() -> None:
    from streams.config import load_config, parse_config

    data = load_config().model_dump(mode="json", exclude_none=True)
    data["universe"].append({"venue": "yahoo", "symbol": "SPY", "asset_class": "etf",
                             "quote_currency": "USD"})  # fmt: skip
    cfg = parse_config(data)
    assert cfg.calendar_for("yahoo:SPY", "1d") == cfg.data_quality.daily_calendar == "XNYS"
    assert cfg.calendar_for("binanceus:BTC/USD", "1m") == "24/7"  # crypto by class
    assert cfg.calendar_for("sample:GOOG", "1h") == "XNYS"  # its own
