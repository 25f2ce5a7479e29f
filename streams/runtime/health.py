"""Health of one part of the stack, as ``desk status`` reports it."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class PartHealth:
    part: str  # broker | postgres | clickhouse | agents
    mode: str  # embedded | external
    healthy: bool
    detail: str
    endpoint: str | None = None  # redacted

    def to_json(self) -> dict[str, object]:
        return asdict(self)
