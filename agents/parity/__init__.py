"""Parity: expected execution (a shadow run through the paper fill model) vs realized."""
