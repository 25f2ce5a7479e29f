"""Market data in: sources that turn recorded or live data into ``Bar`` events."""
