"""Reconciliation in the stream: ``agents.recon.node.ReconNode`` in the agent shell."""

from __future__ import annotations

from typing import Any

from agents.recon.node import ReconNode
from streams.shell import serve, wall_ms

NAME = "recon"


def register(desk: Any) -> None:
    serve(desk, NAME, ReconNode(desk.config, wall_ms))
