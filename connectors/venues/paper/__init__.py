"""Paper venue: a deterministic, conservative simulated exchange account (pure core)."""

from connectors.venues.paper.core import PaperVenue

__all__ = ["PaperVenue"]
