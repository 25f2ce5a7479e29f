"""``desk feed replay``: bar files into the running desk's ``market.bars``, or a dry-run summary.

The readers (pandas, pyarrow) load inside the command: every other ``desk``
command starts without them. ``--resume`` asks the desk's analytics store how
far each stream got (``connectors.feeds.resume``) and sends only the rest.

What was parsed (per file: format, rows, time unit; per stream: bars and the
open-time range) goes to stderr before anything is sent, so a misread (bars
dated 1970) shows before it lands; streams the desk config does not know are
refused before sending (the desk would dead-letter every bar of them). The file
options (``FileOpts``, ``read_options``, ``parsed_lines``) are shared with other
commands that read bar files.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from streams.cli import context
from streams.display import console, desk_table, stream_label
from streams.errors import DeskError
from streams.progress import progress_bar

if TYPE_CHECKING:
    from connectors.feeds.files import ReadOptions, ReadResult
    from connectors.feeds.resume import ResumePlan, Stored, Stream
    from streams.config import DeskConfig

BAR_SUFFIXES = (".csv", ".parquet", ".pq")
FORMAT_HELP = "auto, binance, yahoo_ohlcv, yahoo_wide or generic (docs/events.md)."
SHOWN_REJECTS = 20

# -- options of every command that reads bar files -------------------------------------------
VenueOpt = Annotated[
    str | None,
    typer.Option(help="Venue of every file's bars, where no venue column says (else an error)."),
]
SymbolOpt = Annotated[
    str | None, typer.Option(help="Symbol, e.g. BTC/USD, where no column says (not wide files).")
]
IntervalOpt = Annotated[
    str | None, typer.Option(help="Bar interval (1m, 5m, 1h, 1d) where no column says.")
]
FormatOpt = Annotated[str, typer.Option("--format", help=FORMAT_HELP)]
TimeUnitOpt = Annotated[
    str,
    typer.Option(
        "--time-unit",
        help="Unit of integer epoch times: s, ms, us, ns; auto: told from the magnitude "
        "(a time outside 1990..now+1d, or mixed units, is refused).",
    ),
]
NoHeaderOpt = Annotated[
    bool,
    typer.Option("--no-header", help="Line 1 is data, not names: needs --columns."),
]
ColumnsOpt = Annotated[
    str | None,
    typer.Option(
        help="The file's columns in order, e.g. open_time,open,high,low,close,volume (an empty "
        "name skips one; later columns unread); with a header, they replace its names; "
        "or renames old=new,...",
    ),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="Desk config (or overlay with extends: default) whose universe the streams must "
        "be in; default: the running desk's, else DESK_CONFIG_FILE, else the packaged one.",
    ),
]


def read_options(
    *,
    fmt: str = "auto",
    venue: str | None = None,
    symbol: str | None = None,
    interval: str | None = None,
    time_unit: str = "auto",
    no_header: bool = False,
    columns: str | None = None,
    symbols: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> ReadOptions:
    """The reader's options from the command line's (each checked: a bad one is one line)."""
    from connectors.feeds.files import FORMATS, ReadOptions, parse_when
    from connectors.feeds.tabular import Layout
    from connectors.feeds.timeunit import TimeUnitError, check_unit

    if fmt not in ("auto", *FORMATS):
        raise DeskError(f"unknown --format {fmt!r}; use auto or one of {', '.join(FORMATS)}")
    try:
        unit = check_unit(time_unit)
    except TimeUnitError as exc:
        raise DeskError(f"--time-unit: {exc}") from None
    return ReadOptions(
        fmt=fmt,
        venue=venue,
        symbol=symbol,
        interval=interval,
        symbols=tuple(s.strip() for s in symbols.split(",") if s.strip()) if symbols else None,
        since=parse_when(since) if since else None,
        until=parse_when(until) if until else None,
        time_unit=unit,
        layout=Layout.parse(no_header, columns),
    )


def parsed_lines(result: ReadResult, opts: ReadOptions) -> list[str]:
    """What the files were read as: per file its format, rows, bars, rejects and time unit;
    per stream its bars and open-time range. Shown before anything else happens."""
    from connectors.feeds.timeunit import UNIT_NAMES

    lines = []
    for f in result.files:
        if f.time_unit is None:
            times = "times ISO-8601" if f.format != "yahoo_wide" else "dates"
        else:
            how = f"--time-unit {f.time_unit}" if opts.time_unit else "told from the magnitude"
            times = f"epoch {UNIT_NAMES[f.time_unit]} ({how})"
        lines.append(
            f"read {f.path}: {f.format}, {f.rows:,} rows, {times}: "
            f"{len(f.bars):,} bars, {len(f.rejects):,} rejects"
        )
    for s in result.streams():
        lines.append(
            f"  {s['venue']}:{s['symbol']} {s['interval']}: {s['bars']:,} bars, open "
            f"{_iso(s['first_open'])} .. {_iso(s['last_open'])}"
        )
    if not result.bars:
        lines.append("  no bars (check --since/--until/--symbols)")
    return lines


def check_universe(result: ReadResult, config: Path | None = None) -> str:
    """Every stream read is one the desk config knows, else a one-line ``DeskError``
    naming the config keys to add it to; returns the config file used."""
    cfg, path = desk_config(config)
    streams = {(st["venue"], st["symbol"]) for st in result.streams()}
    unknown = sorted((v, sym) for v, sym in streams if not cfg.known_stream(v, sym))
    if not unknown:
        return str(path)
    names = ", ".join(f"{v}:{s}" for v, s in unknown)
    venues = {i.venue for i in cfg.universe}
    v, sym = unknown[0]
    new = "a new venue" if v not in venues else "a new symbol"
    raise DeskError(
        f"{names}: not in the desk config's universe (config {path}), the desk would "
        f"dead-letter every bar: add {new} under `universe` (e.g. `- {{venue: {v}, symbol: "
        f"{sym}, quote_currency: {_quote(sym)}}}`) and, to compare it with its peers, to a "
        f"`data_quality.cross_market` group's `members`; or accept it as research data under "
        f"`data_quality.extra_streams` (`{v}:*`). A small overlay file starting `extends: "
        f"default` is enough (docs/operations.md#config-overlays); give it with --config or "
        f"DESK_CONFIG_FILE"
    )


def _quote(symbol: str) -> str:
    return symbol.split("/", 1)[1] if "/" in symbol else "USD"


def desk_config(explicit: Path | None = None) -> tuple[DeskConfig, Path]:
    """The desk config streams are checked against, and its file.

    ``--config`` if given; else the config of the desk running on this data dir
    (its containment agent is what would refuse the bars); else ``DESK_CONFIG_FILE``;
    else the packaged one.
    """
    from streams.config import DEFAULT_CONFIG, load_config

    path = explicit
    if path is None:
        from streams.runtime.stack import pid_alive, read_state

        settings = context.settings()
        state = read_state(settings)
        if state and state.get("config_file") and pid_alive(int(state["pid"])):
            path = Path(state["config_file"])
        else:
            path = settings.config_file or DEFAULT_CONFIG
    return load_config(path), path


out = console()
err = console(stderr=True)


def register_replay(feed_app: typer.Typer) -> None:
    """Add ``replay`` to the ``desk feed`` group."""
    feed_app.command("replay")(replay_command)


def replay_command(
    files: Annotated[
        list[Path], typer.Argument(help="Bar files (CSV or Parquet) or folders holding them.")
    ],
    speed: Annotated[
        str,
        typer.Option(
            help="asap, realtime, xN (N times real time, e.g. x60), or follow (as fast as "
            "the running desk takes the bars, at most --lead ahead of it)."
        ),
    ] = "asap",
    lead: Annotated[
        int,
        typer.Option(
            min=1, help="With --speed follow: bars the feed may be ahead of what the desk took."
        ),
    ] = 5000,
    venue: VenueOpt = None,
    symbol: SymbolOpt = None,
    interval: IntervalOpt = None,
    fmt: FormatOpt = "auto",
    time_unit: TimeUnitOpt = "auto",
    no_header: NoHeaderOpt = False,
    columns: ColumnsOpt = None,
    config: ConfigOpt = None,
    symbols: Annotated[
        str | None, typer.Option(help="Only these symbols, e.g. SPY,QQQ (wide files: columns).")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(help="Bars opening at/after this time (ISO-8601, UTC if naive; or an epoch)."),
    ] = None,
    until: Annotated[str | None, typer.Option(help="Bars opening before this time.")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only read and summarize; no broker needed.")
    ] = False,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Send only what the desk has not stored: per stream, skip the bars at or "
            "before the latest open time in its ClickHouse (market_bars) within this "
            "replay's span. Exit 2 if the store cannot be asked.",
        ),
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Summary as JSON on stdout.")] = False,
) -> None:
    """Replay recorded bars into market.bars in event-time order; bad rows go to deadletter.

    What was read (per file: rows, time unit; per stream: bars, open-time range) is
    printed to stderr first; a stream not in the desk config's universe stops it
    before anything is sent. With --resume, a window replayed again after a crash or
    stop sends only the bars the desk has not got (with --dry-run: says what it would
    skip).

    A headerless export: --no-header --columns open_time,open,high,low,close,volume with
    --venue/--symbol/--interval; a venue not in the desk config: --config OVERLAY.yaml
    (extends: default). Off a terminal (a log, a pipe) progress is a plain line every
    10 s with rate and ETA.

    Examples:

      $ desk feed replay ../shared/data/crypto_1m --since 2023-03-01 \\
          --until 2023-03-02 --dry-run

      $ desk feed replay ../shared/data/crypto_1m --speed x600 \\
          --since 2023-03-11 --until 2023-03-12  # needs: desk up

      $ desk feed replay ../shared/data/crypto_1m --speed follow \\
          --since 2023-03-11 --until 2023-03-13  # needs: desk up

      $ desk feed replay kline.csv --no-header --time-unit s \\
          --columns open_time,open,high,low,close,volume \\
          --venue kraken --symbol BTC/USD --interval 1m \\
          --config kraken.yaml  # needs: desk up
    """
    from connectors.feeds.files import check_bars, read_files
    from connectors.feeds.replay import parse_speed

    follow = speed.strip().lower() == "follow"
    pace = None if follow else parse_speed(speed)
    opts = read_options(
        fmt=fmt,
        venue=venue,
        symbol=symbol,
        interval=interval,
        time_unit=time_unit,
        no_header=no_header,
        columns=columns,
        symbols=symbols,
        since=since,
        until=until,
    )
    paths = expand(files)
    for path in paths:  # a bad file is named before anything else (header/footer only: fast)
        check_bars(path, opts)
    target = None if dry_run else _target()  # no broker: say so before the (long) full read
    if resume:
        _stored({})  # nor a store to ask how far the desk got: before the read too

    t0 = time.perf_counter()
    with nullcontext() if json_out else err.status("reading bar files..."):
        result = read_files(paths, opts)
    read_s = time.perf_counter() - t0
    for line in parsed_lines(result, opts):
        err.print(line, markup=False, highlight=False, soft_wrap=True)
    config_used = check_universe(result, config)

    resumed: ResumePlan | None = None
    bars: Sequence[Mapping[str, Any]] = result.bars
    if resume:
        from connectors.feeds.resume import plan, spans

        resumed = plan(result.bars, _stored(spans(result.bars)))
        bars = resumed.bars
    publish_s: float | None = None
    if target is not None:
        publish_s = _publish(bars, result, target, pace, quiet=json_out,
                             lead=lead if follow else None)  # fmt: skip
    summary = summarize(result, read_s, publish_s, speed, target, resumed)
    summary["config"] = config_used
    if json_out:
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    else:
        _print(summary)


def expand(files: list[Path]) -> list[Path]:
    """Files as given; a folder stands for its CSV/Parquet files, sorted by name."""
    paths: list[Path] = []
    for f in files:
        if f.is_dir():
            found = sorted(p for p in f.iterdir() if p.suffix.lower() in BAR_SUFFIXES)
            if not found:
                raise DeskError(f"{f}: no {'/'.join(BAR_SUFFIXES)} files in this folder")
            paths.extend(found)
        elif f.is_file():
            paths.append(f)
        else:
            raise DeskError(f"{f}: no such file or folder")
    return paths


def _target() -> tuple[str, str]:
    from streams.settings import load_settings

    settings = load_settings()
    return context.bootstrap(settings), settings.topic_prefix


def _stored(streams: dict[Stream, tuple[int, int]]) -> dict[Stream, Stored]:
    """What the desk's analytics store holds of ``streams`` (none: only checks it answers).

    The store is reached as ``desk sql`` reaches it (the running desk's owner
    endpoint, else the store itself). Any failure is one line and exit 2: a
    resume that cannot ask must not fall back to sending everything.
    """
    from connectors.feeds.resume import TABLE, parse_stored, stored_sql
    from streams.runtime.access import analytics_store

    try:
        with analytics_store(context.settings()) as store:
            rows = store.query(stored_sql(streams)).rows
        return parse_stored(rows)
    except (DeskError, OSError, ValueError, KeyError) as exc:
        raise DeskError(
            f"--resume: cannot ask the desk's analytics store how far it got ({TABLE}): "
            f"{exc}; nothing was sent (is the desk up? without --resume everything is sent)"
        ) from None


def _publish(
    bars: Sequence[Mapping[str, Any]],
    result: ReadResult,
    target: tuple[str, str],
    pace: float | None,
    quiet: bool,
    lead: int | None = None,
) -> float:
    from connectors.feeds.replay import Follower, replay
    from streams.kafka import EventProducer, GroupProgress
    from streams.settings import load_settings

    bootstrap, prefix = target
    producer = EventProducer(bootstrap, prefix)
    progress_of = follow = None
    if lead is not None:  # the desk's Faust app is the consumer group of market.bars
        group = f"{prefix}{load_settings().app_id}"
        progress_of = GroupProgress(bootstrap, group, "market.bars", prefix)
        start = progress_of.committed()
        follow = Follower(lambda: progress_of.committed() - start, lead)
    try:
        with progress_bar(err, disable=quiet, eta=True) as progress:
            task = progress.add_task("replay", total=len(bars) + len(result.rejects))
            stats = replay(
                bars,
                result.rejects,
                producer,
                speed=pace,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
                follow=follow,
            )
    finally:
        if progress_of is not None:
            progress_of.close()
    return stats.seconds


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000))


def summarize(
    result: ReadResult,
    read_s: float,
    publish_s: float | None,
    speed: str,
    target: tuple[str, str] | None,
    resumed: ResumePlan | None = None,
) -> dict[str, Any]:
    """The JSON-ready report: files, streams (count, first/last event time), rejects, speed.

    ``bars`` counts what was sent (would be, in a dry run): with ``--resume`` the bars
    already stored are left out of it and reported per stream (``skipped``,
    ``resumed_from``, ``stored_until``, ``gaps``); ``bars_read`` is what the files held.
    """
    sent = len(result.bars) if resumed is None else len(resumed.bars)
    busy, done = (read_s, len(result.bars)) if publish_s is None else (publish_s, sent)
    return {
        "dry_run": target is None,
        "speed": speed,
        "topic_prefix": None if target is None else target[1],
        "files": [
            {
                "path": str(f.path),
                "format": f.format,
                "rows": f.rows,
                "time_unit": f.time_unit,
                "bars": len(f.bars),
                "rejects": len(f.rejects),
            }
            for f in result.files
        ],
        "streams": [
            {"stream": f"{s['venue']}:{s['symbol']}", **s}
            | {"first": _iso(s["first_ts"]), "last": _iso(s["last_ts"])}
            | {"first_open": _iso(s["first_open"]), "last_open": _iso(s["last_open"])}
            for s in result.streams()
        ],
        "bars": sent,
        "bars_read": len(result.bars),
        "resume": None if resumed is None else resumed.to_json(),
        "overlapping_streams": result.overlaps(),
        "rejects": len(result.rejects),
        "reject_samples": [
            {"file": r.file, "line": r.line, "reason": r.reason}
            for r in result.rejects[:SHOWN_REJECTS]
        ],
        "seconds": {
            "read": round(read_s, 3),
            "publish": None if publish_s is None else round(publish_s, 3),
        },
        "bars_per_second": round(done / max(busy, 1e-9)),
    }


def _print(summary: dict[str, Any]) -> None:
    t = desk_table(
        "stream",
        "bars",
        "first (close)",
        "last (close)",
        title="bars",
        keys=("stream",),
        numbers=("bars",),
        left=("first (close)", "last (close)"),
    )
    for s in summary["streams"]:
        label = f"{stream_label(s['stream'])} {s['interval']}"  # BTC/USDT@binanceus 1m
        t.add_row(label, f"{s['bars']:,}", s["first"], s["last"])
    out.print(t)
    for o in summary["overlapping_streams"]:
        out.print(f"[yellow]warning[/] {o} comes from several files: same event ids, first wins")
    for r in summary["reject_samples"]:
        out.print(f"[yellow]reject[/] {r['file']}:{r['line']}: {r['reason']}", highlight=False)
    if summary["rejects"] > len(summary["reject_samples"]):
        out.print(f"... and {summary['rejects'] - len(summary['reject_samples'])} more rejects")
    if summary["resume"] is not None:
        _print_resume(summary["resume"])
    secs = summary["seconds"]
    if summary["dry_run"]:
        what = (
            f"read in {secs['read']} s ({summary['bars_per_second']} bars/s); dry run, nothing sent"
        )
    else:
        what = (
            f"sent to {summary['topic_prefix']}market.bars in {secs['publish']} s "
            f"({summary['bars_per_second']} bars/s), rejects to deadletter"
        )
    if summary["resume"] is not None:
        skipped = sum(summary["resume"]["skipped"].values())
        what += f"; {skipped} already stored, skipped (--resume)"
    out.print(
        f"{summary['bars']} bars, {summary['rejects']} rejects from "
        f"{len(summary['files'])} file(s); {what}"
    )


def _print_resume(resume: dict[str, Any]) -> None:
    t = desk_table(
        "stream",
        "stored until (open)",
        "skipped",
        "resumed from (open)",
        title="resume",
        keys=("stream",),
        numbers=("skipped",),
    )
    for stream, skipped in resume["skipped"].items():
        start = resume["resumed_from"][stream] or "nothing left to send"
        t.add_row(
            stream_label(stream),
            resume["stored_until"][stream] or "never seen",
            f"{skipped:,}",
            start,
        )
    out.print(t)
    for stream, g in resume["gaps"].items():
        out.print(
            f"[yellow]gap[/] {stream}: the store holds {g['stored']} of the {g['expected']} "
            "bars up to its latest; replaying the stream in full (ids keep it exact)",
            highlight=False,
        )
