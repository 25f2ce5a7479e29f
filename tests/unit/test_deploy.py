"""The compose stack is validated statically (no Docker engine here): it must match the code."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from typer.main import get_command

from streams.cli import app
from streams.settings import DeskSettings, load_settings

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
            if len(cmd) > 2 and hasattr(group, "commands"):  # a group: its subcommand exists
                assert cmd[2] in group.commands


def test_no_literal_secrets_in_deploy_files() -> None:
    text = (DEPLOY / "compose.yaml").read_text()
    values = re.findall(r"PASSWORD: +(\S+)", text) + re.findall(r"://\w+:(\S+?)@", text)
    assert values
    for value in values:
        assert value.startswith("${"), f"literal secret in compose.yaml: {value[:3]}..."
    example = (DEPLOY / ".env.example").read_text()
    assert all(line.endswith("=") for line in example.splitlines() if "PASSWORD" in line)


# -- issue 19, point 1: the compose stack provisions everything the code needs ------------


def _env_example() -> dict[str, str]:
    lines = (DEPLOY / ".env.example").read_text().splitlines()
    return dict(ln.split("=", 1) for ln in lines if "=" in ln and not ln.startswith("#"))


def _hostport(url: str) -> tuple[str, int]:
    from urllib.parse import urlsplit

    u = urlsplit(url if "://" in url else f"kafka://{url}")
    return u.hostname or "", u.port or 0


LONG_RUNNING = ("redpanda", "console", "clickhouse", "postgres", "agents", "dashboard",
                "prometheus")  # fmt: skip


def test_every_part_is_there_with_health_restarts_limits_and_pinned_images() -> None:
    services = _compose()["services"]
    assert set(LONG_RUNNING) | {"topics", "migrate"} <= set(services)
    for name in LONG_RUNNING:
        svc = services[name]
        assert svc.get("restart") == "unless-stopped", name
        assert svc["deploy"]["resources"]["limits"], name
        image = svc["image"]
        assert ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest"), image
    for name in ("redpanda", "clickhouse", "postgres", "agents", "dashboard"):
        assert services[name]["healthcheck"]["test"], name
    assert services["agents"]["deploy"]["replicas"] >= 2  # workers share the partitions
    assert set(_compose()["volumes"]) >= {"redpanda", "clickhouse", "postgres", "prometheus"}


def test_the_bootstrap_provisions_every_topic_and_migration_before_the_workers() -> None:
    from analytics.store import MIGRATIONS as CH_MIGRATIONS
    from connectors.postgres.migrate import MIGRATIONS as PG_MIGRATIONS
    from streams.cli.catalog import topics_apply
    from streams.topics import CATALOG

    services = _compose()["services"]
    assert services["topics"]["command"] == ["desk", "topics", "apply"]
    assert services["migrate"]["command"] == ["desk", "db", "migrate"]
    # `desk topics apply` applies the whole catalog as the settings run it (retention
    # overrides, replicas); `desk db migrate` both stores' folders
    assert "apply_desk_topics(" in Path(topics_apply.__code__.co_filename).read_text()
    assert [s.name for s in load_settings().catalog] == [s.name for s in CATALOG]
    assert len(CATALOG) >= 17 and any(PG_MIGRATIONS.glob("*.sql"))
    assert any(CH_MIGRATIONS.glob("*.sql"))
    for name in ("agents",):
        needs = services[name]["depends_on"]
        assert (
            needs["topics"]["condition"]
            == needs["migrate"]["condition"]
            == ("service_completed_successfully")
        )
    # the image carries every package the code is (migrations and schemas included)
    docker = (DEPLOY / "Dockerfile").read_text()
    for pkg in ("streams", "agents", "connectors", "analytics", "dashboard", "schemas"):
        assert f"COPY {pkg} {pkg}" in docker, pkg


def test_every_variable_is_provided_and_every_port_matches_its_service() -> None:
    text = (DEPLOY / "compose.yaml").read_text()
    example = _env_example()
    for var, default in re.findall(r"\$\{(\w+)(:-[^}]*)?", text):
        assert var in example or default, f"${{{var}}} is neither in .env.example nor defaulted"
    services = _compose()["services"]
    env = services["agents"]["environment"]
    for var in ("DESK_BROKER_URL", "DESK_POSTGRES_DSN", "DESK_CLICKHOUSE_URL",
                "DESK_METRICS_PORT", "DESK_METRICS_ADDRESS"):  # fmt: skip
        assert env.get(var), var
    redpanda = " ".join(services["redpanda"]["command"])
    assert _hostport(env["DESK_BROKER_URL"]) == ("redpanda", 9092)
    assert "internal://0.0.0.0:9092" in redpanda
    assert _hostport(env["DESK_CLICKHOUSE_URL"].replace("${DESK_CH_PASSWORD:?set DESK_CH_"
                                                        "PASSWORD in .env}", "x")) == (
        "clickhouse", 8123)  # fmt: skip
    assert "8123:8123" in services["clickhouse"]["ports"]
    pg = env["DESK_POSTGRES_DSN"].replace("${DESK_PG_PASSWORD:?set DESK_PG_PASSWORD in .env}", "x")
    assert _hostport(pg) == ("postgres", 5432)
    registry = services["console"]["environment"]["KAFKA_SCHEMAREGISTRY_URLS"]
    assert _hostport(registry)[1] == 8081 and "internal://0.0.0.0:8081" in redpanda
    assert env["DESK_SCHEMA_REGISTRY_URL"] == registry  # the desk writes what Console reads
    # topics get no more replicas than there are brokers, and the retention overrides parse
    nodes = [n for n in services if n.startswith("redpanda")]
    rf = re.fullmatch(
        r"\$\{DESK_TOPIC_REPLICATION_FACTOR:-(\d+)\}", env["DESK_TOPIC_REPLICATION_FACTOR"]
    )
    assert rf and 1 <= int(rf.group(1)) <= len(nodes)
    assert int(example["DESK_TOPIC_REPLICATION_FACTOR"]) <= len(nodes)
    load_settings(topic_retention=example["DESK_TOPIC_RETENTION"])
    # metrics: the port the workers serve is the one Prometheus scrapes and the check asks
    port = int(env["DESK_METRICS_PORT"])
    prom = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    [job] = prom["scrape_configs"]
    assert job["dns_sd_configs"][0] == {**job["dns_sd_configs"][0], "names": ["agents"],
                                        "port": port}  # fmt: skip
    assert f":{port}/readyz" in " ".join(services["agents"]["healthcheck"]["test"])
    dash = services["dashboard"]
    dport = dash["command"][dash["command"].index("--port") + 1]
    assert f"{dport}:{dport}" in dash["ports"]
    assert f":{dport}/_stcore/health" in " ".join(dash["healthcheck"]["test"])
    mounted = {v.split(":")[1] for v in services["prometheus"]["volumes"] if v.startswith("./")}
    assert set(prom["rule_files"]) <= mounted


def test_every_alert_rule_names_metrics_the_desk_exports() -> None:
    import shutil
    import subprocess

    from prometheus_client import REGISTRY

    import streams.metrics  # noqa: F401  (registers the desk's metrics)

    # every sample name each registered metric exports (_total, _bucket, _count, ...)
    names = REGISTRY._collector_to_names.values()  # type: ignore[attr-defined]
    exported = {n for group in names for n in group}
    rules = yaml.safe_load((DEPLOY / "alerts.yml").read_text())
    named = 0
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert rule["alert"] and rule["expr"] and rule["labels"]["severity"] in (
                "warning", "critical"), rule  # fmt: skip
            for metric in re.findall(r"\b(desk_[a-z_]+)", rule["expr"]):
                named += 1
                assert metric in exported, f"{rule['alert']}: {metric} is not exported"
    assert named >= 10
    promtool = shutil.which("promtool")
    if promtool:  # the real check where Prometheus' tool is installed
        res = subprocess.run([promtool, "check", "rules", str(DEPLOY / "alerts.yml")],
                             capture_output=True, text=True)  # fmt: skip
        assert res.returncode == 0, res.stdout + res.stderr
