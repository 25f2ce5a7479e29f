"""``desk demo``: the whole desk on the embedded default, offline, on real bundled bars.

1. The bars that ship inside the ``backtesting`` wheel (EUR/USD hourly, GOOG daily) and
   the demo desk (``streams/desk.demo.yaml``: the trend follower and the EPP market maker
   on EUR/USD) go through the engine of the desk graph: the backtest of the window, and
   the golden of a replay dataset of it (``<data>/replay/windows/demo``).
2. The embedded stack comes up with every agent (data quality, strategies, risk, paper
   venue, portfolio, portfolio risk, reconciliation, parity, alerts in dry-run, sinks),
   in a topic namespace of this run's own: a broker that keeps topics never mixes demos.
3. The bars are replayed, two malformed messages among them (the dead-letter path).
4. What the desk wrote is read back and held against the engine's, key by key (the stream
   and the backtest agree), and against the dataset (the regression's evidence); the
   analytics store and PostgreSQL must hold every fill and order.
5. The demo's own checks become a junit file, and the promotion gates are judged.
6. The report: events per topic, orders, fills, PnL and drawdown per bot, data quality,
   gates, row counts, as JSON and as markdown with an equity chart per bot.
"""

from __future__ import annotations

import json
import secrets
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from analytics.backtest.run import Run, run_backtest
from analytics.regression.build import from_bars
from analytics.regression.dataset import GOLDEN, differences, open_dataset
from analytics.regression.run import SETTLE_STUCK_S, capture, save_verdict, verdict
from connectors.feeds.sample import demo_bars
from streams.config import DEFAULT_CONFIG, load_config, load_config_data
from streams.errors import DeskError
from streams.kafka import EventProducer, decode_all, event_time_headers, read_topic
from streams.settings import DeskSettings, load_settings
from streams.topics import stream_key

DEMO_CONFIG = DEFAULT_CONFIG.parent / "desk.demo.yaml"
BAD_MESSAGES: tuple[tuple[bytes, bytes], ...] = (
    (b"sample:EUR/USD", b"this is not avro"),
    (b"sample:GOOG", b"\xc3\x01" + bytes(8) + b"unknown fingerprint"),
)
SINK_TABLES = {
    "fills": "fills",
    "orders.commands": "orders_commands",
    "portfolio.snapshots": "portfolio_snapshots",
    "market.bars.clean": "market_bars_clean",
    "risk.decisions": "risk_decisions",
}
Stage = Callable[[str], None]
Progress = Callable[[str, int, int], None]


def run_demo(
    settings: DeskSettings,
    config: Path | None = None,
    limit_per_sample: int | None = None,
    on_stage: Stage = lambda _s: None,
    on_progress: Progress = lambda _n, _d, _t: None,
    timeout_s: float = 300.0,
) -> dict[str, Any]:
    """Run the demo; returns its report (JSON-ready). Raises ``DeskError`` if the desk
    could not do its part (the checks that fail are in the report, not raised)."""
    from analytics.gates.run import run_gates
    from streams.runtime.stack import Stack

    t0 = time.perf_counter()
    config_path = (config or DEMO_CONFIG).resolve()
    desk = load_config(config_path)
    bars = list(demo_bars(limit_per_sample))
    on_stage(f"backtesting {len(bars):,} bars on the engine of the desk graph")
    expected: dict[str, list[dict[str, Any]]] = {t: [] for t in (*GOLDEN, "alerts")}
    backtest = run_backtest(desk, bars)  # the engine of the desk graph, states recorded
    for topic, _key, event in backtest.out.events:
        if topic in expected:
            expected[topic].append(event)
    data = settings.data_path
    dataset_dir = data / "replay" / "windows" / "demo"
    from_bars(
        dataset_dir,
        "demo",
        bars,
        load_config_data(config_path)[0],
        "the demo window: bundled EUR/USD hourly and GOOG daily, the demo desk",
    )
    ds = open_dataset(dataset_dir)
    # its own topic namespace: on a broker that keeps topics, runs never read each other
    run_id = "demo" + datetime.now(UTC).strftime("%Y%m%d%H%M%S") + "-" + secrets.token_hex(2)
    run_settings = load_settings(
        **{
            **settings.model_dump(exclude_unset=True),
            "topic_prefix": f"{run_id}.",
            "config_file": config_path,
        }
    )
    t_stack = time.perf_counter()
    with Stack(run_settings, with_agents=True) as stack:
        stack.start(progress=lambda part: on_stage(f"starting {part}"))
        t_ready = time.perf_counter()
        bootstrap, prefix = stack.broker.bootstrap, run_settings.topic_prefix
        on_stage(f"replaying into {prefix}market.bars")
        producer = EventProducer(bootstrap, prefix)
        for n, bar in enumerate(bars, 1):
            producer.send("market.bars", stream_key(bar), bar)
            if n == len(bars) // 2:
                for key, raw in BAD_MESSAGES:
                    producer.send_raw(
                        "market.bars", key, raw, headers=event_time_headers(bar["ts_event"])
                    )
            if n % 500 == 0 or n == len(bars):
                on_progress("replay", n, len(bars))
        producer.flush()
        on_stage("agents processing")
        _settle(
            bootstrap,
            prefix,
            len(expected["market.bars.clean"]),
            on_progress,
            timeout_s,
            stack.run_dir,
        )
        t_done = time.perf_counter()
        on_stage("reading what the desk wrote")
        have = capture(bootstrap, prefix, [*GOLDEN, "alerts"])
        dead = decode_all(read_topic(bootstrap, "deadletter", prefix, until_count=2))
        on_stage("waiting for every agent beyond the core (reconciliation, parity, sinks)")
        group = f"{prefix}{run_settings.app_id}"
        lag = _caught_up(bootstrap, group, prefix, {t: len(have[t]) for t in GOLDEN})
        for topic in ("parity.reports", "recon.reports", "alerts"):  # what those agents wrote
            lag += _caught_up(
                bootstrap,
                group,
                prefix,
                {topic: len(read_topic(bootstrap, topic, prefix, idle_s=0.5))},
            )
        on_stage("waiting for the analytics store and PostgreSQL")
        rows = _wait_for_sinks(run_settings, {t: _ids(have[t]) for t in SINK_TABLES}, 120.0)
        pg_fills = _postgres_fills(run_settings, _ids(have["fills"]))
        health = [p.to_json() for p in stack.health()]
        v = verdict(
            ds,
            {t: have[t] for t in GOLDEN},
            run_id,
            ds.manifest["config_sha256"],
            time.perf_counter() - t_ready,
        )
        save_verdict(ds, v)
        checks = _checks(expected, have, dead, rows, pg_fills, v.passed)
        checks.append(
            (
                "every_agent_caught_up",
                not lag,
                "; ".join(lag) or "every topic committed by the desk's consumer group",
            )
        )
        junit = write_junit(data / "gates" / "junit.xml", checks)
        on_stage("judging the promotion gates")
        gates = run_gates(
            run_settings, desk, junit, [dataset_dir], since=int(bars[0]["ts_event"])
        ).to_json()
    report = {
        "run_id": run_id,
        "topic_prefix": prefix,
        "config": str(config_path),
        "bars_in": len(bars),
        "events": {t: len(have[t]) for t in sorted(have)},
        "dead_letters": [
            {
                "topic": d["topic"],
                "partition": d["partition"],
                "offset": d["offset"],
                "kind": d["error_kind"],
                "error": d["error"],
            }
            for d in dead
        ],
        "bots": bot_figures(have, desk),
        "data_quality": _dq_headline(have),
        "stream_vs_engine": {
            "agree": not _graph_differences(expected, have),
            "differences": _graph_differences(expected, have),
            "engine_events": {t: len(v) for t, v in sorted(expected.items())},
        },
        "regression": v.to_json(),
        "rows": {"clickhouse": rows, "postgres": {"fills": pg_fills}},
        "checks": [{"name": n, "passed": ok, "detail": d} for n, ok, d in checks],
        "gates": gates,
        "health": health,
        "seconds": {
            "backtest_and_dataset": round(t_stack - t0, 2),
            "stack_start": round(t_ready - t_stack, 2),
            "replay_and_process": round(t_done - t_ready, 2),
            "total": round(time.perf_counter() - t0, 2),
        },
        "bars_per_second": round(len(bars) / max(t_done - t_ready, 1e-9)),
    }
    on_stage("recording the backtest in the analytics store")
    report["backtest"] = _record_backtest(settings, backtest, bars)
    report["passed"] = all(ok for _n, ok, _d in checks)
    out = data / "demo" / run_id
    report["artifacts"] = write_report(out, report, equity_curves(have))
    return report


def _record_backtest(settings: DeskSettings, backtest: Run, bars: list) -> dict[str, Any]:
    """The engine's run as ``desk backtest run`` records one (summary.json and the
    ``backtest_*`` tables), so ``desk backtest show`` and the dashboard have it."""
    from analytics.backtest.records import summary, table_rows, write_run_dir
    from connectors.clickhouse.backtests import save
    from streams.runtime.access import analytics_store

    s = summary(backtest, bars, ["bundled EUR/USD hourly and GOOG daily (backtesting wheel)"])
    where = write_run_dir(settings.data_path / "backtests", s, backtest)
    with analytics_store(settings) as st:
        st.migrate({})
        rows = save(st, list(table_rows(s, backtest)))
    return {"run_id": s["run_id"], "summary": str(where / "summary.json"), "rows": rows}


def _settle(
    bootstrap: str, prefix: str, want: int, on_progress: Progress, timeout_s: float, run_dir: Path
) -> None:
    """Until the core has put out every clean bar the engine did (a stall is an error that
    points at the worker's log)."""
    from streams.kafka import TopicReader

    deadline, last, since = time.monotonic() + timeout_s, -1, time.monotonic()
    with TopicReader(bootstrap, "market.bars.clean", prefix) as reader:
        while len(reader.records) < want:
            reader.poll(0.5)
            n = len(reader.records)
            on_progress("processed", min(n, want), want)
            if n != last:
                last, since = n, time.monotonic()
            if time.monotonic() - since > SETTLE_STUCK_S or time.monotonic() > deadline:
                raise DeskError(
                    f"the agents processed {n} of {want} bars; see {run_dir}/worker.log"
                )
    time.sleep(2.0)  # the last bar's cascade


def _caught_up(bootstrap: str, group: str, prefix: str, counts: dict[str, int]) -> list[str]:
    """The topics the desk's agents have not all taken yet (bounded wait)."""
    from streams.kafka import wait_committed

    got = wait_committed(bootstrap, group, counts, prefix, timeout_s=120)
    return [f"{t}: {got[t]} of {n} taken" for t, n in counts.items() if got[t] < n]


def _ids(events: list[dict]) -> list[str]:
    return [e["event_id"] for e in events]


def _quoted(ids: list[str]) -> str:
    return ", ".join("'" + i.replace("\\", "\\\\").replace("'", "\\'") + "'" for i in ids)


def _wait_for_sinks(settings: DeskSettings, want: dict[str, list[str]], timeout_s: float) -> dict:
    """How many of this run's events (by id) each sink table holds, once it holds them all
    (bounded: what is there at the deadline is reported, and the check fails). Counted by
    this run's ids, not the table's rows: a data dir that kept an earlier run's events
    (another demo, a desk on a durable broker) must not lend them to this one."""
    from streams.runtime.access import analytics_store

    deadline = time.monotonic() + timeout_s
    sql = {
        t: f"SELECT uniqExact(event_id) FROM {SINK_TABLES[t]} WHERE event_id IN ({_quoted(ids)})"
        if ids
        else None
        for t, ids in want.items()
    }
    with analytics_store(settings) as store:
        while True:
            got = {t: int(store.query(q).rows[0][0]) if q else 0 for t, q in sql.items()}
            if all(got[t] >= len(want[t]) for t in want) or time.monotonic() > deadline:
                return {SINK_TABLES[t]: n for t, n in got.items()}
            time.sleep(1.0)


def _postgres_fills(settings: DeskSettings, ids: list[str]) -> int:
    """How many of this run's fills (by id) the operational store holds."""
    import psycopg

    from streams.runtime.access import postgres_dsn

    with postgres_dsn(settings) as dsn, psycopg.connect(dsn, connect_timeout=5) as conn:
        row = conn.execute("SELECT count(*) FROM fills WHERE event_id = ANY(%s)", (ids,)).fetchone()
    return int(row[0]) if row else 0


def _checks(
    expected: dict, have: dict, dead: list, rows: dict, pg_fills: int, regression: bool
) -> list[tuple[str, bool, str]]:
    """The demo's acceptance checks: (name, passed, detail)."""
    diffs = _graph_differences(expected, have)
    fills = len(have["fills"])
    out = [
        (
            "stream_equals_engine",
            not diffs,
            diffs[0] if diffs else f"{sum(len(v) for v in have.values()):,} events, key by key",
        ),
        (
            "bots_trade",
            fills > 0 and len({f["bot_id"] for f in have["fills"]}) >= 2,
            f"{fills} fills by {sorted({f['bot_id'] for f in have['fills']})}",
        ),
        (
            "bad_messages_dead_lettered",
            sorted(d["error_kind"] for d in dead) == ["decode", "decode"],
            f"{len(dead)} dead letters: {[d['error_kind'] for d in dead]}",
        ),
        ("replay_regression", regression, "the run against the demo dataset's golden"),
        (
            "analytics_store_holds_every_event",
            all(rows[SINK_TABLES[t]] == len(have[t]) for t in SINK_TABLES),
            ", ".join(
                f"{SINK_TABLES[t]} {rows[SINK_TABLES[t]]}/{len(have[t])}" for t in SINK_TABLES
            ),
        ),
        ("postgres_holds_every_fill", pg_fills == fills, f"{pg_fills}/{fills} fills"),
    ]
    return out


def _graph_differences(expected: dict, have: dict) -> list[str]:
    """The topics the desk graph writes, key by key (alerts come from nodes outside it too:
    parity, the watchers)."""
    return differences({t: expected[t] for t in GOLDEN}, {t: have[t] for t in GOLDEN})


def write_junit(path: Path, checks: list[tuple[str, bool, str]]) -> Path:
    """The checks as a junit file (``desk gates`` reads the tests gate from one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    failures = sum(1 for _n, ok, _d in checks if not ok)
    cases = []
    for name, ok, detail in checks:
        body = "" if ok else f"<failure message={quoteattr(detail)}/>"
        cases.append(f'  <testcase classname="desk.demo" name="{name}">{body}</testcase>')
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<testsuite name="desk demo acceptance checks" tests="{len(checks)}" '
        f'failures="{failures}" errors="0" skipped="0">\n' + "\n".join(cases) + "\n</testsuite>\n"
    )
    return path


def bot_figures(have: dict[str, list[dict[str, Any]]], desk: Any) -> list[dict[str, Any]]:
    """Orders, fills, PnL, drawdown per bot, from what the desk wrote (its snapshots)."""
    out = []
    orders = Counter(c["bot_id"] for c in have["orders.commands"] if c["command"] == "SUBMIT")
    fills = Counter(f["bot_id"] for f in have["fills"])
    for bot in (b for b in desk.bots if b.enabled):
        snaps = [s for s in have["portfolio.snapshots"] if s["bot_id"] == bot.id]
        last = snaps[-1] if snaps else None
        start = Decimal(bot.starting_cash)
        out.append(
            {
                "bot": bot.id,
                "orders": orders[bot.id],
                "fills": fills[bot.id],
                "equity": None if last is None else str(last["equity"]),
                "pnl": None if last is None else str(Decimal(last["equity"]) - start),
                "fees": None if last is None else str(last["fees"]),
                "max_drawdown": None
                if not snaps
                else str(max(Decimal(s["drawdown"]) for s in snaps)),
            }
        )
    return out


def _dq_headline(have: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    reports = have["dq.reports"]
    return {
        "bars_clean": len(have["market.bars.clean"]),
        "findings": len(reports),
        "by_severity": dict(sorted(Counter(r["severity"] for r in reports).items())),
        "by_check": dict(sorted(Counter(r["check"] for r in reports).items())),
    }


def equity_curves(have: dict[str, list[dict[str, Any]]]) -> dict[str, list[tuple[int, Decimal]]]:
    curves: dict[str, list[tuple[int, Decimal]]] = {}
    for s in have["portfolio.snapshots"]:
        curves.setdefault(s["bot_id"], []).append((int(s["ts_event"]), Decimal(s["equity"])))
    return curves


def write_report(
    out: Path, report: dict[str, Any], curves: dict[str, list[tuple[int, Decimal]]]
) -> dict[str, str]:
    """``report.json``, ``report.md`` and an equity chart per bot (PNG, and HTML)."""
    from analytics.backtest.compare import plot_equity

    out.mkdir(parents=True, exist_ok=True)
    charts = {}
    for bot, curve in sorted(curves.items()):
        png, _html = plot_equity({bot: curve}, out / f"equity-{bot}", f"{bot}: equity")
        charts[bot] = png.name
    paths = {
        "json": str(out / "report.json"),
        "markdown": str(out / "report.md"),
        **{f"equity_{b}": str(out / n) for b, n in charts.items()},
    }
    (out / "report.json").write_text(
        json.dumps({**report, "artifacts": paths}, indent=2, default=str) + "\n"
    )
    (out / "report.md").write_text(markdown(report, charts))
    return paths


def markdown(r: dict[str, Any], charts: dict[str, str]) -> str:
    g = r["gates"]
    lines = [
        f"# desk demo {r['run_id']}: {'PASS' if r['passed'] else 'FAIL'}",
        "",
        f"{r['bars_in']:,} real bars (bundled EUR/USD hourly, GOOG daily) through every node "
        f"of the desk, topics `{r['topic_prefix']}*`; {r['bars_per_second']:,} bars/s.",
        "",
        "## Bots",
        "",
        "| bot | orders | fills | equity | PnL | fees | max drawdown |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {b['bot']} | {b['orders']} | {b['fills']} | {_money(b['equity'])} | "
            f"{_money(b['pnl'])} | {_money(b['fees'])} | {_pct(b['max_drawdown'])} |"
            for b in r["bots"]
        ),
        "",
        *(f"![{bot}]({name})" for bot, name in charts.items()),
        "",
        "## Stream and engine",
        "",
        "The same bars through the engine of the desk graph (the backtest) and through the "
        "running desk: "
        + (
            "**they agree, event for event.**"
            if r["stream_vs_engine"]["agree"]
            else "they differ: " + r["stream_vs_engine"]["differences"][0]
        ),
        "",
        "## Events per topic",
        "",
        "| topic | events |",
        "|---|---:|",
        *(f"| {t} | {n:,} |" for t, n in r["events"].items()),
        "",
        f"Data quality: {r['data_quality']['findings']} finding(s) "
        f"{r['data_quality']['by_severity']}; {len(r['dead_letters'])} dead letters.",
        "",
        "## Checks",
        "",
        *(
            f"- {'ok' if c['passed'] else '**FAILED**'} {c['name']}: {c['detail']}"
            for c in r["checks"]
        ),
        "",
        f"## Gates: {g['status']} (validation level {g['validation_level']}, "
        f"{g['validation_level_name']})",
        "",
        "| gate | status | reasons |",
        "|---|---|---|",
        *(
            f"| {x['gate']} | {x['status']} | {'; '.join(x['reasons']) or '—'} |"
            for x in g["gates"]
        ),
        "",
    ]
    return "\n".join(lines)


def _money(v: str | None) -> str:
    return "" if v is None else f"{Decimal(v):,.2f}"


def _pct(v: str | None) -> str:
    return "" if v is None else f"{Decimal(v) * 100:.2f}%"
