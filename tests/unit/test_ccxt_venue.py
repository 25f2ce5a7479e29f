"""The ccxt venue adapter, offline, through a real ccxt.binanceus (tests/exchange_transport).

ccxt signs the private requests for real (dummy keys); the transport answers
them from Binance.US-format payloads in tests/fixtures/exchange/binanceus.
"""

from __future__ import annotations

import json
import logging
import random
from decimal import Decimal
from typing import Any

import ccxt
import pytest
import yaml

from connectors.feeds.backoff import BackoffPolicy, FeedUnavailable, Retrier
from connectors.feeds.ccxt_feed import make_exchange
from connectors.venues.ccxt_venue import CcxtVenue, VenueError, live_allowed, make_venue
from streams.avro import registry
from streams.ids import event_id
from tests.exchange_transport import BinanceUS, binanceus, fixture, ok

T0 = 1_677_628_800_000
NOW = T0 + 180_000
KEY, SECRET = "KEY-zq81VmDummyApiKey", "SECRET-p0o9DummySecretValue"
ENV = {"DESK_BINANCEUS_API_KEY": KEY, "DESK_BINANCEUS_SECRET": SECRET}

ROUTES = {
    ("POST", "/api/v3/order"): "order_market_full.json",
    ("GET", "/api/v3/openOrders"): "openOrders.json",
    ("DELETE", "/api/v3/order"): "cancel_order.json",
    ("DELETE", "/api/v3/openOrders"): "cancel_openOrders.json",
    ("GET", "/api/v3/myTrades"): "myTrades.json",
    ("GET", "/api/v3/account"): "account.json",
}


class Venue(BinanceUS):
    """The feed's fake exchange plus the private endpoints the venue uses."""

    def send(self, request: Any, **kw: Any) -> Any:
        self._method = request.method
        return super().send(request, **kw)

    def _route(self, path: str, q: dict[str, str]) -> dict[str, Any]:
        name = ROUTES.get((self._method, path))
        return ok(fixture(name)) if name else super()._route(path, q)


def venue(server: Venue | None = None, **kw: Any) -> tuple[CcxtVenue, Venue, list[float]]:
    server = server or Venue()
    ex = binanceus(server, make_exchange("binanceus", env=ENV))
    sleeps: list[float] = []
    pol = BackoffPolicy(base_s=1.0, cap_s=4.0, max_attempts=4)
    r = Retrier(ex, pol, random.Random(3), sleeps.append)
    return CcxtVenue(ex, symbols=["BTC/USDT"], retrier=r, clock=lambda: NOW, **kw), server, sleeps


def cmd(cid: str, kind: str = "MARKET", **kw: Any) -> dict[str, Any]:
    base = {
        "event_id": event_id("cmd", cid),
        "ts_event": T0 + 60_000,
        "ts_ingest": T0 + 60_000,
        "source": "agent.risk",
        "correlation_id": "corr-1",
        "bot_id": "bot1",
        "venue": "binanceus",
        "account": "main",
        "command": "SUBMIT",
        "symbol": "BTC/USDT",
        "client_order_id": cid,
        "side": "BUY",
        "order_type": kind,
        "quantity": Decimal("0.01"),
        "limit_price": None,
        "time_in_force": "GTC",
        "decision_id": None,
        "reason": "",
    }
    return base | kw


def valid(name: str, *events: dict[str, Any]) -> None:
    reg = registry()
    for e in events:
        assert reg.decode(reg.encode(name, e)) == (name, e)


def kinds(events: list[dict[str, Any]]) -> list[str]:
    return ["Fill" if "trade_id" in e else "OrderEvent" for e in events]


# -- submit ---------------------------------------------------------------------------------


def test_market_submit_full_response_gives_filled_and_two_exact_fills() -> None:
    v, server, _ = venue()
    events = v.submit(cmd("bot1-0001"))
    assert kinds(events) == ["OrderEvent", "Fill", "Fill"]
    order, *fills = events
    valid("OrderEvent", order)
    valid("Fill", *fills)
    assert order["status"] == "FILLED" and order["filled_quantity"] == Decimal("0.01")
    assert (order["venue_order_id"], order["client_order_id"]) == ("4419001", "bot1-0001")
    assert (order["bot_id"], order["correlation_id"], order["order_type"]) == (
        "bot1",
        "corr-1",
        "MARKET",
    )
    assert [(f["trade_id"], f["price"], f["quantity"], f["fee"]) for f in fills] == [
        ("880001", Decimal("23142.31"), Decimal("0.006"), Decimal("0.13885386")),
        ("880002", Decimal("23150.77"), Decimal("0.004"), Decimal("0.09260308")),
    ]
    assert all(isinstance(f["price"], Decimal) and f["fill_model_bias"] is None for f in fills)
    assert {(f["fee_currency"], f["side"], f["bot_id"]) for f in fills} == {("USDT", "BUY", "bot1")}
    (sent,) = server.sent("POST", "/api/v3/order")
    assert sent["newClientOrderId"] == "bot1-0001"
    assert (sent["type"], sent["side"], sent["quantity"]) == ("MARKET", "BUY", "0.01")
    assert "signature" in sent and "price" not in sent
    assert v.submit(cmd("bot1-0001")) == events  # deterministic ids


@pytest.mark.parametrize(
    ("kind", "tif", "want"),
    [("LIMIT", "IOC", {"type": "LIMIT", "timeInForce": "IOC"}),
     ("LIMIT", "FOK", {"type": "LIMIT", "timeInForce": "FOK"}),
     ("POST_ONLY", "GTC", {"type": "LIMIT_MAKER"})],
)  # fmt: skip
def test_limit_and_post_only_requests(kind: str, tif: str, want: dict[str, str]) -> None:
    v, server, _ = venue()
    server.then("POST /api/v3/order", ok(fixture("order_limit_new.json")))
    price = Decimal("23137.77")
    (event,) = v.submit(cmd("bot1-0002", kind, limit_price=price, time_in_force=tif))
    valid("OrderEvent", event)
    assert (event["status"], event["filled_quantity"]) == ("ACCEPTED", Decimal(0))
    (sent,) = server.sent("POST", "/api/v3/order")
    assert {k: sent.get(k) for k in want} == want
    assert sent["price"] == "23137.77" and sent["newClientOrderId"] == "bot1-0002"
    if kind == "POST_ONLY":
        assert "timeInForce" not in sent


def test_insufficient_balance_is_a_one_line_reject_and_not_retried() -> None:
    v, server, sleeps = venue()
    server.then("POST /api/v3/order", "error_insufficient_balance.json")
    (event,) = v.submit(cmd("bot1-0009"))
    valid("OrderEvent", event)
    assert event["status"] == "REJECTED" and event["venue_order_id"] is None
    assert event["reason"].startswith("binanceus: InsufficientFunds:")
    assert "insufficient balance" in event["reason"] and "\n" not in event["reason"]
    assert len(server.sent("POST", "/api/v3/order")) == 1 and sleeps == []


def test_a_503_is_retried_after_checking_the_order_was_not_placed() -> None:
    v, server, sleeps = venue()
    server.then("POST /api/v3/order", "error_503.json")
    server.then("GET /api/v3/order", "error_order_does_not_exist.json")
    events = v.submit(cmd("bot1-0001"))
    assert events[0]["status"] == "FILLED"
    assert len(server.sent("POST", "/api/v3/order")) == 2
    (lookup,) = server.sent("GET", "/api/v3/order")
    assert lookup["origClientOrderId"] == "bot1-0001"
    assert len(sleeps) == 1 and [n for n, _ in v.retrier.retries] == ["ExchangeNotAvailable"]


def test_timeout_after_acceptance_finds_the_order_by_client_id_and_posts_once() -> None:
    v, server, _ = venue()
    server.then("POST /api/v3/order", {"raise": "timeout"})
    server.then("GET /api/v3/order", ok(fixture("order_bot1-0003.json")))
    price = Decimal("23128.52")
    (event,) = v.submit(cmd("bot1-0003", "POST_ONLY", limit_price=price))
    valid("OrderEvent", event)
    assert len(server.sent("POST", "/api/v3/order")) == 1  # exactly one order reached the venue
    assert (event["status"], event["venue_order_id"]) == ("ACCEPTED", "4419003")
    assert (event["order_type"], event["limit_price"]) == ("POST_ONLY", price)
    assert [n for n, _ in v.retrier.retries] == ["RequestTimeout"]


def test_transient_errors_past_the_budget_raise_instead_of_rejecting() -> None:
    v, server, _ = venue()
    server.then("POST /api/v3/order", "error_503.json")
    server.then("GET /api/v3/order", *["error_503.json"] * 3)
    with pytest.raises(FeedUnavailable, match="still failing after 4 attempts"):
        v.submit(cmd("bot1-0001"))
    assert len(server.sent("POST", "/api/v3/order")) == 1


def test_bad_symbol_and_auth() -> None:
    v, server, _ = venue()
    (event,) = v.submit(cmd("bot1-0005", symbol="DOGE/USDT"))
    assert event["status"] == "REJECTED" and "BadSymbol" in event["reason"]
    server.then("POST /api/v3/order", "error_invalid_api_key.json")
    with pytest.raises(VenueError) as info:
        v.submit(cmd("bot1-0006"))
    assert "AuthenticationError" in str(info.value) and "\n" not in str(info.value)


# -- cancels --------------------------------------------------------------------------------


def test_cancel_by_client_id_and_unknown_order_rejected() -> None:
    v, server, _ = venue()
    c = cmd("bot1-0002", command="CANCEL", order_type=None, side=None, quantity=None)
    (event,) = v.cancel(c)
    valid("OrderEvent", event)
    assert (event["status"], event["client_order_id"], event["bot_id"]) == (
        "CANCELED", "bot1-0002", "bot1"
    )  # fmt: skip
    assert server.sent("DELETE", "/api/v3/order")[0]["origClientOrderId"] == "bot1-0002"
    server.then("DELETE /api/v3/order", "error_unknown_order.json")
    (rej,) = v.cancel(c)
    valid("OrderEvent", rej)
    assert rej["status"] == "REJECTED" and "OrderNotFound" in rej["reason"]


def test_cancel_all_cancels_each_open_order() -> None:
    v, server, _ = venue()
    events = v.cancel_all()
    valid("OrderEvent", *events)
    assert [(e["client_order_id"], e["status"]) for e in events] == [
        ("bot1-0002", "CANCELED"), ("bot2-0001", "CANCELED")
    ]  # fmt: skip
    assert events[1]["filled_quantity"] == Decimal("0.004")
    assert [q["symbol"] for q in server.sent("DELETE", "/api/v3/openOrders")] == ["BTCUSDT"]
    server.then("DELETE /api/v3/openOrders", "error_unknown_order.json")  # nothing open
    assert v.cancel_all("BTC/USDT") == []


# -- the venue's view -----------------------------------------------------------------------


def test_report_is_the_venues_own_view() -> None:
    v, server, _ = venue()
    report = v.report(since=T0)
    valid("VenueReport", report)
    assert server.sent("GET", "/api/v3/myTrades")[0]["startTime"] == str(T0)
    assert [(f["trade_id"], f["side"], f["client_order_id"]) for f in report["fills"]] == [
        ("880001", "BUY", ""), ("880002", "BUY", ""), ("880003", "SELL", "")
    ]  # fmt: skip
    assert report["balances"] == [
        {"asset": "BTC", "total": Decimal("0.012"), "free": Decimal("0.006")},
        {"asset": "USDT", "total": Decimal("9767.9554"), "free": Decimal("9305.2")},
    ]
    assert report["positions"] == [
        {"symbol": "BTC/USDT", "quantity": Decimal("0.012"), "avg_price": None}
    ]
    assert [(o["client_order_id"], o["remaining"]) for o in report["open_orders"]] == [
        ("bot1-0002", Decimal("0.02")), ("bot2-0001", Decimal("0.006"))
    ]  # fmt: skip
    trades = v.my_trades(T0)
    valid("Fill", *trades)
    assert [t["liquidity"] for t in trades] == ["TAKER", "TAKER", "MAKER"]


# -- live safety and secrets ----------------------------------------------------------------


def test_live_needs_config_and_env() -> None:
    token = {"DESK_LIVE_TRADING": "I_UNDERSTAND"}
    assert live_allowed(True, token)
    assert not live_allowed(False, token)
    assert not live_allowed(True, {"DESK_LIVE_TRADING": "yes"})
    assert not live_allowed(True, {})


def test_make_venue_refuses_live_and_uses_the_sandbox() -> None:
    with pytest.raises(VenueError, match="refusing to trade live on binanceus"):
        make_venue("binanceus", live_config=True, sandbox=False, env=ENV)
    with pytest.raises(VenueError, match="DESK_BINANCEUS_API_KEY"):
        make_venue("binanceus", live_config=False, sandbox=True, env={})
    v = make_venue("binanceus", live_config=False, sandbox=True, env=ENV)
    assert "testnet" in json.dumps(v.exchange.urls["api"])
    live = make_venue(
        "binanceus",
        live_config=True,
        sandbox=False,
        env=ENV | {"DESK_LIVE_TRADING": "I_UNDERSTAND"},
    )
    assert (live.exchange.apiKey, live.exchange.secret) == (KEY, SECRET)
    kraken_env = {"DESK_KRAKEN_API_KEY": KEY, "DESK_KRAKEN_SECRET": SECRET}
    if "test" not in ccxt.kraken().urls:
        with pytest.raises(VenueError, match="kraken has no sandbox"):
            make_venue("kraken", live_config=False, sandbox=True, env=kraken_env)


def test_keys_never_appear_in_events_errors_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    v, server, _ = venue()
    server.then("POST /api/v3/order", "error_503.json", "error_insufficient_balance.json")
    server.then("POST /api/v3/order", {"raise": "timeout"})
    server.then("GET /api/v3/order", "error_order_does_not_exist.json")
    server.then("GET /api/v3/order", ok(fixture("order_bot1-0003.json")))
    out: list[Any] = [v.submit(cmd("bot1-0001")), v.submit(cmd("bot1-0003")), v.report(T0)]
    with pytest.raises(VenueError) as info:
        make_venue("binanceus", live_config=True, sandbox=False, env=ENV)
    out.append(str(info.value))
    assert "X-MBX-APIKEY" in caplog.text  # ccxt's own DEBUG log of the headers ran...
    text = json.dumps(out, default=str) + caplog.text + repr(v.retrier.retries)
    assert KEY not in text and SECRET not in text  # ...redacted


# -- the desk's sandbox/live accounts behind one router -------------------------------------


def test_ccxt_desk_routes_commands_and_publishes_each_execution_once() -> None:
    from connectors.venues.ccxt_desk import CcxtDesk
    from streams.config import DEFAULT_CONFIG, parse_config

    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data["bots"] = [
        {"id": b, "strategy": "mm_epp", "venue": "binanceus", "symbols": ["BTC/USDT"],
         "fee_profile": "binanceus_base", "starting_cash": "10000"} for b in ("bot1", "bot2")
    ]  # fmt: skip
    data["venues"] = {"binanceus": {"mode": "sandbox"}}
    made: list[tuple[str, str, bool, list[str]]] = []

    def factory(exchange: str, account: str, sandbox: bool, symbols: list[str]) -> CcxtVenue:
        made.append((exchange, account, sandbox, symbols))
        return venue()[0]

    desk = CcxtDesk(parse_config(data), factory)
    assert made == [("binanceus", "main", True, ["BTC/USDT"])]
    routed = desk.on_command(cmd("bot1-0001"))
    assert [(t, k) for t, k, _e in routed] == [
        ("orders.events", "binanceus:main"), ("fills", "binanceus:main"),
        ("fills", "binanceus:main")]  # fmt: skip
    assert {e["bot_id"] for _t, _k, e in routed} == {"bot1"}
    canceled = desk.on_command(cmd("x", command="CANCEL_ALL", symbol=None, bot_id="bot1"))
    assert [e["status"] for _t, _k, e in canceled] == ["CANCELED", "CANCELED"]
    polled = desk.poll()
    fills = [e for t, _k, e in polled if t == "fills"]
    # 880001/880002 came with the submit; 880003 is bot2's order (learned from the cancel)
    assert [(f["trade_id"], f["bot_id"]) for f in fills] == [("880003", "bot2")]
    valid("Fill", *fills)
    assert [t for t, _k, _e in desk.poll()] == ["venue.reports"]  # nothing twice
    assert desk.on_command(cmd("y", venue="sample")) == []  # a paper account: not ours


def test_the_shell_node_emits_what_the_desk_routes_keyed_as_the_desk_keys() -> None:
    """The agent shell keys by the topic catalog (``key_of``): for every event the exchange
    desk routes, that is the account key the desk itself names."""
    from connectors.venues.ccxt_agent import CcxtVenueNode
    from connectors.venues.ccxt_desk import CcxtDesk
    from streams.config import DEFAULT_CONFIG, parse_config
    from streams.topics import key_of

    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data["bots"] = [{"id": "bot1", "strategy": "mm_epp", "venue": "binanceus",
                     "symbols": ["BTC/USDT"], "fee_profile": "binanceus_base",
                     "starting_cash": "10000"}]  # fmt: skip
    data["venues"] = {"binanceus": {"mode": "sandbox"}}
    twin = CcxtDesk(parse_config(data), lambda *a: venue()[0])
    node = CcxtVenueNode(CcxtDesk(parse_config(data), lambda *a: venue()[0]))
    assert node.blocking and node.timer_seconds > 0

    class Ctx:
        def __init__(self) -> None:
            self.events: list[tuple[str, dict[str, Any]]] = []

        def emit(self, topic: str, event: dict[str, Any]) -> None:
            self.events.append((topic, event))

    for call, direct in ((lambda c: node.handle("orders.commands", cmd("bot1-0001"), c),
                          lambda: twin.on_command(cmd("bot1-0001"))),
                         (node.poll, twin.poll)):  # fmt: skip
        ctx = Ctx()
        call(ctx)
        routed = direct()
        assert ctx.events and ctx.events == [(t, e) for t, _k, e in routed]
        assert [key_of(t, e) for t, e in ctx.events] == [k for _t, k, _e in routed]
