"""``desk daily``: the end-of-day workflow (docs/daily-ticket.md)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from streams.cli import context
from streams.cli.options import JsonOpt
from streams.errors import DeskError

daily_app = typer.Typer(
    help="The daily ticket: end-of-day data, its gate, the trades.", no_args_is_help=True
)
DataOpt = Annotated[
    list[Path], typer.Option("--data", help="End-of-day CSV files or folders; repeat.")
]
InputsOpt = Annotated[Path, typer.Option(help="Account, targets, universe (YAML).")]
EXAMPLE = Path(__file__).with_name("inputs.example.yaml")


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise DeskError(f"--as-of {text!r}: not a date (YYYY-MM-DD)") from None


@daily_app.command("ticket")
def ticket_cmd(
    as_of: Annotated[str, typer.Option("--as-of", help="The trading day (YYYY-MM-DD).")],
    data: Annotated[
        list[Path], typer.Option("--data", help="End-of-day CSV files or folders; repeat.")
    ],
    inputs: Annotated[Path, typer.Option(help="Account, targets, universe (YAML).")] = EXAMPLE,
    dry_run_trades: Annotated[
        bool | None,
        typer.Option(
            "--dry-run-trades/--no-dry-run-trades",
            help="TRADE is possible only with this on (default: the inputs file's).",
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Artifacts (default: DESK_DATA_DIR/tickets).")
    ] = None,
    store: Annotated[
        bool, typer.Option("--store/--no-store", help="Keep it in PostgreSQL (default on).")
    ] = True,
    json_out: JsonOpt = False,
) -> None:
    """Build the day's ticket: data-quality gate, intended trades, decision, evidence.

    NO_TRADE unless the dry-run trade mode is on AND every gate passes; the ticket says
    why. Byte-identical for the same as-of date and inputs. Exit 0 either way: NO_TRADE
    is an answer, not an error (exit 2 on unusable inputs).

    Examples:

      $ desk daily ticket --as-of 2021-06-04 --data etf/  # needs: ETF files
    """
    from analytics.daily.eod import csv_files
    from analytics.daily.run import build_ticket, write_ticket

    day = _date(as_of)
    tk, inputs_used = build_ticket(inputs, data, day, dry_run_trades)
    files = csv_files(data)
    where = write_ticket(tk, out or context.settings().data_path / "tickets", files)
    stored = None
    if store:
        stored = _store(tk, inputs_used, files)
    if json_out:
        context.print_json({**tk.to_json(), "artifacts": str(where), "stored": stored})
        return
    colour = "green" if tk.decision == "TRADE" else "yellow"
    context.out.print(f"[{colour}]{tk.decision}[/] {tk.ticket_id} as of {day}", highlight=False)
    for r in tk.reasons:
        context.out.print(f"  {r}", highlight=False)
    if tk.plan is not None:
        for ln in tk.plan.lines:
            context.out.print(
                f"  {ln.side} {ln.units} {ln.symbol} @ {ln.price} {ln.price_currency}"
                f" ({ln.notional_account:,.2f} {tk.plan.account_currency})",
                highlight=False,
            )
    context.out.print(f"  ticket: {where / 'ticket.md'}", highlight=False)


def _store(tk: object, inputs_used: object, files: list[Path]) -> dict[str, object]:
    """The ticket, its intended lines and the prices it judged, in PostgreSQL."""
    from analytics.daily.eod import parse, read_raw
    from connectors.clickhouse import daily as ch
    from connectors.postgres.daily import save_prices, save_ticket
    from connectors.postgres.migrate import migrate
    from streams.runtime.access import analytics_store, postgres_dsn

    wanted = {i.symbol for i in inputs_used.needed()}  # type: ignore[attr-defined]
    rows = [r.to_json() for f in files for r in parse(read_raw(f)) if r.symbol in wanted]
    settings = context.settings()
    with postgres_dsn(settings) as dsn, analytics_store(settings) as store:
        migrate(dsn)
        new_prices = save_prices(dsn, rows)
        new_ticket = save_ticket(dsn, tk.to_json())  # type: ignore[attr-defined]
        store.migrate({})
        ch.save_prices(store, rows)
    return {"prices_new": new_prices, "prices_seen": len(rows), "ticket_new": new_ticket}


@daily_app.command("fetch")
def fetch_cmd(
    as_of: Annotated[str, typer.Option("--as-of", help="The last day (YYYY-MM-DD).")],
    days: Annotated[int, typer.Option(min=1, max=3660, help="How many days back.")] = 30,
    inputs: Annotated[Path, typer.Option(help="Its universe says what to fetch.")] = EXAMPLE,
    universe: Annotated[
        Path | None, typer.Option(help="A universe file instead of the inputs' one.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Where the files go (default: DESK_DATA_DIR/eod).")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Fetch daily bars online (ccxt) for every enabled or benchmark row whose universe
    entry names a ccxt source (exchange:SYMBOL); writes end-of-day files to pass as
    --data. Public data, no keys. Exit 1 if a symbol could not be fetched.

    Examples:

      $ desk daily fetch --as-of 2023-03-20 --days 20  # needs: network
    """
    from analytics.daily.fetch import fetch_eod
    from analytics.daily.run import load_inputs
    from analytics.daily.universe import read
    from connectors.feeds.ccxt_feed import make_exchange

    if universe is not None:
        uf = read(universe)
        if uf.problems:
            raise DeskError(f"{universe}: {uf.problems[0]} (desk universe validate)")
        rows = uf.rows
    else:
        rows = load_inputs(inputs)[0].universe
    where = out or context.settings().data_path / "eod"
    exchanges: dict[str, object] = {}

    def exchange_for(name: str) -> object:
        return exchanges.setdefault(name, make_exchange(name, env={}))

    def said(symbol: str) -> None:
        if not json_out:
            context.err.print(f"- fetching {symbol} ...", highlight=False)

    done, offline = fetch_eod(rows, _date(as_of), days, where, exchange_for, said)
    if json_out:
        context.print_json({"fetched": [f.to_json() for f in done], "files_only": offline})
    else:
        for f in done:
            if f.error:
                context.out.print(f"[red]FAIL[/] {f.symbol} ({f.source}): {f.error}")
            else:
                context.out.print(
                    f"ok   {f.symbol} ({f.source}): {f.rows} days {f.first}..{f.last} -> {f.path}",
                    highlight=False,
                )
        if offline:
            context.out.print(f"files only (no ccxt source): {', '.join(offline)}", highlight=False)
    if any(f.error for f in done):
        raise typer.Exit(1)


ticket_app = typer.Typer(help="One daily ticket: confirm the fills you got.", no_args_is_help=True)
tickets_app = typer.Typer(help="The daily tickets kept.", no_args_is_help=True)


@ticket_app.command("confirm")
def confirm_cmd(
    ticket: Annotated[str, typer.Option("--ticket", help="The ticket id (tk-...).")],
    fills: Annotated[
        Path, typer.Option("--fills", help="CSV: symbol,side,units,price,currency,fee,executed_at")
    ],
    by: Annotated[str, typer.Option(help="Who confirms (recorded).")] = "operator",
    out: Annotated[
        Path | None, typer.Option(help="Ticket artifacts (default: DESK_DATA_DIR/tickets).")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Record the fills of a TRADE ticket: all of them, or none (exit 1 with every reason).

    Refused: an unknown ticket, a NO_TRADE ticket, a symbol or side not on the ticket,
    more units than a line intended, bad numbers or times, a file already confirmed.
    """
    from analytics.daily import confirm
    from connectors.postgres import daily as pg
    from connectors.postgres.migrate import migrate
    from streams.runtime.access import postgres_dsn

    try:
        body = fills.read_bytes()
    except OSError as exc:
        raise DeskError(f"{fills}: cannot read ({exc.strerror or exc})") from None
    sha = confirm.sha256(body)
    parsed, problems = confirm.parse_fills(body)
    with postgres_dsn(context.settings()) as dsn:
        migrate(dsn)
        tk = pg.ticket(dsn, ticket)
        if not problems:
            done, files = pg.confirmed(dsn, ticket)
            problems = confirm.check(tk, parsed, sha, done, files)
        if problems:
            _refused(ticket, problems, json_out)
        pg.save_fills(dsn, ticket, [f.to_json() for f in parsed], sha, by)
        every, _files = pg.confirmed(dsn, ticket)
    where = (out or context.settings().data_path / "tickets") / tk["as_of"] / ticket
    _write_confirmation(where, sha, parsed, every)
    if json_out:
        context.print_json(
            {
                "ticket_id": ticket,
                "confirmed": len(parsed),
                "file_sha256": sha,
                "fills": every,
                "artifacts": str(where),
            }
        )
        return
    context.out.print(
        f"confirmed {len(parsed)} fill(s) for {ticket}; {len(every)} in all; "
        f"ticket: {where / 'ticket.md'}",
        highlight=False,
    )


def _refused(ticket: str, problems: list[str], json_out: bool) -> None:
    if json_out:
        context.print_json({"ticket_id": ticket, "confirmed": 0, "refused": problems})
    else:
        context.err.print(f"[red]refused:[/] nothing written for {ticket}", highlight=False)
        for p in problems:
            context.err.print(f"  {p}", highlight=False)
    raise typer.Exit(1)


def _write_confirmation(where: Path, sha: str, new: list, every: list[dict]) -> None:
    """``confirmations/<sha>.json`` and the ticket's "Confirmed fills" section."""
    import json

    (where / "confirmations").mkdir(parents=True, exist_ok=True)
    (where / "confirmations" / f"{sha[:16]}.json").write_text(
        json.dumps({"file_sha256": sha, "fills": [f.to_json() for f in new]}, indent=2) + "\n"
    )
    md = where / "ticket.md"
    text = md.read_text() if md.exists() else ""
    text = text.split("\n## Confirmed fills\n")[0].rstrip("\n") + "\n"
    rows = [
        f"| {f['executed_at']} | {f['side']} | {f['symbol']} | {f['units']} | "
        f"{f['price']} {f['currency']} | {f['fee']} |"
        for f in every
    ]
    md.write_text(
        text + "\n## Confirmed fills\n\n| executed | side | symbol | units | price | "
        "fee |\n|---|---|---|---:|---:|---:|\n" + "\n".join(rows) + "\n"
    )


@tickets_app.command("last")
def last_cmd(
    n: Annotated[int, typer.Option("--last", min=1, help="How many.")] = 10,
    json_out: JsonOpt = False,
) -> None:
    """The latest tickets: decision, lines, confirmed fills."""
    from connectors.postgres.daily import last_tickets
    from connectors.postgres.migrate import migrate
    from streams.display import desk_table
    from streams.runtime.access import postgres_dsn

    with postgres_dsn(context.settings()) as dsn:
        migrate(dsn)
        rows = last_tickets(dsn, n)
    if json_out:
        context.print_json(rows)
        return
    t = desk_table(
        "as of",
        "ticket",
        "decision",
        "lines",
        "fills",
        keys=("ticket",),
        numbers=("lines", "fills"),
    )
    for r in rows:
        t.add_row(r["as_of"], r["ticket_id"], r["decision"], str(r["lines"]), str(r["fills"]))
    context.out.print(t)


@daily_app.callback(invoke_without_command=True)
def daily_main(
    ctx: typer.Context,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Smoke test: ingest, data quality, report; no database write."
        ),
    ] = False,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="The trading day (default: today).")
    ] = None,
    data: Annotated[
        list[Path] | None, typer.Option("--data", help="End-of-day CSV files or folders.")
    ] = None,
    inputs: InputsOpt = EXAMPLE,
    json_out: JsonOpt = False,
) -> None:
    """The daily ticket: end-of-day data, its gate, the trades.

    ``desk daily --dry-run --data DIR`` is the smoke test of a desk's daily setup: the
    morning job's steps (ingest, data quality, report), no PostgreSQL write, no alert.
    """
    if ctx.invoked_subcommand is not None:
        if dry_run or as_of or data:
            raise DeskError("desk daily: --dry-run/--as-of/--data go without a subcommand")
        return
    if not dry_run:
        context.out.print(ctx.get_help())
        raise typer.Exit(0)
    if not data:
        raise DeskError("desk daily --dry-run: give the end-of-day files with --data")
    day = _date(as_of) if as_of else dt.datetime.now(dt.UTC).date()
    run_cmd(job="morning", as_of=day.isoformat(), data=data, inputs=inputs, dry_run=True,
            json_out=json_out)  # fmt: skip


@daily_app.command("run")
def run_cmd(
    job: Annotated[str, typer.Option(help="morning (ingest, data quality, report) or ticket.")],
    as_of: Annotated[str, typer.Option("--as-of", help="The trading day (YYYY-MM-DD).")],
    data: DataOpt,
    inputs: InputsOpt = EXAMPLE,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Smoke test: no PostgreSQL writes, no alert.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Run one daily job now, as the schedule would: each step, recorded; exit 1 if a step
    failed (the run says which, and every alert route is told)."""
    from analytics.daily.jobs import run_job
    from connectors.postgres.migrate import migrate
    from streams.config import load_config
    from streams.runtime.access import analytics_store, postgres_dsn

    settings = context.checked_settings()
    config = load_config(settings.config_file)
    out = settings.data_path / "tickets"
    day = _date(as_of)
    if dry_run:
        run = run_job(job, day, inputs, data, out, None, config, settings.data_path)
    else:
        with postgres_dsn(settings) as dsn, analytics_store(settings) as store:
            migrate(dsn)
            store.migrate({})
            run = run_job(job, day, inputs, data, out, dsn, config, settings.data_path, store=store)
    if json_out:
        context.print_json(run.to_json())
    else:
        colour = "green" if run.status == "OK" else "red"
        context.out.print(
            f"[{colour}]{run.status}[/] {run.job} {run.as_of} ({run.run_id}): "
            f"{', '.join(run.steps_done) or 'no step done'}"
            + (f"; failed at {run.failed_step}: {run.error}" if run.failed_step else "")
            + (f"; data quality {dq}" if (dq := run.artifacts.get("data_quality_status")) else "")
            + (f"; {rep}" if (rep := run.artifacts.get("report")) else ""),
            highlight=False,
        )
    if run.status != "OK":
        raise typer.Exit(1)


@daily_app.command("serve")
def serve_cmd(data: DataOpt, inputs: InputsOpt = EXAMPLE) -> None:
    """Run the daily jobs at their times (08:00 and 14:00 Europe/London, XNYS sessions) until
    stopped (Ctrl-C); each run as ``desk daily run`` does it."""
    from zoneinfo import ZoneInfo

    from apscheduler.schedulers.blocking import BlockingScheduler
    from apscheduler.triggers.cron import CronTrigger

    from analytics.daily.jobs import run_job
    from analytics.daily.schedule import JOBS, TZ, trading_day
    from connectors.postgres.migrate import migrate
    from streams.config import load_config
    from streams.runtime.access import analytics_store, postgres_dsn

    settings = context.checked_settings()
    config = load_config(settings.config_file)

    def fire(job: str) -> None:
        now = dt.datetime.now(dt.UTC)
        day = now.astimezone(ZoneInfo(TZ)).date()
        if not trading_day(day):
            context.err.print(f"- {job}: {day} is not a session, skipped", highlight=False)
            return
        with postgres_dsn(settings) as dsn, analytics_store(settings) as store:
            migrate(dsn)
            store.migrate({})
            run = run_job(
                job,
                day,
                inputs,
                data,
                settings.data_path / "tickets",
                dsn,
                config,
                settings.data_path,
                scheduled_for=now,
                store=store,
            )
        context.err.print(f"- {job} {day}: {run.status} {run.failed_step or ''}", highlight=False)

    sched = BlockingScheduler(timezone=TZ)
    for j in JOBS:
        sched.add_job(
            fire,
            CronTrigger(hour=j.hour, minute=j.minute, day_of_week="mon-fri", timezone=TZ),
            args=[j.name],
            id=j.name,
        )
    context.err.print(
        "daily jobs scheduled (Europe/London): "
        + ", ".join(f"{j.name} {j.hour:02d}:{j.minute:02d}" for j in JOBS)
    )
    try:
        sched.start()
    except (KeyboardInterrupt, SystemExit):
        sched.shutdown(wait=False)


runs_app = typer.Typer(help="The daily runs kept.", no_args_is_help=True)


@runs_app.command("last")
def runs_last_cmd(
    n: Annotated[int, typer.Option("--last", min=1, help="How many.")] = 10,
    json_out: JsonOpt = False,
) -> None:
    """The latest daily runs: job, day, status, the step a failed one stopped at."""
    from analytics.daily.jobs import last_runs
    from connectors.postgres.migrate import migrate
    from streams.display import desk_table
    from streams.runtime.access import postgres_dsn

    with postgres_dsn(context.settings()) as dsn:
        migrate(dsn)
        rows = last_runs(dsn, n)
    if json_out:
        context.print_json(rows)
        return
    t = desk_table("started", "job", "as of", "status", "failed at", keys=("started",))
    for r in rows:
        t.add_row(r["started_at"][:19], r["job"], r["as_of"], r["status"], r["failed_step"] or "")
    context.out.print(t)


def register_daily(app: typer.Typer) -> None:
    app.add_typer(daily_app, name="daily")
    app.add_typer(ticket_app, name="ticket")
    app.add_typer(tickets_app, name="tickets")
    app.add_typer(runs_app, name="runs")
