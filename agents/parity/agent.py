"""Parity in the stream: ``agents.parity.node.ParityNode`` in the agent shell."""

from __future__ import annotations

from typing import Any

from agents.parity.node import ParityNode, wanted
from streams.shell import serve

NAME = "parity"


def register(desk: Any) -> None:
    if wanted(desk.config):
        serve(desk, NAME, ParityNode(desk.config))
