"""Confirmations, checked before anything is written: every kind of bad fills file is
refused with its reason (each on its own), a good one passes."""

from __future__ import annotations

import pytest

from analytics.daily.confirm import check, parse_fills, sha256

TICKET = {
    "ticket_id": "tk-2021-06-04-0123456789",
    "decision": "TRADE",
    "plan": {"lines": [{"symbol": "SPY", "side": "BUY", "units": "33"},
                       {"symbol": "TLT", "side": "SELL", "units": "5"}]},
}  # fmt: skip
HEAD = "symbol,side,units,price,currency,fee,executed_at\n"
AT = "2021-06-04T14:31:00+00:00"
GOOD = HEAD + ("SPY,BUY,20,422.5,USD,1.2,2021-06-04T14:31:00+00:00\n"
               "SPY,BUY,13,422.7,USD,,2021-06-04T14:35:00+00:00\n"
               "TLT,sell,5,134.4,USD,0.5,2021-06-04T14:40:00+00:00\n")  # fmt: skip


def test_a_good_file_passes_and_parses_exactly() -> None:
    fills, problems = parse_fills(GOOD.encode())
    assert problems == [] and len(fills) == 3
    assert str(fills[0].price) == "422.5" and str(fills[1].fee) == "0"
    assert fills[2].side == "SELL"
    assert check(TICKET, fills, sha256(GOOD.encode()), [], []) == []


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"\xff\xfe", "not UTF-8"),
        ("sym,side\nSPY,BUY\n", "header must be symbol,side,units,price,currency,fee,executed_at"),
        (HEAD, "has no fill"),
        (HEAD + "SPY,HOLD,1,1,USD,0,2021-06-04T14:31:00+00:00\n", "line 2: side 'HOLD'"),
        (HEAD + f"SPY,BUY,-1,1,USD,0,{AT}\n", "line 2: units '-1' must be above zero"),
        (HEAD + f"SPY,BUY,1,abc,USD,0,{AT}\n", "line 2: price 'abc' is not a number"),
        (HEAD + f"SPY,BUY,1,NaN,USD,0,{AT}\n", "price 'NaN' must be above zero"),
        (HEAD + "SPY,BUY,1,1,USD,-2,2021-06-04T14:31:00+00:00\n", "fee '-2' must be zero or more"),
        (HEAD + "SPY,BUY,1,1,USD,0,2021-06-04 14:31\n", "has no time zone"),
        (HEAD + "SPY,BUY,1,1,USD,0,yesterday\n", "not an ISO 8601 time"),
        (HEAD + "SPY,BUY,1,1,USD,0\n", "line 2: 6 fields"),
    ],
)  # fmt: skip
def test_a_malformed_file_is_refused_naming_the_line(body, says: str) -> None:
    raw = body if isinstance(body, bytes) else body.encode()
    _fills, problems = parse_fills(raw)
    assert any(says in p for p in problems), problems


def fills_of(text: str):
    fills, problems = parse_fills((HEAD + text).encode())
    assert problems == []
    return fills


def test_what_the_ticket_does_not_allow_is_refused() -> None:
    sha = "a" * 64
    no_trade = {**TICKET, "decision": "NO_TRADE"}
    assert "said NO_TRADE" in check(no_trade, fills_of("SPY,BUY,1,1,USD,0,2021-06-04T14:31:00Z\n"),
                                    sha, [], [])[0]  # fmt: skip
    off = check(TICKET, fills_of("QQQ,BUY,1,1,USD,0,2021-06-04T14:31:00Z\n"), sha, [], [])
    assert off == ["fill 1: BUY QQQ is not a line of the ticket"]
    wrong_side = check(TICKET, fills_of("SPY,SELL,1,1,USD,0,2021-06-04T14:31:00Z\n"), sha, [], [])
    assert wrong_side == ["fill 1: SELL SPY is not a line of the ticket"]
    over = check(TICKET, fills_of("SPY,BUY,30,1,USD,0,2021-06-04T14:31:00Z\n"), sha,
                 [{"symbol": "SPY", "side": "BUY", "units": "5"}], [])  # fmt: skip
    assert over == ["fill 1: BUY SPY brings the confirmed units to 35, the line intended 33"]
    again = check(TICKET, fills_of("SPY,BUY,1,1,USD,0,2021-06-04T14:31:00Z\n"), sha, [], [sha])
    assert "already confirmed" in again[0]
