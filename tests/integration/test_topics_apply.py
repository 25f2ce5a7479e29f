"""`desk topics apply` on a real Kafka-API broker: creates, fixes drift, idempotent."""

from __future__ import annotations

import json

import pytest
from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource

from streams.admin import apply_topics, list_topics
from streams.kafka import admin
from streams.topics import CATALOG
from tests.conftest import namespace, run_desk

pytestmark = pytest.mark.integration


def test_apply_is_idempotent_and_repairs_drift(bootstrap: str) -> None:
    prefix = namespace("apply-test")
    first = apply_topics(bootstrap, prefix)
    assert {c.action for c in first} == {"create"} and len(first) == len(CATALOG)
    second = apply_topics(bootstrap, prefix)
    assert {c.action for c in second} == {"ok"}

    # an operator changed retention by hand: apply puts the catalog value back
    res = ConfigResource(
        "topic",
        f"{prefix}fills",
        incremental_configs=[
            ConfigEntry("retention.ms", "1000", incremental_operation=AlterConfigOpType.SET)
        ],
    )
    client = admin(bootstrap)
    for fut in client.incremental_alter_configs([res]).values():
        fut.result(10)
    drifted = {c.topic: c.action for c in list_topics(bootstrap, prefix)}
    assert drifted[f"{prefix}fills"] == "alter"
    fixed = {c.topic: c for c in apply_topics(bootstrap, prefix)}
    assert fixed[f"{prefix}fills"].action == "alter"
    assert {c.action for c in apply_topics(bootstrap, prefix)} == {"ok"}


def test_cli_apply_twice_says_nothing_changed(bootstrap: str) -> None:
    env = {"DESK_BROKER_URL": bootstrap, "DESK_TOPIC_PREFIX": namespace("cli-test")}
    one = run_desk("topics", "apply", "--json", env=env)
    assert one.returncode == 0, one.stderr
    assert json.loads(one.stdout)["changed"] == len(CATALOG)
    two = run_desk("topics", "apply", env=env)
    assert two.returncode == 0 and "nothing to change" in two.stdout
    listed = json.loads(run_desk("topics", "list", "--json", env=env).stdout)
    assert {t["action"] for t in listed["topics"]} == {"ok"}


def test_cli_without_a_broker_is_one_line(tmp_path) -> None:
    res = run_desk("topics", "list", env={"DESK_DATA_DIR": str(tmp_path)})
    assert res.returncode == 2
    assert "no broker" in res.stderr and "Traceback" not in res.stderr
    down = run_desk("topics", "apply", env={"DESK_BROKER_URL": "127.0.0.1:1"}, timeout=60)
    assert down.returncode == 2 and "broker unreachable" in down.stderr
