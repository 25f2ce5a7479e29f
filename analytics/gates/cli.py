"""``desk gates``: may this desk (its code, config and evidence) be promoted?"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from streams.cli import context
from streams.cli.options import JsonOpt
from streams.display import desk_table
from streams.errors import DeskError

gates_app = typer.Typer(
    help="Promotion gates: PASS / FAIL / STALE with evidence.", no_args_is_help=True
)
STATUS_COLOUR = {"PASS": "green", "FAIL": "red", "STALE": "yellow"}


@gates_app.command("run")
def run_cmd(
    junit: Annotated[
        Path | None,
        typer.Option(help="The test suite's junit XML (default: DESK_DATA_DIR/gates/junit.xml)."),
    ] = None,
    dataset: Annotated[
        list[Path] | None,
        typer.Option("--dataset", help="Replay datasets (default: every window in the data dir)."),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(help="Soak window start, event time (default: gates.soak_hours back)."),
    ] = None,
    config: Annotated[Path | None, typer.Option(help="Desk config (default: the desk's).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Judge every gate and keep the verdict; exit 1 unless all PASS.

    Gates: tests (junit), replay regression (every window's latest verify, on this
    code), paper smoke and soak KPIs, reconciliation, parity, data quality, alert
    delivery. Missing evidence FAILs, old evidence is STALE; both fail the promotion.
    The verdict goes to DESK_DATA_DIR/gates/<run>/ (JSON, markdown), PostgreSQL and
    the audit chain, with the validation level reached.
    """
    from analytics.gates.run import run_gates
    from analytics.regression.build import parse_time
    from analytics.regression.cli import windows_dir
    from streams.config import load_config

    settings = context.checked_settings()
    cfg = load_config(config or settings.config_file)
    datasets = (
        dataset if dataset else sorted(p.parent for p in windows_dir().glob("*/manifest.json"))
    )
    run = run_gates(
        settings,
        cfg,
        junit or settings.data_path / "gates" / "junit.xml",
        datasets,
        None if since is None else parse_time(since),
    )
    report = run.to_json()
    if json_out:
        context.print_json(report)
    else:
        _print(report, settings.data_path / "gates" / run.run_id)
    if run.status != "PASS":
        raise typer.Exit(1)


def _print(report: dict, where: Path) -> None:
    t = desk_table("gate", "status", "reasons", keys=("gate",), left=("reasons",))
    for g in report["gates"]:
        colour = STATUS_COLOUR.get(g["status"], "white")
        t.add_row(g["gate"], f"[{colour}]{g['status']}[/]", "; ".join(g["reasons"]) or "")
    context.out.print(t)
    colour = STATUS_COLOUR[report["status"]]
    context.out.print(
        f"[{colour}]{report['status']}[/] validation level {report['validation_level']} "
        f"({report['validation_level_name']}); live allowed: {report['live_allowed']}; "
        f"evidence: {where}",
        highlight=False,
    )


@gates_app.command("show")
def show_cmd(json_out: JsonOpt = False) -> None:
    """The latest gate run's verdict (no new judgement)."""
    settings = context.checked_settings()
    path = settings.data_path / "gates" / "latest.json"
    if not path.is_file():
        raise DeskError(f"no gate run yet under {path.parent} (desk gates run)")
    report = json.loads(path.read_text())
    if json_out:
        context.print_json(report)
        return
    _print(report, path.parent / report["run_id"])


def register_gates(app: typer.Typer) -> None:
    app.add_typer(gates_app, name="gates")
