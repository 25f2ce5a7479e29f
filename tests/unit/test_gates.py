"""The promotion gates judged from facts: every gate passes on good evidence, fails on bad,
goes STALE on old, and never passes on none (fail closed); the ladder stops at the first
level that does not pass."""

from __future__ import annotations

from decimal import Decimal

import pytest

from analytics.gates import core
from analytics.gates.core import FAIL, PASS, STALE, BotActivity, GateResult, SoakLimits

H = 3_600_000
NOW = 1_700_000_000_000
JUNIT = core.Junit("junit.xml", 10, 0, 0, 1, NOW - H)


def bot(**changes: object) -> BotActivity:
    good = dict(bot="b1", decisions=100, running_decisions=90, fills=5, orders=20,
                rejects_after_warmup=0, orders_after_warmup=15,
                worst_turnover_x=Decimal("1.2"), worst_daily_loss_pct=Decimal("0.4"),
                max_drawdown_pct=Decimal("1.1"), minutes=1440, minutes_over_cancel_budget=3,
                last_snapshot_ms=NOW)  # fmt: skip
    return BotActivity(**{**good, **changes})  # type: ignore[arg-type]


def test_the_tests_gate_needs_a_recent_green_suite() -> None:
    assert core.tests_gate(JUNIT, NOW, 24 * H).status == PASS
    assert core.tests_gate(None, NOW, 24 * H).status == FAIL  # unknown is not a pass
    red = core.Junit("j", 10, 1, 0, 0, NOW, ("t::test_a",))
    g = core.tests_gate(red, NOW, 24 * H)
    assert g.status == FAIL and "t::test_a" in g.reasons[0]
    assert core.tests_gate(core.Junit("j", 0, 0, 0, 0, NOW), NOW, 24 * H).status == FAIL
    old = core.tests_gate(core.Junit("j", 10, 0, 0, 0, NOW - 30 * H), NOW, 24 * H)
    assert old.status == STALE and "30.0 h old" in old.reasons[0]
    assert core.overall([old]) == FAIL  # stale fails the promotion


def verification(status: str = PASS, code: str = "abc", age_h: float = 1, **r: object):
    result = {"status": status, "run_id": "rp1", "code_version": code,
              "config_is_recorded": True, "differences": ["fills key x: ..."],
              "invariants": [], **r}  # fmt: skip
    return core.Verification("normal", "normal/results/rp1.json", result, int(NOW - age_h * H))


def test_replay_regression_wants_every_window_passed_on_this_code() -> None:
    assert core.regression_gate([verification()], "abc", NOW, 24 * H).status == PASS
    assert core.regression_gate([], "abc", NOW, 24 * H).status == FAIL
    never = core.Verification("usdc-depeg", "d", None, None)
    assert core.regression_gate([verification(), never], "abc", NOW, 24 * H).status == FAIL
    failed = core.regression_gate([verification(FAIL)], "abc", NOW, 24 * H)
    assert failed.status == FAIL and "fills key x" in failed.reasons[0]
    other_code = core.regression_gate([verification(code="old")], "abc", NOW, 24 * H)
    assert other_code.status == STALE and "verified on code old" in other_code.reasons[0]
    assert core.regression_gate([verification(age_h=25)], "abc", NOW, 24 * H).status == STALE
    other_config = verification(config_is_recorded=False)
    assert core.regression_gate([other_config], "abc", NOW, 24 * H).status == FAIL
    # a failure outranks staleness: the verdict says FAIL with both reasons
    both = core.regression_gate([verification(FAIL, code="old")], "abc", NOW, 24 * H)
    assert both.status == FAIL and len(both.reasons) == 2


@pytest.mark.parametrize(
    ("changes", "kpi"),
    [
        ({"running_decisions": 60}, "running_pct"),
        ({"worst_turnover_x": Decimal("3.5")}, "turnover_x"),
        ({"worst_daily_loss_pct": Decimal("1.5")}, "daily_loss_pct"),
        ({"max_drawdown_pct": Decimal("2.6")}, "drawdown_pct"),
        ({"minutes_over_cancel_budget": 100}, "cancel_budget_kept_pct"),
        ({"fills": 0}, "fills"),
        ({"rejects_after_warmup": 1, "orders_after_warmup": 50}, "reject_rate_after_warmup"),
        ({"decisions": 0, "running_decisions": 0}, "running_pct"),  # unknown
        ({"worst_turnover_x": None}, "turnover_x"),
    ],
)
def test_each_soak_kpi_fails_the_soak_on_its_own(changes: dict, kpi: str) -> None:
    assert core.paper_soak_gate([bot()], SoakLimits()).status == PASS
    g = core.paper_soak_gate([bot(), bot(bot="b2", **changes)], SoakLimits())
    assert g.status == FAIL
    assert [r.split(" ")[1] for r in g.reasons] == [kpi], g.reasons
    assert g.reasons[0].startswith("b2: ")


def test_paper_smoke_wants_fills_and_fresh_books() -> None:
    assert core.paper_smoke_gate([bot()], NOW, H).status == PASS
    assert core.paper_smoke_gate([], NOW, H).status == FAIL
    assert core.paper_smoke_gate([bot(fills=0)], NOW, H).status == FAIL
    assert core.paper_smoke_gate([bot(last_snapshot_ms=NOW - 2 * H)], NOW, H).status == STALE
    assert core.paper_smoke_gate([bot(last_snapshot_ms=None)], NOW, H).status == FAIL


def test_reconciliation_parity_data_quality_and_alerts() -> None:
    ok = core.reconciliation_gate({"v:main": NOW}, [], ["v:main"], NOW, H)
    assert ok.status == PASS
    assert core.reconciliation_gate({}, [], ["v:main"], NOW, H).status == FAIL
    assert core.reconciliation_gate({"v:main": NOW - 2 * H}, [], ["v:main"], NOW, H).status == STALE
    crit = core.reconciliation_gate({"v:main": NOW}, ["v:main fill_missing: x"], ["v:main"], NOW, H)
    assert crit.status == FAIL and "fill_missing" in crit.reasons[0]

    assert core.parity_gate({"b1": (NOW, "OK")}, ["b1"], NOW, H).status == PASS
    assert core.parity_gate({"b1": (NOW, "WARNING")}, ["b1"], NOW, H).status == FAIL
    assert core.parity_gate({"b1": (NOW - 2 * H, "OK")}, ["b1"], NOW, H).status == STALE
    assert core.parity_gate({}, ["b1"], NOW, H).status == FAIL

    fresh = {"v:X": NOW}
    assert core.data_quality_gate(fresh, [], {"v:X": H}, NOW).status == PASS
    resolved = core.data_quality_gate(fresh, [], {"v:X": H}, NOW, ["v:X stale: gap"])
    assert resolved.status == PASS and any(e.name == "critical_resolved" for e in resolved.evidence)
    assert core.data_quality_gate(fresh, ["v:X stale: now"], {"v:X": H}, NOW).status == FAIL
    assert core.data_quality_gate({"v:X": NOW - 4 * H}, [], {"v:X": 3 * H}, NOW).status == STALE
    assert core.data_quality_gate({}, [], {}, NOW).status == FAIL

    assert core.alert_delivery_gate({"sent": 4, "dry_run": 2}, 0).status == PASS
    assert core.alert_delivery_gate({"sent": 4, "failed": 1}, 0).status == FAIL
    assert core.alert_delivery_gate({}, 1).status == FAIL  # a CRITICAL nobody was told of


def test_the_validation_ladder_stops_at_the_first_level_not_passed() -> None:
    def results(**status: str) -> list[GateResult]:
        names = [g for _l, _n, gates in core.LADDER for g in gates]
        return [GateResult(n, status.get(n, PASS)) for n in names]

    assert core.validation_level(results()) == 4
    assert core.validation_level(results(paper_soak=STALE)) == 2
    assert core.validation_level(results(parity=FAIL)) == 3
    assert core.validation_level(results(tests=FAIL)) == -1
    # a higher level passing does not lift a lower one that does not
    assert core.validation_level(results(replay_regression=FAIL)) == 0
    assert core.validation_level([]) == -1
    assert core.overall([]) == FAIL
