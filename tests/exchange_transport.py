"""A fake api.binance.us under a real ccxt exchange: ``requests`` transport, fixture bodies.

Shared by the feed and venue tests. Nothing of ccxt is mocked: the adapter is
mounted on the real ``ccxt.binanceus`` object's session and answers its HTTP
requests from raw Binance.US REST payloads (tests/fixtures/exchange/binanceus),
so ccxt's request building and signing, rate limiter, HTTP-status/error mapping
and parsers all run.
"""

from __future__ import annotations

import http
import json
import time
from collections import defaultdict, deque
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import ccxt
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from connectors.feeds.ccxt_feed import make_exchange

FIX = Path(__file__).resolve().parent / "fixtures" / "exchange" / "binanceus"


class BinanceUS(BaseAdapter):
    """Answers ccxt's HTTP requests like api.binance.us would, from the fixture payloads.

    ``now_ms`` is the exchange's clock: klines opening after it do not exist
    yet and the one still open is served as its forming snapshot. ``script``
    queues raw responses per path, or per ``"METHOD path"`` (checked first),
    answered before the fixtures ("429, then 503, then OK"); a spec
    ``{"raise": "timeout"}`` makes the transport time out instead of answering.
    ``calls`` records every request (path, query, monotonic time); ``requests``
    records (method, path, query and form params) for signed endpoints.
    """

    def __init__(self, now_ms: Callable[[], int | None] = lambda: None) -> None:
        super().__init__()
        self.now_ms = now_ms
        self.script: dict[str, deque[dict[str, Any]]] = defaultdict(deque)
        self.calls: list[tuple[str, dict[str, str], float]] = []
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.klines_ignore_since = False

    def paths(self, path: str) -> list[dict[str, str]]:
        return [q for p, q, _ in self.calls if p == path]

    def sent(self, method: str, path: str) -> list[dict[str, str]]:
        """Params (query and form body) of every ``method path`` request."""
        return [q for m, p, q in self.requests if (m, p) == (method, path)]

    def then(self, path: str, *names_or_specs: str | dict[str, Any]) -> None:
        for x in names_or_specs:
            self.script[path].append(fixture(x) if isinstance(x, str) else x)

    def send(self, request: Any, **_kw: Any) -> requests.Response:  # type: ignore[override]
        url = urlsplit(request.url)
        assert url.netloc == "api.binance.us", url.netloc
        query = dict(parse_qsl(url.query))
        self.calls.append((url.path, query, time.monotonic()))
        body = request.body.decode() if isinstance(request.body, bytes) else request.body
        self.requests.append((request.method, url.path, query | dict(parse_qsl(body or ""))))
        for key in (f"{request.method} {url.path}", url.path):
            if self.script[key]:
                spec = self.script[key].popleft()
                if spec.get("raise") == "timeout":
                    raise requests.exceptions.ReadTimeout("read timed out (fixture)")
                return _response(request, spec)
        return _response(request, self._route(url.path, query))

    def _route(self, path: str, q: dict[str, str]) -> dict[str, Any]:
        now = self.now_ms()
        if path == "/api/v3/exchangeInfo":
            return ok(fixture("exchangeInfo.json"))
        if path == "/api/v3/time":
            return ok({"serverTime": now} if now is not None else fixture("time.json"))
        if path == "/api/v3/depth":
            name = f"depth_{q['symbol']}.json"
            if not (FIX / name).exists():
                return fixture("error_bad_symbol.json")
            book = fixture(name)
            n = int(q.get("limit", 100))
            return ok({**book, "bids": book["bids"][:n], "asks": book["asks"][:n]})
        if path == "/api/v3/klines":
            return self._klines(q, now)
        return {"status": 404, "headers": {}, "body": ""}

    def _klines(self, q: dict[str, str], now: int | None) -> dict[str, Any]:
        name = f"klines_{q['symbol']}_{q['interval']}.json"
        if not (FIX / name).exists():
            return fixture("error_bad_symbol.json")
        final, forming = fixture(name), {}
        if (FIX / name.replace(".json", "_forming.json")).exists():
            forming = {r[0]: r for r in fixture(name.replace(".json", "_forming.json"))}
        rows = [r for r in final if now is None or r[0] <= now]
        rows = [forming.get(r[0], r) if now is not None and r[6] >= now else r for r in rows]
        limit = int(q.get("limit", 500))
        if "startTime" in q and not self.klines_ignore_since:
            rows = [r for r in rows if r[0] >= int(q["startTime"])][:limit]
        else:  # Binance without startTime: the latest `limit` bars
            rows = rows[-limit:]
        return ok(rows)

    def close(self) -> None:
        pass


def fixture(name: str) -> Any:
    return json.loads((FIX / name).read_text())


def ok(payload: Any) -> dict[str, Any]:
    return {
        "status": 200,
        "headers": {"Content-Type": "application/json;charset=UTF-8"},
        "body": json.dumps(payload),
    }


def _response(request: Any, spec: dict[str, Any]) -> requests.Response:
    r = requests.Response()
    r.status_code = spec["status"]
    r.reason = http.HTTPStatus(spec["status"]).phrase
    r.headers = CaseInsensitiveDict(spec.get("headers", {}))
    r._content = spec["body"].encode()
    r.encoding = "utf-8"
    r.url = request.url
    r.request = request
    return r


def binanceus(server: BinanceUS, exchange: ccxt.Exchange | None = None) -> ccxt.Exchange:
    """The real ccxt exchange with our transport mounted under its requests session."""
    ex = exchange or make_exchange("binanceus", env={})
    ex.session.mount("https://", server)
    return ex
