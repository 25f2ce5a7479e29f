"""Drills on what comes in: bars that cannot be real among good ones, and secrets that must
never come out (malformed alert-route URLs carrying credentials)."""

from __future__ import annotations

import contextlib
import math
import os
from pathlib import Path
from typing import Any

from connectors.feeds.normalize import bar_event
from streams.avro import registry
from streams.drills.desk import DrillDesk, DrillResult, Window, later, measure, to_ms
from streams.ids import event_id
from streams.kafka import EventProducer, decode_all, event_time_headers, read_topic
from streams.runtime.proc import wait_until
from streams.topics import CATALOG, stream_key

MIN = 60_000

# what each bad bar must be dead-lettered as (the containment reason the error starts with)
BAD_REASONS = {
    "dated 2099": ("future_timestamp",),
    "close 1e308": ("unrepresentable_value", "absurd_value", "bad_value"),
    "close NaN": ("bad_value",),
    "negative volume": ("bad_value",),
    "prices x50": ("absurd_value",),
    "unknown symbol": ("unknown_instrument",),
    "unknown venue": ("unknown_instrument",),
}


def bad_bars(at_ms: int, price: float) -> dict[str, dict[str, Any]]:
    """One bar per way of being impossible, for the stream binanceus BTC/USD 1m around
    ``at_ms`` (minutes the good feed sends right after them) near ``price`` (the stream's
    last close), each with an id of its own."""

    def bar(label: str, open_time: int, venue: str = "binanceus", symbol: str = "BTC/USD",
            k: float = 1.0, **values: float) -> dict[str, Any]:  # fmt: skip
        prices = {"open": price * k, "high": price * k * 1.001, "low": price * k * 0.999,
                  "close": price * k, "volume": 3.5} | values  # fmt: skip
        b = bar_event(venue=venue, symbol=symbol, interval="1m", open_time_ms=open_time,
                      source="drill.bad-values", **prices)  # fmt: skip
        b["event_id"] = event_id("drill-bad-bar", label)
        b["ts_ingest"] = at_ms  # it arrives now, whatever it claims
        return b

    return {
        "dated 2099": bar("dated 2099", to_ms("2099-01-01T00:00")),
        "close 1e308": bar("close 1e308", at_ms, high=1e308, close=1e308),
        "close NaN": bar("close NaN", at_ms + MIN, close=math.nan),
        "negative volume": bar("negative volume", at_ms + 2 * MIN, volume=-5.0),
        "prices x50": bar("prices x50", at_ms + 3 * MIN, k=50.0),
        "unknown symbol": bar("unknown symbol", at_ms, symbol="DOGE/XYZ"),
        "unknown venue": bar("unknown venue", at_ms, venue="nowhere"),
    }


def drill_bad_values(desk: DrillDesk, files: list[str], w: Window) -> DrillResult:
    """Replay a window, send bars that cannot be real (and a message that is not Avro) where
    the stream is, replay the next window: every bad one is dead-lettered with its reason and
    never reaches a strategy; every good bar is clean; the bots trade on."""
    r = DrillResult("bad-values")
    desk.finish(desk.replay(files, w))
    desk.settle(desk.published)
    good_first = desk.published
    fills_before = desk.fills()
    at = to_ms(w.until)
    ((last,),) = desk.ch("SELECT argMax(close, open_time) FROM market_bars_clean WHERE venue = "
                         f"'binanceus' AND symbol = 'BTC/USD' AND open_time < {at}")  # fmt: skip
    bad = bad_bars(at, float(last))
    producer = EventProducer(desk.stack.broker.bootstrap, desk.settings.topic_prefix)
    for b in bad.values():
        producer.send("market.bars", stream_key(b), b)
    producer.send_raw("market.bars", b"binanceus:BTC/USD", b"\x00\x01 not avro at all",
                      headers=event_time_headers(at))  # fmt: skip
    producer.flush()
    nxt = Window(w.until, later(w.until, w), w.speed)
    desk.finish(desk.replay(files, nxt))
    desk.settle(desk.published)
    # the bad bars inside the window are stored raw too (the raw table keeps what came)
    ids = ", ".join(f"'{b['event_id']}'" for b in bad.values())
    window_sql = f"open_time >= {desk.lo_ms} AND open_time < {desk.hi_ms}"
    raw_bad = desk.ch(
        f"SELECT count() FROM market_bars WHERE event_id IN ({ids}) AND {window_sql}"
    )[0][0]
    desk.published += int(raw_bad)
    measure(desk, r)

    def dead() -> dict[str, str]:
        out = {}
        for d in decode_all(read_topic(desk.stack.broker.bootstrap, "deadletter",
                                       desk.settings.topic_prefix, idle_s=1.0)):  # fmt: skip
            if d["topic"].endswith("market.bars") and d["raw"]:
                try:
                    out[registry().decode(d["raw"])[1]["event_id"]] = d["error"]
                except Exception:  # the message that is not Avro
                    out["not avro"] = d["error"]
        return out

    wait_until(lambda: len(dead()) >= len(bad) + 1, 60, 1.0)
    letters = dead()
    reasons = {label: letters.get(b["event_id"], "") for label, b in bad.items()}
    clean_bad = desk.ch(f"SELECT count() FROM market_bars_clean WHERE event_id IN ({ids})")[0][0]
    good = desk.published - int(raw_bad)
    _n, clean = desk.stored_bars("market_bars_clean")
    strategy_letters = desk.ch(
        "SELECT count() FROM deadletter WHERE agent LIKE 'strateg%' "
        f"AND ts_event >= {desk.lo_ms} AND ts_event < {desk.hi_ms}"
    )[0][0]
    r.figures |= {
        "good_bars": good, "good_bars_in_first_window": good_first,
        "bad_bars": len(bad) + 1, "dead_lettered": {k: v.split(":")[0] for k, v in reasons.items()}
        | {"not avro": letters.get("not avro", "")[:60]},
        "bad_in_clean": int(clean_bad), "clean_bars": clean,
        "strategy_dead_letters": int(strategy_letters),
        "fills_after_bad_bars": desk.fills() - fills_before,
    }  # fmt: skip
    for label, why in reasons.items():
        r.check(why.startswith(BAD_REASONS[label]), f"{label}: dead-lettered as {why or 'nothing'}")
    r.check("not avro" in letters, "the message that is not Avro was not dead-lettered")
    r.check(clean_bad == 0, f"{clean_bad} bad bar(s) reached market.bars.clean")
    r.check(clean == good, f"good bars clean: {clean} of {good}")
    r.check(strategy_letters == 0, f"strategies dead-lettered {strategy_letters} input(s)")
    r.check(r.figures["fills_after_bad_bars"] > 0, "no fill after the bad bars")
    return r


# -- secrets --------------------------------------------------------------------------------

SECRET = "drill-Pa55word-7f3c91"
TOKEN = "drilltoken9b27e4d1"
ROUTE_URLS = {  # env var -> a URL an operator might get wrong, each carrying a secret
    "DESK_DRILL_ROUTE_PORT": f"https://ops:{SECRET}@127.0.0.1:notaport/hook",
    "DESK_DRILL_ROUTE_NOSCHEME": f"ops:{SECRET}@127.0.0.1/hook",
    "DESK_DRILL_ROUTE_QUERY": f"http://127.0.0.1:9/hook?token={TOKEN}",
}


def secret_routes() -> list[dict[str, Any]]:
    routes: list[dict[str, Any]] = [
        {"name": f"bad-{i}", "kind": kind, "min_severity": "INFO", "url_env": env}
        for i, (env, kind) in enumerate(
            zip(ROUTE_URLS, ("webhook", "ntfy", "webhook"), strict=True)
        )
    ]
    return [*routes, {"name": "file", "kind": "file", "min_severity": "INFO",
                      "path": "alerts.jsonl"}]  # fmt: skip


def secrets_config(directory: Path) -> Path:
    """The packaged desk config with the drill's alert routes."""
    import yaml

    from streams.config import DEFAULT_CONFIG

    data = yaml.safe_load(DEFAULT_CONFIG.read_text()) | {"alert_routes": secret_routes()}
    path = directory / "desk.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def leaks(blob: bytes) -> list[str]:
    return [s for s in (SECRET, TOKEN) if s.encode() in blob]


def drill_secrets(desk: DrillDesk, files: list[str], w: Window) -> DrillResult:
    """Alert routes whose URLs (from the environment) are malformed and carry credentials: an
    alert goes through every route; the bad ones fail, scrubbed, the file route delivers;
    then every log and file of the desk, every topic, every ClickHouse and PostgreSQL table
    is searched for the secret values."""
    r = DrillResult("secrets")
    alert = {
        "event_id": event_id("drill-alert", desk.settings.topic_prefix), "ts_event": to_ms(w.since),
        "ts_ingest": to_ms(w.since), "source": "drill", "correlation_id": None,
        "severity": "CRITICAL", "dedup_key": "drill:secrets", "title": "Drill: secrets",
        "message": "an alert through every route", "bot_id": None, "venue": None,
        "symbol": None, "evidence": {},
    }  # fmt: skip
    producer = EventProducer(desk.stack.broker.bootstrap, desk.settings.topic_prefix)
    producer.send("alerts", "drill", alert)
    producer.flush()

    def outcomes() -> dict[str, str]:
        rows = desk.pg("SELECT sink, outcome FROM alert_deliveries WHERE alert_id = "
                       f"'{alert['event_id']}' ORDER BY id")  # fmt: skip
        return {s: o for s, o in rows}

    wait_until(
        lambda: (
            len(outcomes()) >= len(ROUTE_URLS) + 1
            and "sent" in outcomes().values()
            and all(o in ("sent", "failed") for o in outcomes().values())
        ),
        120,
        1.0,
    )
    got = outcomes()
    found: dict[str, list[str]] = {}
    for path in Path(desk.settings.data_path).rglob("*"):
        if path.is_file() and path.stat().st_size < 200_000_000 and "postgres" not in path.parts:
            with contextlib.suppress(OSError):
                if hit := leaks(path.read_bytes()):
                    found[f"file {path.relative_to(desk.settings.data_path)}"] = hit
    for spec in CATALOG:
        for key, value, _p, _o in read_topic(desk.stack.broker.bootstrap, spec.name,
                                             desk.settings.topic_prefix, idle_s=0.5):  # fmt: skip
            if hit := leaks((key or b"") + value):
                found[f"topic {spec.name}"] = hit
    for (table,) in desk.ch("SELECT name FROM system.tables WHERE database = currentDatabase()"):
        rows = desk.ch(f"SELECT * FROM {table}")
        if hit := leaks(repr(rows).encode()):
            found[f"clickhouse {table}"] = hit
    for (table,) in desk.pg("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"):
        rows = desk.pg(f'SELECT t::text FROM "{table}" t')
        if hit := leaks(repr(rows).encode()):
            found[f"postgres {table}"] = hit
    r.figures |= {"routes": got, "leaks": found}
    r.check(got.get("file") == "sent", f"the file route did not deliver: {got}")
    r.check(all(got.get(f"bad-{i}") == "failed" for i in range(len(ROUTE_URLS))),
            f"a malformed route did not fail cleanly: {got}")  # fmt: skip
    r.check(not found, f"secret found in: {sorted(found)}")
    return r


@contextlib.contextmanager
def route_env() -> Any:
    """The routes' URLs in this process's environment (the worker inherits it), then gone."""
    old = {k: os.environ.get(k) for k in ROUTE_URLS}
    os.environ.update(ROUTE_URLS)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
