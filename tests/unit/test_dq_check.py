"""``desk dq check`` and the shared summary, pinned against an independent pandas computation
over the real Binance.US files of the March 2023 USDC de-peg; venue profiles (dense/sparse)."""

from __future__ import annotations

import json
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from agents.dq.core import DataQualityCore
from agents.dq.summary import Bound, parse_bound, summarize
from connectors.feeds.normalize import bar_event
from streams.cli import app
from streams.config import DataQuality, VenueProfile, load_config, parse_config
from streams.errors import ConfigError
from tests.conftest import SHARED_DATA

CRYPTO = SHARED_DATA / "crypto_1m"
NAME = "binanceus_BTC{}_1m_2023-03-01_2023-03-21.csv"
USDC = "binanceus:BTC/USDC"
needs_data = pytest.mark.skipif(not CRYPTO.exists(), reason="../shared/data not present")


def _path(quote: str) -> Path:
    return CRYPTO / NAME.format(quote)


@cache
def _frame(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, parse_dates=["open_time"]).set_index("open_time")


def _independent_gaps(path: Path) -> dict[str, Any]:
    """Missing minutes, gap runs and the longest gap between a file's first and last minute."""
    t = _frame(path).index
    step = t.to_series().diff().dt.total_seconds().div(60).dropna() - 1
    gaps = step[step > 0]
    return {
        "rows": len(t),
        "expected": int((t[-1] - t[0]).total_seconds() // 60) + 1,
        "missing": int(gaps.sum()),
        "gap_runs": len(gaps),
        "longest": int(gaps.max()) if len(gaps) else 0,
    }


def _independent_basis(usd: Path, member: Path) -> tuple[float, str, dict[str, float]]:
    """USDC (or USDT) close vs USD close in bps: peak by magnitude, its time, daily means."""
    joined = _frame(usd)[["close"]].join(_frame(member)[["close"]], rsuffix="_m", how="inner")
    basis = (joined["close_m"] / joined["close"] - 1.0) * 1e4
    at = basis.abs().idxmax()
    daily = basis.groupby(basis.index.strftime("%Y-%m-%d")).mean()
    return float(basis[at]), at.strftime("%Y-%m-%dT%H:%M:%SZ"), daily.to_dict()


def _check(*args: str) -> tuple[int, dict[str, Any]]:
    res = CliRunner().invoke(app, ["dq", "check", *args, "--json"])
    assert res.exception is None or isinstance(res.exception, SystemExit), res.output
    return res.exit_code, json.loads(res.stdout)


@needs_data
def test_check_of_the_three_files_pins_coverage_and_the_depeg_headline() -> None:
    code, s = _check(*(str(_path(q)) for q in ("USD", "USDT", "USDC")))
    assert code == 1  # a CRITICAL finding (the de-peg): exit 1 with the default --fail-on
    rows = {r["stream"]: r for r in s["streams"]}
    for quote in ("USD", "USDT", "USDC"):
        want, row = _independent_gaps(_path(quote)), rows[f"binanceus:BTC/{quote}"]
        assert (row["rows"], row["expected"], row["missing"], row["gap_runs"]) == (
            want["rows"], want["expected"], want["missing"], want["gap_runs"])  # fmt: skip
        assert (row["longest_gap"] or {"bars": 0})["bars"] == want["longest"]
        assert row["coverage"] == pytest.approx(want["rows"] / want["expected"])
    peak, peak_at, daily = _independent_basis(_path("USD"), _path("USDC"))
    assert 1300 < peak < 1500 and peak_at.startswith("2023-03-11")
    head = s["headline"]  # the de-peg is the headline, of the run and of its stream
    assert (head["check"], head["stream"], head["severity"]) == (
        "cross_market_divergence", USDC, "CRITICAL")  # fmt: skip
    assert head["episode"]["peak_bps"] == pytest.approx(peak, abs=0.01)
    assert head["episode"]["peak_at"] == peak_at
    assert rows[USDC]["headline"]["check"] == "cross_market_divergence"
    assert rows[USDC]["status"] == "CRITICAL"
    (pair,) = [p for p in s["pairs"] if p["member"] == USDC]
    assert pair["peak_bps"] == pytest.approx(peak, abs=0.01) and pair["peak_at"] == peak_at
    assert pair["daily_mean_bps"] == pytest.approx(daily, abs=0.01)
    (episode,) = pair["episodes"]
    assert episode["start"].startswith("2023-03-11") and not episode["ongoing"]
    assert episode["start"] <= peak_at <= episode["end"]


def _sparse_copy(tmp_path: Path, quote: str) -> Path:
    """The shared file without its zero-volume minutes: how a sparse venue exports klines."""
    raw = pd.read_csv(_path(quote))
    path = tmp_path / NAME.format(quote)  # the same name: identity comes from it
    raw[raw["volume"] > 0].to_csv(path, index=False)
    return path


@needs_data
def test_sparse_copy_under_a_sparse_profile_has_no_critical_gap_but_keeps_the_depeg(
    tmp_path: Path,
) -> None:
    sparse = _sparse_copy(tmp_path, "USDC")
    want = _independent_gaps(sparse)
    assert want["missing"] > 10_000  # about 43 % of the minutes have no row
    usd = str(_path("USD"))

    _, dense = _check(usd, str(sparse))  # judged as a dense venue: thousands of alarms
    dense_row = next(r for r in dense["streams"] if r["stream"] == USDC)
    assert dense_row["reports"]["stale/CRITICAL"] > 1000

    code, s = _check(usd, str(sparse), "--profile", "sparse")
    row = next(r for r in s["streams"] if r["stream"] == USDC)
    assert row["density"] == "sparse" and row["profile"] == "sparse"
    assert (row["rows"], row["missing"], row["gap_runs"], row["longest_gap"]["bars"]) == (
        want["rows"], want["missing"], want["gap_runs"], want["longest"])  # fmt: skip
    missing_checks = ("gap", "stale", "missing_session")
    assert not [k for k in row["reports"] if k.split("/")[0] in missing_checks]  # all < 60 min
    assert not [k for k in row["reports"] if k.endswith("/CRITICAL") and
                not k.startswith("cross_market")]  # fmt: skip
    peak, peak_at, _ = _independent_basis(_path("USD"), sparse)
    assert s["headline"]["check"] == "cross_market_divergence"
    assert s["headline"]["episode"]["peak_bps"] == pytest.approx(peak, abs=0.01)
    assert s["headline"]["episode"]["peak_at"] == peak_at
    assert code == 1  # the de-peg is still CRITICAL: the desk should act on it


# -- the core under a profile -----------------------------------------------------------------


def _bars(minutes: list[int], venue: str = "kraken", volume: float = 1.0) -> list[dict]:
    return [
        bar_event(venue=venue, symbol="BTC/USD", interval="1m", open_time_ms=m * 60_000,
                  open=100.0, high=100.0, low=100.0, close=100.0, volume=volume, source="t")
        for m in minutes
    ]  # fmt: skip


def _run(cfg: DataQuality, bars: list[dict], profile: str | None = None) -> list[dict]:
    core = DataQualityCore(cfg, profile=profile)
    return [r for b in bars for r in core.process(b).reports()]


SPARSE = DataQuality(
    profiles={"thin": VenueProfile(match=["kraken:*"], density="sparse", stale_intervals=30)}
)


def test_sparse_profile_counts_short_gaps_and_reports_a_long_one_as_one_warning_episode() -> None:
    minutes = [0, 2, 3, 7, 8, 100, 101]  # gaps of 1, 3 and 91 minutes
    reports = _run(SPARSE, _bars(minutes))
    assert Counter((r["check"], r["severity"]) for r in reports) == {("gap", "WARNING"): 1}
    (gap,) = reports
    assert gap["evidence"]["missing"] == "91"
    assert gap["evidence"]["duration_ms"] == str(91 * 60_000)
    # the same bars on a dense venue (no profile matches): every gap, stale CRITICAL
    dense = Counter((r["check"], r["severity"]) for r in _run(SPARSE, _bars(minutes, "binanceus")))
    assert dense[("gap", "CRITICAL")] == 1 and dense[("stale", "CRITICAL")] == 1


def test_sparse_stale_on_the_wall_clock_is_a_warning_and_not_critical_for_risk() -> None:
    core = DataQualityCore(SPARSE)
    for b in _bars([0, 1]):
        core.process(b)
    assert core.tick(2 * 60_000 + 29 * 60_000) == []
    (stale,) = core.tick(2 * 60_000 + 31 * 60_000)
    assert (stale.check, stale.severity) == ("stale", "WARNING")
    assert core.freshness("kraken", "BTC/USD", "1m")["critical"] == []


@pytest.mark.parametrize(("handling", "want"), [("warn", "WARNING"), ("info", "INFO"),
                                                ("ignore", None)])  # fmt: skip
def test_zero_volume_handling(handling: str, want: str | None) -> None:
    cfg = DataQuality(zero_volume=handling)
    bars = _bars(list(range(20)), volume=0.0) + _bars([20])
    got = [r["severity"] for r in _run(cfg, bars) if r["check"] == "zero_volume_run"]
    assert got == ([want] if want else [])


def test_profiles_are_validated_and_matched_first_wins() -> None:
    cfg = DataQuality(
        profiles={
            "usdc": VenueProfile(match=["*:BTC/USDC"], outlier_sigma="20"),
            "thin": VenueProfile(match=["kraken:*", "*:BTC/USDC"], density="sparse"),
        }
    )
    assert cfg.profile_for("binanceus:BTC/USDC") == "usdc"
    assert cfg.for_stream("kraken:ETH/EUR").density == "sparse"
    assert cfg.for_stream("kraken:ETH/EUR").gap_warning == cfg.stale_intervals
    assert cfg.for_stream("binanceus:BTC/USD") is cfg
    data = load_config().model_dump(mode="json")
    data["data_quality"]["profiles"] = {"x": {"density": "sparse", "gap_critical_intervals": 5}}
    with pytest.raises(ConfigError, match="never CRITICAL"):
        parse_config(data)
    data["data_quality"]["profiles"] = {"x": {"match": ["kraken"]}}
    with pytest.raises(ConfigError, match="venue:symbol"):
        parse_config(data)
    with pytest.raises(KeyError, match=r"no data_quality\.profiles\.nope"):
        DataQualityCore(cfg, profile="nope")


def test_unknown_profile_is_exit_2(tmp_path: Path) -> None:
    from streams.errors import DeskError

    res = CliRunner().invoke(app, ["dq", "check", str(tmp_path), "--profile", "nope"])
    assert isinstance(res.exception, DeskError) and res.exception.exit_code == 2  # desk's main()
    assert "no data_quality.profiles.nope (known: sparse)" in str(res.exception)


# -- windows in event time, and desk dq report sharing the summary ------------------------------


def test_since_and_until_count_back_from_the_data_not_the_wall_clock() -> None:
    bars = _bars(list(range(600)))  # 1970: any wall-clock window would be empty
    s = summarize([], bars, parse_bound("1h"), None)
    (row,) = s["streams"]
    # bars are stamped with their close: 09:00 .. 10:00 inclusive
    assert row["bars_clean"] == 61 and s["since"] == "1970-01-01T09:00:00Z"
    s = summarize([], bars, parse_bound("1970-01-01T01:00"), parse_bound("2h", "--until"))
    assert s["streams"][0]["bars_clean"] == 60 * 7
    assert Bound(back_ms=1).resolve(None) is None
    with pytest.raises(ValueError, match="--until 'soon'"):
        parse_bound("soon", "--until")


@needs_data
def test_dq_report_prints_the_same_summary_as_check(monkeypatch: pytest.MonkeyPatch) -> None:
    from agents.dq.check import run_core
    from connectors.feeds.files import read_files

    cfg = load_config()
    run = run_core(read_files([_path(q) for q in ("USD", "USDC")]).bars, cfg)
    topics = {"dq.reports": run.reports, "market.bars.clean": run.clean}
    monkeypatch.setattr("streams.cli.context.bootstrap", lambda _s: "broker")
    monkeypatch.setattr("streams.kafka.read_topic", lambda _b, topic, *_a, **_k: topics[topic])
    monkeypatch.setattr("streams.kafka.decode_all", lambda events: list(events))
    res = CliRunner().invoke(app, ["dq", "report", "--since", "12d", "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["since"] == "2023-03-10T00:00:00Z"  # 12 days before the last bar's close
    assert report["headline"]["episode"]["peak_at"] == "2023-03-11T07:50:00Z"
    whole = summarize(run.reports, run.clean, Bound(back_ms=12 * 86_400_000), cfg=cfg.data_quality,
                      calendar_for=cfg.calendar_for)  # fmt: skip
    assert report == json.loads(json.dumps(whole))
