"""``desk up``, ``status``, ``worker``, ``broker``, ``drill``: running a desk and checking it.

``up`` runs the whole stack in the foreground (embedded wherever no URL is set),
``worker`` only the agents, ``status`` asks every part, ``broker`` runs a broker that
outlives desks; ``drill`` starts a desk of its own on real bars, to break it.
"""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from streams.cli import context
from streams.cli.options import JsonOpt
from streams.display import desk_table
from streams.errors import DeskError


def _health_table(parts: list[dict[str, Any]]) -> Table:
    t = desk_table("part", "mode", "health", "detail", "endpoint", keys=("part",))
    for p in parts:
        mark = "[green]healthy[/]" if p["healthy"] else "[red]down[/]"
        t.add_row(p["part"], p["mode"], mark, p["detail"], p.get("endpoint") or "")
    return t


# -- up / status / worker -------------------------------------------------------------------


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


def broker(
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 9092,
    address: Annotated[str, typer.Option(help="Address to listen on and advertise.")] = (
        "127.0.0.1"
    ),
    json_out: JsonOpt = False,
) -> None:
    """Run a standalone broker (Tansu) in the foreground, outside any desk.

    Desks pointed at it (DESK_BROKER_URL) come and go; its topics stay until it
    stops, as on Redpanda, so each run keeps to its own topic namespace. Storage
    is in memory: stopping it forgets every topic, and it comes back with a new
    cluster id, so a desk knows its saved offsets mean nothing there. --json
    prints one line (bootstrap, cluster id, pid, log) once it listens.

    Examples:

      $ desk broker --port 19092  # needs: port 19092 free
    """
    from streams.runtime.broker import EmbeddedBroker
    from streams.runtime.proc import tcp_open

    settings = context.checked_settings()
    if tcp_open(address, port):
        raise DeskError(f"{address}:{port} is already in use (another broker?); pick --port")
    log = settings.data_path / "run" / f"broker-{port}.log"
    server = EmbeddedBroker(log, settings.tansu_bin, port=port, host=address)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    server.start()
    try:
        info = {
            "bootstrap": server.bootstrap,
            "cluster_id": server.cluster_id,
            "pid": server.proc.pid if server.proc else None,
            "log": str(log),
        }
        if json_out:
            print(json.dumps(info), flush=True)
        else:
            context.out.print(
                f"broker {info['cluster_id']} on {server.bootstrap} (memory: its topics last "
                f"as long as it runs); log {log}\n"
                f"point desks at it: DESK_BROKER_URL={server.bootstrap} - Ctrl-C to stop",
                highlight=False,
            )
        while not stop.wait(0.5):
            if server.proc is None or server.proc.poll() is not None:
                raise DeskError(f"the broker exited by itself; see {log}")
    finally:
        server.stop()
        context.err.print("broker stopped")


# -- drills ---------------------------------------------------------------------------------


DRILL_NAMES = (
    "worker-crash | restart | postgres-stall | broker-kill | clickhouse-outage | bad-values"
    " | secrets"
)


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


def register_stack(app: typer.Typer) -> None:
    for command in (up, status, worker, broker, drill):
        app.command()(command)
