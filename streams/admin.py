"""Topic administration on any Kafka-API broker (Tansu, Redpanda, Kafka) via AdminClient."""

from __future__ import annotations

from collections.abc import Iterable

from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewTopic,
)

from streams.errors import DeskError
from streams.kafka import admin as admin_client
from streams.settings import DeskSettings
from streams.topics import CATALOG, ObservedTopic, TopicChange, TopicSpec, plan

_WATCHED_CONFIGS = ("cleanup.policy", "retention.ms")


def observe(
    admin: AdminClient, names: Iterable[str], timeout_s: float = 10.0
) -> dict[str, ObservedTopic]:
    """Partitions, replicas and watched configs of the named topics that exist."""
    try:
        md = admin.list_topics(timeout=timeout_s)
    except KafkaException as exc:
        raise DeskError(f"broker unreachable: {exc.args[0].str()}") from None
    present = [n for n in names if n in md.topics]
    if not present:
        return {}
    futures = admin.describe_configs([ConfigResource("topic", n) for n in present])
    out: dict[str, ObservedTopic] = {}
    for res, fut in futures.items():
        entries = fut.result(timeout=timeout_s)
        config = {k: entries[k].value for k in _WATCHED_CONFIGS if k in entries}
        parts = md.topics[res.name].partitions.values()
        replicas = min((len(p.replicas) for p in parts), default=None)
        out[res.name] = ObservedTopic(len(parts), config, replicas)
    return out


def apply_topics(
    bootstrap: str,
    prefix: str = "",
    specs: Iterable[TopicSpec] = CATALOG,
    timeout_s: float = 10.0,
    replication_factor: int = -1,
) -> list[TopicChange]:
    """Create missing topics and fix drifted configs; idempotent. Returns the plan applied.

    ``replication_factor`` -1 leaves it to the broker's default."""
    specs = list(specs)
    admin = admin_client(bootstrap, timeout_s)
    names = [prefix + s.name for s in specs]
    changes = plan(specs, observe(admin, names, timeout_s), prefix, replication_factor)
    creates = [
        NewTopic(
            c.topic,
            num_partitions=c.spec.partitions,
            replication_factor=replication_factor,
            config=dict(c.config),
        )
        for c in changes
        if c.action == "create"
    ]
    if creates:
        for topic, fut in admin.create_topics(creates, operation_timeout=timeout_s).items():
            try:
                fut.result(timeout=timeout_s)
            except KafkaException as exc:
                if exc.args[0].name() != "TOPIC_ALREADY_EXISTS":  # raced with another apply
                    raise DeskError(f"cannot create topic {topic}: {exc.args[0].str()}") from None
    alters = [
        ConfigResource(
            "topic",
            c.topic,
            incremental_configs=[
                ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET)
                for k, v in c.config.items()
            ],
        )
        for c in changes
        if c.action == "alter"
    ]
    if alters:
        for res, fut in admin.incremental_alter_configs(alters).items():
            try:
                fut.result(timeout=timeout_s)
            except KafkaException as exc:
                raise DeskError(f"cannot alter topic {res.name}: {exc.args[0].str()}") from None
    return changes


def list_topics(
    bootstrap: str,
    prefix: str = "",
    timeout_s: float = 10.0,
    specs: Iterable[TopicSpec] = CATALOG,
    replication_factor: int = -1,
) -> list[TopicChange]:
    """The catalog compared with the broker, without changing anything."""
    specs = list(specs)
    admin = admin_client(bootstrap, timeout_s)
    observed = observe(admin, [prefix + s.name for s in specs], timeout_s)
    return plan(specs, observed, prefix, replication_factor)


def apply_desk_topics(bootstrap: str, settings: DeskSettings) -> list[TopicChange]:
    """``apply_topics`` as the settings say: namespace, retention overrides, replicas."""
    return apply_topics(
        bootstrap,
        settings.topic_prefix,
        settings.catalog,
        replication_factor=settings.topic_replication_factor,
    )


def list_desk_topics(bootstrap: str, settings: DeskSettings) -> list[TopicChange]:
    """``list_topics`` as the settings say."""
    return list_topics(
        bootstrap,
        settings.topic_prefix,
        specs=settings.catalog,
        replication_factor=settings.topic_replication_factor,
    )
