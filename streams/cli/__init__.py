"""``desk``: the one command-line entry point, subcommands per concern.

Every failure an operator can cause (bad setting, unreachable broker, a desk
already running) ends as one line on stderr and a non-zero exit, no traceback.
Each command group is a module of this package; here they are put together in
the order ``desk --help`` lists them, and ``main`` is the console script.
"""

from __future__ import annotations

import importlib
import sys

import typer
from rich.markup import escape

from streams.cli import context
from streams.cli.audit import register_audit
from streams.cli.backup import register_backup
from streams.cli.catalog import register_catalog
from streams.cli.db import register_db
from streams.cli.dq import register_dq
from streams.cli.exchange import data_app, register_live
from streams.cli.ops import register_ops
from streams.cli.parity import register_parity
from streams.cli.prune import register_prune
from streams.cli.recon import register_recon
from streams.cli.replay import register_replay
from streams.cli.sql import register_sql
from streams.cli.stack import register_stack
from streams.errors import DeskError, one_line
from streams.redact import install_log_redaction, redact

app = typer.Typer(
    help="deskplane: a streaming control plane for a small trading desk.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
feed_app = typer.Typer(help="Market-data feeds into the desk.", no_args_is_help=True)
register_replay(feed_app)  # feed replay
register_live(feed_app)  # feed live

# commands, then groups (typer lists them so), each in this order
register_stack(app)  # up, status, worker, broker, drill
register_ops(app)  # positions, orders, kill, resume
register_sql(app)  # sql (read-only, analytics store)
register_recon(app)  # reconcile
register_catalog(app)  # topics, schemas, config
app.add_typer(feed_app, name="feed")
app.add_typer(data_app, name="data")  # data fetch
register_dq(app)  # dq check, dq report
register_db(app)  # db migrate
register_audit(app)  # audit verify / show
register_parity(app)  # parity report
register_prune(app)  # prune --older-than
register_backup(app)  # backup, restore

# command groups that live with their concern, named by path as the topology names cores
# (``streams/`` imports no concern): ``module:function(app)``
CONCERN_GROUPS = (
    "analytics.demo.cli:register_demo",  # demo (the README's first command)
    "analytics.gates.cli:register_gates",  # gates run/show
    "analytics.daily.cli:register_daily",  # daily ticket/run/serve, ticket confirm, tickets, runs
    "analytics.daily.universe_cli:register_universe",  # universe validate/import/show
    "dashboard.cli:register_dashboard",  # dashboard (Streamlit)
    "analytics.backtest.cli:register_backtest",  # backtest run/list/show/compare/sweep
    "analytics.regression.cli:register_replay_datasets",  # replay windows/record/run/verify
)
for _path in CONCERN_GROUPS:
    _module, _, _fn = _path.partition(":")
    getattr(importlib.import_module(_module), _fn)(app)


def main() -> None:
    """Console-script entry point: one-line errors, no tracebacks, for operator mistakes."""
    install_log_redaction()  # the environment's secrets never reach a log line or an error
    try:
        app()
    except DeskError as exc:
        line = escape(one_line(redact(str(exc))))
        context.err.print(f"[red]error:[/] {line}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
