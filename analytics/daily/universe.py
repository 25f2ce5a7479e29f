"""The universe: what the desk may trade (enabled rows) and what it measures itself
against (benchmark rows), each with its type, calendar and per-source symbol.

A universe file is a CSV (``symbol,type,enabled,benchmark,calendar`` then one column per
data source: ``yahoo``, ``stooq``, ``ccxt`` ... holding that source's symbol, empty when
the source has none) or the same rows as a YAML list. Only enabled rows and explicit
benchmarks are fetched and checked (``needed``): a disabled stock is never fetched.

``check`` is pure: rows (and, given them, the end-of-day rows found) in, a PASS/FAIL
report out, with markdown and JSON artifacts an operator can act on.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from streams.errors import DeskError

EXAMPLE = Path(__file__).with_name("universe.example.csv")
BENCHMARKS_REQUIRED = ("SPY", "QQQ")
COLUMNS = ("symbol", "type", "enabled", "benchmark", "calendar")
CALENDARS_BY_TYPE = {"etf": "XNYS", "stock": "XNYS", "crypto": "24/7"}


class Instrument(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    symbol: str = Field(pattern=r"^[A-Z0-9][A-Z0-9.\-]*$")
    type: Literal["etf", "stock", "crypto"] = "etf"
    benchmark: bool = Field(False, description="fetched and checked even when not traded")
    enabled: bool = Field(True, description="tradable: the builder may trade it")
    calendar: str | None = Field(None, description="XNYS, 24/7 ... (default: by type)")
    sources: dict[str, str] = Field(default_factory=dict, description="source -> its symbol")

    @property
    def cal(self) -> str:
        return self.calendar or CALENDARS_BY_TYPE[self.type]

    def to_json(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "type": self.type,
            "enabled": self.enabled,
            "benchmark": self.benchmark,
            "calendar": self.cal,
            "sources": dict(sorted(self.sources.items())),
        }


def needed(universe: Sequence[Instrument]) -> list[Instrument]:
    """Enabled tradables and every benchmark: what is fetched and checked."""
    return [i for i in universe if i.benchmark or i.enabled]


@dataclass(frozen=True)
class UniverseFile:
    path: Path
    sha256: str
    rows: list[Instrument]
    problems: list[str]  # rows that could not be read, each "file:line: why"


_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0", ""}


def _flag(text: str, column: str) -> bool:
    t = text.strip().lower()
    if t in _TRUE:
        return True
    if t in _FALSE:
        return False
    raise ValueError(f"{column}: {text!r} is not true/false")


def _error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(x) for x in err["loc"])
    return f"{where}: {err['msg']}" if where else err["msg"]


def read(path: Path) -> UniverseFile:
    """The rows of a universe file; a row that cannot be read is a problem with its line,
    not an exception (validate reports every one). An unreadable file is a one-line error."""
    try:
        body = path.read_bytes()
    except OSError as exc:
        raise DeskError(f"{path}: cannot read ({exc.strerror or exc})") from None
    sha = hashlib.sha256(body).hexdigest()
    if path.suffix.lower() in (".yaml", ".yml", ".json"):
        rows, problems = _from_yaml(path, body)
    else:
        rows, problems = _from_csv(path, body)
    return UniverseFile(path, sha, rows, problems)


def _from_yaml(path: Path, body: bytes) -> tuple[list[Instrument], list[str]]:
    try:
        data = yaml.safe_load(body)
    except yaml.YAMLError as exc:
        raise DeskError(f"{path}: not YAML ({str(exc).splitlines()[0]})") from None
    if isinstance(data, dict) and "universe" in data:
        data = data["universe"]
    if not isinstance(data, list):
        raise DeskError(f"{path}: a universe is a list of rows (symbol, type, ...)")
    return parse_rows(data, path.name)


def parse_rows(data: Sequence[Any], where: str) -> tuple[list[Instrument], list[str]]:
    rows: list[Instrument] = []
    problems: list[str] = []
    for n, item in enumerate(data, start=1):
        try:
            rows.append(Instrument.model_validate(item))
        except ValidationError as exc:
            problems.append(f"{where} row {n}: {_error(exc)}")
    return rows, problems


def _from_csv(path: Path, body: bytes) -> tuple[list[Instrument], list[str]]:
    try:
        reader = csv.DictReader(io.StringIO(body.decode("utf-8-sig")))
        header = [h.strip() for h in reader.fieldnames or []]
    except UnicodeDecodeError:
        raise DeskError(f"{path}: not a UTF-8 CSV") from None
    if "symbol" not in header:
        raise DeskError(f"{path}: no symbol column (columns: {', '.join(COLUMNS)}, sources...)")
    sources = [h for h in header if h not in COLUMNS]
    rows: list[Instrument] = []
    problems: list[str] = []
    for n, rec in enumerate(reader, start=2):
        rec = {(k or "").strip(): (v or "").strip() for k, v in rec.items() if k is not None}
        where = f"{path.name}:{n}"
        try:
            item = {
                "symbol": rec.get("symbol", ""),
                "type": rec.get("type") or "etf",
                "enabled": _flag(rec.get("enabled", "true") or "true", "enabled"),
                "benchmark": _flag(rec.get("benchmark", ""), "benchmark"),
                "calendar": rec.get("calendar") or None,
                "sources": {s: rec[s] for s in sources if rec.get(s)},
            }
            rows.append(Instrument.model_validate(item))
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            msg = _error(exc) if isinstance(exc, ValidationError) else str(exc)
            problems.append(f"{where}: {msg}")
    return rows, problems


def known_calendar(name: str) -> bool:
    if name == "24/7":
        return True
    import exchange_calendars as xcals

    return name in xcals.get_calendar_names(include_aliases=True)


@dataclass(frozen=True)
class Check:
    name: str
    status: Literal["PASS", "FAIL"]
    detail: str

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "status": self.status, "detail": self.detail}


@dataclass
class Report:
    source: str
    sha256: str
    checks: list[Check]
    fetch: list[str]  # the symbols an ingest fetches: enabled and benchmarks
    skipped: list[str]  # disabled, not a benchmark: never fetched
    coverage: dict[str, str | None] = field(default_factory=dict)  # symbol -> last day

    @property
    def status(self) -> str:
        return "FAIL" if any(c.status == "FAIL" for c in self.checks) else "PASS"

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "source": self.source,
            "sha256": self.sha256,
            "checks": [c.to_json() for c in self.checks],
            "fetch": self.fetch,
            "skipped": self.skipped,
            "coverage": self.coverage,
        }

    def markdown(self) -> str:
        lines = [
            f"# Universe validation: {self.status}",
            "",
            f"- file: `{self.source}` (sha256 `{self.sha256[:16]}`)",
            f"- fetched ({len(self.fetch)}): {', '.join(self.fetch) or 'none'}",
            f"- never fetched ({len(self.skipped)}): {', '.join(self.skipped) or 'none'}",
            "",
            "| check | status | detail |",
            "|---|---|---|",
            *(f"| {c.name} | {c.status} | {c.detail} |" for c in self.checks),
        ]
        if self.coverage:
            lines += ["", "| symbol | last end-of-day row |", "|---|---|"]
            lines += [f"| {s} | {d or 'NONE'} |" for s, d in sorted(self.coverage.items())]
        fails = [c for c in self.checks if c.status == "FAIL"]
        if fails:
            lines += ["", "## What to do", ""]
            lines += [f"- **{c.name}**: {_FIX[c.name]}" for c in fails]
        return "\n".join(lines) + "\n"


_FIX = {
    "rows": "fix the rows named (one per line of the file) and validate again",
    "unique": "list each symbol once",
    "enabled": "enable at least one tradable row (enabled: true)",
    "benchmarks": "add SPY and QQQ with benchmark: true (they may stay disabled for trading)",
    "sources": "give each enabled or benchmark row the symbol of at least one data source",
    "calendars": "use an exchange_calendars name (XNYS, XLON ...) or 24/7",
    "coverage": "ingest end-of-day data for the symbols with no row (desk daily run "
    "--job morning), or disable them",
}


def check(uf: UniverseFile, eod_last: Mapping[str, dt.date | None] | None = None) -> Report:
    """Every check of a universe; ``eod_last`` (symbol -> its last end-of-day day, from
    the data given) adds the coverage check: each fetched symbol has a row."""
    rows = uf.rows
    fetch = [i.symbol for i in needed(rows)]
    skipped = [i.symbol for i in rows if i.symbol not in fetch]
    checks = [
        Check(
            "rows",
            "FAIL" if uf.problems else "PASS",
            "; ".join(uf.problems[:5]) + (" ..." if len(uf.problems) > 5 else "")
            if uf.problems
            else f"{len(rows)} rows read",
        )
    ]
    seen: dict[str, int] = {}
    for i in rows:
        seen[i.symbol] = seen.get(i.symbol, 0) + 1
    dups = sorted(s for s, n in seen.items() if n > 1)
    checks.append(
        Check(
            "unique",
            "FAIL" if dups else "PASS",
            f"listed twice: {', '.join(dups)}" if dups else "each symbol once",
        )
    )
    tradable = [i.symbol for i in rows if i.enabled]
    checks.append(
        Check("enabled", "PASS" if tradable else "FAIL", f"{len(tradable)} enabled tradable(s)")
    )
    bench = {i.symbol for i in rows if i.benchmark}
    lacking = [b for b in BENCHMARKS_REQUIRED if b not in bench]
    checks.append(
        Check(
            "benchmarks",
            "FAIL" if lacking else "PASS",
            f"not a benchmark row: {', '.join(lacking)}"
            if lacking
            else f"benchmarks: {', '.join(sorted(bench))}",
        )
    )
    no_source = [i.symbol for i in needed(rows) if not i.sources]
    checks.append(
        Check(
            "sources",
            "FAIL" if no_source else "PASS",
            f"no source symbol: {', '.join(no_source)}"
            if no_source
            else "every fetched row has a source symbol",
        )
    )
    bad_cal = sorted({i.cal for i in rows if not known_calendar(i.cal)})
    checks.append(
        Check(
            "calendars",
            "FAIL" if bad_cal else "PASS",
            f"unknown calendar: {', '.join(bad_cal)}"
            if bad_cal
            else ", ".join(sorted({i.cal for i in rows})),
        )
    )
    coverage: dict[str, str | None] = {}
    if eod_last is not None:
        coverage = {s: (d.isoformat() if (d := eod_last.get(s)) else None) for s in fetch}
        empty = [s for s, d in coverage.items() if d is None]
        checks.append(
            Check(
                "coverage",
                "FAIL" if empty else "PASS",
                f"no end-of-day row: {', '.join(empty)}"
                if empty
                else f"{len(fetch)} fetched symbols have rows",
            )
        )
    return Report(str(uf.path), uf.sha256, checks, fetch, skipped, coverage)


def write_report(report: Report, out: Path) -> Path:
    """``universe_validation.md`` and ``.json`` under ``out`` (the latest; overwritten)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "universe_validation.json").write_text(
        json.dumps(report.to_json(), indent=2, sort_keys=True) + "\n"
    )
    md = out / "universe_validation.md"
    md.write_text(report.markdown())
    return md
