"""``desk``: the one command-line entry point, subcommands per concern.

Every failure an operator can cause (bad setting, unreachable broker, a desk
already running) ends as one line on stderr and a non-zero exit, no traceback.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from streams.cli import context
from streams.cli.audit import register_audit
from streams.cli.db import register_db
from streams.cli.dq import register_dq
from streams.cli.exchange import data_app, register_live
from streams.cli.ops import register_ops
from streams.cli.options import JsonOpt
from streams.cli.parity import register_parity
from streams.cli.recon import register_recon
from streams.cli.replay import register_replay
from streams.cli.sql import register_sql
from streams.display import desk_table, print_table, stream_label
from streams.errors import DeskError, one_line
from streams.redact import install_log_redaction, redact

app = typer.Typer(
    help="deskplane: a streaming control plane for a small trading desk.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
topics_app = typer.Typer(help="The topic catalog on the broker.", no_args_is_help=True)
schemas_app = typer.Typer(help="The Avro event catalog (schemas/avro).", no_args_is_help=True)
config_app = typer.Typer(help="The desk config file.", no_args_is_help=True)
dq_app = typer.Typer(help="Data quality of the market data.", no_args_is_help=True)
app.add_typer(topics_app, name="topics")
app.add_typer(schemas_app, name="schemas")
app.add_typer(config_app, name="config")
feed_app = typer.Typer(help="Market-data feeds into the desk.", no_args_is_help=True)
app.add_typer(feed_app, name="feed")
register_replay(feed_app)
register_live(feed_app)
app.add_typer(data_app, name="data")
app.add_typer(dq_app, name="dq")
register_dq(dq_app)  # dq check, dq report


def _health_table(parts: list[dict[str, Any]]) -> Table:
    t = desk_table("part", "mode", "health", "detail", "endpoint", keys=("part",))
    for p in parts:
        mark = "[green]healthy[/]" if p["healthy"] else "[red]down[/]"
        t.add_row(p["part"], p["mode"], mark, p["detail"], p.get("endpoint") or "")
    return t


# -- up / status / worker -------------------------------------------------------------------


@app.command()
def up(
    workers: Annotated[
        int, typer.Option(min=1, max=16, help="Faust workers sharing the partitions.")
    ] = 1,
) -> None:
    """Run the stack (broker, PostgreSQL, ClickHouse) and the agents in the foreground.

    Ctrl-C or SIGTERM stops everything cleanly. Parts with a URL/DSN in the
    settings are used as they are (only health-checked), the rest are embedded.
    """
    from streams.runtime.stack import Stack

    settings = context.checked_settings()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stack = Stack(settings, workers=workers)
    try:
        with context.err.status("starting the desk...") as st:
            stack.start(progress=lambda part: st.update(f"starting {part}..."))
        context.out.print(_health_table([p.to_json() for p in stack.health()]))
        context.out.print(f"desk up on {settings.data_path} - Ctrl-C to stop")
        while not stop.wait(1.0):
            if stack.worker is not None and stack.worker.poll() is not None:
                raise DeskError(
                    f"agents worker exited with {stack.worker.returncode}; "
                    f"see {stack.run_dir / 'worker.log'}"
                )
    finally:
        with context.err.status("stopping..."):
            stack.stop()
        context.err.print("desk stopped")


@app.command()
def status(json_out: JsonOpt = False) -> None:
    """Health of each part (broker, PostgreSQL, ClickHouse, agents). Exit 1 if any is down.

    Examples:

      $ desk status --json  # exit 1 when no desk runs
    """
    from streams.runtime.stack import status as stack_status

    report = stack_status(context.settings())
    if json_out:
        context.print_json(report)
    else:
        state = f"running (pid {report['pid']})" if report["running"] else "not running"
        context.out.print(f"desk: {state}")
        if report.get("error"):
            context.out.print(f"[red]{report['error']}[/]")
        context.out.print(_health_table(report["parts"]))
    raise typer.Exit(0 if report["healthy"] else 1)


@app.command()
def worker() -> None:
    """Run only the agents (Faust worker) against DESK_BROKER_URL.

    `desk up` starts one for you; in production run one per container and scale
    out with more partitions and more workers.
    """
    from streams.worker import run_worker

    settings = context.checked_settings()
    if not settings.broker_url:
        raise DeskError("desk worker needs DESK_BROKER_URL (desk up sets it)")
    run_worker(settings, settings.broker_url)


# -- demo -----------------------------------------------------------------------------------


@app.command()
def demo(
    json_out: JsonOpt = False,
    limit: Annotated[
        int | None, typer.Option(help="Bars per sample (default: all).", min=1)
    ] = None,
) -> None:
    """Replay real bundled bars through the embedded desk and report (offline, no setup)."""
    from streams.demo import run_demo
    from streams.progress import progress_bar

    settings = context.checked_settings()
    if settings.data_dir == Path(".desk"):  # keep the demo away from a real desk's data
        settings = settings.model_copy(update={"data_dir": Path(".desk/demo")})
    with progress_bar(context.err, disable=json_out) as progress:
        tasks: dict[str, Any] = {}

        def on_stage(msg: str) -> None:
            if not json_out:
                context.err.print(f"- {msg}")

        def on_progress(name: str, done: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = progress.add_task(name, total=total)
            progress.update(tasks[name], completed=done)

        report = run_demo(settings, limit, on_stage, on_progress)
    if json_out:
        context.print_json(report)
        return
    t = desk_table(
        "stream",
        "bars in",
        "clean out",
        title="bars through the agents",
        keys=("stream",),
        numbers=("bars in", "clean out"),
    )
    for s in report["streams"]:
        t.add_row(stream_label(s["stream"]), str(s["bars_in"]), str(s["bars_clean"]))
    context.out.print(t)
    d = desk_table(
        "topic",
        "partition",
        "offset",
        "kind",
        "error",
        title="dead letters",
        keys=("topic",),
        numbers=("partition", "offset"),
    )
    for x in report["dead_letters"]:
        d.add_row(x["topic"], str(x["partition"]), str(x["offset"]), x["kind"], x["error"])
    print_table(context.out, d, len(report["dead_letters"]), "dead letter")
    context.out.print(_dq_table(report["data_quality"]))
    context.out.print(
        f"{report['bars_in']} bars in, {report['bars_clean']} clean out, "
        f"{len(report['dead_letters'])} dead letters; stack up in "
        f"{report['seconds']['stack_start']} s, replay+processing "
        f"{report['seconds']['replay_and_process']} s ({report['bars_per_second']} bars/s)"
    )


# -- topics ---------------------------------------------------------------------------------


def _topic_rows(changes: list[Any]) -> list[dict[str, Any]]:
    return [
        {
            "topic": c.topic,
            "action": c.action,
            "detail": c.detail,
            "value_schema": c.spec.value_schema,
            "key": c.spec.key,
            "partitions": c.spec.partitions,
            "retention_days": c.spec.retention_days,
        }
        for c in changes
    ]


def _topic_table(rows: list[dict[str, Any]], title: str) -> Table:
    t = desk_table(
        "topic",
        "value",
        "key",
        "partitions",
        "retention",
        "state",
        "detail",
        title=title,
        keys=("topic",),
        numbers=("partitions", "retention"),
    )
    for r in rows:
        ret = "forever" if r["retention_days"] is None else f"{r['retention_days']} d"
        t.add_row(
            r["topic"],
            r["value_schema"],
            r["key"],
            str(r["partitions"]),
            ret,
            r["action"],
            r["detail"],
        )
    return t


@topics_app.command("apply")
def topics_apply(json_out: JsonOpt = False) -> None:
    """Create missing topics and fix drifted configs (idempotent; says when nothing changed).

    Examples:

      $ desk topics apply  # needs: desk up
    """
    from streams.admin import apply_topics

    settings = context.settings()
    changes = apply_topics(context.bootstrap(settings), settings.topic_prefix)
    rows = _topic_rows(changes)
    changed = sum(1 for c in changes if c.changes_anything)
    if json_out:
        context.print_json({"changed": changed, "topics": rows})
        return
    context.out.print(_topic_table(rows, "topics apply"))
    context.out.print(
        "nothing to change: every topic is up to date"
        if changed == 0
        else f"{changed} topic(s) created or altered"
    )


@topics_app.command("list")
def topics_list(json_out: JsonOpt = False) -> None:
    """The catalog and each topic's state on the broker (changes nothing).

    Examples:

      $ desk topics list --json  # needs: desk up
    """
    from streams.admin import list_topics

    settings = context.settings()
    rows = _topic_rows(list_topics(context.bootstrap(settings), settings.topic_prefix))
    for r in rows:
        r["action"] = {"create": "missing", "alter": "drifted"}.get(r["action"], r["action"])
    if json_out:
        context.print_json({"topics": rows})
    else:
        context.out.print(_topic_table(rows, "topic catalog"))


# -- schemas / config -----------------------------------------------------------------------


@schemas_app.command("list")
def schemas_list(json_out: JsonOpt = False) -> None:
    """Every event type with its current fingerprint and how many versions are committed.

    Examples:

      $ desk schemas list
    """
    from streams.avro import registry

    reg = registry()
    rows = []
    for name in reg.names():
        versions = [v for v in reg.versions() if v.name == name]
        rows.append(
            {
                "type": name,
                "fingerprint": reg.current(name).fingerprint_hex,
                "versions": len(versions),
            }
        )
    if json_out:
        context.print_json(rows)
        return
    t = desk_table(
        "type",
        "current fingerprint",
        "versions",
        keys=("type",),
        numbers=("current fingerprint", "versions"),
    )
    for r in rows:
        t.add_row(r["type"], r["fingerprint"], str(r["versions"]))
    print_table(context.out, t, len(rows), "type")


@schemas_app.command("freeze")
def schemas_freeze(
    fixtures: Annotated[Path, typer.Option(help="Fixture folder.")] = Path("tests/fixtures/avro"),
) -> None:
    """Record current schema versions in history/ and write an encoded fixture for each."""
    from schemas import avro_dir
    from streams.avro import SchemaRegistry
    from streams.schema_history import freeze

    added = freeze(SchemaRegistry(avro_dir()), fixtures)
    for a in added:
        context.out.print(f"added {a}")
    context.out.print(
        "every schema version is frozen" if not added else f"{len(added)} file(s) added"
    )


@config_app.command("check")
def config_check(
    path: Annotated[Path | None, typer.Argument(help="Config file (default: settings').")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Validate the desk config file; one line naming the bad key if it is wrong.

    An overlay (extends: default, or a base file) is checked merged over its base.

    Examples:

      $ desk config check

      $ desk config check streams/desk.default.yaml --json
    """
    from streams.config import DEFAULT_CONFIG, load_config, load_config_data

    settings = context.settings()
    path = path or settings.config_file or DEFAULT_CONFIG
    cfg = load_config(path)
    chain = [str(p) for p in load_config_data(path)[1][1:]]
    summary = {
        "config": str(path),
        "extends": chain,
        "desk": cfg.desk.name,
        "instruments": len(cfg.universe),
        "bots": [b.id for b in cfg.bots],
        "strategies": sorted(cfg.strategies),
        "fee_profiles": sorted(cfg.fee_profiles),
        "alert_routes": [r.name for r in cfg.alert_routes],
    }
    if json_out:
        context.print_json(summary)
    else:
        over = f" (extends {' < '.join(chain)})" if chain else ""
        context.out.print(
            f"config ok: {path}{over}: desk {cfg.desk.name!r}, {len(cfg.universe)} instruments, "
            f"{len(cfg.bots)} bots ({', '.join(summary['bots'])})"
        )


def _dq_table(summary: dict[str, Any]) -> Table:
    """Data quality per stream, worst first (``desk demo``; ``desk dq`` prints more)."""
    from streams.cli.dq import stream_table

    return stream_table(summary)


# -- drills ---------------------------------------------------------------------------------


DRILL_NAMES = (
    "worker-crash | restart | postgres-stall | broker-kill | clickhouse-outage | bad-values"
    " | secrets"
)


@app.command()
def drill(
    name: Annotated[str, typer.Argument(help=DRILL_NAMES)],
    json_out: JsonOpt = False,
    data: Annotated[
        Path | None, typer.Option(help="The crypto_1m bars (default: ../shared/data).")
    ] = None,
    since: Annotated[str, typer.Option(help="Window start (UTC).")] = "2023-03-02T00:00",
    until: Annotated[str, typer.Option(help="Window end (UTC).")] = "2023-03-02T03:00",
    speed: Annotated[str, typer.Option(help="Replay speed.")] = "x300",
) -> None:
    """Break a fresh desk the way production does and measure it (docs/reliability.md).

    Starts a whole embedded desk under DESK_DATA_DIR/drills/NAME, replays real bars,
    breaks it mid-replay, and reports bars published vs stored, lost, duplicated,
    orders left PENDING, fills and time to recover. Exit 1 if a promise did not hold.
    """
    import shutil

    from streams.drills import DEFAULT_DATA, DRILLS, Window, run_drill

    if name not in DRILLS:
        raise DeskError(f"no drill {name!r}; one of: {', '.join(DRILLS)}")
    settings = context.checked_settings()
    directory = settings.data_path / "drills" / name
    shutil.rmtree(directory, ignore_errors=True)
    with context.err.status(f"drill {name}: starting a desk, replaying, breaking it..."):
        window = Window(since, until, speed)
        result = run_drill(name, directory, data=data or DEFAULT_DATA, window=window)
    if json_out:
        context.out.print_json(json.dumps(result.to_json(), default=str))
    else:
        verdict = "[green]PASS[/]" if result.passed else "[red]FAIL[/]"
        context.out.print(f"drill {name}: {verdict}")
        for k, v in result.figures.items():
            context.out.print(f"  {k}: {v}", highlight=False)
        for f in result.failures:
            context.out.print(f"  [red]failed[/]: {f}", highlight=False)
    if not result.passed:
        raise typer.Exit(1)


register_ops(app)  # positions, orders, kill, resume
register_db(app)  # db migrate
register_sql(app)  # sql (read-only, analytics store)
register_audit(app)  # audit verify / show
register_recon(app)  # reconcile --once
register_parity(app)  # parity report


def main() -> None:
    """Console-script entry point: one-line errors, no tracebacks, for operator mistakes."""
    install_log_redaction()  # the environment's secrets never reach a log line or an error
    try:
        app()
    except DeskError as exc:
        line = escape(one_line(redact(str(exc))))
        context.err.print(f"[red]error:[/] {line}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
