"""Where the dashboard reads, opened the way every ``desk`` command opens it
(``streams.runtime.access``): a running desk's store endpoint and PostgreSQL; a
ClickHouse server and a PostgreSQL DSN from the settings; or, with no desk running,
the data dir's embedded stores, held for as long as the dashboard runs (``desk up``
then waits for it to stop: the page says so)."""

from __future__ import annotations

import atexit
import contextlib
from dataclasses import dataclass, field
from typing import Any

from connectors.clickhouse.store import Store
from streams.settings import DeskSettings


@dataclass
class Sources:
    settings: DeskSettings
    store: Store | None
    dsn: str | None
    mode: str  # "the running desk" | "the data dir (no desk running)" | "external stores"
    problems: list[str] = field(default_factory=list)


def open_sources(settings: DeskSettings) -> Sources:
    """Open both stores; a store that cannot be opened is a problem said on the page,
    never an exception (the other one still serves its pages)."""
    from streams.runtime.access import analytics_store, postgres_dsn
    from streams.runtime.stack import pid_alive, read_state

    state = read_state(settings)
    running = bool(state and pid_alive(int(state.get("pid", 0))))
    external = not settings.clickhouse_dsn.startswith("chdb://")
    mode = (
        "external stores"
        if external and settings.postgres_dsn is not None
        else "the running desk"
        if running
        else "the data dir (no desk running)"
    )
    stack = contextlib.ExitStack()
    atexit.register(stack.close)  # the stores stay open for the dashboard's life
    src = Sources(settings, None, None, mode)
    try:
        src.store = stack.enter_context(analytics_store(settings))
        if mode == "the data dir (no desk running)":
            src.store.migrate({})
    except Exception as exc:  # said on the page
        src.problems.append(f"analytics store: {_line(exc)}")
    try:
        src.dsn = stack.enter_context(postgres_dsn(settings))
        if mode == "the data dir (no desk running)":
            from connectors.postgres.migrate import migrate

            migrate(src.dsn)
    except Exception as exc:
        src.problems.append(f"PostgreSQL: {_line(exc)}")
    return src


def _line(exc: BaseException) -> str:
    from streams.redact import error_text

    return error_text(exc, 300)


def pg_rows(dsn: str, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(dsn, connect_timeout=5, row_factory=dict_row) as conn:
        return list(conn.execute(sql, params).fetchall())


def risk_view(dsn: str, prefix: str) -> tuple[str | None, dict[str, Any] | None]:
    """Risk's own view (trading states, reserved exposure) from the desk core's latest
    checkpoint: this desk's topic prefix first, else the most recently saved core (a
    demo or replay run has its own prefix). (checkpoint name, view) or (None, None)."""
    from streams.core import NAME

    rows = pg_rows(
        dsn,
        "SELECT name, state->'views'->'risk' AS view FROM agent_checkpoints "
        "WHERE name = %s OR name LIKE %s ORDER BY (name = %s) DESC, updated_at DESC LIMIT 1",
        (f"{prefix}{NAME}", f"%{NAME}", f"{prefix}{NAME}"),
    )
    if not rows or rows[0]["view"] is None:
        return None, None
    return rows[0]["name"], rows[0]["view"]
