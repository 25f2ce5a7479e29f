"""One daily ticket, end to end: the inputs file, the end-of-day files, the data-quality
gate, the trade builder, the ticket and its artifacts (``docs/daily-ticket.md``)."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from analytics.daily import builder, quality
from analytics.daily.eod import OHLCV, by_symbol, csv_files, keep_raw, parse, read_raw
from analytics.daily.ticket import Gate, Ticket, decide
from analytics.daily.universe import Instrument, needed
from analytics.daily.universe import read as read_universe
from streams.errors import DeskError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rules(_Strict):
    min_notional: Decimal = Decimal(100)
    fee_bps: Decimal = Decimal(0)
    cash_buffer_pct: Decimal = Decimal(0)
    lot_size: dict[str, Decimal] = Field(default_factory=dict)


class DailyInputs(_Strict):
    account_currency: str = "GBP"
    cash: Decimal
    holdings: dict[str, Decimal] = Field(default_factory=dict)
    cash_movements: list[Decimal] = Field(default_factory=list)
    fx_to_account: dict[str, Decimal] = Field(description="currency -> account units per unit")
    targets: dict[str, Decimal]
    universe: list[Instrument] = Field(min_length=1)
    rules: Rules = Rules()
    dry_run_trades: bool = False
    lookback_sessions: int = Field(20, ge=2)
    stale_sessions: int = Field(5, ge=2)

    @model_validator(mode="after")
    def _consistent(self) -> DailyInputs:
        known = {i.symbol for i in self.universe}
        dup = sorted(s for s in known if sum(i.symbol == s for i in self.universe) > 1)
        if dup:
            raise ValueError(f"universe: {dup[0]} listed twice")
        unknown = sorted(set(self.targets) - known)
        if unknown:
            raise ValueError(f"targets: {unknown[0]} is not in the universe")
        bench = [i.symbol for i in self.universe if i.benchmark]
        if not {"SPY", "QQQ"} <= set(bench):
            raise ValueError("universe: SPY and QQQ must be benchmark rows (benchmark: true)")
        return self

    def needed(self) -> list[Instrument]:
        """Enabled tradables and every benchmark: what is fetched and checked."""
        return needed(self.universe)


def load_inputs(path: Path) -> tuple[DailyInputs, str]:
    """The inputs and their hash; ``universe:`` is the rows or a universe file's path
    (relative to the inputs file), whose content then counts in the hash."""
    try:
        raw = path.read_bytes()
        data = yaml.safe_load(raw)
        sha = hashlib.sha256(raw)
        if isinstance(data, dict) and isinstance(data.get("universe"), str):
            uf = read_universe(path.parent / data["universe"])
            if uf.problems:
                raise DeskError(f"{path}: universe: {uf.problems[0]}")
            data = {**data, "universe": [i.model_dump() for i in uf.rows]}
            sha.update(uf.sha256.encode())
        return DailyInputs.model_validate(data), sha.hexdigest()
    except OSError as exc:
        raise DeskError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        raise DeskError(f"{path}: not YAML ({str(exc).splitlines()[0]})") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"]) or "inputs"
        raise DeskError(f"{path}: {where}: {err['msg']}") from None


def build_ticket(
    inputs_path: Path, data: list[Path], as_of: dt.date, dry_run_trades: bool | None = None
) -> tuple[Ticket, DailyInputs]:
    inputs, inputs_sha = load_inputs(inputs_path)
    raws = [read_raw(f) for f in csv_files(data)]
    # wide files first, one symbol's OHLCV after: the richer row wins for the same day
    parsed = sorted(((r, parse(r)) for r in raws), key=lambda x: (_is_ohlcv(x[0]), x[0].path.name))
    rows = by_symbol(row for _r, rs in parsed for row in rs)
    needed = inputs.needed()
    q = quality.check(
        rows,
        [(i.symbol, i.cal) for i in needed],
        as_of,
        inputs.lookback_sessions,
        inputs.stale_sessions,
    )
    tradable = {i.symbol for i in inputs.universe if i.enabled}
    prices = {s: (p, "USD") for s, p in q.prices.items() if s in tradable}
    off = frozenset(i.symbol for i in inputs.universe if not i.enabled)
    plan = builder.build(
        inputs.targets,
        inputs.holdings,
        inputs.cash,
        prices,
        {k: v for k, v in inputs.fx_to_account.items()},
        inputs.account_currency,
        tuple(inputs.cash_movements),
        builder.Rules(
            inputs.rules.min_notional,
            inputs.rules.lot_size,
            inputs.rules.fee_bps,
            inputs.rules.cash_buffer_pct,
            off,
        ),
    )
    missing_bench = [i.symbol for i in needed if i.benchmark and i.symbol not in q.prices]
    gates = [
        Gate(
            "benchmarks",
            "FAIL" if missing_bench else "PASS",
            f"no price for {', '.join(missing_bench)}" if missing_bench else "SPY and QQQ priced",
        )
    ]
    hashes = {"inputs": inputs_sha} | {f"data/{r.path.name}": r.sha256 for r in raws}
    toggle = inputs.dry_run_trades if dry_run_trades is None else dry_run_trades
    return decide(as_of, q, gates, plan, hashes, toggle), inputs


def _is_ohlcv(raw: object) -> bool:
    head = getattr(raw, "body", b"")[:200].decode("utf-8-sig", "replace").splitlines()[:1]
    return bool(head) and tuple(h.strip() for h in head[0].split(",")) == OHLCV


def write_ticket(ticket: Ticket, out: Path, raw_files: list[Path] | None = None) -> Path:
    """``<out>/<as_of>/<ticket id>/``: ticket.json, ticket.md, data_quality.json and .md;
    the raw inputs kept by content hash under ``<out>/raw/``."""
    where = out / ticket.as_of.isoformat() / ticket.ticket_id
    where.mkdir(parents=True, exist_ok=True)
    (where / "ticket.json").write_bytes(ticket.json_bytes())
    (where / "ticket.md").write_text(ticket.markdown())
    import json

    (where / "data_quality.json").write_text(
        json.dumps(ticket.quality.to_json(), indent=2, sort_keys=True) + "\n"
    )
    (where / "data_quality.md").write_text(ticket.quality.markdown())
    keep_raw(raw_files or [], out / "raw")
    return where
