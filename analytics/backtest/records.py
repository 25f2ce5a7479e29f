"""A run's record: its identity (hashes of config, data and code), ``summary.json``, and the
rows of the ``backtest_*`` tables.

The run id is a hash of what decides the result — the run config (fill model, fees,
latency and seed included), the bars (their content, whatever file format held them) and
the code version — so two runs of the same inputs have the same id and the same
``summary.json`` bytes, and a record is never overwritten by a different result.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from analytics.backtest.run import Run

SUMMARY_VERSION = 1
REPO = Path(__file__).resolve().parents[2]


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()


def config_hash(run: Run) -> str:
    return hashlib.sha256(_canonical(run.config.model_dump(mode="json"))).hexdigest()


def data_hash(bars: Sequence[Mapping[str, Any]]) -> str:
    """The bars' content: stream, interval, open time and OHLCV (not ids, not the file)."""
    h = hashlib.sha256()
    for b in bars:
        h.update(
            f"{b['venue']}|{b['symbol']}|{b['interval']}|{b['open_time']}|{b['open']!r}|"
            f"{b['high']!r}|{b['low']!r}|{b['close']!r}|{b['volume']!r}\n".encode()
        )
    return h.hexdigest()


@cache
def code_version() -> str:
    """The checkout's commit (``+dirty`` and a hash of the diff when files differ from it),
    or the installed package's version outside a checkout."""
    try:
        head = _git("rev-parse", "HEAD")
        diff = _git("diff", "HEAD", "--", "agents", "analytics", "connectors", "streams")
    except (OSError, subprocess.CalledProcessError):
        from importlib.metadata import PackageNotFoundError, version

        try:
            return f"deskplane-{version('deskplane')}"
        except PackageNotFoundError:
            return "unknown"
    if not diff:
        return head[:12]
    return f"{head[:12]}+dirty.{hashlib.sha256(diff.encode()).hexdigest()[:8]}"


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(REPO), *args], capture_output=True, text=True, check=True, timeout=30
    ).stdout.strip()


def run_id(config: str, data: str, code: str) -> str:
    return "bt-" + hashlib.sha256(f"{config}|{data}|{code}".encode()).hexdigest()[:16]


def summary(run: Run, bars: Sequence[Mapping[str, Any]], files: Sequence[str]) -> dict[str, Any]:
    """What ``summary.json`` holds: identity, assumptions, counts, figures (no wall clock)."""
    cfg = run.config
    chash, dhash, code = config_hash(run), data_hash(bars), code_version()
    decisions = run.out.topic("risk.decisions")
    commands = run.out.topic("orders.commands")
    venues = {b.venue for b in cfg.bots if b.enabled}
    return {
        "summary_version": SUMMARY_VERSION,
        "run_id": run_id(chash, dhash, code),
        "config_hash": chash,
        "data_hash": dhash,
        "code_version": code,
        "fill_model_bias": run.fill_model_bias,
        "data": {
            "files": list(files),
            "bars": run.bars,
            "first_ts": run.first_ts,
            "last_ts": run.last_ts,
            "streams": sorted({f"{b['venue']}:{b['symbol']}" for b in bars}),
        },
        "assumptions": {
            "fill_model": {
                v: cfg.venue(v).model_dump(
                    mode="json",
                    include={
                        "seed",
                        "latency_ms",
                        "volume_share",
                        "slippage_bps_per_share",
                    },
                )
                for v in sorted(venues)
            },
            "fees": {
                b.id: cfg.fee_profiles[b.fee_profile].model_dump(mode="json")
                for b in cfg.bots
                if b.enabled
            },
            "quotes": "synthesized from bars"
            if run.fill_model_bias != "recorded_quotes"
            else "recorded",
        },
        "bots": [
            {
                "id": b.id,
                "strategy": b.strategy,
                "kind": cfg.strategies[b.strategy].kind,
                "params": cfg.strategies[b.strategy].params,
                "venue": b.venue,
                "symbols": b.symbols,
                "starting_cash": str(b.starting_cash),
            }
            for b in cfg.bots
            if b.enabled
        ],
        "counts": {
            "intents": len(run.out.topic("orders.intents")),
            "approved": sum(d["decision"] == "APPROVE" for d in decisions),
            "denied": sum(d["decision"] == "DENY" for d in decisions),
            "submitted": sum(c["command"] == "SUBMIT" for c in commands),
            "cancels": sum(c["command"] != "SUBMIT" for c in commands),
            "fills": len(run.out.topic("fills")),
            "risk_commands": len(run.out.topic("risk.commands")),
            "set_aside": len(run.out.rejected) + len(run.out.invalid),
        },
        "metrics": run.metrics,
    }


def summary_bytes(s: Mapping[str, Any]) -> bytes:
    return (json.dumps(s, sort_keys=True, indent=2, default=str) + "\n").encode()


def write_run_dir(directory: Path, s: Mapping[str, Any], run: Run) -> Path:
    """``<dir>/<run id>/summary.json`` and ``config.json`` (the resolved run config)."""
    out = directory / s["run_id"]
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_bytes(summary_bytes(s))
    cfg = json.dumps(run.config.model_dump(mode="json"), sort_keys=True, indent=2)
    (out / "config.json").write_text(cfg + "\n")
    return out


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _d(value: Any) -> str | None:
    return None if value is None else str(Decimal(value))


def table_rows(s: Mapping[str, Any], run: Run) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """(table, rows) for the ``backtest_*`` tables; every strategy fits them unchanged (its
    own state and the events' full payloads are JSON columns)."""
    rid = s["run_id"]
    total = s["metrics"]["total"]
    yield (
        "backtest_bar",
        [
            {
                "run_id": rid,
                "bot_id": st.bot_id,
                "ts_event": st.ts_event,
                "symbol": st.symbol,
                "equity": str(st.equity),
                "cash": str(st.cash),
                "drawdown": str(st.drawdown),
                "position": str(sum((Decimal(p["quantity"]) for p in st.positions), Decimal(0))),
                "positions": _json(st.positions),
                "state": st.state,
                **dict(zip(("open", "high", "low", "close"), st.ohlc or (None,) * 4, strict=True)),
            }
            for st in run.states
        ],
    )
    yield (
        "backtest_fill",
        [
            {
                "run_id": rid,
                "bot_id": f["bot_id"],
                "ts_event": f["ts_event"],
                "event_id": f["event_id"],
                "symbol": f["symbol"],
                "client_order_id": f["client_order_id"],
                "side": f["side"],
                "price": _d(f["price"]),
                "quantity": _d(f["quantity"]),
                "fee": _d(f["fee"]),
                "liquidity": f["liquidity"],
                "payload": _json(f),
            }
            for f in run.out.topic("fills")
        ],
    )
    yield (
        "backtest_order",
        [
            {
                "run_id": rid,
                "bot_id": c["bot_id"],
                "ts_event": c["ts_event"],
                "event_id": c["event_id"],
                "command": c["command"],
                "symbol": c["symbol"] or "",
                "client_order_id": c["client_order_id"] or "",
                "side": c["side"] or "",
                "order_type": c["order_type"] or "",
                "quantity": _d(c["quantity"]),
                "limit_price": _d(c["limit_price"]),
                "payload": _json(c),
            }
            for c in run.out.topic("orders.commands")
        ],
    )
    yield (
        "backtest_decision",
        [
            {
                "run_id": rid,
                "bot_id": d["bot_id"],
                "ts_event": d["ts_event"],
                "event_id": d["event_id"],
                "symbol": d["symbol"],
                "decision": d["decision"],
                "reasons": list(d["reasons"]),
                "payload": _json(d),
            }
            for d in run.out.topic("risk.decisions")
        ],
    )
    yield (
        "backtest_run",
        [
            {
                "run_id": rid,
                "code_version": s["code_version"],
                "config_hash": s["config_hash"],
                "data_hash": s["data_hash"],
                "fill_model_bias": s["fill_model_bias"],
                "strategies": sorted({b["strategy"] for b in s["bots"]}),
                "bots": [b["id"] for b in s["bots"]],
                "first_ts": s["data"]["first_ts"] or 0,
                "last_ts": s["data"]["last_ts"] or 0,
                "bars": s["data"]["bars"],
                "fills": s["counts"]["fills"],
                "net_profit": total["net_profit"],
                "max_drawdown": total["max_drawdown"] or 0.0,
                "sharpe": total["sharpe"],
                "summary": summary_bytes(s).decode(),
                "config": _json(run.config.model_dump(mode="json")),
            }
        ],
    )
