"""The examples in every ``desk ... --help``, found so a test can run each one.

An example an operator copies from ``--help`` must work: ``desk sql --help``
once showed a ``--param`` its query did not take. So examples follow one
convention, and ``tests/unit/test_help_examples.py`` runs them all:

- an example is a help line starting ``$ desk`` (under an ``Examples:`` heading);
  a line ending in `` \\`` goes on on the next line;
- a trailing comment after `` # `` says how to check it: ``needs: WHAT`` (a running
  desk, the network, the desk's PostgreSQL...) means it cannot run in a unit test
  and is only parsed by the CLI (options, arguments and their types);
  ``exit N`` is the exit code it ends with (default 0); anything else is a note.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import typer

PROMPT = re.compile(r"^\s*\$ desk(?:\s+(?P<rest>.*))?$")
EXIT = re.compile(r"\bexit (?P<code>\d+)\b")
NEEDS = re.compile(r"\bneeds:\s*(?P<what>[^;]+)")


@dataclass(frozen=True)
class Example:
    """One ``$ desk ...`` line of a command's help."""

    command: str  # the command whose help shows it, e.g. "dq check"
    args: tuple[str, ...]  # what follows ``desk``
    needs: str | None  # what it needs beyond a data dir (then it is only parsed)
    exit_code: int  # the code it should end with when run

    @property
    def line(self) -> str:
        return shlex.join(("desk", *self.args))


def split_note(text: str) -> tuple[str, str]:
    """``args  # note`` -> (``args``, ``note``): the first `` #`` outside quotes."""
    quote = ""
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch == "#" and (i == 0 or text[i - 1].isspace()):
            return text[:i].strip(), text[i + 1 :].strip()
    return text.strip(), ""


def parse_examples(command: str, help_text: str) -> list[Example]:
    """The examples of one help text (see the module's convention)."""
    lines = help_text.splitlines()
    found: list[Example] = []
    i = 0
    while i < len(lines):
        m = PROMPT.match(lines[i])
        i += 1
        if not m:
            continue
        text = (m["rest"] or "").strip()
        while text.endswith("\\") and i < len(lines):
            text = text[:-1].rstrip() + " " + lines[i].strip()
            i += 1
        text, note = split_note(text)
        needs = NEEDS.search(note)
        code = EXIT.search(note)
        found.append(
            Example(
                command=command,
                args=tuple(shlex.split(text)),
                needs=needs["what"].strip() if needs else None,
                exit_code=int(code["code"]) if code else 0,
            )
        )
    return found


def commands(app: typer.Typer) -> Iterator[tuple[str, Any]]:
    """Every leaf command of ``app`` as (``"dq check"``, its click command), in order."""

    def walk(prefix: str, cmd: Any) -> Iterator[tuple[str, Any]]:
        subs = getattr(cmd, "commands", None)
        if subs is None:
            yield prefix, cmd
            return
        for name in sorted(subs):
            yield from walk(f"{prefix} {name}".strip(), subs[name])

    yield from walk("", typer.main.get_command(app))


def all_examples(app: typer.Typer) -> list[Example]:
    """The examples of every command's ``--help``."""
    return [ex for name, cmd in commands(app) for ex in parse_examples(name, cmd.help or "")]


def parse_with_cli(app: typer.Typer, args: tuple[str, ...]) -> Any:
    """Parse ``desk ARGS`` as the CLI would, without running it: the sub-command is
    resolved and its options, arguments and their types are checked (a click usage
    error is raised for an unknown option or a bad value). Returns the click context."""
    cmd: Any = typer.main.get_command(app)
    rest, path = list(args), ["desk"]
    while getattr(cmd, "commands", None) is not None:
        if not rest or rest[0] not in cmd.commands:
            raise ValueError(f"{' '.join(path)}: no sub-command {rest[:1]}")
        path.append(rest[0])
        cmd, rest = cmd.commands[rest[0]], rest[1:]
    return cmd.make_context(" ".join(path), rest)
