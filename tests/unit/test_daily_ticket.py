"""The daily ticket on the shared ETF history: byte-identical for a fixed as-of date,
NO_TRADE by default, TRADE only with the toggle and every gate passing; a missing trading
day, a null adjusted close or a stale price turns the gate FAIL and the ticket NO_TRADE,
naming the reason; "not listed yet" is not "missing"; a holiday judges the session before."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from analytics.daily.run import build_ticket, write_ticket
from streams.errors import DeskError
from tests.conftest import SHARED_DATA

ETF = SHARED_DATA / "etf_daily"
INPUTS = Path(__file__).resolve().parents[2] / "analytics" / "daily" / "inputs.example.yaml"
DAY = dt.date(2021, 6, 4)
pytestmark = pytest.mark.skipif(not ETF.exists(), reason="../shared/data not present")


def files(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*"))
            if p.is_file()}  # fmt: skip


def test_the_ticket_is_byte_identical_and_no_trade_by_default(tmp_path: Path) -> None:
    a, _ = build_ticket(INPUTS, [ETF], DAY)
    b, _ = build_ticket(INPUTS, [ETF], DAY)
    wa, wb = write_ticket(a, tmp_path / "a"), write_ticket(b, tmp_path / "b")
    assert files(wa) == files(wb) and set(files(wa)) == {
        "ticket.json", "ticket.md", "data_quality.json", "data_quality.md"}  # fmt: skip
    assert a.decision == "NO_TRADE"
    assert a.reasons == ("NO_TRADE by default: the dry-run trade mode is off",)
    assert a.plan is not None and a.plan.lines, "the intended lines are shown all the same"
    assert "(intended, not to be traded)" in a.markdown()


def test_trade_only_with_the_toggle_and_every_gate_passing() -> None:
    t, _ = build_ticket(INPUTS, [ETF], DAY, dry_run_trades=True)
    assert t.decision == "TRADE" and all(g.status == "PASS" for g in t.gates)
    assert {ln.symbol for ln in t.plan.lines} == {"SPY", "QQQ", "TLT", "GLD"}
    assert all(ln.side == "BUY" and ln.units == int(ln.units) for ln in t.plan.lines)
    assert t.ticket_id != build_ticket(INPUTS, [ETF], DAY)[0].ticket_id  # the toggle is input


def edited(tmp_path: Path, edit) -> Path:
    """A copy of the ETF files with ``edit(lines, name)`` applied to each."""
    out = tmp_path / "etf"
    shutil.copytree(ETF, out)
    for p in out.glob("*.csv"):
        p.chmod(0o644)
        lines = p.read_text().splitlines()
        p.write_text("\n".join(edit(lines, p.name)) + "\n")
    return out


def test_a_missing_trading_day_fails_the_gate_and_names_it(tmp_path: Path) -> None:
    data = edited(
        tmp_path, lambda lines, _n: [ln for ln in lines if not ln.startswith("2021-06-02")]
    )
    t, _ = build_ticket(INPUTS, [data], DAY, dry_run_trades=True)
    assert t.decision == "NO_TRADE" and t.quality.status == "FAIL"
    reason = next(r for r in t.reasons if r.startswith("gate eod_data_quality FAIL"))
    assert "SPY trading_days: 19/20 XNYS sessions present; missing 2021-06-02" in reason
    md = t.quality.markdown()
    assert "## Failures (fix these, then re-run)" in md and "2021-06-02" in md


def test_a_null_adjusted_close_fails_the_gate_and_names_it(tmp_path: Path) -> None:
    def blank_qqq(lines: list[str], name: str) -> list[str]:
        header = lines[0].split(",")
        col = header.index("Adj Close") if name.startswith("QQQ") else header.index("QQQ")
        out = [lines[0]]
        for ln in lines[1:]:
            cells = ln.split(",")
            if cells[0] == "2021-06-03":
                cells[col] = ""
            out.append(",".join(cells))
        return out

    data = edited(tmp_path, lambda lines, name: blank_qqq(lines, name)
                  if name.startswith(("QQQ", "adjclose")) else lines)  # fmt: skip
    t, _ = build_ticket(INPUTS, [data], DAY, dry_run_trades=True)
    assert t.decision == "NO_TRADE"
    assert any("QQQ adj_close: null adjusted close on 2021-06-03" in r for r in t.reasons)


def test_a_stale_price_fails_and_a_fund_not_listed_yet_does_not(tmp_path: Path) -> None:
    def freeze_gld(lines: list[str], name: str) -> list[str]:
        if not name.startswith("adjclose"):
            return lines
        col = lines[0].split(",").index("GLD")
        out, frozen = [], None
        for ln in lines:
            cells = ln.split(",")
            if cells[0] == "2021-05-27":
                frozen = cells[col]
            if frozen and "2021-05-27" <= cells[0] <= "2021-06-04":
                cells[col] = frozen
            out.append(",".join(cells))
        return out

    t, _ = build_ticket(INPUTS, [edited(tmp_path, freeze_gld)], DAY, dry_run_trades=True)
    assert any("GLD stale: the same adjusted close" in r for r in t.reasons)
    early, _ = build_ticket(INPUTS, [ETF], dt.date(2018, 5, 1), dry_run_trades=True)
    assert "XLC" not in early.quality.not_listed  # disabled: not fetched, not judged
    from analytics.daily import quality
    from analytics.daily.eod import by_symbol, parse, read_raw

    rows = by_symbol(r for f in sorted(ETF.glob("adj*.csv")) for r in parse(read_raw(f)))
    q = quality.check(rows, [("XLC", "XNYS"), ("SPY", "XNYS")], dt.date(2018, 5, 1))
    assert q.status == "PASS" and q.not_listed == ["XLC"]  # not listed yet is not missing


def test_a_holiday_judges_the_session_before_and_btc_keeps_its_own_calendar() -> None:
    from analytics.daily import quality
    from analytics.daily.eod import by_symbol, parse, read_raw

    rows = by_symbol(r for f in sorted(ETF.glob("adj*.csv")) for r in parse(read_raw(f)))
    q = quality.check(rows, [("SPY", "XNYS"), ("BTC-USD", "24/7")], dt.date(2020, 12, 25))
    assert q.status == "PASS" and q.effective == dt.date(2020, 12, 24)
    assert q.prices["BTC-USD"] == rows["BTC-USD"][dt.date(2020, 12, 25)].adj_close
    assert q.prices["SPY"] == rows["SPY"][dt.date(2020, 12, 24)].adj_close
    carried = [f for f in q.findings if f.symbol == "SPY" and f.check == "calendar"]
    assert carried and "ignored" in carried[0].detail  # the wide file's weekend copies


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("cash: [1", "not YAML"),
        ("cash: '1'\nfx_to_account: {}\ntargets: {}\nuniverse: []", "universe"),
        ("cash: '1'\nfx_to_account: {}\ntargets: {X: '1'}\nuniverse:\n"
         "  - {symbol: SPY, benchmark: true}\n  - {symbol: QQQ, benchmark: true}",
         "targets: X is not in the universe"),
        ("cash: '1'\nfx_to_account: {}\ntargets: {}\nuniverse:\n  - {symbol: SPY}",
         "SPY and QQQ must be benchmark rows"),
        ("cash: '1'\nfx_to_account: {}\ntargets: {}\nsurprise: 1\nuniverse:\n"
         "  - {symbol: SPY, benchmark: true}\n  - {symbol: QQQ, benchmark: true}", "surprise"),
    ],
)  # fmt: skip
def test_a_bad_inputs_file_is_a_one_line_error(tmp_path: Path, text: str, says: str) -> None:
    p = tmp_path / "inputs.yaml"
    p.write_text(text)
    with pytest.raises(DeskError, match=says):
        build_ticket(p, [ETF], DAY)


def test_the_ticket_holds_to_its_documented_contract() -> None:
    import json

    import jsonschema

    schema = json.loads((INPUTS.parents[2] / "docs" / "ticket.schema.json").read_text())
    for toggle in (False, True):
        t, _ = build_ticket(INPUTS, [ETF], DAY, dry_run_trades=toggle)
        jsonschema.validate(json.loads(t.json_bytes()), schema)
    broken = json.loads(t.json_bytes())
    broken["plan"]["lines"][0]["side"] = "HOLD"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)
