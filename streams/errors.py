"""Errors an operator reads: one line, naming what is wrong and what to do."""


class DeskError(Exception):
    """A failure the CLI reports as one line (no traceback) and exits non-zero."""

    exit_code = 2


class ConfigError(DeskError):
    """A bad setting or desk-config value; the message names the key."""
