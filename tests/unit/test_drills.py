"""The drills' own parts, offline: their names in the CLI, and the bad bars of the
bad-values drill against the data-quality core."""

from __future__ import annotations

from agents.dq.core import DataQualityCore
from streams.config import load_config


def test_every_drill_is_named_in_the_cli_help_and_its_bad_bars_are_each_rejected() -> None:
    """``desk drill --help`` lists every drill; each bad bar of the bad-values drill, sent
    where the stream is, is rejected by the data-quality core for the reason the drill
    expects, and every good bar around them stays clean (offline, real bars)."""
    from agents.dq.stream import InvalidBar
    from streams.cli.stack import DRILL_NAMES
    from streams.drills import DRILLS
    from streams.drills.inputs import BAD_REASONS, bad_bars
    from tests.unit.test_dq_containment import real

    assert [n.strip() for n in DRILL_NAMES.split("|")] == list(DRILLS)
    good = real(n=240)
    at = good[120]["open_time"]
    bad = bad_bars(at, good[119]["close"])
    assert set(bad) == set(BAD_REASONS)
    core = DataQualityCore.from_config(load_config())
    why: dict[str, str] = {}
    clean = 0
    for b in [*good[:120], *bad.values(), *good[120:]]:
        try:
            o = core.process(b)
        except InvalidBar as exc:
            why[b["event_id"]] = str(exc)
            continue
        if o.rejection is not None:
            why[b["event_id"]] = o.rejection.line()
        clean += o.clean is not None
    assert clean == len(good)
    for label, b in bad.items():
        assert why[b["event_id"]].startswith(BAD_REASONS[label]), (label, why[b["event_id"]])
