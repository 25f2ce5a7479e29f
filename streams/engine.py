"""The in-process runner of the desk graph: events routed depth-first through the nodes.

A single-threaded desk: an input event (a bar, an operator's risk command) goes to
every node that declares its topic, in the declared order; whatever a node emits
is recorded and handed on at once to the nodes reading that topic, before the
next input. So a bar's whole cascade — clean bar, quote, fills of resting orders,
marks, snapshots, portfolio risk, intents, decisions, commands, acknowledgements —
is settled before the next bar, exactly as a venue, a risk desk and a book would
see it on one machine. Nothing here reads a clock: the same inputs, config and
seeds give byte-identical events. The backtest, the demo, the determinism tests
and (fused into one Faust agent per partition) the streamed desk run this.

Nodes and their order come from ``streams.topology``; processors are named there
by dotted path and imported here at run time (``streams`` never imports ``agents``).
"""

from __future__ import annotations

import importlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from streams.avro import registry
from streams.config import DeskConfig
from streams.topics import Routed, key_of, spec

Event = dict[str, Any]


class Context(Protocol):
    """What a node may do while it handles one event."""

    def emit(self, topic: str, event: Event) -> Event:
        """Send ``event`` to ``topic``; returns what the readers of the topic get."""
        ...

    def reject(
        self, topic: str, event: Mapping[str, Any], reason: str, kind: str = "validation"
    ) -> None:
        """Containment: the event is kept aside with its reason (a dead letter of ``kind``)."""
        ...

    def invalid(self, event: Mapping[str, Any], reason: str) -> None:
        """An input that is not a valid event at all (a dead letter of kind validation)."""
        ...


class Processor(Protocol):
    """One node's in-process face: it handles the events of the topics it reads."""

    def handle(self, topic: str, event: Mapping[str, Any], ctx: Context) -> None: ...


class Rejected(NamedTuple):
    """What containment kept aside: the event (of ``topic``), why, and who."""

    topic: str
    event: Mapping[str, Any]
    reason: str
    kind: str
    node: str


@dataclass
class Output:
    """Every event the engine produced, as (topic, key, event), in production order."""

    events: list[Routed] = field(default_factory=list)
    invalid: list[tuple[Mapping[str, Any], str]] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)  # containment
    # per (node, topic): the events it took and the ones it emitted (the worker's metrics)
    taken: Counter[tuple[str, str]] = field(default_factory=Counter)
    emitted: Counter[tuple[str, str]] = field(default_factory=Counter)

    def topic(self, name: str) -> list[Event]:
        return [e for t, _k, e in self.events if t == name]


def load(path: str) -> Any:
    """``package.module.Name`` -> the object."""
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


class Engine:
    """The desk graph in one process.

    ``nodes``: (name, processor, topics it reads) in declaration order; ``order``:
    per topic, the names of the nodes that handle it first (the rest follow in
    declaration order). ``wire=True`` passes every event through its Avro form before
    a node sees it, as the broker does (decimals at the schema's scale). A node never
    gets back an event it emitted itself.
    """

    def __init__(
        self,
        nodes: Sequence[tuple[str, Processor, Iterable[str]]],
        order: Mapping[str, Sequence[str]] | None = None,
        wire: bool = False,
        config: DeskConfig | None = None,
    ) -> None:
        self.config = config
        self.nodes = {name: proc for name, proc, _ in nodes}
        self.wire = wire
        self.out = Output()
        readers: dict[str, list[str]] = {}
        for name, _proc, topics in nodes:
            for t in topics:
                readers.setdefault(t, []).append(name)
        self.readers: dict[str, tuple[str, ...]] = {}
        for t, names in readers.items():
            first = [n for n in (order or {}).get(t, ()) if n in names]
            self.readers[t] = (*first, *(n for n in names if n not in first))
        self._ctx: dict[str, _NodeContext] = {n: _NodeContext(self, n) for n in self.nodes}

    @classmethod
    def for_desk(cls, config: DeskConfig, *, wire: bool = False) -> Engine:
        """The desk's declared in-process nodes, built from the config."""
        from streams.topology import ENGINE_ORDER, NODES

        built: list[tuple[str, Processor, Iterable[str]]] = []
        peers: dict[str, Processor] = {}
        for node in NODES:
            if node.processor is None:
                continue
            proc = load(node.processor)(config, peers)
            peers[node.name] = proc
            built.append((node.name, proc, node.engine_topics))
        return cls(built, ENGINE_ORDER, wire=wire, config=config)

    # -- inputs ---------------------------------------------------------------------------

    def run(self, bars: Iterable[Mapping[str, Any]]) -> Output:
        """Every bar through the graph, in the order given."""
        for bar in bars:
            self.feed("market.bars", bar)
        return self.out

    def feed(self, topic: str, event: Mapping[str, Any], *, record: bool = False) -> None:
        """One input from outside the graph (a feed's bar, an operator's command);
        ``record``: also list it among the events (it is not on a topic yet)."""
        if record:
            event = self._record(topic, dict(event))
        self._route(topic, event, source=None)

    def on_risk_command(self, cmd: Mapping[str, Any]) -> None:
        """A kill/halt/reduce/resume/limit change from the operator."""
        self.feed("risk.commands", cmd, record=True)

    # -- in the stream (``streams.core``) -------------------------------------------------

    def inputs(self, config: DeskConfig) -> tuple[str, ...]:
        """The topics the fused nodes take from outside: a feed's bars, the operator's risk
        commands, and a real venue's order events and fills (when the config trades one)."""
        from streams.topology import NODES, SOURCES

        outside = {t for s in SOURCES for t in s.outputs}
        if any(v.mode != "paper" for v in config.venues.values()):
            outside |= {t for n in NODES if n.name == "venue-ccxt" for t in n.outputs}
        return tuple(t for t in self.readers if t in outside)

    def takes(self, topic: str, event: Mapping[str, Any]) -> bool:
        """An input from a topic the engine also writes: not one of its own events."""
        return not any(
            owns(topic, event)
            for p in self.nodes.values()
            if (owns := getattr(p, "owns", None)) is not None
        )

    def act(self, name: str, fn: Any) -> None:
        """Run ``fn(ctx)`` as node ``name`` (what it emits is routed on, as from an input)."""
        fn(self._ctx[name])

    def carry_over(self, old: Mapping[str, Any]) -> None:
        """Take the money over from processors built on another config (a restart after a
        config change); what a node does not carry starts afresh."""
        for name, proc in self.nodes.items():
            carry = getattr(proc, "carry_from", None)
            if carry is not None and name in old:
                carry(old[name])

    # -- plumbing -------------------------------------------------------------------------

    def _record(self, topic: str, event: Event) -> Event:
        if self.wire:
            reg = registry()
            event = reg.decode(reg.encode(spec(topic).value_schema, event))[1]
        self.out.events.append((topic, key_of(topic, event), event))
        return event

    def _route(self, topic: str, event: Mapping[str, Any], source: str | None) -> None:
        for name in self.readers.get(topic, ()):
            if name != source:
                self.out.taken[(name, topic)] += 1
                self.nodes[name].handle(topic, event, self._ctx[name])

    def emit(self, source: str, topic: str, event: Event) -> Event:
        self.out.emitted[(source, topic)] += 1
        seen = self._record(topic, event)
        self._route(topic, seen, source)
        return seen


class _NodeContext:
    """A node's ``Context``: its emits are routed on, never back to itself."""

    def __init__(self, engine: Engine, name: str) -> None:
        self.engine, self.name = engine, name

    def emit(self, topic: str, event: Event) -> Event:
        return self.engine.emit(self.name, topic, event)

    def reject(
        self, topic: str, event: Mapping[str, Any], reason: str, kind: str = "validation"
    ) -> None:
        self.engine.out.rejected.append(Rejected(topic, event, reason, kind, self.name))

    def invalid(self, event: Mapping[str, Any], reason: str) -> None:
        self.engine.out.invalid.append((event, reason))
