"""The topic catalog: the one table of topics the code, the CLI and deploy use.

Names are logical; ``physical_name`` adds the settings' namespace prefix so a
replay or a test can run the whole graph in isolation on a shared broker.
``plan`` is a pure comparison of the catalog with what a broker has; applying
the plan (AdminClient I/O) lives in ``streams.admin``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

DAY_MS = 86_400_000


@dataclass(frozen=True)
class TopicSpec:
    """One topic: name, key, value schema, partitions and retention."""

    name: str
    value_schema: str
    key: str
    partitions: int
    retention_days: int | None  # None = keep forever
    compact: bool = False
    doc: str = ""

    def config(self) -> dict[str, str]:
        """Topic configs the broker must hold for this spec."""
        retention = -1 if self.retention_days is None else self.retention_days * DAY_MS
        return {
            "cleanup.policy": "compact" if self.compact else "delete",
            "retention.ms": str(retention),
        }


# fmt: off
CATALOG: tuple[TopicSpec, ...] = (
    #         name                   value schema         key              parts days  producer → consumers
    TopicSpec("market.bars",         "Bar",               "venue:symbol",  1, 30,   doc="feeds → the desk core, in event-time order"),
    TopicSpec("market.quotes",       "Quote",             "venue:symbol",  6, 7,    doc="feeds → paper venue, risk"),
    TopicSpec("market.bars.clean",   "Bar",               "venue:symbol",  6, 30,   doc="data quality → strategies, venues, marks"),
    TopicSpec("dq.reports",          "DataQualityReport", "venue:symbol",  3, 90,   doc="data quality → risk, alerts, sinks"),
    TopicSpec("orders.intents",      "OrderIntent",       "bot:symbol",    6, 90,   doc="strategies → risk"),
    TopicSpec("risk.decisions",      "RiskDecision",      "bot:symbol",    6, 365,  doc="risk → sinks, parity"),
    TopicSpec("orders.commands",     "OrderCommand",      "venue:account", 3, 365,  doc="risk, kill switch → venues"),
    TopicSpec("orders.events",       "OrderEvent",        "venue:account", 3, 365,  doc="venues → portfolio, recon"),
    TopicSpec("fills",               "Fill",              "venue:account", 3, None, doc="venues → portfolio, recon, parity"),
    TopicSpec("venue.reports",       "VenueReport",       "venue:account", 3, 90,   doc="venues → recon"),
    TopicSpec("portfolio.snapshots", "PortfolioSnapshot", "bot",           3, 365,  doc="portfolio → portfolio risk, sinks"),
    # one partition: kill / halt / resume are totally ordered
    TopicSpec("risk.commands",       "RiskCommand",       "scope",         1, None, doc="operator, portfolio risk → risk, venues"),
    TopicSpec("recon.reports",       "ReconReport",       "venue:account", 3, 365,  doc="reconciliation → alerts, gates, sinks"),
    TopicSpec("parity.reports",      "ParityReport",      "bot",           3, 365,  doc="parity → alerts, gates, sinks"),
    TopicSpec("alerts",              "Alert",             "source",        1, 90,   doc="any agent → alert router"),
    TopicSpec("gate.results",        "GateResult",        "gate",          1, None, doc="gates → sinks"),
    TopicSpec("deadletter",          "DeadLetter",        "topic",         1, 30,   doc="any agent → sinks, metrics"),
)
# fmt: on

BY_NAME: Mapping[str, TopicSpec] = {t.name: t for t in CATALOG}


def spec(name: str) -> TopicSpec:
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"{name!r} is not in the topic catalog") from None


def stream_key(event: Mapping[str, Any]) -> str:
    """The ``venue:symbol`` key of market-data topics: one stream's events stay ordered."""
    return f"{event['venue']}:{event['symbol']}"


Routed = tuple[str, str, dict[str, Any]]  # topic, key, event: what a venue sends


def venue_topic(event: Mapping[str, Any]) -> str:
    """The topic of a venue's event (paper or exchange), by its shape."""
    if "trade_id" in event:
        return "fills"
    if "balances" in event:
        return "venue.reports"
    return "orders.events"


def account_key(event: Mapping[str, Any]) -> str:
    """The ``venue:account`` key of a venue's events: one account's events stay ordered."""
    return f"{event['venue']}:{event['account']}"


# a catalog key's parts -> the event fields they are read from
KEY_FIELDS: Mapping[str, str] = {"bot": "bot_id"}


def key_of(topic: str, event: Mapping[str, Any]) -> str:
    """An event's partition key, from the catalog's key for its topic (``venue:symbol`` ->
    ``binanceus:BTC/USDT``): the one place a key is formatted, never at a send site."""
    return ":".join(str(event[KEY_FIELDS.get(part, part)]) for part in spec(topic).key.split(":"))


_RETENTION_ITEM = re.compile(r"^\s*([A-Za-z0-9._-]+)\s*=\s*(?:(\d+)\s*d|(forever))\s*$")


def parse_retention(text: str) -> dict[str, int | None]:
    """Per-topic retention overrides, ``market.quotes=3d,fills=forever`` -> days (None =
    forever). Every name must be a catalog topic: a typo must not pass for an override."""
    out: dict[str, int | None] = {}
    for item in filter(str.strip, text.split(",")):
        m = _RETENTION_ITEM.match(item)
        if m is None:
            raise ValueError(f"{item.strip()!r}: expected TOPIC=<days>d or TOPIC=forever")
        name, days, forever = m.groups()
        if name not in BY_NAME:
            raise ValueError(f"{name!r} is not in the topic catalog")
        if not forever and int(days) < 1:
            raise ValueError(f"{item.strip()!r}: retention must be at least 1d")
        out[name] = None if forever else int(days)
    return out


def with_retention(
    overrides: Mapping[str, int | None], specs: Iterable[TopicSpec] = CATALOG
) -> tuple[TopicSpec, ...]:
    """The catalog with retention replaced where the settings say (``parse_retention``)."""
    return tuple(
        replace(s, retention_days=overrides[s.name]) if s.name in overrides else s for s in specs
    )


def physical_name(name: str, prefix: str = "") -> str:
    """Topic name on the broker: the namespace prefix plus the catalog name."""
    return f"{prefix}{name}"


@dataclass(frozen=True)
class ObservedTopic:
    """What a broker reports for one topic."""

    partitions: int
    config: Mapping[str, str]
    replicas: int | None = None  # the fewest replicas of any partition (None: not reported)


@dataclass(frozen=True)
class TopicChange:
    """One line of an apply plan. ``action`` is create, alter, ok or drift."""

    topic: str
    action: str
    detail: str
    spec: TopicSpec
    config: Mapping[str, str]

    @property
    def changes_anything(self) -> bool:
        return self.action in ("create", "alter")


def plan(
    specs: Iterable[TopicSpec],
    observed: Mapping[str, ObservedTopic],
    prefix: str = "",
    replication_factor: int = -1,
) -> list[TopicChange]:
    """Compare the catalog with the broker: what to create, what to alter, what is fine.

    Partition counts are never decreased (Kafka cannot); more partitions than
    the catalog is reported as ``drift`` and left alone. Fewer partitions is
    also ``drift``: adding partitions re-keys existing data, an operator decision.
    Fewer replicas than ``replication_factor`` (-1: the broker's default, not
    checked) is ``drift`` too: raising it moves data between brokers.
    """
    out: list[TopicChange] = []
    for s in specs:
        name = physical_name(s.name, prefix)
        want = s.config()
        have = observed.get(name)
        if have is None:
            out.append(TopicChange(name, "create", f"{s.partitions} partitions, {want}", s, want))
            continue
        diff = {k: v for k, v in want.items() if have.config.get(k) != v}
        if diff:
            was = {k: have.config.get(k) for k in diff}
            out.append(TopicChange(name, "alter", f"{was} -> {diff}", s, diff))
        elif have.partitions != s.partitions:
            out.append(
                TopicChange(
                    name,
                    "drift",
                    f"{have.partitions} partitions on the broker, catalog says {s.partitions}"
                    " (left alone: changing partitions re-keys data)",
                    s,
                    {},
                )
            )
        elif replication_factor > 0 and (have.replicas or replication_factor) < replication_factor:
            out.append(
                TopicChange(
                    name,
                    "drift",
                    f"{have.replicas} replica(s) on the broker, settings say {replication_factor}"
                    " (left alone: raising it is a partition reassignment)",
                    s,
                    {},
                )
            )
        else:
            out.append(TopicChange(name, "ok", "up to date", s, {}))
    return out
