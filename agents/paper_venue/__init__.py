"""Paper venue: a deterministic, conservative simulated exchange, one per paper account."""
