"""Secrets never leave the process through an alert error, a log line or a dead letter,
and one broken alert route never stops the others (issue 12, points 5 and 6).

Malformed, secret-bearing URLs go through every URL route kind next to a file route and
a working webhook (a local receiver); the failure is recorded, the others deliver, and
the secret is in none of the outcome error, the log records, the dead-letter bytes."""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import logging
import socket
from pathlib import Path
from typing import Any

import pytest

from agents.alerts.agent import Dispatcher
from agents.alerts.router import AlertRouter, RouteRule
from connectors.alerts.delivery import Deliverer, Outcome, prepare_url
from connectors.feeds.backoff import BackoffPolicy
from streams.app import DeskApp
from streams.avro import registry
from streams.config import AlertRoute, load_config
from streams.deadletter import dead_letter_record
from streams.redact import (
    Redactor,
    env_secrets,
    install_log_redaction,
    redact,
    redact_generic,
    variants,
)
from streams.settings import load_settings
from tests.receiver import Receiver
from tests.unit.test_alerts import alert

SECRET = "s3cr3tpass"
TOKEN = "abcdef123456"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# (label, URL, the secret values that must never show)
BAD_URLS = [
    ("bad port", f"https://user:{SECRET}@127.0.0.1:bad/hook", [SECRET]),
    ("credentials, nobody listening", f"http://user:{SECRET}@127.0.0.1:{{port}}/x", [SECRET]),
    ("no scheme", f"user:{SECRET}@127.0.0.1/path", [SECRET]),
    ("token in the query", "http://127.0.0.1:{port}/hook?token=" + TOKEN, [TOKEN]),
    ("non-ASCII", f"http://usér:pässwört{SECRET}@127.0.0.1:föö/ü", ["pässwört", SECRET]),
]


class Log:
    """``alert_deliveries`` in memory."""

    def __init__(self) -> None:
        self.rows: list[tuple[Any, ...]] = []

    def attempts(self, alert_id: str, sink: str) -> tuple[int, bool]:
        return 0, False

    def record(self, *row: Any) -> None:
        self.rows.append(row)


async def no_sleep(_s: float) -> None:
    return None


def dispatch(routes: list[AlertRoute], env: dict[str, str], data: Path, a: dict) -> Log:
    rows = Log()
    router = AlertRouter([RouteRule(r.name, r.min_severity) for r in routes])
    sinks = {r.name: Deliverer(r, data, env, timeout_s=2) for r in routes}
    policy = BackoffPolicy(base_s=0.01, cap_s=0.01, max_attempts=2)
    d = Dispatcher(router, sinks, rows, policy, sleep=no_sleep)

    async def run() -> None:
        await d.handle(a)
        assert await d.flush(5)

    asyncio.run(run())
    return rows


def leaked(secrets: list[str], *texts: str | bytes | None) -> list[str]:
    out = []
    for s in secrets:
        for t in texts:
            if t is None:
                continue
            hay = t if isinstance(t, str) else t.decode("utf-8", "replace")
            if s in hay or (isinstance(t, bytes) and s.encode() in t):
                out.append(s)
    return out


@pytest.mark.parametrize("kind", ["webhook", "ntfy"])
@pytest.mark.parametrize("label,url,secrets", BAD_URLS, ids=[b[0] for b in BAD_URLS])
def test_a_bad_route_is_recorded_scrubbed_and_the_others_deliver(
    kind: str,
    label: str,
    url: str,
    secrets: list[str],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = url.replace("{port}", str(closed_port()))
    routes = [
        AlertRoute(name="broken", kind=kind, url_env="DESK_T_BROKEN", min_severity="INFO"),
        AlertRoute(name="file", kind="file", path="alerts.jsonl", min_severity="INFO"),
        AlertRoute(name="hook", kind="webhook", url_env="DESK_T_HOOK", min_severity="INFO"),
    ]
    caplog.set_level(logging.DEBUG)
    with Receiver() as rx:
        env = {"DESK_T_BROKEN": url, "DESK_T_HOOK": rx.url("/ok")}
        rows = dispatch(routes, env, tmp_path, alert(0, severity="CRITICAL"))
    by_route: dict[str, list[tuple[Any, ...]]] = {}
    for row in rows.rows:
        by_route.setdefault(row[2], []).append(row)
    # the broken route: every attempt recorded as failed, with a one-line scrubbed error
    assert [r[4] for r in by_route["broken"]] and {r[4] for r in by_route["broken"]} == {"failed"}
    errors = [r[6] for r in by_route["broken"]]
    assert all(e and "\n" not in e for e in errors)
    # the other routes still delivered
    assert [r[4] for r in by_route["file"]] == ["sent"] and [r[4] for r in by_route["hook"]] == [
        "sent"
    ]
    assert len(rx.posts) == 1 and rx.posts[0][0] == "/ok"
    assert json.loads((tmp_path / "alerts.jsonl").read_text())["dedup_key"] == "recon:drift"
    # the secret is nowhere: outcome errors, log records (message and traceback)
    logs = [rec.getMessage() for rec in caplog.records] + [rec.exc_text for rec in caplog.records]
    assert not leaked(secrets, *errors, *logs, caplog.text)
    # a dead letter built from the raw exception text (what used to happen) is clean too
    exc = http.client.InvalidURL(f"nonnumeric port: '{url.split(':', 2)[-1]}'")
    record = dead_letter_record(topic="alerts", partition=0, offset=7, key=b"agent.recon",
                                raw=b"\x00", error=exc, kind="processing", agent="alerts",
                                ts_ms=0)  # fmt: skip
    assert not leaked(secrets, registry().encode("DeadLetter", record), record["error"])


def test_a_route_that_raises_does_not_stop_the_others(tmp_path: Path) -> None:
    class Buggy:
        def deliver(self, a: dict) -> Outcome:
            raise KeyError(f"https://bot:{SECRET}@hooks.example/x")

    routes = [RouteRule("buggy", "INFO"), RouteRule("file", "INFO")]
    file_route = AlertRoute(name="file", kind="file", path="a.jsonl", min_severity="INFO")
    rows = Log()
    d = Dispatcher(AlertRouter(routes), {"buggy": Buggy(), "file": Deliverer(file_route, tmp_path)},
                   rows, BackoffPolicy(max_attempts=3), sleep=no_sleep)  # fmt: skip

    async def run() -> None:
        await d.handle(alert(0))
        assert await d.flush(5)

    asyncio.run(run())
    assert [(r[2], r[4]) for r in rows.rows] == [("buggy", "failed"), ("file", "sent")]
    assert rows.rows[0][6].startswith("KeyError: ") and SECRET not in rows.rows[0][6]
    assert (tmp_path / "a.jsonl").exists()


def test_an_unwritable_file_route_is_a_failed_outcome(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file, not a directory")
    r = AlertRoute(name="file", kind="file", path="blocker/alerts.jsonl")
    o = Deliverer(r, tmp_path).deliver(alert(0))
    assert o.outcome == "failed" and o.retry and o.error


def test_credentials_in_a_route_url_are_sent_as_basic_auth(tmp_path: Path) -> None:
    with Receiver() as rx:
        url = rx.url("/topic").replace("http://", f"http://desk:{SECRET}@")
        d = Deliverer(AlertRoute(name="n", kind="ntfy", url_env="N"), tmp_path, {"N": url})
        o = d.deliver(alert(0))
    assert o.outcome == "sent"
    path, headers, _ = rx.posts[0]
    assert path == "/topic" and SECRET not in path
    assert base64.b64decode(headers["Authorization"].split()[1]).decode() == f"desk:{SECRET}"


def test_prepare_url_never_quotes_the_url() -> None:
    for url in (
        f"https://u:{SECRET}@h:x/p",
        f"u:{SECRET}@h/p",
        f"ftp://u:{SECRET}@h/p",
        "http:///p",
    ):
        with pytest.raises(ValueError) as info:
            prepare_url(url)
        assert SECRET not in str(info.value) and "/p" not in str(info.value)
    assert prepare_url("https://hôst.example/ü?q=ä")[0] == (
        "https://xn--hst-kna.example/%C3%BC?q=%C3%A4"
    )


# -- the redactor --------------------------------------------------------------------------


def test_known_secrets_are_masked_in_every_spelling() -> None:
    url = f"https://desk:{SECRET}@hooks.example/services/T0/B0/{TOKEN}?token=tok-999999"
    r = Redactor([url])
    for shown in (
        url,
        url.removeprefix("https://"),  # without the scheme
        f"nonnumeric port: '{SECRET}@hooks.example'",  # the password alone
        f"desk:{SECRET}",  # the userinfo
        f"POST /services/T0/B0/{TOKEN}?token=tok-999999 HTTP/1.1",  # path and query
        "https%3A%2F%2Fdesk%3As3cr3tpass%40hooks.example",  # URL-encoded
        "value tok-999999 seen",  # a query value
    ):
        out = r(shown)
        assert SECRET not in out and TOKEN not in out and "tok-999999" not in out, out
    assert r("hooks.example is down") == "hooks.example is down"  # the host is no secret
    accented = Redactor(["pässwört-1"])
    for shown in ("pässwört-1", "p%C3%A4ssw%C3%B6rt-1", "p\\xe4ssw\\xf6rt-1"):
        assert accented(shown) == "***"


def test_generic_credentials_are_masked_without_being_known() -> None:
    cases = {
        "postgresql://desk:hunter22@db:5432/desk": "postgresql://desk:***@db:5432/desk",
        "connect desk:hunter22@db/path failed": "connect desk:***@db/path failed",
        "https://h.example/x?token=abc123&a=1": "https://h.example/x?token=***&a=1",
        "host=db password=hunter22 user=desk": "host=db password=*** user=desk",
        "?apikey=K123&api_key=K456": "?apikey=***&api_key=***",
        '{"client_secret": "zzz"}': '{"client_secret": "***"}',
        "Authorization: Bearer abcdefghij": "Authorization: Bearer ***",
        "recon:drift for binanceus:BTC/USDT": "recon:drift for binanceus:BTC/USDT",
    }
    for text, shown in cases.items():
        assert redact_generic(text) == shown


def test_variants_skip_short_values_and_names_like_secrets_come_from_the_env() -> None:
    assert variants("abc") == set()
    assert variants("chdb:///srv/desk/clickhouse") == set()  # a local path hides nothing
    dsn = variants("postgresql://desk:pw12345@db:5432/deskdb")
    assert {"pw12345", "desk:pw12345"} <= dsn and "/deskdb" not in dsn  # a db name, no secret
    assert "/services/T0/xyz" in variants("https://hooks.example/services/T0/xyz")
    env = {"DESK_BINANCE_SECRET": "sec-1", "DESK_BINANCE_API_KEY": "key-1",
           "DESK_POSTGRES_DSN": "postgresql://a:b@c/d", "DESK_HOOK": "https://x/y",
           "DESK_LOG_LEVEL": "INFO"}  # fmt: skip
    got = set(env_secrets(env, ["DESK_HOOK"]))
    assert got == {"sec-1", "key-1", "postgresql://a:b@c/d", "https://x/y"}


def test_the_log_filter_masks_child_loggers_and_tracebacks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    install_log_redaction(env={"DESK_X_WEBHOOK": f"https://hooks.example/{TOKEN}"})
    caplog.set_level(logging.DEBUG)
    child = logging.getLogger("deskplane.test.child")
    child.debug("posting to %s", f"https://hooks.example/{TOKEN}")
    try:
        raise http.client.InvalidURL(f"nonnumeric port: '{SECRET}@host'")
    except http.client.InvalidURL:
        child.exception("delivery to https://u:%s@host broke", SECRET)
    assert TOKEN not in caplog.text and SECRET not in caplog.text
    assert "posting to ***" in caplog.text and "https://u:***@host" in caplog.text
    assert redact(f"x https://hooks.example/{TOKEN}") == "x ***"


def test_every_dead_letter_reason_is_redacted(tmp_path: Path) -> None:
    sent: list[dict[str, Any]] = []

    class Topic:
        async def send(self, key: bytes, value: dict[str, Any], headers: Any = None) -> None:
            sent.append(value)

    settings = load_settings(data_dir=tmp_path)
    desk = DeskApp(app=None, settings=settings, config=load_config(),  # type: ignore[arg-type]
                   topics={"deadletter": Topic()})  # fmt: skip
    errors: list[BaseException | str] = [
        http.client.InvalidURL(f"nonnumeric port: 'https://bot:{SECRET}@hooks.example'"),
        ValueError(f"unknown url type: 'bot:{SECRET}@hooks.example/x'"),
        f"could not reach postgresql://desk:{SECRET}@db/desk?sslmode=require",
    ]
    for n, e in enumerate(errors):
        where = {"topic": "alerts", "partition": 0, "offset": n, "key": None, "raw": None}
        asyncio.run(desk.dead_letter(agent="t", timestamp=0, error=e, kind="processing", **where))
    assert len(sent) == 3
    for record in sent:
        assert SECRET not in record["error"]
        assert SECRET.encode() not in registry().encode("DeadLetter", record)


def test_exchange_keys_become_known_secrets() -> None:
    from connectors.feeds.backoff import one_line
    from connectors.feeds.ccxt_feed import make_exchange

    env = {"DESK_BINANCEUS_API_KEY": "k3y-AbCdEf0123", "DESK_BINANCEUS_SECRET": "s3c-ZyXw9876"}
    make_exchange("binanceus", env)
    assert redact("headers {'X-MBX-APIKEY': 'k3y-AbCdEf0123'} s3c-ZyXw9876") == (
        "headers {'X-MBX-APIKEY': '***'} ***"
    )
    err = one_line(RuntimeError("GET https://api.example/v3/account?timestamp=1&signature=ab12"))
    assert err == "RuntimeError: GET https://api.example/v3/account?timestamp=1&signature=***"


class StalledLog(Log):
    """``alert_deliveries`` behind a PostgreSQL that does not answer until ``gate`` opens."""

    def __init__(self) -> None:
        super().__init__()
        import threading

        self.gate = threading.Event()
        self.lookups = 0

    def attempts(self, alert_id: str, sink: str) -> tuple[int, bool]:
        self.lookups += 1
        self.gate.wait(20)
        return 0, False

    def record(self, *row: Any) -> None:
        self.gate.wait(20)
        super().record(*row)


def test_a_stalled_delivery_log_never_holds_an_alert_back(tmp_path: Path) -> None:
    """PostgreSQL stalled: each alert still reaches its route within the lookup timeout, the
    log is asked once (not per alert) while it is suspect, and the rows land in order once
    it answers."""
    import time

    from agents.alerts.agent import LOOKUP_TIMEOUT_S

    rows = StalledLog()
    route = AlertRoute(name="file", kind="file", path="a.jsonl", min_severity="INFO")
    d = Dispatcher(AlertRouter([RouteRule("file", "INFO")]), {"file": Deliverer(route, tmp_path)},
                   rows, BackoffPolicy(max_attempts=2), sleep=no_sleep)  # fmt: skip
    first, second = alert(0, severity="CRITICAL"), alert(1, severity="CRITICAL")
    second |= {"event_id": "other", "dedup_key": "other:key"}

    async def run() -> tuple[float, int, bool]:
        t0 = time.monotonic()
        await d.handle(first)
        await d.handle(second)
        took = time.monotonic() - t0
        written_while_stalled = len(rows.rows)
        rows.gate.set()
        return took, written_while_stalled, await d.flush(10)

    took, during, flushed = asyncio.run(run())
    sent = [json.loads(x)["event_id"] for x in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert sent == [first["event_id"], "other"]
    assert took < LOOKUP_TIMEOUT_S + 1.5 and rows.lookups == 1 and during == 0
    assert flushed and [(r[0], r[2], r[4]) for r in rows.rows] == [
        (first["event_id"], "file", "sent"), ("other", "file", "sent")]  # fmt: skip


def test_a_scrubbed_record_formats_through_the_workers_log_formatter() -> None:
    """The worker logs through mode's formatter, which wraps non-tuple args: a scrubbed
    record (its message already formatted) must not become ``msg % (None,)``, a logging
    error in place of every Faust line that had arguments."""
    from mode.utils.logging import ExtensionFormatter

    from streams.redact import scrub

    record = logging.LogRecord("faust", logging.INFO, __file__, 1, "Creating topic %r",
                               ("desk.orders",), None)  # fmt: skip
    scrub(record)
    assert ExtensionFormatter(fmt="%(message)s").format(record) == "Creating topic 'desk.orders'"
