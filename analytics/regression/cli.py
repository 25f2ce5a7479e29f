"""``desk replay``: record a window of the desk's topics, play it through a desk of its own,
verify what that desk wrote against the recording (docs/regression.md).

Examples::

    desk replay windows                      # needs: ../shared/data
    desk replay verify .desk/replay/windows/normal   # needs: windows
    desk replay record --since 2023-03-02 --until 2023-03-03 --out w1   # needs: desk up
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from streams.cli import context
from streams.cli.options import JsonOpt
from streams.display import desk_table
from streams.errors import DeskError

replay_app = typer.Typer(
    help="Replay datasets: record a window, run it through a desk, verify against golden.",
    no_args_is_help=True,
)
REPO = Path(__file__).resolve().parents[2]
SHARED_CRYPTO = REPO.parent / "shared" / "data" / "crypto_1m"


def windows_dir() -> Path:
    return context.settings().data_path / "replay" / "windows"


def _datasets(dirs: list[Path] | None) -> list[Path]:
    """The named datasets, or every window under the data dir."""
    if dirs:
        return dirs
    found = sorted(p.parent for p in windows_dir().glob("*/manifest.json"))
    if not found:
        raise DeskError(f"no datasets under {windows_dir()} (make them: desk replay windows)")
    return found


@replay_app.command("windows")
def windows_cmd(
    data: Annotated[
        Path, typer.Option(help="The shared crypto_1m bars (Binance.US BTC, three quotes).")
    ] = SHARED_CRYPTO,
    out: Annotated[
        Path | None, typer.Option(help="Where (default: DESK_DATA_DIR/replay/windows).")
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="Desk config (default: the packaged one).")
    ] = None,
    only: Annotated[
        list[str] | None, typer.Option("--only", help="normal, usdc-depeg or no-trade.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Build the regression windows from recorded bars: normal, USDC de-peg, no-trade.

    Each is a dataset (inputs, golden outputs made by the engine of the desk graph,
    config, manifest); nothing is committed: run this where the data is.
    """
    from analytics.regression.build import build_windows
    from connectors.feeds.files import read_files

    files = sorted(data.glob("binanceus_BTC*_1m_*.csv")) if data.is_dir() else []
    if not files:
        raise DeskError(f"no binanceus_BTC*_1m_*.csv under {data} (the shared crypto bars)")
    bars = read_files(files).bars
    target = out or windows_dir()

    def said(name: str, m: dict[str, Any]) -> None:
        if not json_out:
            counts = {t: v["count"] for t, v in m["topics"].items()}
            context.err.print(
                f"- {name}: {counts['market.bars']:,} bars, {counts.get('fills', 0)} fills, "
                f"{m['dataset_id']} -> {target / name}"
            )

    made = build_windows(bars, target, config, only or (), said)
    if json_out:
        context.print_json({"out": str(target), "datasets": made})


@replay_app.command("record")
def record_cmd(
    out: Annotated[Path, typer.Option(help="Dataset directory to write.")],
    since: Annotated[str, typer.Option(help="Window start, event time (UTC).")],
    until: Annotated[str, typer.Option(help="Window end, event time (UTC), exclusive.")],
    topics: Annotated[
        str | None,
        typer.Option(help="Comma-separated topics (default: market.bars and the golden ones)."),
    ] = None,
    name: Annotated[str | None, typer.Option(help="Dataset name (default: the folder's).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Capture a window of the running desk's topics into a dataset.

    The inputs (market.bars) as they went in, the rest as the desk wrote them: the
    golden a later run must reproduce. Times are event time.
    """
    from analytics.regression.build import parse_time, record
    from analytics.regression.dataset import GOLDEN, INPUTS
    from streams.config import DEFAULT_CONFIG
    from streams.topics import spec

    settings = context.checked_settings()
    chosen = [t.strip() for t in topics.split(",")] if topics else [*INPUTS, *GOLDEN]
    for t in chosen:
        spec(t)
    config = settings.config_file or DEFAULT_CONFIG
    m = record(
        context.bootstrap(settings),
        settings.topic_prefix,
        out,
        name or out.name,
        chosen,
        parse_time(since),
        parse_time(until),
        config,
    )
    if json_out:
        context.print_json(m)
        return
    counts = ", ".join(f"{t} {v['count']:,}" for t, v in sorted(m["topics"].items()))
    context.out.print(f"{m['dataset_id']} -> {out}: {counts}")


def _run(path: Path, config: Path | None, json_out: bool) -> Any:
    from analytics.regression.dataset import open_dataset
    from analytics.regression.run import run_dataset, save_verdict
    from streams.progress import progress_bar, stage_reporters

    ds = open_dataset(path)
    settings = context.checked_settings()
    with progress_bar(context.err, disable=json_out) as progress:
        on_stage, on_progress = stage_reporters(progress, context.err, json_out, ds.name)
        v = run_dataset(ds, settings, config, on_stage, on_progress)
    saved = save_verdict(ds, v)
    return v, saved


def _print_verdict(v: Any, saved: Path) -> None:
    colour = "green" if v.passed else "red"
    note = "" if v.config_is_recorded else " (config differs from the recorded one)"
    context.out.print(
        f"[{colour}]{v.status}[/] {v.dataset} run {v.run_id} in {v.seconds:.0f} s{note}",
        highlight=False,
    )
    t = desk_table("topic", "golden", "run", title=None, keys=("topic",), numbers=("golden", "run"))
    for topic, c in sorted(v.counts.items()):
        t.add_row(topic, f"{c['golden']:,}", f"{c['run']:,}")
    context.out.print(t)
    for line in v.invariants:
        context.out.print(f"  invariant broken: {line}", highlight=False)
    for line in v.differences:
        context.out.print(f"  difference: {line}", highlight=False)
    context.out.print(f"  evidence: {saved}", highlight=False)


ConfigOpt = Annotated[
    Path | None,
    typer.Option(help="Run with this desk config instead of the dataset's own (what changed?)."),
]


@replay_app.command("run")
def run_cmd(
    dataset: Annotated[Path, typer.Argument(help="Dataset directory.")],
    config: ConfigOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Play a dataset through a desk of its own (own topic namespace) and keep the result.

    Starts the whole desk (embedded, or the configured broker and stores) under
    DESK_DATA_DIR/replays/<run>, replays the inputs, reads back what the desk wrote.
    """
    v, saved = _run(dataset, config, json_out)
    if json_out:
        context.print_json({**v.to_json(), "evidence": str(saved)})
        return
    _print_verdict(v, saved)


@replay_app.command("verify")
def verify_cmd(
    datasets: Annotated[
        list[Path] | None,
        typer.Argument(help="Dataset directories (default: every window in the data dir)."),
    ] = None,
    config: ConfigOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Run each dataset and compare with its golden: PASS/FAIL, the first differences.

    Exit 1 if any dataset fails (a difference, or an invariant such as the no-trade
    window's zero orders broken).
    """
    results = []
    for path in _datasets(datasets):
        v, saved = _run(path, config, json_out)
        results.append({**v.to_json(), "evidence": str(saved)})
        if not json_out:
            _print_verdict(v, saved)
    passed = all(r["status"] == "PASS" for r in results)
    if json_out:
        context.print_json({"status": "PASS" if passed else "FAIL", "datasets": results})
    if not passed:
        raise typer.Exit(1)


@replay_app.command("show")
def show_cmd(
    datasets: Annotated[
        list[Path] | None,
        typer.Argument(help="Dataset directories (default: every window in the data dir)."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """What each dataset holds and how its latest verify went."""
    from analytics.regression.dataset import open_dataset
    from analytics.regression.run import latest_verdict

    rows = []
    for path in _datasets(datasets):
        ds = open_dataset(path)
        last = latest_verdict(path)
        rows.append(
            {
                "path": str(path),
                "manifest": ds.manifest,
                "latest": None if last is None else last[0],
            }
        )
    if json_out:
        context.print_json(rows)
        return
    t = desk_table(
        "dataset",
        "id",
        "bars",
        "fills",
        "expect",
        "latest verify",
        keys=("dataset",),
        numbers=("bars", "fills"),
    )
    for r in rows:
        m, last = r["manifest"], r["latest"]
        t.add_row(
            m["name"],
            m["dataset_id"],
            f"{m['topics']['market.bars']['count']:,}",
            f"{m['topics'].get('fills', {}).get('count', 0):,}",
            ", ".join(f"{k}={v}" for k, v in m.get("expect", {}).items()),
            "never" if last is None else f"{last['status']} {last['finished_at']}",
        )
    context.out.print(t)


def register_replay_datasets(app: typer.Typer) -> None:
    app.add_typer(replay_app, name="replay")
