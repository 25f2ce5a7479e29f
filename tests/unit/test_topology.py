"""The declared topology (``streams/topology.py``) matches the wiring it describes.

The Faust app is built offline (agents are registered, never started; a configured
broker incarnation means no broker is asked) with a config under which every node
registers; each Faust agent must be a declared input of a declared node (the fused
core's: one per topic reaching its nodes from outside), and each declared input a
real agent. Outputs are checked statically in the node's sources. A node wired
without a declaration fails here.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams import topology
from streams.topics import BY_NAME as CATALOG
from streams.topology import DEADLETTER, NODES, SOURCES

REPO = Path(__file__).resolve().parents[2]
PREFIX = "topo."


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The desk app with every node switched on: PostgreSQL (never connected), an analytics
    store endpoint (never called), a sandbox venue (its exchange client stubbed), alert
    routes and data-quality alerts, the wall stale clock."""
    import connectors.venues.ccxt_agent as ccxt_agent
    from streams.app import create_app
    from streams.config import DEFAULT_CONFIG
    from streams.settings import load_settings

    data_dir = tmp_path_factory.mktemp("topo")
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data["venues"]["binanceus"]["mode"] = "sandbox"
    data.setdefault("alerting", {})["dq_min_severity"] = "WARNING"
    data["data_quality"]["stale_clock"] = "wall"
    (data_dir / "desk.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    settings = load_settings(
        data_dir=data_dir,
        config_file=data_dir / "desk.yaml",
        postgres_dsn="postgresql://desk:x@127.0.0.1:9/desk",
        broker_incarnation="test:topology",
        topic_prefix=PREFIX,
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DESK_STORE_ENDPOINT", "http://127.0.0.1:9")
        mp.setattr(ccxt_agent, "CcxtDesk", lambda config: object())
        yield create_app(settings, "127.0.0.1:9")


def _agents(desk: Any) -> dict[str, tuple[str, ...]]:
    """Faust agent name -> the logical topics it subscribes to."""
    return {
        agent.name: tuple(desk.logical(str(t)) for t in getattr(agent.channel, "topics", ()))
        for agent in desk.app.agents.values()
    }


def _declared(desk: Any) -> dict[str, tuple[str, ...]]:
    """Declared agent -> its topic: the agent nodes' inputs, and the fused core's."""
    agents = {i.agent: (i.topic,) for n in NODES for i in n.inputs if i.agent is not None}
    outside = desk.core.engine.inputs(desk.config)
    core_inputs = {i.topic for n in NODES if n.in_process for i in n.inputs}
    assert set(outside) <= core_inputs and "market.bars" in outside
    return agents | {topology.core_agent(t): (t,) for t in outside}


def test_every_faust_agent_is_declared_and_every_declared_input_is_wired(desk: Any) -> None:
    real = _agents(desk)
    declared = _declared(desk)
    undeclared = sorted(set(real) - set(declared))
    assert not undeclared, f"wired but not in streams/topology.py: {undeclared}"
    missing = sorted(set(declared) - set(real))
    assert not missing, f"declared but not wired: {missing}"
    wrong = {a: (declared[a], real[a]) for a in declared if declared[a] != real[a]}
    assert not wrong, f"agent -> (declared, subscribed) topics differ: {wrong}"


def test_no_agent_is_wired_by_hand(desk: Any) -> None:
    """Every Faust agent and timer comes from the fused core or the agent shell: a node
    outside the core declares a ``shell`` object, never its own agents."""
    by_agent = topology.agents_by_name()
    for agent in desk.app.agents.values():
        node = by_agent[agent.name][0] if agent.name in by_agent else None
        assert agent.fun.__module__ == (topology.CORE if node is None else topology.SHELL)
    assert {n.module for n in NODES if n.in_process} == {topology.CORE}
    assert all(n.shell for n in NODES if not n.in_process)
    assert {f.__module__ for f in desk.app._app_tasks} <= {topology.CORE, topology.SHELL}


def test_no_module_outside_streams_calls_faust_wiring() -> None:
    """``app.agent`` / ``app.timer`` only in the core and the shell (the declaration's two
    runners) and the worker's status file timer: a hand-wired agent elsewhere is a node the
    topology does not see."""
    root = Path(__file__).resolve().parents[2]
    wiring = re.compile(r"\.(agent|timer)\(")
    allowed = {"streams/core.py", "streams/shell.py", "streams/worker.py"}
    found = [
        path
        for d in ("agents", "connectors", "analytics", "streams", "dashboard")
        for p in (root / d).rglob("*.py")
        if (path := p.relative_to(root).as_posix()) not in allowed and wiring.search(p.read_text())
    ]
    assert not found, f"Faust agents wired by hand in: {found}"


def test_tables_are_the_declared_ones(desk: Any) -> None:
    declared = {s.name for n in NODES for s in n.state if s.kind == "table"}
    assert declared == set(desk.app.tables.keys())
    for n in NODES:  # a node reading a table: some node writes it
        for s in n.state:
            if s.kind == "table" and s.access == "read":
                assert any(x.name == s.name and x.access == "rw" for m in NODES for x in m.state), (
                    n.name,
                    s.name,
                )


def test_timers_are_the_declared_ones(desk: Any) -> None:
    # ``_app_tasks`` is Faust's list of timers and tasks (private, but stable in 0.15)
    real = {(f.__module__, f.__name__) for f in desk.app._app_tasks}
    declared = {(topology.SHELL if n.shell else n.module, t) for n in NODES for t in n.timers}
    assert real == declared


def test_register_all_runs_exactly_the_declared_modules() -> None:
    import agents

    assert set(agents.AGENT_MODULES) == {n.module for n in NODES}


def test_declared_topics_and_cores_exist() -> None:
    names = [n.name for n in NODES]
    assert len(names) == len(set(names))
    for n in NODES:
        for t in (*n.outputs, *(i.topic for i in n.inputs)):
            assert t in CATALOG, (n.name, t)
        for path in (*n.cores, *n.adapters):
            assert _resolve(path) is not None, (n.name, path)
        if n.shell is not None:  # what the agent shell runs: an event node or a batch writer
            shell = _resolve(n.shell)
            face = "write" if n.per_input else "handle"  # a sink writes batches
            assert callable(getattr(shell, face, None)), n.name
            assert not n.in_process, n.name
            for t in n.timers:  # a timer is the node's method of that name
                assert callable(getattr(shell, t, None)) and shell.timer_seconds > 0, (n.name, t)
        assert {s.access for s in n.state} <= {"rw", "read"}
        assert {s.kind for s in n.state} <= {"table", "checkpoint", "store", "journal", "memory"}


def _resolve(path: str) -> object:
    """A dotted path to a module or to an attribute of one."""
    try:
        return importlib.import_module(path)
    except ModuleNotFoundError:
        module, _, attr = path.rpartition(".")
        return getattr(importlib.import_module(module), attr)


def _module_of(path: str) -> str:
    obj = _resolve(path)
    return obj.__name__ if inspect.ismodule(obj) else obj.__module__  # type: ignore[attr-defined]


def _topic_literals(module: str) -> set[str]:
    """Catalog topic names written as string constants in a module's source."""
    source = inspect.getsource(importlib.import_module(module))
    return {
        n.value
        for n in ast.walk(ast.parse(source))
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value in CATALOG
    }


def test_every_declared_output_is_sent_by_the_node() -> None:
    """Static: an output topic is named in the node's module or in a core it calls (the
    cores route venue events, follow-ups and breach commands by topic name)."""
    for n in NODES:
        named = _topic_literals(n.module)
        for path in (*n.cores, *n.adapters, *filter(None, (n.processor, n.keeper, n.shell))):
            named |= _topic_literals(_module_of(path))
        missing = set(n.outputs) - named
        assert not missing, f"{n.name}: declared outputs {sorted(missing)} not sent by it"


def test_every_topic_a_wiring_module_names_is_declared() -> None:
    """The converse: a topic named in an agent module is an input or an output of its nodes
    (a new ``desk.topics["x"].send`` without a declaration fails here)."""
    modules: dict[str, set[str]] = {}
    for n in NODES:
        for m in (n.module, *(_module_of(p) for p in (n.processor, n.keeper, n.shell) if p)):
            modules.setdefault(m, {DEADLETTER}).update({*n.outputs, *(i.topic for i in n.inputs)})
    for module, declared in modules.items():
        extra = _topic_literals(module) - declared
        assert not extra, f"{module} names {sorted(extra)}, not declared for its nodes"


def test_sources_name_what_they_send() -> None:
    for s in SOURCES:
        named = set().union(*(_topic_literals(m) for m in s.modules))
        assert set(s.outputs) <= named, s.name


def test_the_engine_runs_every_in_process_node_with_its_declared_cores() -> None:
    """``Engine.for_desk`` (backtest, tests, demo) builds one processor per declared
    in-process node, each holding that node's core classes and nothing else from ``agents``
    or ``connectors``; it reads the node's inputs (and its in-process-only ones)."""
    from streams.config import load_config
    from streams.engine import Engine

    engine = Engine.for_desk(load_config(None))
    assert list(engine.nodes) == [n.name for n in NODES if n.in_process]
    held_by_risk = {"agents.portfolio_risk.core.PortfolioRiskCore"}  # RiskDesk.portfolio_risk
    # in process the venue prices a bar with the quotes node's quote, not a quoter of its own
    from_peers = {"venue-paper": {"agents.quotes.core.SyntheticQuoter"}}
    for node in (n for n in NODES if n.in_process):
        proc = engine.nodes[node.name]
        assert f"{type(proc).__module__}.{type(proc).__qualname__}" == node.processor
        held = {
            f"{type(v).__module__}.{type(v).__qualname__}"
            for v in vars(proc).values()
            if type(v).__module__.split(".")[0] in ("agents", "connectors")
            and v not in engine.nodes.values()  # a peer it reads
        }
        declared = {c for c in node.cores if inspect.isclass(_resolve(c))}
        declared -= held_by_risk | from_peers.get(node.name, set())
        assert held == declared, node.name
        for topic in node.engine_topics:
            assert node.name in engine.readers[topic], (node.name, topic)
    assert type(engine.nodes["risk"].risk.portfolio_risk).__name__ == "PortfolioRiskCore"


def test_keys_come_from_the_catalog() -> None:
    risk = topology.BY_NAME["risk"]
    assert risk.keys == ("bot:symbol", "scope", "venue:account", "bot")
    assert risk.co_partitioned  # one engine per desk: nothing is split across partitions
    parity = topology.BY_NAME["parity"]  # its inputs do not share a key: in the core, where
    assert len(parity.keys) > 1 and parity.co_partitioned  # they meet in causal order
    assert topology.BY_NAME["recon"].co_partitioned
    assert topology.BY_NAME["sink-clickhouse"].co_partitioned  # per input: nothing spans


def test_architecture_doc_shows_the_declared_topology() -> None:
    doc = (REPO / "docs" / "architecture.md").read_text()
    assert topology.splice(doc, topology.render_markdown()) == doc, (
        f"docs/architecture.md is out of date; run: {topology.REGENERATE}"
    )
