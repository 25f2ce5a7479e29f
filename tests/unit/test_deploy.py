"""The compose stack is validated statically (no Docker engine here): it must match the code."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from typer.main import get_command

from streams.cli import app
from streams.settings import DeskSettings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "redpanda"


def _compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def test_compose_has_the_production_parts() -> None:
    services = _compose()["services"]
    assert {"redpanda", "console", "clickhouse", "postgres", "topics", "agents"} <= set(services)


def test_every_desk_variable_is_a_real_setting() -> None:
    fields = {f"DESK_{name.upper()}" for name in DeskSettings.model_fields}
    for name, svc in _compose()["services"].items():
        for var in svc.get("environment", {}) or {}:
            if var.startswith("DESK_"):
                assert var in fields, f"{name}: {var} is not a DeskSettings field"


def test_desk_commands_exist() -> None:
    commands = get_command(app).commands  # type: ignore[attr-defined]
    for svc in _compose()["services"].values():
        cmd = svc.get("command")
        if isinstance(cmd, list) and cmd and cmd[0] == "desk":
            group = commands[cmd[1]]
            if len(cmd) > 2:
                assert cmd[2] in group.commands  # type: ignore[attr-defined]


def test_no_literal_secrets_in_deploy_files() -> None:
    text = (DEPLOY / "compose.yaml").read_text()
    values = re.findall(r"PASSWORD: +(\S+)", text) + re.findall(r"://\w+:(\S+?)@", text)
    assert values
    for value in values:
        assert value.startswith("${"), f"literal secret in compose.yaml: {value[:3]}..."
    example = (DEPLOY / ".env.example").read_text()
    assert all(line.endswith("=") for line in example.splitlines() if "PASSWORD" in line)
