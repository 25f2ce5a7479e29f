"""``desk dq check`` and ``desk dq report``: one data-quality summary, from files or the desk.

Both print ``agents.dq.summary.summarize``: the headline first (a cross-market
divergence episode beats any single finding), then per stream coverage and
gaps, then per market pair the basis and its episodes. ``--json`` gives the
same dict to tools.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from streams.cli import context
from streams.cli.options import JsonOpt
from streams.display import console, desk_table, stream_label
from streams.errors import DeskError

dq_app = typer.Typer(help="Data quality of the market data.", no_args_is_help=True)
out = console()
err = console(stderr=True)
COLOUR = {"CRITICAL": "red", "WARNING": "yellow", "INFO": "cyan", "OK": "green"}

CHECK_HELP = """Run the data-quality gate over bar files (no desk, no broker).

Vet data before a replay: the core the desk's agent runs judges the
bars in event-time order. Prints the headline (a cross-market
divergence episode first); per stream: rows, expected and missing
intervals, coverage, gap runs, longest gap, zero-volume runs, outliers;
per pair of a cross-market group: the basis (now, peak with its time,
daily means) and its divergence episodes.

Exit codes: 0 nothing at or above --fail-on; 1 a finding at or above
--fail-on; 2 unusable input (unreadable file, bad config, no such
profile).

Examples:

  $ desk dq check ../shared/data/crypto_1m/  # exit 1: the de-peg is CRITICAL

  $ desk dq check ../shared/data/crypto_1m/ --profile sparse --json  # exit 1
"""


def register_dq(app: typer.Typer) -> None:
    """Add the ``desk dq`` group: ``check`` and ``report``."""
    dq_app.command("check", help=CHECK_HELP)(dq_check)
    dq_app.command("report")(dq_report)
    app.add_typer(dq_app, name="dq")


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def _config(path: Path | None) -> Any:
    from streams.config import DEFAULT_CONFIG, load_config
    from streams.settings import load_settings

    if path is None:
        path = load_settings().config_file or DEFAULT_CONFIG
    return load_config(path)


def dq_check(
    files: Annotated[
        list[Path], typer.Argument(help="Bar files (CSV or Parquet) or folders holding them.")
    ],
    json_out: JsonOpt = False,
    profile: Annotated[
        str | None,
        typer.Option(
            help="Judge every stream by this data_quality.profiles entry (e.g. sparse);"
            " default: each stream's matching profile, else the dense defaults."
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(help="Desk config file (default: DESK_CONFIG_FILE, else the packaged one)."),
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="auto, binance, yahoo_ohlcv, yahoo_wide or generic.")
    ] = "auto",
    venue: Annotated[str | None, typer.Option(help="Venue for every file.")] = None,
    symbol: Annotated[str | None, typer.Option(help="Symbol for every file (not wide).")] = None,
    interval: Annotated[str | None, typer.Option(help="Bar interval: 1m, 5m, 1h, 1d.")] = None,
    since: Annotated[
        str | None, typer.Option(help="Bars opening at/after this time (ISO-8601; UTC if naive).")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Bars opening before this time.")] = None,
    fail_on: Annotated[
        str, typer.Option(help="Exit 1 on a finding at or above: CRITICAL, WARNING or never.")
    ] = "CRITICAL",
) -> None:
    from agents.dq.check import check_summary, run_core
    from connectors.feeds.files import FORMATS, ReadOptions, check_bars, parse_when, read_files
    from streams.cli.replay import expand

    if fail_on not in ("CRITICAL", "WARNING", "never"):
        raise DeskError(f"--fail-on {fail_on!r}: use CRITICAL, WARNING or never")
    if fmt not in ("auto", *FORMATS):
        raise DeskError(f"unknown --format {fmt!r}; use auto or one of {', '.join(FORMATS)}")
    cfg = _config(config)
    if profile is not None and profile not in cfg.data_quality.profiles:
        known = ", ".join(sorted(cfg.data_quality.profiles)) or "none"
        raise DeskError(
            f"--profile {profile!r}: no data_quality.profiles.{profile} (known: {known})"
        )
    opts = ReadOptions(
        fmt=fmt,
        venue=venue,
        symbol=symbol,
        interval=interval,
        since=parse_when(since) if since else None,
        until=parse_when(until) if until else None,
    )
    paths = expand(files)
    for path in paths:  # a bad file is named before the long read
        check_bars(path, opts)
    status = err.status("reading and checking bars...") if not json_out else None
    if status is not None:
        status.start()
    try:
        result = read_files(paths, opts)
        run = run_core(result.bars, cfg, profile)
    finally:
        if status is not None:
            status.stop()
    summary = check_summary(run, cfg, profile, fail_on)
    summary["files"] = [
        {"path": str(f.path), "format": f.format, "bars": len(f.bars), "rejects": len(f.rejects)}
        for f in result.files
    ]
    summary["file_rejects"] = len(result.rejects)
    if json_out:
        _print_json(summary)
    else:
        print_summary(summary, title="dq check")
        _print_check_footer(summary)
    raise typer.Exit(summary["exit_code"])


def dq_report(
    json_out: JsonOpt = False,
    since: Annotated[
        str | None,
        typer.Option(
            help="From this event time: ISO (2023-03-11T07:00) or a duration back from the"
            " latest event time the desk has seen (6h), not from the wall clock."
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(help="Before this event time: ISO, or a duration back from the latest."),
    ] = None,
) -> None:
    """Data-quality summary of what the running desk has seen: headline, per stream coverage,
    gaps and findings, per market pair the basis and its divergence episodes.

    Examples:

      $ desk dq report --since 6h  # needs: desk up

      $ desk dq report --since 2023-03-11 --until 2023-03-14 --json \\
          # needs: desk up
    """
    from agents.dq.summary import parse_bound, summarize
    from streams.config import DEFAULT_CONFIG, load_config
    from streams.kafka import decode_all, read_topic

    try:
        lo = parse_bound(since, "--since") if since else None
        hi = parse_bound(until, "--until") if until else None
    except ValueError as exc:
        raise DeskError(str(exc)) from None
    settings = context.settings()
    cfg = load_config(settings.config_file or DEFAULT_CONFIG)
    bootstrap, prefix = context.bootstrap(settings), settings.topic_prefix
    with err.status("reading dq.reports and market.bars.clean", spinner="dots"):
        reports = decode_all(read_topic(bootstrap, "dq.reports", prefix, idle_s=1.0))
        bars = decode_all(read_topic(bootstrap, "market.bars.clean", prefix, idle_s=1.0))
    summary = summarize(reports, bars, lo, hi, cfg=cfg.data_quality, calendar_for=cfg.calendar_for)
    if json_out:
        _print_json(summary)
        return
    print_summary(summary, title="dq report")
    totals = summary["reports"]
    out.print(", ".join(f"{v} {k.lower()}" for k, v in totals.items()) + " report(s)")


# -- rendering -------------------------------------------------------------------------------


def _pct(x: float | None) -> str:
    return "" if x is None else f"{100 * x:.2f}"


def _short(ts: str | None) -> str:
    """``2023-03-11T07:50:00Z`` -> ``03-11 07:50`` (the year is in the window line)."""
    return "" if not ts else f"{ts[5:10]} {ts[11:16]}"


def _status(s: str, short: bool = False) -> str:
    text = {"CRITICAL": "CRIT", "WARNING": "WARN"}.get(s, s) if short else s
    return f"[{COLOUR.get(s, 'white')}]{text}[/]"


def stream_table(summary: dict[str, Any]) -> Table:
    """Per stream, worst first: status, bars, coverage and gaps, zero-volume runs, outliers."""
    window = " ".join(
        x for x in (f"since {summary['since']}" if summary.get("since") else "",
                    f"until {summary['until']}" if summary.get("until") else "") if x
    )  # fmt: skip
    t = desk_table(
        "stream",
        "status",
        "bars",
        "miss",
        "cov %",
        "gaps",
        "max",
        "0vol",
        "outl",
        title=f"data quality {window}".strip(),
        caption="miss: missing intervals; gaps: gap runs; max: longest gap (intervals);"
        " 0vol: zero-volume runs; outl: outlier bars",
        keys=("stream",),
        left=("status",),
        numbers=("bars", "miss", "cov %", "gaps", "max", "0vol", "outl"),
    )
    for row in summary["streams"]:
        longest = row.get("longest_gap")
        t.add_row(
            stream_label(row["stream"]),
            _status(row["status"], short=True),
            str(row.get("rows", row["bars_clean"])),
            str(row.get("missing", "")),
            _pct(row.get("coverage")),
            str(row.get("gap_runs", "")),
            f"{longest['bars']}" if longest else "0",
            str(row.get("zero_volume_runs", "")),
            str(row.get("outliers", "")),
        )
    return t


def pair_table(summary: dict[str, Any]) -> Table | None:
    """Per pair of a cross-market group: basis now, its peak, and the episodes (bps)."""
    if not summary.get("pairs"):
        return None
    t = desk_table(
        "member",
        "vs",
        "now",
        "peak",
        "peak at",
        "episodes",
        title="cross-market basis (bps, member vs reference)",
        keys=("member", "vs"),
        left=("peak at", "episodes"),
        numbers=("now", "peak"),
    )
    for p in summary["pairs"]:
        worst = max((e["severity"] for e in p["episodes"]), key=_rank, default="OK")
        t.add_row(
            stream_label(p["member"]),
            _versus(p["member"], p["reference"]),
            f"{p['current_bps']:+.1f}",
            f"{p['peak_bps']:+,.1f}",
            _short(p["peak_at"]),
            f"{len(p['episodes'])} {_status(worst, short=True)}" if p["episodes"] else "0",
        )
    return t


def _versus(member: str, reference: str) -> str:
    """The reference as short as is unambiguous: its symbol when on the member's venue."""
    if member.partition(":")[0] == reference.partition(":")[0]:
        return reference.partition(":")[2]
    return stream_label(reference)


def _rank(s: str) -> int:
    return {"OK": -1, "INFO": 0, "WARNING": 1, "CRITICAL": 2}[s]


def print_summary(summary: dict[str, Any], title: str) -> None:
    """The whole summary for people: headline, streams, stream headlines, pairs, episodes."""
    head = summary.get("headline")
    if head:
        out.print(f"[bold]{title} headline[/]: {_status(head['severity'])} {head['message']}")
    else:
        out.print(f"[bold]{title}[/]: [green]no findings[/]")
    out.print(stream_table(summary))
    for row in summary["streams"]:
        h = row.get("headline")
        if h and h["severity"] != "INFO":
            text = h["message"]
            if not text.startswith(row["stream"]):
                text = f"{row['stream']}: {text}"
            out.print(f"- {_status(h['severity'])} {text}", highlight=False)
        longest = row.get("longest_gap")
        if longest and longest["bars"] > 1:
            out.print(
                f"- {row['stream']}: longest gap {longest['bars']} intervals"
                f" {longest['start']} -> {longest['end']} ({row['gap_runs']} gap runs,"
                f" density {row.get('density', 'dense')})",
                highlight=False,
            )
    pairs = pair_table(summary)
    if pairs is not None:
        out.print(pairs)
        for p in summary["pairs"]:
            days = ", ".join(f"{d[5:]} {v:+.1f}" for d, v in p["daily_mean_bps"].items())
            out.print(f"- {p['member']} daily mean: {days}", highlight=False)
            for e in p["episodes"]:
                until = "ongoing" if e["ongoing"] else e["end"]
                days = ", ".join(f"{d[5:]} {v:+.0f}" for d, v in e["daily_mean_bps"].items())
                out.print(
                    f"  {_status(e['severity'])} episode {e['start']} -> {until}:"
                    f" peak {e['peak_bps']:+,.0f} bps at {_short(e['peak_at'])};"
                    f" daily mean {days}",
                    highlight=False,
                )


def _print_check_footer(summary: dict[str, Any]) -> None:
    totals = ", ".join(f"{v} {k.lower()}" for k, v in summary["reports"].items())
    if summary["not_in_universe"]:
        out.print(
            f"[yellow]not in the desk's universe[/] (a replay dead-letters them):"
            f" {', '.join(summary['not_in_universe'])}",
            highlight=False,
        )
    rejected = ", ".join(f"{k} {v}" for k, v in summary["rejected"].items())
    out.print(
        f"{summary['rows']} bars from {len(summary['files'])} file(s)"
        f" ({summary['file_rejects']} unreadable rows, {summary['invalid']} invalid"
        f"{', rejected: ' + rejected if rejected else ''}); findings: {totals};"
        f" exit {summary['exit_code']} (--fail-on {summary['fail_on']})",
        highlight=False,
    )
