"""The Faust consumer waits at most ``DESK_BROKER_FETCH_WAIT_MS`` for data, not Faust's 1.5 s.

On the embedded Tansu a fetch is answered when its wait ends, not when data arrives,
so Faust's built-in 1,500 ms made every hop of the desk cost up to 1.5 s of wall time
(10+ minutes of event time per hop at ``x600``).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from streams.app import create_app
from streams.errors import ConfigError
from streams.settings import load_settings


def _worker_consumer(tmp_path: Path, **settings: object) -> object:
    """The aiokafka consumer the worker would start (aiokafka wants a running loop)."""
    desk = create_app(
        load_settings(data_dir=tmp_path, broker_incarnation="test:transport", **settings),
        "127.0.0.1:9",
    )

    async def build() -> object:
        thread = desk.app.consumer._new_consumer_thread()
        return thread._create_worker_consumer(desk.app.transport)

    return asyncio.run(build())


def test_the_worker_consumer_fetch_wait_is_the_desks_setting(tmp_path: Path) -> None:
    assert _worker_consumer(tmp_path)._fetch_max_wait_ms == 50  # its default (Faust's: 1500)
    assert _worker_consumer(tmp_path, broker_fetch_wait_ms=37)._fetch_max_wait_ms == 37


@pytest.mark.parametrize("bad", [0, -5, 60_000])
def test_an_absurd_fetch_wait_is_a_one_line_error(bad: int) -> None:
    with pytest.raises(ConfigError, match="DESK_BROKER_FETCH_WAIT_MS"):
        load_settings(broker_fetch_wait_ms=bad)
