"""Agents, one sub-package per concern: a pure core (no I/O, no Faust) + a thin Faust agent.

Each agent module exposes ``register(desk: streams.app.DeskApp) -> None``.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any

# ``streams.core`` runs the trading nodes (data quality, quotes, paper venue, portfolio,
# strategies, risk, parity: ``streams.topology``'s in-process nodes) as one engine; the others are
# agents of their own, beside it
AGENT_MODULES: tuple[str, ...] = (
    "streams.core",
    "agents.recon.agent",
    "connectors.venues.ccxt_agent",
    "connectors.postgres.agent",
    "connectors.clickhouse.agent",
    "agents.audit.agent",
    "agents.alerts.watch",  # after the sinks: it reads dq.reports and deadletter as one
    "agents.alerts.agent",
)


def register_all(desk: Any, modules: Iterable[str] | None = None) -> None:
    for name in AGENT_MODULES if modules is None else modules:
        importlib.import_module(name).register(desk)
