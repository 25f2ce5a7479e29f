"""Agents, one sub-package per concern: a pure core (no I/O, no Faust) + a thin Faust agent.

Each agent module exposes ``register(desk: streams.app.DeskApp) -> None``.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any

AGENT_MODULES: tuple[str, ...] = (
    "agents.dq.agent",
    "agents.quotes.agent",
    "agents.portfolio.agent",
    "agents.strategies.agent",
    "agents.risk.agent",
    "agents.recon.agent",
    "agents.parity.agent",
    "agents.paper_venue.agent",
    "connectors.venues.ccxt_agent",
    "connectors.postgres.agent",
    "connectors.clickhouse.agent",
    "agents.audit.agent",
    "agents.alerts.watch",  # after the sinks: it reads dq.reports and deadletter as one
    "agents.alerts.agent",
)


# the trading nodes the fused core (``streams.core``, ``DESK_CORE=fused``) runs as one engine
FUSED: tuple[str, ...] = (
    "agents.dq.agent",
    "agents.quotes.agent",
    "agents.portfolio.agent",
    "agents.strategies.agent",
    "agents.risk.agent",
    "agents.paper_venue.agent",
)


def default_modules(core: str = "agents") -> tuple[str, ...]:
    if core != "fused":
        return AGENT_MODULES
    return ("streams.core", *(m for m in AGENT_MODULES if m not in FUSED))


def register_all(desk: Any, modules: Iterable[str] | None = None) -> None:
    core = getattr(getattr(desk, "settings", None), "core", "agents")
    for name in default_modules(core) if modules is None else modules:
        importlib.import_module(name).register(desk)
