"""Every example in every ``desk ... --help`` works (streams/help_examples.py has the rules).

An example without ``# needs: ...`` is run for real, as an operator would paste
it: the ``desk`` entry point in a subprocess, from the repository root, on a
fresh data dir with no desk running (``desk sql`` then opens that dir's
analytics store itself, migrated here first) and must end with its declared exit
code. An example that needs a running desk, the network or PostgreSQL is parsed
by the CLI instead: its sub-command, options, arguments and their types.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from streams.cli import app
from streams.help_examples import (
    Example,
    all_examples,
    commands,
    parse_examples,
    parse_with_cli,
    split_note,
)
from tests.conftest import REPO

EXAMPLES = all_examples(app)
RUNNABLE = [e for e in EXAMPLES if e.needs is None]
PARSE_ONLY = [e for e in EXAMPLES if e.needs is not None]
HELP_WIDTH = 78  # an 80-column terminal, less rich's one-column margins


def _id(e: Example) -> str:
    return e.line.removeprefix("desk ")[:60]


def _desk(args: tuple[str, ...], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``desk ARGS`` through the console-script entry point (one-line errors, exit codes)."""
    code = "import sys; from streams.cli import main; sys.argv[0] = 'desk'; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


@pytest.fixture(scope="module")
def desk_less_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A fresh data dir (no desk runs on it) whose embedded analytics store has the desk's
    tables, as ``desk db migrate`` leaves them; the environment that points ``desk`` at it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESK_")}
    env |= {"DESK_DATA_DIR": str(tmp_path_factory.mktemp("desk-less")), "COLUMNS": "80"}
    migrate = (
        "from streams.config import load_config\n"
        "from streams.runtime.access import analytics_store\n"
        "from streams.settings import load_settings\n"
        "s = load_settings()\n"
        "with analytics_store(s) as store:\n"
        "    store.migrate(load_config(s.config_file).analytics.table_retention())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", migrate], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return env


def test_the_convention() -> None:
    help_text = """Do things.

    Examples:

      $ desk sql "SELECT 1 # not a note"  # exit 1: a note after it
      $ desk feed replay a.csv \\
          --dry-run
      $ desk orders --all \\
          # needs: desk up
    not an example: desk orders
    """
    got = parse_examples("x", help_text)
    assert [(e.args, e.needs, e.exit_code) for e in got] == [
        (("sql", "SELECT 1 # not a note"), None, 1),
        (("feed", "replay", "a.csv", "--dry-run"), None, 0),
        (("orders", "--all"), "desk up", 0),
    ]
    assert split_note('kill --reason "it\'s #1" # needs: desk up') == (
        'kill --reason "it\'s #1"',
        "needs: desk up",
    )


def test_the_commands_the_issue_named_have_examples() -> None:
    with_examples = {e.command for e in EXAMPLES}
    assert {"sql", "reconcile", "feed replay", "dq check", "dq report"} <= with_examples
    assert len(RUNNABLE) >= 8 and len(PARSE_ONLY) >= 10


@pytest.mark.parametrize("name", [name for name, _ in commands(app)])
def test_every_help_renders_its_examples_at_80_columns(name: str) -> None:
    result = CliRunner().invoke(app, [*name.split(), "--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    wanted = [e for e in EXAMPLES if e.command == name]
    flat = " ".join(result.output.split())
    for e in wanted:  # rich markup or wrapping must not eat an example
        assert " ".join(("$ desk", *e.args[:2])) in flat.replace('"', ""), (name, e.line)


def test_example_lines_fit_80_columns() -> None:
    long = [
        (name, line)
        for name, cmd in commands(app)
        for line in (cmd.help or "").splitlines()
        if "$ desk" in line and len(line.rstrip()) > HELP_WIDTH
    ]
    assert not long


@pytest.mark.parametrize("example", PARSE_ONLY, ids=_id)
def test_examples_that_need_a_desk_parse(example: Example) -> None:
    ctx = parse_with_cli(app, example.args)
    assert ctx.command.name == example.command.split()[-1]


@pytest.mark.parametrize("example", RUNNABLE, ids=_id)
def test_examples_run(example: Example, desk_less_env: dict[str, str]) -> None:
    parse_with_cli(app, example.args)
    missing = [a for a in example.args if a.startswith("../") and not (REPO / a).exists()]
    if missing:
        pytest.skip(f"{missing[0]} not present")
    done = _desk(example.args, desk_less_env)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == example.exit_code, (example.line, done.stdout[-2000:], done.stderr)


def test_the_reported_sql_example_would_have_failed(desk_less_env: dict[str, str]) -> None:
    """The example `desk sql --help` used to show: this test would have caught it."""
    old = ("sql", "--query", "denials-by-reason", "--param", "day=2023-03-11", "--format", "csv")
    parse_with_cli(app, old)  # the CLI parses it: only running it shows the bug
    done = _desk(old, desk_less_env)
    assert done.returncode == 2 and "unknown parameter 'day'" in done.stderr
