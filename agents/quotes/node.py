"""The synthetic-quote node: clean bars → market.quotes, behind the quote gate."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agents.dq.containment import QuoteGate
from agents.quotes.core import SyntheticQuoter
from streams.config import DeskConfig
from streams.topics import stream_key


class QuotesNode:
    def __init__(self, config: DeskConfig, peers: Mapping[str, Any]) -> None:
        self.quoter = SyntheticQuoter(config.market_data)
        self.gate = QuoteGate.from_config(config)
        # per stream, the quote of the latest bar (as published, or as computed when the
        # gate held it back): the paper venue prices the same bar with it
        self.latest: dict[str, dict[str, Any] | None] = {}

    def handle(self, topic: str, clean: Mapping[str, Any], ctx: Any) -> None:
        quote = self.quoter.quote(clean)
        rejected = None if quote is None else self.gate.check(quote)
        if rejected is not None:  # not published
            ctx.reject("market.quotes", quote or {}, rejected.line())
        elif quote is not None:
            quote = ctx.emit("market.quotes", quote)
        self.latest[stream_key(clean)] = quote

    def carry_from(self, old: QuotesNode) -> None:
        self.quoter.restore(old.quoter.to_state())
