"""The reliability drills (``streams.drills``, ``desk drill``) as tests, on the real embedded
stack with the shared crypto bars: a worker SIGKILLed three times mid-replay, a stop and
restart mid-replay, PostgreSQL frozen mid-replay, the broker killed, ClickHouse down
mid-replay, bars that cannot be real among good ones, and malformed secret-bearing alert
routes (every log, topic and table searched for the secret). Each checks that every
published bar is stored exactly once, no order is left PENDING, and the desk trades on.

Each drill has a window of its own (the session's ClickHouse is shared; bars are counted
by their window), away from the days other tests replay.
"""

from __future__ import annotations

import json

import pytest

from streams.drills import DEFAULT_DATA, Window, run_drill

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not DEFAULT_DATA.exists(), reason="../shared/data not present"),
]

WINDOWS = {
    "worker-crash": Window("2023-03-15T00:00", "2023-03-15T03:00", "x300"),
    "restart": Window("2023-03-16T00:00", "2023-03-16T03:00", "x600"),
    "postgres-stall": Window("2023-03-17T00:00", "2023-03-17T03:00", "x300"),
    "broker-kill": Window("2023-03-18T00:00", "2023-03-18T03:00", "x600"),
    "clickhouse-outage": Window("2023-03-13T00:00", "2023-03-13T03:00", "x300"),
    "bad-values": Window("2023-03-20T00:00", "2023-03-20T02:00", "x600"),
    "secrets": Window("2023-03-20T12:00", "2023-03-20T13:00", "x600"),  # no bars replayed
}


@pytest.mark.timeout(900)
@pytest.mark.parametrize("name", list(WINDOWS))
def test_drill(name: str, stack: object, tmp_path_factory: pytest.TempPathFactory) -> None:
    ch = stack.settings.clickhouse_dsn  # type: ignore[attr-defined]  # one chDB per process
    result = run_drill(name, tmp_path_factory.mktemp(name), clickhouse_url=ch,
                       window=WINDOWS[name])  # fmt: skip
    print(f"\n{name}:", json.dumps(result.to_json(), default=str))
    assert result.passed, result.failures
    f = result.figures
    if name == "secrets":
        assert f["leaks"] == {} and f["routes"]["file"] == "sent"
        return
    assert f["bars_published"] > 0 and f["bars_lost"] == 0 and f["bars_duplicated"] == 0
    assert f["orders_pending"] == 0
