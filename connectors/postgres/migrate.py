"""``desk db migrate`` for PostgreSQL: versioned, idempotent, one migrator at a time."""

from __future__ import annotations

from pathlib import Path

import psycopg

from connectors.migrations import Migration, load, pending
from streams.errors import DeskError
from streams.settings import redact_url

MIGRATIONS = Path(__file__).with_name("migrations")
_LOCK_KEY = 0x6465736B  # "desk": one migrator at a time per database

_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     int PRIMARY KEY,
    name        text NOT NULL,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""


def migrate(dsn: str, directory: Path = MIGRATIONS) -> list[Migration]:
    """Apply what is pending, each migration in its own transaction; returns what ran."""
    available = load(directory)
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
            try:
                conn.execute(_LEDGER)
                rows = conn.execute("SELECT version, checksum FROM schema_migrations").fetchall()
                todo = pending(available, dict(rows), "postgres")
                for m in todo:
                    with conn.transaction():
                        conn.execute(m.sql.encode())
                        conn.execute(
                            "INSERT INTO schema_migrations (version, name, checksum) "
                            "VALUES (%s, %s, %s)",
                            (m.version, m.name, m.checksum),
                        )
                return todo
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DeskError(f"postgres {redact_url(dsn)}: migration failed: {first}") from None


def applied(dsn: str) -> dict[int, str]:
    """Version -> name of every applied migration (empty on a fresh database)."""
    with psycopg.connect(dsn) as conn:
        exists = conn.execute("SELECT to_regclass('schema_migrations')").fetchone()
        if exists is None or exists[0] is None:
            return {}
        return dict(conn.execute("SELECT version, name FROM schema_migrations").fetchall())
