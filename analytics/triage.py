"""Canned incident queries: the SQL a desk reaches for first, kept as files and tested.

Each query is ``analytics/triage/NAME.sql`` with a header of ``--`` lines::

    -- title: What happened per bot on a day
    -- why: the first question of the morning
    -- param: day Date = (SELECT max(trading_day) FROM portfolio_snapshots)

and a body that refers to parameters as ``{day}``. A parameter given on the
command line is checked against its type and written as a literal (a date is
``toDate('2023-03-11')``, a string is quoted and escaped), so a parameter can
never become SQL; a parameter not given takes its default, an SQL expression
from the header. The same text runs on chDB and on a ClickHouse server.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from streams.errors import DeskError

TRIAGE = Path(__file__).with_name("triage")
_PARAM = re.compile(
    r"^(?P<name>[a-z_][a-z0-9_]*)\s+(?P<type>Date|String|UInt32)\s*=\s*(?P<default>.+)$"
)
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    default: str  # an SQL expression

    def literal(self, value: str) -> str:
        """``value`` as an SQL literal of this parameter's type (or a one-line error)."""
        if self.type == "Date":
            try:
                day = dt.date.fromisoformat(value)
            except ValueError:
                raise DeskError(
                    f"--param {self.name}: {value!r} is not a date (YYYY-MM-DD)"
                ) from None
            return f"toDate('{day.isoformat()}')"
        if self.type == "UInt32":
            if not value.isdigit() or int(value) >= 2**32:
                raise DeskError(f"--param {self.name}: {value!r} is not a whole number")
            return str(int(value))
        escaped = value.replace("\\", "\\\\").replace("'", "\\'")
        return f"'{escaped}'"


@dataclass(frozen=True)
class TriageQuery:
    name: str
    title: str
    why: str
    params: tuple[Param, ...]
    body: str

    def render(self, values: dict[str, str] | None = None) -> str:
        """The runnable SQL, parameters bound (given values as literals, else defaults)."""
        values = dict(values or {})
        known = {p.name: p for p in self.params}
        unknown = sorted(set(values) - set(known))
        if unknown:
            names = ", ".join(known) or "none"
            raise DeskError(f"{self.name}: unknown parameter {unknown[0]!r} (takes: {names})")
        bound = {
            n: p.literal(values[n]) if n in values else f"({p.default})" for n, p in known.items()
        }
        return _PLACEHOLDER.sub(lambda m: bound[m.group(1)], self.body)


def parse(name: str, text: str) -> TriageQuery:
    """A query file's header and body; a malformed file is an error naming the line."""
    meta: dict[str, str] = {}
    params: list[Param] = []
    body: list[str] = []
    for n, line in enumerate(text.splitlines(), 1):
        m = re.match(r"^--\s*(title|why|param):\s*(.*)$", line)
        if m and not body:
            key, value = m.groups()
            if key == "param":
                pm = _PARAM.match(value.strip())
                if pm is None:
                    raise DeskError(f"triage/{name}.sql:{n}: param is 'name Type = default SQL'")
                params.append(Param(pm["name"], pm["type"], pm["default"].strip()))
            else:
                meta[key] = (meta.get(key, "") + " " + value.strip()).strip()
        elif line.strip() or body:
            body.append(line)
    if "title" not in meta or not body:
        raise DeskError(f"triage/{name}.sql: needs a '-- title:' line and a query")
    q = TriageQuery(
        name, meta["title"], meta.get("why", ""), tuple(params), "\n".join(body).strip()
    )
    used = set(_PLACEHOLDER.findall(q.body))
    declared = {p.name for p in params}
    if used != declared:
        raise DeskError(
            f"triage/{name}.sql: placeholders {sorted(used)} != params {sorted(declared)}"
        )
    return q


def load_all(directory: Path = TRIAGE) -> dict[str, TriageQuery]:
    """Every canned query, by name (the file name without ``.sql``), in file order."""
    return {p.stem: parse(p.stem, p.read_text()) for p in sorted(directory.glob("*.sql"))}


def find(name: str, directory: Path = TRIAGE) -> TriageQuery:
    queries = load_all(directory)
    if name not in queries:
        raise DeskError(f"no canned query {name!r}; `desk sql --list` shows them")
    return queries[name]
