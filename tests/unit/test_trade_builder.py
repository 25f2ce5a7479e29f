"""The trade builder: targets, cash and prices in, exact and reproducible trades out; each
rule (lots, minimum notional, cash, not tradable, no price, FX sizing) on its own."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from analytics.daily.builder import BuilderError, Rules, build

PRICES = {"SPY": ("400", "USD"), "QQQ": ("300", "USD"), "BIL": ("91.5", "USD")}
FX = {"USD": "0.8"}  # 1 USD = 0.8 GBP


def test_a_fresh_account_buys_its_targets_in_whole_units_sized_in_gbp() -> None:
    plan = build({"SPY": "0.6", "QQQ": "0.3"}, {}, "10000", PRICES, FX)
    # 6,000 GBP for SPY at 320 GBP a share: 18.75 -> 18 (never past the target)
    assert [(ln.side, ln.symbol, ln.units) for ln in plan.lines] == [
        ("BUY", "QQQ", D(12)), ("BUY", "SPY", D(18))]  # fmt: skip
    spy = next(ln for ln in plan.lines if ln.symbol == "SPY")
    assert spy.notional == D(7200) and spy.price_currency == "USD"
    assert spy.notional_account == D("5760.0") and spy.weight_after == D("0.576")
    assert plan.cash_after == D(10000) - D("5760.0") - D("2880.0")
    again = build({"SPY": "0.6", "QQQ": "0.3"}, {}, "10000", PRICES, FX)
    assert again.to_json() == plan.to_json()  # deterministic


def test_sells_fund_the_buys_and_come_first() -> None:
    plan = build({"SPY": "0", "QQQ": "0.9"}, {"SPY": "25"}, "0", PRICES, FX)
    assert [(ln.side, ln.symbol) for ln in plan.lines] == [("SELL", "SPY"), ("BUY", "QQQ")]
    assert plan.lines[0].units == D(25) and plan.cash_after >= 0


def test_the_cash_constraint_cuts_a_buy_or_skips_it() -> None:
    rules = Rules(fee_bps=D(10))
    # a 5,000 GBP withdrawal first: the buys must fit what is left
    plan = build({"SPY": "1"}, {}, "10000", PRICES, FX, cash_movements=("-9000",), rules=rules)
    spy = plan.lines[0]
    assert spy.units == D(3) and plan.cash_after >= 0  # 3 x 320 + fees fits in 1,000
    broke = build({"SPY": "1"}, {}, "200", PRICES, FX, rules=Rules(min_notional=D(100)))
    assert broke.lines == () and broke.skipped == (
        ("SPY", "the target is less than one lot (1 units)"),
    )


def test_lots_minimum_notional_and_untradable_symbols() -> None:
    rules = Rules(min_notional=D(500), lot_size={"QQQ": D("0.5")},
                  not_tradable=frozenset({"BIL"}))  # fmt: skip
    plan = build({"SPY": "0.04", "QQQ": "0.5", "BIL": "0.2"}, {}, "10000", PRICES, FX, rules=rules)
    qqq = next(ln for ln in plan.lines if ln.symbol == "QQQ")
    assert qqq.units == D("20.5")  # 5,000 / 240 = 20.83 -> 20.5 in half units
    reasons = dict(plan.skipped)
    assert "under the minimum notional 500" in reasons["SPY"]
    assert reasons["BIL"] == "not tradable (rules)"


def test_a_symbol_without_a_price_is_skipped_and_its_holding_kept_out_of_value() -> None:
    plan = build({"SPY": "0.5", "XLC": "0.2"}, {"XLC": "10"}, "10000", PRICES, FX)
    assert dict(plan.skipped)["XLC"] == "no price"
    assert plan.account_value == D(10000)
    nofx = build({"SPY": "0.5"}, {}, "10000", {"SPY": ("400", "EUR")}, FX)
    assert dict(nofx.skipped)["SPY"] == "no FX rate EUR->GBP"


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"targets": {"SPY": "0.7", "QQQ": "0.5"}}, "add up to 1.2"),
        ({"targets": {"SPY": "-0.1"}}, "negative"),
        ({"targets": {"SPY": "half"}}, "target SPY: 'half' is not a number"),
        ({"targets": {"SPY": "NaN"}}, "not a finite number"),
        ({"cash": "0", "targets": {"SPY": "0.5"}}, "worth 0 GBP"),
    ],
)
def test_bad_inputs_are_one_line_errors(kwargs: dict, says: str) -> None:
    args = {"targets": {"SPY": "0.5"}, "holdings": {}, "cash": "10000", "prices": PRICES,
            "fx_to_account": FX} | kwargs  # fmt: skip
    with pytest.raises(BuilderError, match=says):
        build(**args)


def test_a_buy_the_cash_cannot_pay_is_cut_to_whole_lots_it_can() -> None:
    """A holding that cannot be sold (not tradable) counts in the account's value, so the
    targets ask for more than the cash can pay: the buy is cut, and says so."""
    rules = Rules(not_tradable=frozenset({"BIL"}), fee_bps=D(10))
    plan = build({"SPY": "1"}, {"BIL": "50"}, "1000", PRICES, FX, rules=rules)
    spy = plan.lines[0]
    assert spy.units == D(3) and spy.note == "cut from 14 to 3 units: cash constraint"
    assert D(0) <= plan.cash_after < D(320)
