"""The one place that keeps secrets out of text: log lines, dead letters, alert errors.

``redact(text)`` removes

* every **known secret value** — alert route URLs (their ``url_env``), DSNs, API
  keys and secrets from the environment — and its partial forms: the password
  alone, the ``user:password`` userinfo, the URL without its scheme, the path and
  query of a webhook URL, query values, and their URL-encoded and escaped
  spellings (an exception may show any of them: ``nonnumeric port: 'pass@host'``);
* any ``scheme://user:password@`` (and bare ``user:password@host``) userinfo;
* ``password=``/``token=``/``apikey=``/``secret=`` parameters (query strings,
  libpq DSNs), ``Authorization:`` headers and ``Bearer`` tokens.

Secrets are registered once (:func:`register`, :func:`configure`); the patterns
are compiled when the set changes, never per call. :class:`RedactingFilter` is
the logging side; :func:`install_log_redaction` applies it to every record the
process creates (a filter on the root logger alone does not see records that
propagate up from child loggers).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlsplit

MASK = "***"
MIN_SECRET_CHARS = 4  # shorter values would blank out ordinary words

# environment variables whose value is a secret, whatever the prefix
SECRET_ENV_NAME = re.compile(r"(?i)(secret|passw|token|api_?key|dsn|webhook|credential)")
SECRET_ENV_ALWAYS = ("DESK_POSTGRES_DSN", "DESK_CLICKHOUSE_URL")

_SECRET_WORD = r"password|passwd|token|secret|api_?key|apikey|signature"
_WORDS = ("pass", "pwd", "token", "secret", "key", "signature")  # cheap pre-checks
_NOT_MASKED = r"(?!\*\*\*)"


def _has_word(text: str, lower: str) -> bool:
    return any(w in lower for w in _WORDS)


# (pre-check on the text and its lower case, pattern, replacement); a pattern runs only
# when its pre-check passes, so a plain log line costs a few substring tests
_GENERIC: tuple[tuple[Callable[[str, str], bool], re.Pattern[str], str], ...] = (
    # scheme://user:password@host -> scheme://user:***@host (the authority ends at / ? #)
    (
        lambda t, _l: "@" in t and "://" in t,
        re.compile(r"(\b[A-Za-z][\w+.-]*://[^\s:/@?#'\"]*:)[^\s/?#'\"]*@"),
        rf"\1{MASK}@",
    ),
    # user:password@host without a scheme
    (
        lambda t, _l: "@" in t,
        re.compile(rf"(?<![\w:/.%+*-])([\w.%+-]+):{_NOT_MASKED}[^\s:/@?#'\"]+@(?=[\w\[])"),
        rf"\1:{MASK}@",
    ),
    # password=... token=... apikey=... in a query string or a libpq DSN
    (
        lambda t, low: "=" in t and _has_word(t, low),
        re.compile(rf"(?i)((?:{_SECRET_WORD}|\bpwd)\s*=\s*){_NOT_MASKED}[^\s&'\",;]+"),
        rf"\1{MASK}",
    ),
    # "password": "..." in JSON-ish text
    (
        lambda t, low: '"' in t and _has_word(t, low),
        re.compile(rf'(?i)("[\w.-]*(?:{_SECRET_WORD}|pwd)"\s*:\s*")[^"]*"'),
        rf'\1{MASK}"',
    ),
    # Authorization: Bearer/Basic ..., bare bearer tokens
    (
        lambda _t, low: "authorization" in low,
        re.compile(
            r"(?i)(\bauthorization['\"]?\s*[:=]\s*['\"]?(?:bearer|basic|token)?\s*)"
            rf"{_NOT_MASKED}[^\s'\",]+"
        ),
        rf"\1{MASK}",
    ),
    (
        lambda _t, low: "bearer" in low,
        re.compile(rf"(?i)(\bbearer\s+){_NOT_MASKED}[A-Za-z0-9._~+/=-]{{8,}}"),
        rf"\1{MASK}",
    ),
)


def _spellings(part: str) -> set[str]:
    """How one secret may be written in an error or a log line."""
    out = {part, unquote(part), quote(part, safe=""), quote(part, safe="/:@"), quote_plus(part)}
    out.add(part.encode("unicode_escape").decode("ascii"))
    out.add(ascii(part)[1:-1])
    with contextlib.suppress(UnicodeError):
        out.add(part.encode("idna").decode("ascii"))
    return out


_NO_SECRET_SCHEMES = ("chdb", "file")  # a local path: nothing to hide
_DSN_SCHEMES = ("postgres", "clickhouse", "mysql", "redis", "mongodb", "amqp", "kafka")


def variants(value: str) -> set[str]:
    """The secret and the partial forms that give it away (each at least a few chars).

    A URL's path and query are secret too (a webhook's path is its token), unless the
    URL is a database DSN (``postgresql://``...): then the path is a database name."""
    value = value.strip()
    if len(value) < MIN_SECRET_CHARS:
        return set()
    parts = {value}
    scheme, sep, rest = value.partition("://")
    scheme = scheme.lower() if sep else ""
    if scheme.startswith(_NO_SECRET_SCHEMES):
        return set()
    if sep or "@" in value:  # a URL or DSN: its parts give it away too
        rest = rest if sep else value
        parts.add(rest)  # the URL without its scheme
        try:
            url = urlsplit("//" + rest)
            netloc, path, query = url.netloc, url.path, url.query
        except ValueError:
            netloc, path, query = "", "", ""
        userinfo, at, hostport = netloc.rpartition("@")
        password = userinfo.partition(":")[2] if at else ""
        if at:
            parts.update((userinfo, password))
        path_secret = not scheme.startswith(_DSN_SCHEMES)
        if path_secret and (path not in ("", "/") or query):
            tail = path + (f"?{query}" if query else "")
            parts.update((tail, hostport + tail))
            if path not in ("", "/"):
                parts.add(path)
        if query:
            parts.add(query)
            parts.update(v for _k, v in parse_qsl(query, keep_blank_values=True))
    out: set[str] = set()
    for p in parts:
        if len(p) >= MIN_SECRET_CHARS:
            out.update(s for s in _spellings(p) if len(s) >= MIN_SECRET_CHARS)
    return out


class Redactor:
    """Known secret values and the generic patterns; cheap to call, safe across threads."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._known: set[str] = set()  # registered values
        self._forms: set[str] = set()  # their spellings
        self._pattern: re.Pattern[str] | None = None
        self.register(*secrets)

    def register(self, *secrets: str | None) -> None:
        new = {s for s in secrets if s and s not in self._known}
        if not new:
            return
        with self._lock:
            forms = set(self._forms)
            for s in new:
                forms |= variants(s)
            self._known |= new
            if forms != self._forms:
                alternatives = sorted(forms, key=lambda f: (-len(f), f))  # longest first
                self._pattern = re.compile("|".join(re.escape(f) for f in alternatives))
                self._forms = forms

    def __contains__(self, secret: str) -> bool:
        return secret in self._known

    def __call__(self, text: str) -> str:
        pattern = self._pattern
        if pattern is not None:
            text = pattern.sub(MASK, text)
        return redact_generic(text)


def redact_generic(text: str) -> str:
    """Only the patterns (userinfo, ``password=``..., bearer tokens): a DSN keeps its host."""
    lower = text.lower()
    for applies, rx, repl in _GENERIC:
        if applies(text, lower):
            text = rx.sub(repl, text)
    return text


_REDACTOR = Redactor()


def redactor() -> Redactor:
    return _REDACTOR


def redact(text: str) -> str:
    """``text`` with every known secret and every credential-looking part masked."""
    return _REDACTOR(text)


def register(*secrets: str | None) -> None:
    """Make these values (and their partial forms) known secrets, process-wide."""
    _REDACTOR.register(*secrets)


def env_secrets(env: Mapping[str, str], names: Iterable[str] = ()) -> list[str]:
    """Secret values in the environment: the named variables, the desk's DSNs and any
    variable named like a secret (``*_SECRET``, ``*_API_KEY``, ``*TOKEN*``, ``*_DSN``...)."""
    wanted = set(names) | set(SECRET_ENV_ALWAYS)
    return [v for k, v in env.items() if v and (k in wanted or SECRET_ENV_NAME.search(k))]


def configure(config: Any = None, env: Mapping[str, str] | None = None) -> Redactor:
    """Register the environment's secrets and the config's alert route URLs."""
    env = os.environ if env is None else env
    routes = getattr(config, "alert_routes", None) or ()
    _REDACTOR.register(*env_secrets(env, [r.url_env for r in routes if r.url_env]))
    return _REDACTOR


def one_line(text: str, limit: int | None = None) -> str:
    """Redacted, whitespace collapsed, then cut (a cut never leaves half a secret behind)."""
    line = " ".join(redact(text).split())
    return line if limit is None else line[:limit]


def error_text(exc: BaseException, limit: int = 300) -> str:
    """``Type: message`` of an exception, redacted, as one bounded line."""
    return one_line(f"{type(exc).__name__}: {str(exc).strip() or '(no message)'}", limit)


class RedactingFilter(logging.Filter):
    """Masks secrets in a record's message, exception and stack text (always passes it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        scrub(record)
        return True


def scrub(record: logging.LogRecord) -> logging.LogRecord:
    if getattr(record, "_desk_redacted", False):
        return record
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: logging reports it later; mask what we have
        message = f"{record.msg} {record.args}"
    clean = redact(message)
    if clean != message or record.args:
        record.msg, record.args = clean, ()  # a tuple: mode's formatter wraps None as (None,)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    elif record.exc_info:
        text = logging.Formatter().formatException(record.exc_info)
        clean_exc = redact(text)
        if clean_exc != text:  # handlers use exc_text; none may render the raw one again
            record.exc_text, record.exc_info = clean_exc, None
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    record._desk_redacted = True  # type: ignore[attr-defined]
    return record


_INSTALLED = False


def install_log_redaction(config: Any = None, env: Mapping[str, str] | None = None) -> None:
    """Redact every log record this process creates (any logger, any handler, later ones
    too): the record factory runs the filter; the filter also sits on the root logger and
    its current handlers. Idempotent."""
    global _INSTALLED
    configure(config, env)
    if _INSTALLED:
        return
    _INSTALLED = True
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return scrub(previous(*args, **kwargs))

    logging.setLogRecordFactory(factory)
    root = logging.getLogger()
    f = RedactingFilter()
    root.addFilter(f)
    for h in root.handlers:
        h.addFilter(f)
