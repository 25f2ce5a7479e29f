"""The desk's processing graph, declared once: every node, its inputs, keys, state, outputs.

The engine (``streams.engine``) reads it: each in-process node's processor, the
topics it reads and, per topic, which node handles an event first. The same
engine runs a backtest, the tests, the demo and, fused into the worker
(``streams.core``), the running desk: the trading nodes have no Faust agents of
their own, the core subscribes to what reaches them from outside the graph. The
other nodes (reconciliation, a real venue, the sinks, audit, alerts) run in
the agent shell (``streams.shell``), which wires one Faust agent per declared input
when their ``register()`` hands it the node; ``tests/unit/test_topology.py`` keeps the
declaration and the Faust wiring equal. Cores and processors are named by dotted
path, not imported: ``streams/`` must not import ``agents/``.

A node's input partition keys come from the topic catalog, so the declaration
shows where an agent's inputs are *not* co-partitioned (its state is shared under
one ``asyncio.Lock`` in one worker).

Regenerate the section of ``docs/architecture.md`` with
``python -m streams.topology --write docs/architecture.md``.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from streams.topics import CATALOG, spec

# every node may send what it cannot decode, validate or process here (``DeskApp.dead_letter``):
# implicit, not listed among a node's outputs
DEADLETTER = "deadletter"


@dataclass(frozen=True)
class Input:
    """One input: the topic and the Faust agent reading it (none for a node of the fused
    core: the engine routes it, ``streams.core`` subscribes to what comes from outside)."""

    topic: str
    agent: str | None = None

    @property
    def key(self) -> str:
        """The topic's partition key, from the catalog (never restated here)."""
        return spec(self.topic).key


@dataclass(frozen=True)
class State:
    """Something a node keeps between events.

    ``kind``: ``table`` (Faust changelog table, by name), ``checkpoint`` (PostgreSQL
    snapshot of the core, with input offsets), ``store`` (rows a sink writes),
    ``journal`` (a local file), ``memory`` (lost with the worker).
    ``access``: ``rw`` (the node writes it) or ``read`` (another node's state).
    """

    name: str
    kind: str
    access: str = "rw"


@dataclass(frozen=True)
class Node:
    """One processing node: a core (or a store adapter) behind one or more Faust agents."""

    name: str
    module: str  # where its Faust agents are registered (``register(desk)``); the core's
    inputs: tuple[Input, ...]
    outputs: tuple[str, ...]
    cores: tuple[str, ...]  # dotted paths of the pure cores it calls
    state: tuple[State, ...] = ()
    adapters: tuple[str, ...] = ()  # dotted paths of the I/O it does itself (stores, exchanges)
    timers: tuple[str, ...] = ()  # functions in ``module`` run on a wall-clock timer
    when: str = "always"  # under which settings / config ``register()`` wires it
    # its in-process face (``streams.engine``), by dotted path: built with (config, peers)
    processor: str | None = None
    # topics only the in-process node reads, in place of a table it reads in the stream
    engine_inputs: tuple[str, ...] = ()
    # in the fused core: the I/O beside the processor (durability, status), by dotted path,
    # built with (desk, processor, publish)
    keeper: str | None = None
    # outside the core: what ``streams.shell`` runs for ``module``'s ``register()``, by
    # dotted path: an event node (``handle``: consume, lock, publish, dead letters) or, for
    # a sink, a batch writer (``write``: batches written behind, acknowledged once stored)
    shell: str | None = None
    per_input: bool = False  # each input handled on its own (a sink): no state spans inputs

    @property
    def in_process(self) -> bool:
        """The in-process engine runs it (the backtest, the tests, the demo)."""
        return self.processor is not None

    @property
    def engine_topics(self) -> tuple[str, ...]:
        """What its in-process face reads."""
        return (*dict.fromkeys(i.topic for i in self.inputs), *self.engine_inputs)

    @property
    def agents(self) -> tuple[str, ...]:
        return tuple(i.agent for i in self.inputs if i.agent is not None)

    @property
    def keys(self) -> tuple[str, ...]:
        """The distinct partition keys of its inputs, in input order."""
        return tuple(dict.fromkeys(i.key for i in self.inputs))

    @property
    def co_partitioned(self) -> bool:
        """All inputs that meet in one agent's state share one key, so a partition could be
        one independent instance. A per-input node needs nothing; a node of the fused core
        is one engine per desk (its outside inputs: one partition each)."""
        return self.per_input or self.in_process or len(self.keys) <= 1


def _per_topic(prefix: str, topics: Iterable[str]) -> tuple[Input, ...]:
    """A sink's inputs: one agent per topic, named ``<prefix>-<topic with dashes>``."""
    return tuple(Input(t, f"{prefix}-{t.replace('.', '-')}") for t in topics)


def _tables(*names: str, access: str = "rw") -> tuple[State, ...]:
    return tuple(State(n, "table", access) for n in names)


PG_SINK_TOPICS = (  # connectors.postgres.state.TOPICS
    "orders.commands",
    "orders.events",
    "fills",
    "portfolio.snapshots",
    "venue.reports",
)
AUDITED_TOPICS = ("risk.commands", "gate.results")  # agents.audit.entries.AUDITED_TOPICS
PG = "PostgreSQL set (DESK_POSTGRES_DSN, or the embedded one)"
CORE = "streams.core"  # the fused core: the in-process nodes, one engine, one checkpoint
SHELL = "streams.shell"  # the agent shell: runs a declared node's ``shell`` object
CORE_STATE = State("agent_checkpoints: <prefix>desk-core", "checkpoint")

# In ``agents.register_all`` order.
NODES: tuple[Node, ...] = (
    Node(
        "data-quality",
        CORE,
        inputs=(Input("market.bars"),),
        outputs=("market.bars.clean", "dq.reports"),
        cores=("agents.dq.core.DataQualityCore",),
        state=(State("per-stream checkers, freshness", "memory"), CORE_STATE),
        timers=("tick",),  # only with data_quality.stale_clock: wall (silent live streams)
        processor="agents.dq.node.DataQualityNode",
    ),
    Node(
        "quotes-synthetic",
        CORE,
        inputs=(Input("market.bars.clean"),),
        outputs=("market.quotes",),
        cores=("agents.quotes.core.SyntheticQuoter", "agents.dq.containment.QuoteGate"),
        state=(State("ATR per stream", "memory"), CORE_STATE),
        processor="agents.quotes.node.QuotesNode",
    ),
    Node(
        "portfolio",
        CORE,
        inputs=(Input("fills"), Input("market.bars.clean")),
        outputs=("portfolio.snapshots",),
        cores=("agents.portfolio.core.Portfolio",),
        state=(State("books", "memory"), CORE_STATE),
        processor="agents.portfolio.node.PortfolioNode",
    ),
    Node(
        "strategies",
        CORE,
        inputs=(Input("market.bars.clean"), Input("portfolio.snapshots")),
        outputs=("orders.intents",),
        cores=("agents.strategies.runner.StrategyRunner",),
        state=(State("strategy state, bot views", "memory"), CORE_STATE),
        processor="agents.strategies.node.StrategiesNode",
    ),
    Node(
        "risk",
        CORE,
        inputs=(
            Input("orders.intents"),
            Input("risk.commands"),
            Input("fills"),
            Input("orders.events"),
            Input("portfolio.snapshots"),
        ),
        outputs=("risk.decisions", "orders.commands", "alerts", "risk.commands"),
        cores=(
            "agents.risk.desk.RiskDesk",
            "agents.portfolio_risk.core.PortfolioRiskCore",
        ),
        state=(
            State("books, reservations, trading states", "memory"),
            CORE_STATE,
            State("command journal", "journal"),
            State("risk_commands, trading_state, limit_versions: risk's record", "store"),
        ),
        adapters=(
            "connectors.postgres.risk_state.record_outcomes",
            "connectors.postgres.audit.AuditLog",
            "connectors.journal.CommandJournal",
        ),
        processor="agents.risk.node.RiskNode",
        keeper="agents.risk.keeper.RiskKeeper",
    ),
    Node(
        "recon",
        "agents.recon.agent",
        inputs=(
            Input("fills", "recon-fills"),
            Input("orders.events", "recon-orders-events"),
            Input("venue.reports", "recon-reports"),
        ),
        outputs=("recon.reports", "alerts", "risk.commands"),
        cores=("agents.recon.core.Reconciler", "agents.recon.desk.follow_ups"),
        state=(State("accounts (re-baselined on restart)", "memory"),),
        shell="agents.recon.node.ReconNode",
    ),
    Node(
        "parity",
        CORE,
        # in the core: its inputs come in causal order (a command before the bars after it,
        # the venue's answer after the command), as the shadow venue and the windows need;
        # beside it, bars running ahead of the order flow left windows unreported for good
        inputs=(
            Input("orders.commands"),
            Input("market.bars.clean"),
            Input("fills"),
            Input("orders.events"),
        ),
        outputs=("parity.reports", "alerts"),
        cores=(
            "agents.parity.core.compare",
            "agents.paper_venue.desk.PaperDesk",
            "agents.quotes.core.SyntheticQuoter",
        ),
        state=(State("shadow venue, open windows", "memory"), CORE_STATE),
        when="a paper venue, or parity.shadow",
        processor="agents.parity.node.ParityNode",
    ),
    Node(
        "venue-paper",
        CORE,
        inputs=(Input("orders.commands"), Input("market.bars.clean")),
        outputs=("orders.events", "fills", "venue.reports"),
        cores=(
            "agents.paper_venue.desk.PaperDesk",
            "agents.quotes.core.SyntheticQuoter",
            "streams.topics.venue_topic",
        ),
        state=(State("accounts, open orders, fill model", "memory"), CORE_STATE),
        processor="agents.paper_venue.node.PaperVenueNode",
    ),
    Node(
        "venue-ccxt",
        "connectors.venues.ccxt_agent",
        inputs=(Input("orders.commands", "venue-ccxt-commands"),),
        outputs=("orders.events", "fills", "venue.reports"),
        cores=("streams.topics.venue_topic",),
        state=(State("executions seen", "memory"),),
        adapters=("connectors.venues.ccxt_desk.CcxtDesk",),
        timers=("poll",),
        when="a venue in sandbox or live mode",
        shell="connectors.venues.ccxt_agent.CcxtVenueNode",
    ),
    Node(
        "sink-postgres",
        "connectors.postgres.agent",
        inputs=_per_topic("sink-postgres", PG_SINK_TOPICS),
        outputs=(),
        cores=(),
        state=(State("operational tables", "store"),),
        adapters=("connectors.postgres.sink.PostgresSink",),
        when=PG,
        shell="connectors.postgres.agent.PostgresWriter",
        per_input=True,
    ),
    Node(
        "sink-clickhouse",
        "connectors.clickhouse.agent",
        inputs=_per_topic("sink-clickhouse", (t.name for t in CATALOG)),
        outputs=(),
        cores=(),
        state=(State("one table per topic", "store"),),
        adapters=("connectors.clickhouse.sink.ClickHouseSink",),
        when="an analytics store for this worker",
        shell="connectors.clickhouse.agent.ClickHouseWriter",
        per_input=True,
    ),
    Node(
        "audit",
        "agents.audit.agent",
        inputs=_per_topic("audit", AUDITED_TOPICS),
        outputs=(),
        cores=("agents.audit.entries.item_for", "agents.audit.chain"),
        state=(State("audit_log (hash chain)", "store"),),
        adapters=("connectors.postgres.audit.AuditLog",),
        when=PG,
        shell="agents.audit.agent.AuditWriter",
        per_input=True,
    ),
    Node(
        "alerts-dq",
        "agents.alerts.watch",
        inputs=(Input("dq.reports", "alerts-dq"),),
        outputs=("alerts",),
        cores=("agents.alerts.sources.dq_alert",),
        when="alerting.dq_min_severity is not OFF",
        shell="agents.alerts.watch.DqAlerts",
    ),
    Node(
        "alerts-deadletter",
        "agents.alerts.watch",
        inputs=(Input("deadletter", "alerts-deadletter"),),
        outputs=("alerts",),
        cores=("agents.alerts.sources.DeadLetterBursts",),
        state=(State("burst windows", "memory"),),
        shell="agents.alerts.watch.DeadLetterWatch",
    ),
    Node(
        "alerts",
        "agents.alerts.agent",
        inputs=(Input("alerts", "alerts"),),
        outputs=(),  # delivered to the routes (files, webhooks), not to a topic
        cores=("agents.alerts.router.AlertRouter",),
        state=(State("alert_deliveries", "store"), State("dedup / throttle windows", "memory")),
        adapters=(
            "connectors.alerts.delivery.Deliverer",
            "connectors.postgres.alerts.DeliveryLog",
        ),
        when="alert_routes configured",
        shell="agents.alerts.agent.AlertsNode",
    ),
)

BY_NAME: dict[str, Node] = {n.name: n for n in NODES}

# In process, per topic: the nodes that handle its events first (then the others, in
# declaration order). A bar marks the books before the strategies look at them; risk
# books a fill before the portfolio's snapshot of it is measured; a bot's view takes a
# snapshot before portfolio risk acts on it (its orders could make a newer one).
ENGINE_ORDER: dict[str, tuple[str, ...]] = {
    "market.bars.clean": ("quotes-synthetic", "venue-paper", "portfolio", "strategies"),
    "fills": ("risk", "portfolio"),
    "portfolio.snapshots": ("strategies", "risk"),
}


@dataclass(frozen=True)
class Source:
    """A producer outside the graph (a feed, an operator command): what it sends, from where."""

    name: str
    modules: tuple[str, ...]
    outputs: tuple[str, ...]


SOURCES: tuple[Source, ...] = (
    Source(
        "feeds",
        ("connectors.feeds.replay", "connectors.feeds.ccxt_feed"),
        ("market.bars", "market.quotes"),
    ),
    Source("operator", ("streams.cli.ops",), ("risk.commands",)),
)


def core_agent(topic: str) -> str:
    """The fused core's Faust agent for a topic reaching its nodes from outside the graph
    (``streams.engine.Engine.inputs``: a feed's bars, risk commands, a real venue's fills)."""
    return f"desk-core-{topic.replace('.', '-')}"


def agents_by_name() -> dict[str, tuple[Node, Input]]:
    """Faust agent name -> its node and the input it reads."""
    return {i.agent: (n, i) for n in NODES for i in n.inputs if i.agent is not None}


def producers(topic: str) -> tuple[str, ...]:
    """The declared nodes that send to ``topic``."""
    return tuple(n.name for n in NODES if topic in n.outputs)


def consumers(topic: str) -> tuple[str, ...]:
    return tuple(n.name for n in NODES if any(i.topic == topic for i in n.inputs))


# -- docs -----------------------------------------------------------------------------------

REGENERATE = "python -m streams.topology --write docs/architecture.md"
BEGIN = f"<!-- topology:begin (generated by `{REGENERATE}`) -->"
END = "<!-- topology:end -->"


def _code(items: Iterable[str]) -> str:
    return ", ".join(f"`{x}`" for x in items) or "—"


def _short(path: str) -> str:
    """``agents.risk.desk.RiskDesk`` -> ``risk.desk.RiskDesk``: the table stays narrow."""
    return path.removeprefix("agents.")


def render_markdown() -> str:
    """The generated section: a node table and a mermaid graph of topics between nodes."""
    lines = [
        BEGIN,
        "",
        "Declared in `streams/topology.py` and checked against the Faust wiring by",
        "`tests/unit/test_topology.py`. Keys come from the topic catalog; a node whose",
        "inputs have more than one key is not co-partitioned (its state is shared under a",
        "lock in one worker). ◆ nodes run as one engine (`streams.core`), which subscribes",
        "to what reaches them from outside. Every node may also send to `deadletter`.",
        "",
        "| node | inputs (key) | state | outputs | core | wired when |",
        "|---|---|---|---|---|---|",
    ]
    for n in NODES:
        inputs = "<br>".join(f"`{i.topic}` ({i.key})" for i in n.inputs)
        if len(n.inputs) > 4:  # the sinks: one line, keys are the catalog's
            inputs = f"{len(n.inputs)} topics: " + _code(i.topic for i in n.inputs)
        state = "<br>".join(
            f"{s.kind} `{s.name}`" + (" (read)" if s.access == "read" else "") for s in n.state
        )
        name = n.name + ("" if n.co_partitioned else " ⚠") + (" ◆" if n.in_process else "")
        lines.append(
            f"| {name} | {inputs} | {state or '—'} | {_code(n.outputs)} "
            f"| {_code(_short(c) for c in n.cores)} | {n.when} |"
        )
    lines += [
        "",
        "⚠ inputs on more than one partition key · ◆ the fused core: `streams.engine.Engine`",
        "in the worker (`streams.core`), and the same engine in process (backtest, tests, demo).",
        "",
        "```mermaid",
        "flowchart LR",
    ]
    node_ids = {n.name: "n_" + re.sub(r"\W", "_", n.name) for n in NODES}
    for n in NODES:
        lines.append(f'  {node_ids[n.name]}["{n.name}"]')
    edges: list[str] = []
    for topic in (t.name for t in CATALOG):
        outside = tuple(s.name for s in SOURCES if topic in s.outputs)
        if topic == DEADLETTER and not producers(topic):
            srcs: tuple[str, ...] = ("every node",)
        else:
            srcs = producers(topic) + outside or ("outside",)
        for dst in consumers(topic):
            if dst.startswith("sink-"):
                continue  # every topic reaches the sinks: drawn once below
            for src in srcs:
                a = node_ids.get(src) or "x_" + re.sub(r"\W", "_", src)
                if a.startswith("x_"):
                    edges.append(f'  {a}(["{src}"])')
                edges.append(f"  {a} -->|{topic}| {node_ids[dst]}")
    lines += list(dict.fromkeys(edges))
    lines += [
        '  all(["every topic"]) --> n_sink_postgres & n_sink_clickhouse',
        "```",
        "",
        END,
    ]
    return "\n".join(lines) + "\n"


def splice(doc: str, section: str) -> str:
    """``doc`` with its generated section replaced (appended under a heading if absent)."""
    if BEGIN.split(" (")[0] in doc:
        start = doc.index(BEGIN.split(" (")[0])
        end = doc.index(END, start) + len(END)
        return doc[:start] + section.rstrip("\n") + doc[end:]
    return doc.rstrip("\n") + "\n\n## The processing graph\n\n" + section


def main(argv: list[str] | None = None) -> int:
    """Print the generated section, or write it into a markdown file."""
    p = argparse.ArgumentParser(prog="python -m streams.topology", description=main.__doc__)
    p.add_argument("--write", type=Path, help="markdown file whose section is replaced")
    args = p.parse_args(argv)
    section = render_markdown()
    if args.write is None:
        sys.stdout.write(section)
        return 0
    args.write.write_text(splice(args.write.read_text(), section))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
