"""Alert delivery: the file, webhook and ntfy sinks (the one place alerts leave the desk)."""
