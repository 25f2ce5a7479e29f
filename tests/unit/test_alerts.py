"""Alert routing (de-duplication, escalation, throttling) and delivery to a real local
HTTP receiver: webhook and ntfy shapes, retryable and final failures, dry runs, and
the URL (a secret) kept out of every error and artifact."""

from __future__ import annotations

import json
from pathlib import Path

from agents.alerts.router import AlertRouter, RouteRule
from connectors.alerts.delivery import Deliverer
from streams.config import AlertRoute
from tests.receiver import Receiver

SECRET_PATH = "/services/T000/B000/s3cr3t-t0k3n"


def alert(ts: int, key: str = "recon:drift", severity: str = "WARNING", **kw: object) -> dict:
    return {
        "event_id": f"a-{ts}-{key}-{severity}", "ts_event": ts, "ts_ingest": ts,
        "source": "agent.recon", "correlation_id": None, "severity": severity,
        "dedup_key": key, "title": "Position drift", "message": "venue 1.2 vs desk 1.0",
        "bot_id": "mm-btc", "venue": "binanceus", "symbol": "BTC/USDT",
        "evidence": {"drift_pct": "16.7"},
    } | kw  # fmt: skip


def actions(router: AlertRouter, a: dict) -> list[tuple[str, str]]:
    return [(d.route, d.action) for d in router.route(a)]


def test_routes_by_severity_dedup_escalation_and_window() -> None:
    r = AlertRouter([RouteRule("file", "INFO"), RouteRule("hook", "WARNING")], 60_000)
    assert actions(r, alert(0, severity="INFO")) == [("file", "send")]
    assert actions(r, alert(1_000)) == [("file", "send"), ("hook", "send")]  # INFO -> WARNING
    assert actions(r, alert(2_000)) == [("file", "deduplicated"), ("hook", "deduplicated")]
    assert actions(r, alert(3_000, severity="CRITICAL")) == [("file", "send"), ("hook", "send")]
    assert actions(r, alert(4_000, severity="WARNING"))[1] == ("hook", "deduplicated")
    assert actions(r, alert(63_001))[1] == ("hook", "send")  # the window has passed


def test_a_storm_is_throttled_but_never_a_critical() -> None:
    r = AlertRouter([RouteRule("hook")], dedup_window_ms=0, throttle_window_ms=60_000,
                    max_per_window=3)  # fmt: skip
    got = [actions(r, alert(i, key=f"k{i}"))[0][1] for i in range(5)]
    assert got == ["send", "send", "send", "throttled", "throttled"]
    assert actions(r, alert(6, key="k6", severity="CRITICAL")) == [("hook", "send")]
    assert actions(r, alert(60_001, key="k7")) == [("hook", "send")]  # the window moved on


def route(kind: str, **kw: object) -> AlertRoute:
    return AlertRoute(name=kind, kind=kind, url_env="DESK_TEST_HOOK", **kw)  # type: ignore[arg-type]


def test_webhook_and_ntfy_posts_reach_the_receiver(tmp_path: Path) -> None:
    with Receiver() as rx:
        env = {"DESK_TEST_HOOK": rx.url(SECRET_PATH)}
        hook = Deliverer(route("webhook"), tmp_path, env).deliver(alert(0, severity="CRITICAL"))
        ntfy = Deliverer(route("ntfy"), tmp_path, env).deliver(alert(1))
    assert (hook.outcome, hook.status_code, ntfy.outcome) == ("sent", 200, "sent")
    (path, headers, body), (_, nheaders, nbody) = rx.posts
    sent = json.loads(body)
    assert path == SECRET_PATH and headers["Content-Type"] == "application/json"
    assert sent["text"].startswith("[CRITICAL] Position drift (mm-btc binanceus BTC/USDT)")
    assert sent["content"] == sent["text"] and sent["alert"]["evidence"] == {"drift_pct": "16.7"}
    assert nheaders["Priority"] == "4" and nheaders["Title"] == "Position drift"
    assert nbody.decode().startswith("[WARNING] Position drift")


def test_failures_say_whether_to_retry_and_never_show_the_url(tmp_path: Path) -> None:
    with Receiver(codes=[503, 404]) as rx:
        url = rx.url(SECRET_PATH)
        d = Deliverer(route("webhook"), tmp_path, {"DESK_TEST_HOOK": url})
        busy, gone = d.deliver(alert(0)), d.deliver(alert(1))
    assert (busy.outcome, busy.status_code, busy.retry) == ("failed", 503, True)
    assert (gone.status_code, gone.retry) == (404, False)
    closed = d.deliver(alert(2))  # the receiver is gone: connection refused
    assert closed.outcome == "failed" and closed.retry
    unset = Deliverer(route("webhook"), tmp_path, {}).deliver(alert(3))
    assert unset.error == "environment variable DESK_TEST_HOOK is not set" and not unset.retry
    for o in (busy, gone, closed):
        assert "s3cr3t" not in (o.error or "") and "127.0.0.1" not in (o.error or "")


def test_dry_run_writes_the_request_without_the_url_and_sends_nothing(tmp_path: Path) -> None:
    with Receiver() as rx:
        d = Deliverer(route("webhook", dry_run=True), tmp_path, {"DESK_TEST_HOOK": rx.url()})
        o = d.deliver(alert(0))
    assert o.outcome == "dry_run" and not rx.posts
    artifact = Path(o.artifact or "").read_text()
    assert json.loads(artifact)["url"] == "<withheld: DESK_TEST_HOOK>"
    assert "127.0.0.1" not in artifact and "Position drift" in artifact


def test_the_file_route_appends_one_json_line_per_alert(tmp_path: Path) -> None:
    d = Deliverer(AlertRoute(name="file", kind="file", path="alerts.jsonl"), tmp_path)
    d.deliver(alert(0))
    d.deliver(alert(1, key="other"))
    lines = (tmp_path / "alerts.jsonl").read_text().splitlines()
    assert [json.loads(x)["dedup_key"] for x in lines] == ["recon:drift", "other"]
