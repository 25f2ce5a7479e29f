"""The audit trail: a hash-chained, append-only record of every control-plane action."""
