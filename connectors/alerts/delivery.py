"""Delivering one alert to one route: a JSON line, a webhook POST or an ntfy message.

URLs are secrets (a webhook URL is its own credential): a route names the
environment variable that holds it, and the value is never logged, never put in
an error message and never written to an artifact; a dry run writes the request
it would send with the URL withheld. The URL is registered with
``streams.redact`` the moment it is read, so no log line, dead letter or error of
this process can show it (nor its password, userinfo or path) afterwards.

``deliver`` never raises: every failure, whatever its type (a malformed URL, a
full disk, a bug), comes back as a ``failed`` outcome with one redacted line.
Network failures, 429 and 5xx are worth retrying; a malformed URL or any other
refusal is not. A URL with ``user:password@`` is sent with HTTP basic auth (ntfy
and most receivers take it), never with the credentials in the request line.
"""

from __future__ import annotations

import base64
import json
import os
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from streams import redact
from streams.config import AlertRoute

PRIORITY = {"INFO": "3", "WARNING": "4", "CRITICAL": "5"}


class BadURL(ValueError):
    """The route's URL cannot be used; the message never quotes the URL."""


def prepare_url(url: str) -> tuple[str, dict[str, str]]:
    """The URL to request and its extra headers: credentials moved to a basic-auth header,
    non-ASCII host/path/query encoded. Raises :class:`BadURL` (no part of the URL in it)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port  # raises on a non-numeric or out-of-range port
        host = parts.hostname
    except ValueError:
        raise BadURL("malformed URL (bad port or host)") from None
    if parts.scheme not in ("http", "https"):
        raise BadURL("URL needs an http:// or https:// scheme")
    if not host:
        raise BadURL("URL has no host")
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise BadURL("URL host is not a valid domain name") from None
    if ":" in ascii_host:  # IPv6
        ascii_host = f"[{ascii_host}]"
    netloc = ascii_host + (f":{port}" if port is not None else "")
    safe = "/%:@!$&'()*+,;=-._~"
    path, query = quote(parts.path, safe=safe), quote(parts.query, safe=safe + "?")
    headers: dict[str, str] = {}
    if parts.username is not None or parts.password is not None:
        cred = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
        headers["Authorization"] = "Basic " + base64.b64encode(cred.encode()).decode("ascii")
    return urlunsplit((parts.scheme, netloc, path, query, "")), headers


@dataclass(frozen=True)
class Outcome:
    outcome: str  # sent | dry_run | failed
    status_code: int | None = None
    error: str | None = None
    artifact: str | None = None
    retry: bool = False


def alert_text(alert: Mapping[str, Any]) -> str:
    where = " ".join(x for x in (alert.get("bot_id"), alert.get("venue"), alert.get("symbol")) if x)
    head = f"[{alert['severity']}] {alert['title']}" + (f" ({where})" if where else "")
    return f"{head}: {alert['message']}"


def plain_alert(alert: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("event_id", "ts_event", "source", "severity", "dedup_key", "title", "message",
            "bot_id", "venue", "symbol")  # fmt: skip
    return {k: alert.get(k) for k in keys} | {"evidence": dict(alert.get("evidence") or {})}


class Deliverer:
    """One route's sink; ``env`` holds the URLs (the process environment by default)."""

    def __init__(
        self,
        route: AlertRoute,
        data_dir: Path,
        env: Mapping[str, str] | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.route, self.data_dir, self.timeout_s = route, data_dir, timeout_s
        self._env = os.environ if env is None else env

    @property
    def _url(self) -> str | None:
        url = self._env.get(self.route.url_env or "") or None
        if url is not None and url not in redact.redactor():
            redact.register(url)  # from now on no text of this process can show it
        return url

    def scrub(self, text: str) -> str:
        """One line with the URL (in any spelling) and any credential masked."""
        _ = self._url  # registers the URL
        return redact.one_line(text, 300)

    def request(self, alert: Mapping[str, Any]) -> tuple[dict[str, str], bytes]:
        """The headers and body this route sends (webhook: Slack/Discord-style JSON)."""
        text = alert_text(alert)
        if self.route.kind == "ntfy":
            headers = {"Title": str(alert["title"])[:200], "Priority": PRIORITY[alert["severity"]],
                       "Tags": f"deskplane,{alert['severity'].lower()}"}  # fmt: skip
            return headers, text.encode()
        body = {"text": text, "content": text[:2000], "alert": plain_alert(alert)}
        return {"Content-Type": "application/json"}, json.dumps(body, sort_keys=True).encode()

    def deliver(self, alert: Mapping[str, Any]) -> Outcome:
        """Never raises: any failure is a ``failed`` outcome with one redacted line."""
        try:
            return self._deliver(alert)
        except urllib.error.HTTPError as exc:
            retry = exc.code == 429 or exc.code >= 500
            return Outcome("failed", exc.code, self.scrub(f"HTTP {exc.code} {exc.reason}"),
                           retry=retry)  # fmt: skip
        except BadURL as exc:
            return Outcome("failed", error=f"{self.route.url_env}: {exc}")
        except OSError as exc:  # refused, timeout, DNS; a file route's disk
            return Outcome("failed", error=self._error(exc), retry=True)
        except Exception as exc:  # anything else (a bug too) is final
            return Outcome("failed", error=self._error(exc))

    def _error(self, exc: BaseException) -> str:
        _ = self._url  # registers the URL
        return redact.error_text(exc, 300)

    def _deliver(self, alert: Mapping[str, Any]) -> Outcome:
        if self.route.kind == "file":
            return self._to_file(alert)
        headers, body = self.request(alert)
        if self.route.dry_run:
            return self._dry_run(alert, headers, body)
        url = self._url
        if url is None:
            return Outcome("failed", error=f"environment variable {self.route.url_env} is not set")
        target, auth = prepare_url(url)
        req = urllib.request.Request(target, data=body, headers=headers | auth, method="POST")
        with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
            return Outcome("sent", status_code=resp.status)

    def _path(self, relative: str) -> Path:
        path = Path(relative)
        return path if path.is_absolute() else self.data_dir / path

    def _to_file(self, alert: Mapping[str, Any]) -> Outcome:
        path = self._path(self.route.path or "alerts.jsonl")
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(plain_alert(alert), sort_keys=True) + "\n")
        return Outcome("sent", artifact=str(path))

    def _dry_run(self, alert: Mapping[str, Any], headers: dict[str, str], body: bytes) -> Outcome:
        path = self.data_dir / "alerts" / "dry-run" / f"{alert['event_id']}-{self.route.name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        artifact = {"route": self.route.name, "kind": self.route.kind, "method": "POST",
                    "url": f"<withheld: {self.route.url_env}>", "headers": headers,
                    "body": body.decode()}  # fmt: skip
        path.write_text(json.dumps(artifact, indent=2, sort_keys=True) + "\n")
        return Outcome("dry_run", artifact=str(path))
