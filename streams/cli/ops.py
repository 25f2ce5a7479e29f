"""Operator commands on the order path: positions, orders, kill and resume.

``desk kill`` makes a ``RiskCommand`` durable (the local fsynced journal and
PostgreSQL, either is enough to survive a restart) and then publishes it (risk
halts the bots in scope before its next intent and asks the venues to cancel
their open orders); it exits 1 if the command could not be made durable; ``desk resume``
refuses to do anything without ``--confirm`` and a reason, and the confirmed
command is on ``risk.commands`` with who issued it. ``positions`` and
``orders`` read the desk's own topics; the trading state shown is the
``risk.commands`` history folded through the same trading-state core risk runs.
"""

from __future__ import annotations

import getpass
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any

import typer

from streams.cli import context
from streams.cli.options import JsonOpt
from streams.display import desk_table, num, print_table, stream_label
from streams.envelope import envelope
from streams.errors import DeskError
from streams.ids import event_id

ScopeOpt = Annotated[str, typer.Option("--scope", help="desk (every bot), bot:<id> or venue:<id>.")]
ReasonOpt = Annotated[str, typer.Option("--reason", help="Why (recorded with the command).")]
ByOpt = Annotated[str | None, typer.Option("--by", help="Who issues it (default: the login name).")]
OPEN = ("ACCEPTED", "PARTIALLY_FILLED")


def risk_command(
    kind: str, scope: str, reason: str, issued_by: str, *, confirmed: bool = False, now_ms: int
) -> dict[str, Any]:
    """An operator's ``RiskCommand``; its event time is when the operator issued it."""
    return {
        **envelope(event_id("risk_command", kind, scope, issued_by, now_ms), now_ms, "cli.desk"),
        "command": kind,
        "scope": scope,
        "issued_by": issued_by,
        "reason": reason,
        "flatten": False,
        "confirmed": confirmed,
        "limits": {},
        "evidence": {},
    }


def _context() -> tuple[Any, str, str, Callable[[Any], None], Any]:
    settings = context.settings()
    bootstrap = context.bootstrap(settings)
    return settings, bootstrap, settings.topic_prefix, context.print_json, context.out


def _send_command(
    kind: str,
    scope: str,
    reason: str,
    by: str | None,
    json_out: bool,
    confirmed: bool = False,
    flatten: bool = False,
    wait_s: float = 0.0,
) -> None:
    from streams.config import load_config
    from streams.kafka import EventProducer

    settings, bootstrap, prefix, print_json, out = _context()
    config = load_config(settings.config_file)
    from agents.risk.state import TradingStates

    bots = TradingStates(config).scope(scope)
    if not bots:
        raise DeskError(
            f"scope {scope!r} names no enabled bot of this desk (desk, bot:<id>, venue:<id>)"
        )
    if not reason.strip():
        raise DeskError("--reason must say why")
    cmd = risk_command(
        kind,
        scope,
        reason,
        by or getpass.getuser(),
        confirmed=confirmed,
        now_ms=int(time.time() * 1000),
    )
    cmd["flatten"] = flatten
    t0 = time.monotonic()
    durable = _make_durable(settings, cmd, bots)
    producer = EventProducer(bootstrap, prefix)
    producer.send("risk.commands", scope, cmd)
    producer.flush()
    waited = _wait_for_cancels(bootstrap, prefix, cmd, set(bots), wait_s, out) if wait_s else None
    if waited is not None:
        waited["seconds"] = round(time.monotonic() - t0, 3)
    # --wait: exit 1 unless risk acted and nothing it was to cancel is left open (a cron or a
    # runbook can act on it); closing orders may rightly wait for the next bar
    failed = waited is not None and (not waited["acted"] or waited["open"] > 0)
    failed = failed or not durable["durable"]
    if json_out:
        print_json({**cmd, "bots": list(bots), "cancels": waited, "durability": durable})
        if failed:
            raise typer.Exit(1)
        return
    out.print(f"{kind} sent for {scope} ({', '.join(bots)}) by {cmd['issued_by']}: {reason}")
    if durable["durable"]:
        where = ", ".join(k for k in ("journal", "postgres") if durable[k] is True)
        note = (
            ""
            if durable["postgres"] is True
            else (
                f" [yellow](PostgreSQL: {durable['postgres']}; risk records it at its restart)[/]"
            )
        )
        out.print(f"durable in: {where}{note}")
    else:
        out.print(f"[red]NOT durable[/]: journal: {durable['journal']}; "
                  f"PostgreSQL: {durable['postgres']}")  # fmt: skip
    if waited is not None:
        if not waited["acted"]:
            out.print(f"[red]risk had not acted on the command after {waited['seconds']} s[/]")
        out.print(
            f"{waited['canceled']} order(s) canceled; {waited['open']} still open after "
            f"{waited['seconds']} s; command to last cancel: {waited['to_last_cancel_ms']} ms "
            "of event time"
        )
        if "flatten" in waited:
            f = waited["flatten"]
            out.print(f"flatten: {f['sent']} closing order(s) sent, {f['filled']} filled, "
                      f"{f['open']} waiting for a bar")  # fmt: skip
    if failed:
        raise typer.Exit(1)


def _make_durable(settings: Any, cmd: dict[str, Any], bots: list[str]) -> dict[str, Any]:
    """Write the command to the local journal (fsync) and to PostgreSQL (bounded wait) before
    it is sent: acknowledged only once it survives a restart, PostgreSQL down or not."""
    import threading

    from connectors.journal import CommandJournal, journal_path
    from connectors.postgres.risk_state import record_commands
    from streams.runtime.access import postgres_dsn

    report: dict[str, Any] = {"journal": None, "postgres": None}
    path = journal_path(settings.data_path, settings.topic_prefix)
    try:
        CommandJournal(path).append(cmd)
        report["journal"] = True
    except OSError as exc:
        report["journal"] = f"{path}: {exc.strerror}"
    result: dict[str, Any] = {}

    def write() -> None:
        try:
            with postgres_dsn(settings) as dsn:
                record_commands(dsn, [(cmd, bots)])
            result["ok"] = True
        except Exception as exc:  # reported, not raised: the kill is still sent
            result["ok"] = " ".join(str(exc).split())[:200] or type(exc).__name__

    worker = threading.Thread(target=write, daemon=True)
    worker.start()
    worker.join(timeout=10)
    report["postgres"] = result.get("ok", "no answer within 10 s (stalled?)")
    report["durable"] = report["journal"] is True or report["postgres"] is True
    return report


def _wait_for_cancels(
    bootstrap: str, prefix: str, cmd: dict[str, Any], bots: set[str], wait_s: float, out: Any
) -> dict[str, Any]:
    """Watch the order topics (or ``wait_s``) until risk has acted on the command (a
    cancel-all for every bot in scope), no order it was to cancel is still open and, with
    ``flatten``, every closing order it sent is done: how many the command canceled, how
    long after it (event time) the last cancel came, and how the flattening went.

    Closing orders are counted apart: they are meant to rest until the next bar, so they
    are not "still open" cancels (risk stamps them with the desk's event time: during a
    replay they fill on the next replayed bar)."""
    from streams.kafka import decode_all, read_topic

    deadline = time.monotonic() + wait_s
    with out.status("waiting for the venues to cancel...", spinner="dots"):
        while True:
            sent = [c for c in decode_all(read_topic(bootstrap, "orders.commands", prefix,
                                                     idle_s=0.5))
                    if c["correlation_id"] == cmd["event_id"]]  # fmt: skip
            acted = {c["bot_id"] for c in sent if c["command"] == "CANCEL_ALL"} >= bots
            closing = {c["client_order_id"]: c for c in sent if c["command"] == "SUBMIT"}
            events = decode_all(read_topic(bootstrap, "orders.events", prefix, idle_s=0.5))
            last: dict[str, dict[str, Any]] = {}
            for e in events:
                if e["bot_id"] in bots:
                    last[e["client_order_id"]] = e
            still = [e for cid, e in last.items() if e["status"] in OPEN and cid not in closing]
            unfilled = [cid for cid in closing if last.get(cid, {"status": "ACCEPTED"})["status"]
                        in OPEN]  # fmt: skip
            if (acted and not still and not unfilled) or time.monotonic() >= deadline:
                break
            time.sleep(0.5)
    mine = [e for e in events if e["status"] == "CANCELED" and e["bot_id"] in bots
            and f"{cmd['command']} by {cmd['issued_by']}" in (e["reason"] or "")]  # fmt: skip
    last_ts = max((e["ts_event"] for e in mine), default=None)
    # risk applies an operator's command at the desk's event time (a replay runs behind the
    # wall clock): measure from the cancel-all it sent
    start = min((c["ts_event"] for c in sent if c["command"] == "CANCEL_ALL"),
                default=cmd["ts_event"])  # fmt: skip
    report: dict[str, Any] = {
        "acted": acted,
        "canceled": len(mine),
        "open": len(still),
        "effective_ts": start,
        "to_last_cancel_ms": None if last_ts is None else last_ts - start,
    }
    if cmd.get("flatten"):
        report["flatten"] = {
            "sent": len(closing),
            "filled": sum(last.get(c, {}).get("status") == "FILLED" for c in closing),
            "open": len(unfilled),
            "orders": [
                {k: c[k] for k in ("bot_id", "symbol", "side", "quantity", "client_order_id")}
                | {"status": last.get(cid, {}).get("status")}
                for cid, c in sorted(closing.items())
            ],
        }
    return report


def kill(
    reason: ReasonOpt,
    scope: ScopeOpt = "desk",
    by: ByOpt = None,
    flatten: Annotated[
        bool, typer.Option("--flatten", help="Also close every position with market orders.")
    ] = False,
    wait: Annotated[
        float,
        typer.Option("--wait", min=0, help="Seconds to wait for the cancels, and report them."),
    ] = 0.0,
    json_out: JsonOpt = False,
) -> None:
    """Kill switch: halt every bot in scope and cancel their open orders (until resumed).

    Examples:

      $ desk kill --reason "venue feed stale" --wait 10  # needs: desk up

      $ desk kill --scope venue:binanceus --reason maintenance --flatten \\
          # needs: desk up
    """
    _send_command("KILL", scope, reason, by, json_out, flatten=flatten, wait_s=wait)


def resume(
    reason: ReasonOpt,
    confirm: Annotated[
        bool, typer.Option("--confirm", help="Required: you have checked it is safe to trade.")
    ] = False,
    scope: ScopeOpt = "desk",
    by: ByOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Lift a kill or halt: only with --confirm; the confirmation is recorded.

    Examples:

      $ desk resume --confirm --reason "feed back, positions checked" \\
          # needs: desk up
    """
    if not confirm:
        raise DeskError("resume needs --confirm (and a --reason); nothing was sent")
    _send_command("RESUME", scope, reason, by, json_out, confirmed=True)


def risk_holds(settings: Any, config: Any) -> tuple[dict[str, dict[str, Any]], dict]:
    """Trading states and reserved exposure as risk itself holds them (derived once, by
    risk): its view in the desk core's latest checkpoint; before the first one, the
    trading states risk recorded in PostgreSQL (bots never commanded are ACTIVE)."""
    from connectors.postgres.risk_state import core_view, trading_states
    from streams.core import NAME
    from streams.runtime.access import postgres_dsn

    with postgres_dsn(settings) as dsn:
        view = core_view(dsn, f"{settings.topic_prefix}{NAME}", "risk")
        if view is None:
            recorded = trading_states(dsn)
    if view is not None:
        states = view.get("trading_states", {})
        reserved = {(b, k): {side: Decimal(q) for side, q in leg.items()}
                    for b, legs in view.get("reserved", {}).items()
                    for k, leg in legs.items()}  # fmt: skip
        return states, reserved
    active = {"state": "ACTIVE", "killed": False, "limits": {}, "since": None,
              "last_command": None}  # fmt: skip
    states = {b.id: recorded.get(b.id, active) for b in config.bots if b.enabled}
    return states, {}


def risk_conditions(alerts: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """Bot -> the risk conditions raised and not cleared (stuck, out_of_bounds, overdue)."""
    out: dict[str, dict[str, str]] = {}
    for a in sorted(alerts, key=lambda a: a["ts_event"]):
        if a["source"] != "agent.risk" or not a.get("bot_id"):
            continue
        kind = a["dedup_key"].split(":")[1]
        if a["severity"] == "INFO":  # risk says INFO only when a condition cleared
            out.get(a["bot_id"], {}).pop(kind, None)
        else:
            out.setdefault(a["bot_id"], {})[kind] = a["message"]
    return {b: c for b, c in out.items() if c}


def positions(json_out: JsonOpt = False) -> None:
    """Every bot's books: filled positions next to what risk reserves for open orders, cash,
    equity, PnL, drawdown, trading state and any risk condition (stuck, out of bounds).

    Examples:

      $ desk positions  # needs: desk up
    """
    from streams.config import load_config
    from streams.kafka import decode_all, read_topic

    settings, bootstrap, prefix, print_json, out = _context()
    config = load_config(settings.config_file)
    with out.status("reading the desk's topics and risk's state", spinner="dots"):
        read = {t: decode_all(read_topic(bootstrap, t, prefix, idle_s=1.0))
                for t in ("portfolio.snapshots", "alerts")}  # fmt: skip
        states, reserved = risk_holds(settings, config)
    latest: dict[str, dict[str, Any]] = {}
    for s in read["portfolio.snapshots"]:
        if s["bot_id"] not in latest or s["ts_event"] >= latest[s["bot_id"]]["ts_event"]:
            latest[s["bot_id"]] = s
    conditions = risk_conditions(read["alerts"])
    rows = []
    for b in sorted(latest):
        snap = latest[b]
        marks = {f"{p['venue']}:{p['symbol']}": p["mark"] for p in snap["positions"]}
        legs = []
        keys = {f"{p['venue']}:{p['symbol']}" for p in snap["positions"]}
        keys |= {k for (bot, k) in reserved if bot == b}
        for key in sorted(keys):
            filled = next((p["quantity"] for p in snap["positions"]
                           if f"{p['venue']}:{p['symbol']}" == key), Decimal(0))  # fmt: skip
            res = reserved.get((b, key), {"buys": Decimal(0), "sells": Decimal(0)})
            worst = max(abs(filled + res["buys"]), abs(filled - res["sells"]))
            mark = marks.get(key)
            legs.append({
                "symbol": key, "filled": num(filled), "open_buys": num(res["buys"]),
                "open_sells": num(res["sells"]), "worst_case": num(worst),
                "worst_case_notional": None if mark is None else num(worst * Decimal(mark)),
            })  # fmt: skip
        rows.append({
            **snap,
            "trading_state": states.get(b, {}).get("state"),
            "killed": states.get(b, {}).get("killed"),
            "exposure": legs,
            "conditions": conditions.get(b, {}),
        })  # fmt: skip
    if json_out:
        print_json({"bots": rows, "states": states})
        return
    money = ("cash", "equity", "daily PnL", "realized", "fees", "drawdown")
    books = desk_table("bot", "state", *money, title="books", keys=("bot", "state"),
                       numbers=money)  # fmt: skip
    amounts = ("filled", "open buys", "open sells", "worst case", "value", "unrealized")
    pos = desk_table(
        "bot",
        "symbol",
        *amounts,
        keys=("bot", "symbol"),
        numbers=amounts,
        title="positions (filled, and the worst case if every open order fills)",
    )
    for r in rows:
        state = f"{r['trading_state']}{' (killed)' if r['killed'] else ''}"
        if r["conditions"]:
            state += " [red]" + ", ".join(sorted(r["conditions"])).upper() + "[/]"
        books.add_row(
            r["bot_id"],
            state,
            *(_money(r[k]) for k in ("cash", "equity", "daily_pnl", "realized_pnl", "fees")),
            f"{Decimal(r['drawdown']) * 100:.2f}%",
        )
        held = {f"{p['venue']}:{p['symbol']}": p for p in r["positions"]}
        for g in r["exposure"]:
            p = held.get(g["symbol"], {})
            if not Decimal(g["worst_case"]):
                continue
            pos.add_row(r["bot_id"], stream_label(g["symbol"]), g["filled"], g["open_buys"],
                        g["open_sells"], g["worst_case"], _money(p.get("market_value")),
                        _money(p.get("unrealized_pnl")))  # fmt: skip
    out.print(books)
    out.print(pos if pos.row_count else "no open positions or orders")
    for r in rows:
        for kind, why in sorted(r["conditions"].items()):
            out.print(f"[red]{r['bot_id']} {kind}[/]: {why}")
    if not rows:
        out.print("no portfolio snapshot yet (is a feed running?)")


def _money(x: Any) -> str:
    return "-" if x is None else f"{Decimal(x):,.2f}"


def orders(
    show_all: Annotated[
        bool, typer.Option("--all", help="Every order, not only open ones.")
    ] = False,
    bot: Annotated[str | None, typer.Option("--bot", help="Only this bot.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many rows (newest).")] = 50,
    json_out: JsonOpt = False,
) -> None:
    """Orders and their latest status from the venues' order events (open ones by default).

    Quantities and prices are shown as short as they are (no trailing zeros).

    Examples:

      $ desk orders --all --limit 20  # needs: desk up
    """
    from collections import Counter

    from streams.kafka import decode_all, read_topic

    _settings, bootstrap, prefix, print_json, out = _context()
    with out.status("reading orders.events", spinner="dots"):
        events = decode_all(read_topic(bootstrap, "orders.events", prefix, idle_s=1.0))
    last: dict[str, dict[str, Any]] = {}
    for e in events:
        if bot is None or e["bot_id"] == bot:
            last[e["client_order_id"]] = e
    by_status = Counter(e["status"] for e in last.values())
    rows = sorted(last.values(), key=lambda e: e["ts_event"])
    if not show_all:
        rows = [e for e in rows if e["status"] in OPEN]
    rows = rows[-limit:]
    if json_out:
        print_json({"orders": rows, "by_status": dict(by_status)})
        return
    t = desk_table(
        "time (UTC)",
        "bot",
        "symbol",
        "order",
        "qty",
        "filled",
        "limit",
        "status",
        title="open orders" if not show_all else "orders",
        keys=("bot", "symbol"),
        numbers=("time (UTC)", "qty", "filled", "limit"),
    )
    for e in rows:
        t.add_row(
            time.strftime("%m-%d %H:%M", time.gmtime(e["ts_event"] / 1000)),
            e["bot_id"],
            stream_label(e["venue"], e["symbol"]),
            f"{e['side'] or ''} {e['order_type'] or ''}".strip().lower(),
            num(e["quantity"]),
            num(e["filled_quantity"]),
            num(e["limit_price"]),
            e["status"],
        )
    print_table(out, t, len(rows), "order")
    out.print(", ".join(f"{n} {s.lower()}" for s, n in sorted(by_status.items())) or "no orders")


def register_ops(app: typer.Typer) -> None:
    app.command()(positions)
    app.command()(orders)
    app.command()(kill)
    app.command()(resume)
