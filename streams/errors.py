"""Errors an operator reads: one line, naming what is wrong and what to do."""


class DeskError(Exception):
    """A failure the CLI reports as one line (no traceback) and exits non-zero."""

    exit_code = 2


class ConfigError(DeskError):
    """A bad setting or desk-config value; the message names the key."""


def one_line(text: str) -> str:
    """``text`` as one printable line: line breaks become spaces, control characters ``\\xNN``."""
    flat = " ".join(text.splitlines())
    return "".join(c if c.isprintable() or c == " " else f"\\x{ord(c):02x}" for c in flat)
