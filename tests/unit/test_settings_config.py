"""Settings (DESK_* env, .env) and the desk config: defaults, one-line errors naming the key."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.config import DEFAULT_CONFIG, load_config, parse_config
from streams.errors import ConfigError
from streams.settings import load_settings, redact_url
from tests.conftest import run_desk


def test_defaults_select_the_embedded_stack(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    for k in list(__import__("os").environ):
        if k.startswith("DESK_"):
            monkeypatch.delenv(k)
    s = load_settings()
    assert s.embedded_broker and s.embedded_postgres
    assert s.data_path == tmp_path / ".desk"
    assert s.clickhouse_dsn == f"chdb://{tmp_path / '.desk' / 'clickhouse'}"


def test_env_and_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(
        "DESK_BROKER_URL=kafka://rp1:9092,rp2:9092\nDESK_TOPIC_PREFIX=x.\n"
    )
    monkeypatch.setenv("DESK_POSTGRES_DSN", "postgresql://desk:s3cret@db:5432/desk")
    s = load_settings()
    assert s.broker_url == "rp1:9092,rp2:9092"  # scheme stripped for librdkafka
    assert s.topic_prefix == "x."
    assert not s.embedded_postgres and "s3cret" not in repr(s)


@pytest.mark.parametrize(
    "env,key",
    [
        ({"DESK_METRICS_PORT": "70000"}, "DESK_METRICS_PORT"),
        ({"DESK_TOPIC_PREFIX": "bad prefix!"}, "DESK_TOPIC_PREFIX"),
        ({"DESK_LOG_LEVEL": "LOUD"}, "DESK_LOG_LEVEL"),
    ],
)
def test_bad_setting_is_one_line_naming_the_key(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], key: str
) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert key in str(info.value) and "\n" not in str(info.value)


def test_secret_setting_error_does_not_echo_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(postgres_dsn=["not", "a", "string", "hunter2"])
    assert "DESK_POSTGRES_DSN" in str(info.value) and "hunter2" not in str(info.value)


@pytest.mark.parametrize(
    "url,shown",
    [
        ("postgresql://desk:s3cret@db:5432/desk", "postgresql://desk:***@db:5432/desk"),
        ("https://user:pw@ch.example:8443/?x=1", "https://user:***@ch.example:8443/?x=1"),
        ("https://hooks.example/x?token=abc123", "https://hooks.example/x?token=***"),
        ("127.0.0.1:9092", "127.0.0.1:9092"),
    ],
)
def test_redaction(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def _default() -> dict[str, Any]:
    return yaml.safe_load(DEFAULT_CONFIG.read_text())


def test_packaged_config_is_valid_and_limits_layer() -> None:
    cfg = load_config()
    assert cfg.limits_for("mm-btc").max_order_notional == 5000  # the bot's own value
    assert cfg.limits_for("trend-fx").max_order_notional == 25000  # the desk default


def _set(path: list[Any], value: Any) -> Any:
    def mutate(d: dict[str, Any]) -> None:
        node: Any = d
        for p in path[:-1]:
            node = node[p]
        node[path[-1]] = value

    return mutate


@pytest.mark.parametrize(
    "mutate,where",
    [
        (_set(["limits", "max_order_notionl"], "5"), "limits.max_order_notionl"),
        (_set(["limits", "max_drawdown"], "1.5"), "limits.max_drawdown"),
        (_set(["limits", "max_daily_loss"], "-1"), "limits.max_daily_loss"),
        (_set(["bots", 1, "strategy"], "nope"), "bots.1.strategy"),
        (_set(["bots", 0, "symbols"], ["DOGE/USD"]), "bots.0.symbols"),
        (_set(["bots", 1, "id"], "trend-fx"), "bots.1.id"),
        (_set(["bots", 0, "fee_profile"], "vip"), "bots.0.fee_profile"),
        (
            _set(["fee_profiles", "paper_default", "taker_bps"], "abc"),
            "fee_profiles.paper_default.taker_bps",
        ),
        (_set(["alert_routes", 0], {"name": "w", "kind": "webhook"}), "alert_routes.0"),
        (_set(["universe"], []), "universe"),
    ],
)
def test_bad_config_is_one_line_naming_the_key(mutate: Any, where: str) -> None:
    data = copy.deepcopy(_default())
    mutate(data)
    with pytest.raises(ConfigError) as info:
        parse_config(data, "desk.yaml")
    msg = str(info.value)
    assert msg.startswith(f"config desk.yaml: {where}:"), msg
    assert "\n" not in msg


def test_config_check_cli_fails_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "desk.yaml"
    data = _default()
    data["limits"]["max_leverage"] = "lots"
    bad.write_text(yaml.safe_dump(data))
    res = run_desk("config", "check", str(bad))
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0
    assert "limits.max_leverage" in res.stderr and "Traceback" not in res.stderr
    ok = run_desk("config", "check", "--json")
    assert ok.returncode == 0 and "mm-btc" in ok.stdout


def test_unreadable_and_non_yaml_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("desk: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(broken)


def test_desk_up_refuses_to_start_on_a_bad_config(tmp_path: Path) -> None:
    bad = tmp_path / "desk.yaml"
    data = _default()
    data["bots"][0]["strategy"] = "missing"
    bad.write_text(yaml.safe_dump(data))
    env = {"DESK_CONFIG_FILE": str(bad), "DESK_DATA_DIR": str(tmp_path / "d")}
    res = run_desk("up", env=env)
    assert res.returncode == 2 and "bots.0.strategy: unknown strategy 'missing'" in res.stderr
    assert not (tmp_path / "d").exists()  # nothing was started or written
