"""One interface to the analytics store, reached directly or through its owner.

chDB lets one process open a data path. While the desk runs, the stack process
owns the embedded store and serves ``/clickhouse/query`` and
``/clickhouse/insert`` on its local endpoint; the sink in the worker and any
command (``desk sql``, the dashboard) go through it. With a ClickHouse server, or
when no desk runs, they open the store directly. Either way a query returns the
same :class:`QueryResult` (values made JSON-safe the same way), so the same SQL
gives the same answer.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from streams.decimals import tidy
from streams.errors import DeskError

READONLY = {"readonly": 2}  # no writes; settings inside a query (views use them) still allowed
# reads that would reach past the store: local files (the .env), URLs, other databases
_OUTSIDE = re.compile(
    r"\bINTO\s+OUTFILE\b|\b(file|url|s3|s3Cluster|gcs|hdfs|remote|remoteSecure|cluster|mysql"
    r"|postgresql|mongodb|redis|sqlite|jdbc|odbc|executable|azureBlobStorage|deltaLake|iceberg"
    r"|hudi|input|fileCluster|urlCluster)\s*\(",
    re.IGNORECASE,
)
_READS = ("SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXPLAIN", "EXISTS", "(")


class StoreUnavailable(DeskError):
    """The store could not be reached (worth retrying)."""


class StoreRefused(DeskError):
    """The store refused the statement or the data (not worth retrying)."""


def jsonable(value: Any) -> Any:
    """A query value as JSON: exact decimals as strings, times in ISO form."""
    if isinstance(value, Decimal):
        return format(tidy(value), "f")
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID | bytes):
        return str(value) if isinstance(value, uuid.UUID) else value.decode(errors="replace")
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    types: list[str]
    rows: list[list[Any]]

    def to_json(self) -> dict[str, Any]:
        return {"columns": self.columns, "types": self.types, "rows": self.rows}


def _code(sql: str) -> str:
    """``sql`` with comments removed and every quoted literal or name blanked to ``''``:
    what is left is the statement's structure (a ``;`` inside a string is not an end)."""
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if sql.startswith("--", i) or ch == "#":
            i = sql.find("\n", i)
            i = n if i < 0 else i
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = n if end < 0 else end + 2
            out.append(" ")
        elif ch in "'\"`":
            j = i + 1
            while j < n and sql[j] != ch:
                j += 2 if sql[j] == "\\" else 1
            out.append("''")
            i = j + 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def check_read_only(sql: str) -> str:
    """One statement that reads (chDB keeps a ``readonly`` setting for the rest of the
    session, so for chDB this check is the guard; servers also get ``readonly=2``)."""
    body = sql.strip().rstrip(";").strip()
    code = _code(body).strip().rstrip(";").strip()
    if not code:
        raise StoreRefused("empty query")
    if ";" in code:
        raise StoreRefused("one statement at a time")
    if not code.upper().lstrip("( \n\t").startswith(_READS):
        raise StoreRefused(f"read-only: {code.split()[0]} is not a query (SELECT, WITH, SHOW...)")
    outside = _OUTSIDE.search(code)
    if outside:
        raise StoreRefused(f"the store's own tables only: {outside.group(0).strip()} is refused")
    return body


@dataclass(frozen=True)
class MigrationReport:
    """What ``migrate`` did: the migrations it applied now and the schema version after."""

    applied_now: list[str]
    schema_version: int
    retention: dict[str, int]  # table -> days kept (tables kept forever are left out)

    def to_json(self) -> dict[str, Any]:
        return {
            "applied_now": self.applied_now,
            "schema_version": self.schema_version,
            "retention": self.retention,
        }


class Store(Protocol):
    def query(self, sql: str) -> QueryResult: ...

    def insert(self, table: str, json_each_row: bytes) -> None: ...

    def migrate(self, retention: dict[str, int]) -> MigrationReport: ...


# ClickHouse error codes that say "not now" rather than "never": a sink retries them
# instead of setting the rows aside (timeouts, memory, too many parts or queries, network,
# an insert whose outcome is unknown, a cancelled or aborted query, a read-only replica)
TRANSIENT_CODES = frozenset({159, 160, 164, 202, 209, 210, 236, 241, 242, 252, 319, 394, 425})
_CODE = re.compile(r"\bCode:\s*(\d+)")


# ... but a code can say both: 252 is "too many parts" (merges will catch up: retry) and
# "too many partitions for single INSERT block" (this batch never goes in as it is)
NEVER_ON_RETRY = ("Too many partitions for single INSERT block",)
# a sink batch spans as many days as its events: a replay of daily bars, or of years of
# hourly ones, puts hundreds of daily partitions in one insert (the default allows 100)
INSERT_SETTINGS = {"max_partitions_per_insert_block": 10_000}


def refusal_or_outage(exc: BaseException) -> DeskError:
    """A database error as the sinks must treat it: ``StoreUnavailable`` (retry) for a
    transient ClickHouse code, ``StoreRefused`` (set aside) for anything else."""
    m = _CODE.search(str(exc))
    if any(s in str(exc) for s in NEVER_ON_RETRY):
        return StoreRefused(_first_line(exc))
    if m and int(m.group(1)) in TRANSIENT_CODES:
        return StoreUnavailable(_first_line(exc))
    return StoreRefused(_first_line(exc))


def _first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:400]


class DirectStore:
    """A clickhouse-connect client (a ``chdb://`` path this process owns, or HTTP)."""

    def __init__(self, client: Any, chdb: bool = False) -> None:
        self.client = client
        self.settings = {} if chdb else READONLY

    def query(self, sql: str) -> QueryResult:
        from clickhouse_connect.driver.exceptions import DatabaseError

        body = check_read_only(sql)
        try:
            res = self.client.query(body, settings=self.settings)
        except DatabaseError as exc:
            raise refusal_or_outage(exc) from None
        except Exception as exc:
            raise StoreUnavailable(_first_line(exc)) from None
        names, types = list(res.column_names), [t.name for t in res.column_types]
        if not names and body.upper().lstrip("( \n\t").startswith(("SELECT", "WITH", "(")):
            names, types = self._columns(body)  # chDB sends no header with an empty result
        return QueryResult(names, types, jsonable(res.result_rows))

    def _columns(self, body: str) -> tuple[list[str], list[str]]:
        """The result's columns without running it (``DESCRIBE`` of the query)."""
        try:
            rows = self.client.query(f"DESCRIBE ({body})", settings=self.settings).result_rows
        except Exception:
            return [], []  # the query ran: a missing header is no reason to fail it
        return [r[0] for r in rows], [r[1] for r in rows]

    def insert(self, table: str, json_each_row: bytes) -> None:
        from clickhouse_connect.driver.exceptions import DatabaseError

        try:
            self.client.raw_insert(
                table, insert_block=json_each_row, fmt="JSONEachRow", settings=INSERT_SETTINGS
            )
        except DatabaseError as exc:
            raise refusal_or_outage(exc) from None
        except Exception as exc:
            raise StoreUnavailable(_first_line(exc)) from None

    def migrate(self, retention: dict[str, int]) -> MigrationReport:
        """Pending migrations, then each event table's TTL set to ``retention`` (days)."""
        from analytics.store import apply_retention, migrate, schema_version

        ran = migrate(self.client)
        kept = apply_retention(self.client, retention)
        return MigrationReport(
            [f"{m.version:04d}_{m.name}" for m in ran], schema_version(self.client), kept
        )


class OwnerStore:
    """The store of a running desk, through its owner's local endpoint.

    One kept-alive connection per thread: the sinks insert many small batches, and a
    new TCP connection for each was a sixth of the worker's time (``bench_desk``)."""

    def __init__(self, endpoint: str, timeout_s: float = 30.0) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.timeout_s = timeout_s
        url = urllib.parse.urlsplit(self.endpoint)
        self._host, self._port = url.hostname or "127.0.0.1", url.port or 80
        self._base = url.path
        self._local = threading.local()

    def _conn(self, fresh: bool = False) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None or fresh:
            if conn is not None:
                conn.close()
            conn = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout_s)
            self._local.conn = conn
        return conn

    def _post(self, path: str, body: bytes) -> bytes:
        try:
            try:
                status, data = self._request(self._conn(), self._base + path, body)
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # the kept connection went stale (the owner restarted): once on a new one
                status, data = self._request(self._conn(fresh=True), self._base + path, body)
        except (OSError, http.client.HTTPException) as exc:
            self._conn(fresh=True)
            raise StoreUnavailable(f"store owner unreachable: {exc}") from None
        if status == 400:
            raise StoreRefused(data.decode(errors="replace").strip() or "refused")
        if status != 200:
            message = data.decode(errors="replace").strip() or f"HTTP {status}"
            raise StoreUnavailable(f"store owner: {message}")
        return data

    @staticmethod
    def _request(conn: http.client.HTTPConnection, path: str, body: bytes) -> tuple[int, bytes]:
        conn.request("POST", path, body=body, headers={"Content-Type": "application/octet-stream"})
        resp = conn.getresponse()
        return resp.status, resp.read()

    def query(self, sql: str) -> QueryResult:
        data = json.loads(self._post("/clickhouse/query", sql.encode()))
        return QueryResult(data["columns"], data["types"], data["rows"])

    def migrate(self, retention: dict[str, int]) -> MigrationReport:
        data = json.loads(self._post("/clickhouse/migrate", json.dumps(retention).encode()))
        return MigrationReport(data["applied_now"], data["schema_version"], data["retention"])

    def insert(self, table: str, json_each_row: bytes) -> None:
        self._post("/clickhouse/insert?" + urllib.parse.urlencode({"table": table}), json_each_row)
