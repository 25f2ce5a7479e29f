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
import json
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


def check_read_only(sql: str) -> str:
    """One statement that reads (chDB keeps a ``readonly`` setting for the rest of the
    session, so for chDB this check is the guard; servers also get ``readonly=2``)."""
    lines = [ln for ln in sql.strip().splitlines() if not ln.strip().startswith("--")]
    body = "\n".join(lines).strip().rstrip(";").strip()
    if not body:
        raise StoreRefused("empty query")
    if ";" in body:
        raise StoreRefused("one statement at a time")
    if not body.upper().startswith(_READS):
        raise StoreRefused(f"read-only: {body.split()[0]} is not a query (SELECT, WITH, SHOW...)")
    return body


class Store(Protocol):
    def query(self, sql: str) -> QueryResult: ...

    def insert(self, table: str, json_each_row: bytes) -> None: ...


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
            raise StoreRefused(_first_line(exc)) from None
        except Exception as exc:
            raise StoreUnavailable(_first_line(exc)) from None
        types = [t.name for t in res.column_types]
        return QueryResult(list(res.column_names), types, jsonable(res.result_rows))

    def insert(self, table: str, json_each_row: bytes) -> None:
        from clickhouse_connect.driver.exceptions import DatabaseError

        try:
            self.client.raw_insert(table, insert_block=json_each_row, fmt="JSONEachRow")
        except DatabaseError as exc:
            raise StoreRefused(_first_line(exc)) from None
        except Exception as exc:
            raise StoreUnavailable(_first_line(exc)) from None


class OwnerStore:
    """The store of a running desk, through its owner's local endpoint."""

    def __init__(self, endpoint: str, timeout_s: float = 30.0) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.timeout_s = timeout_s

    def _post(self, path: str, body: bytes) -> bytes:
        req = urllib.request.Request(self.endpoint + path, data=body, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                return resp.read()
        except urllib.error.HTTPError as exc:
            message = exc.read().decode(errors="replace").strip() or str(exc)
            if exc.code == 400:
                raise StoreRefused(message) from None
            raise StoreUnavailable(f"store owner: {message}") from None
        except OSError as exc:
            raise StoreUnavailable(f"store owner unreachable: {exc}") from None

    def query(self, sql: str) -> QueryResult:
        data = json.loads(self._post("/clickhouse/query", sql.encode()))
        return QueryResult(data["columns"], data["types"], data["rows"])

    def insert(self, table: str, json_each_row: bytes) -> None:
        self._post("/clickhouse/insert?" + urllib.parse.urlencode({"table": table}), json_each_row)
