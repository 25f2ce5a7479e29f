"""The portfolio agent's checkpoint in PostgreSQL: each bot's full book and the fills in it.

Faust rebuilds the ``portfolio-books`` table from its changelog up to the high
watermark, and the embedded broker reports watermarks short (docs/architecture.md):
after a restart the table can come back without its latest changes. The books
are therefore also written here, in one transaction with the id of the fill that
changed them, so that a restarted worker takes the newer of the two (by ``seq``,
the count of snapshots the book has produced) and never applies a fill twice.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import psycopg

from connectors.postgres.conn import Reconnecting

_SAVE = """
INSERT INTO portfolio_books AS b (bot_id, seq, as_of, state, updated_at)
VALUES (%s, %s, %s, %s, now())
ON CONFLICT (bot_id) DO UPDATE SET
    seq = EXCLUDED.seq, as_of = EXCLUDED.as_of, state = EXCLUDED.state, updated_at = now()
WHERE b.seq <= EXCLUDED.seq
"""


class BookCheckpoint(Reconnecting):
    """Synchronous (run it in a thread from an agent); one connection, reopened on loss."""

    def load(self) -> dict[str, dict[str, Any]]:
        """Bot id -> the last saved book state."""

        def read(conn: psycopg.Connection) -> list[Any]:
            with conn.transaction():
                return conn.execute("SELECT bot_id, state FROM portfolio_books").fetchall()

        return {bot_id: state for bot_id, state in self._call(read)}

    def applied(self, fill_id: str) -> bool:
        """Whether this fill is already in the saved books (a re-delivery)."""

        def read(conn: psycopg.Connection) -> Any:
            with conn.transaction():
                return conn.execute(
                    "SELECT 1 FROM portfolio_applied_fills WHERE event_id = %s", (fill_id,)
                ).fetchone()

        return self._call(read) is not None

    def save(self, state: Mapping[str, Any], fill_id: str | None = None) -> None:
        """Save one book (and the fill that changed it) atomically."""

        def write(conn: psycopg.Connection) -> None:
            with conn.transaction():
                conn.execute(
                    _SAVE,
                    (state["bot_id"], state["seq"], state["as_of"], json.dumps(state)),
                )
                if fill_id is not None:
                    conn.execute(
                        "INSERT INTO portfolio_applied_fills (event_id, bot_id, book_seq) "
                        "VALUES (%s, %s, %s) ON CONFLICT (event_id) DO NOTHING",
                        (fill_id, state["bot_id"], state["seq"]),
                    )

        self._call(write)

    def applied_ids(self) -> set[str]:
        """Every fill id in the saved books (read once at restore: no lookup per fill)."""
        rows = self._call(
            lambda c: c.execute("SELECT event_id FROM portfolio_applied_fills").fetchall()
        )
        return {r[0] for r in rows}

    def save_all(self, states: list[Mapping[str, Any]], fills: list[tuple[str, str]]) -> None:
        """Save books and the fills (id, bot) they now hold, in one transaction."""

        def write(conn: psycopg.Connection) -> None:
            with conn.transaction():
                seq = {}
                for state in states:
                    seq[state["bot_id"]] = state["seq"]
                    conn.execute(
                        _SAVE, (state["bot_id"], state["seq"], state["as_of"], json.dumps(state))
                    )
                for fill_id, bot_id in fills:
                    conn.execute(
                        "INSERT INTO portfolio_applied_fills (event_id, bot_id, book_seq) "
                        "VALUES (%s, %s, %s) ON CONFLICT (event_id) DO NOTHING",
                        (fill_id, bot_id, seq.get(bot_id, 0)),
                    )

        self._call(write)
