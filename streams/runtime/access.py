"""Reaching a store from a command while the desk may or may not be running.

The embedded stores have one owner: the running ``desk up``. A command run
beside it uses the owner's (password-less, local socket) PostgreSQL and reaches
the embedded ClickHouse (chDB: one process per data path) through the owner's
store endpoint; when no desk runs, the command takes the data-dir lock itself
and opens the embedded store for as long as it needs it. An external DSN or URL
from the settings is used as it is.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from connectors.clickhouse.store import DirectStore, OwnerStore, Store
from streams.errors import DeskError
from streams.runtime.postgres import EmbeddedPostgres
from streams.runtime.stack import DataDirLock, pid_alive, read_state
from streams.settings import DeskSettings

_HELD: dict[Path, tuple[DataDirLock, int]] = {}


@contextlib.contextmanager
def _data_dir_lock(settings: DeskSettings) -> Iterator[None]:
    """The data-dir lock, taken once per process however deeply the stores nest (a
    command that writes PostgreSQL and the analytics store holds both at once)."""
    key = settings.data_path.resolve()
    if key in _HELD:
        lock, n = _HELD[key]
        _HELD[key] = (lock, n + 1)
    else:
        lock = DataDirLock(settings.data_path)
        lock.acquire(lambda: "a desk started meanwhile")
        _HELD[key] = (lock, 1)
    try:
        yield
    finally:
        lock, n = _HELD[key]
        if n == 1:
            del _HELD[key]
            lock.release()
        else:
            _HELD[key] = (lock, n - 1)


@contextlib.contextmanager
def postgres_dsn(settings: DeskSettings) -> Iterator[str]:
    """A DSN for the desk's PostgreSQL, valid inside the ``with`` block."""
    if settings.postgres_dsn is not None:
        yield settings.postgres_dsn.get_secret_value()
        return
    state = read_state(settings)
    if state and pid_alive(int(state.get("pid", 0))):
        dsn = state.get("postgres_local_dsn")
        if not dsn:
            raise DeskError("the running desk uses an external PostgreSQL: set DESK_POSTGRES_DSN")
        yield dsn
        return
    with _data_dir_lock(settings):
        server = EmbeddedPostgres(settings.data_path / "postgres")
        try:
            server.start()
            yield server.dsn
        finally:
            server.stop()


@contextlib.contextmanager
def analytics_store(settings: DeskSettings) -> Iterator[Store]:
    """The desk's analytics store (same SQL, same results, desk running or not)."""
    from streams.runtime.clickhouse import connect

    dsn = settings.clickhouse_dsn
    if not dsn.startswith("chdb://"):
        client = connect(dsn)
        try:
            yield DirectStore(client)
        finally:
            client.close()
        return
    state = read_state(settings)
    if state and pid_alive(int(state.get("pid", 0))):
        endpoint = state.get("store_endpoint")
        if not endpoint:
            raise DeskError("the running desk uses an external ClickHouse: set DESK_CLICKHOUSE_URL")
        yield OwnerStore(endpoint)
        return
    with _data_dir_lock(settings):
        client = connect(dsn)
        try:
            yield DirectStore(client, chdb=True)
        finally:
            client.close()
