"""The whole stack: broker + PostgreSQL + ClickHouse + the agents' worker, started and
stopped in order, guarded by a lock on the data dir, with a health endpoint.

``desk up`` holds one ``Stack`` in the foreground. A second ``desk up`` on the
same data dir finds the lock taken and refuses (the embedded PostgreSQL and chDB
data must never have two owners). ``desk status`` reads ``run/stack.json`` and
asks the running stack's health endpoint; the chDB store can only be queried by
its owner, so the owner answers for it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from analytics.events import EVENT_TABLES
from connectors.clickhouse.store import (
    DirectStore,
    MigrationReport,
    QueryResult,
    StoreRefused,
    StoreUnavailable,
)
from connectors.postgres.migrate import migrate as migrate_postgres
from streams.admin import apply_desk_topics
from streams.config import DEFAULT_CONFIG, load_config
from streams.errors import DeskError
from streams.runtime.broker import EmbeddedBroker, ExternalBroker
from streams.runtime.clickhouse import ClickHouse
from streams.runtime.health import PartHealth
from streams.runtime.postgres import EmbeddedPostgres, ExternalPostgres
from streams.runtime.proc import pid_alive, spawn, stop_process, wait_until
from streams.runtime.supervisor import PARTS, Supervisor
from streams.settings import DeskSettings, redact_url

Progress = Callable[[str], None]
log = logging.getLogger("deskplane.stack")


def _quiet(_msg: str) -> None:
    pass


class DataDirLock:
    """An exclusive, non-blocking flock on ``<data_dir>/desk.lock`` (released on process death)."""

    def __init__(self, data_path: Path) -> None:
        self.path = data_path / "desk.lock"
        self._fd: int | None = None

    def acquire(self, holder_info: Callable[[], str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise DeskError(
                f"a desk is already running on {self.path.parent} ({holder_info()}); "
                "stop it first (Ctrl-C in its terminal) or set DESK_DATA_DIR to another directory"
            ) from None
        self._fd = fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def state_path(settings: DeskSettings) -> Path:
    return settings.data_path / "run" / "stack.json"


def read_state(settings: DeskSettings) -> dict[str, Any] | None:
    try:
        return json.loads(state_path(settings).read_text())
    except (OSError, ValueError):
        return None


class Stack:
    """Start, health-check and stop every part; embedded or external per settings."""

    def __init__(
        self,
        settings: DeskSettings,
        *,
        with_agents: bool = True,
        supervise: bool | tuple[str, ...] = True,
        workers: int = 1,
    ) -> None:
        """``supervise``: True (restart any part that dies), False (no supervisor), or the
        parts to restart; the others are still watched and alerted on, never restarted.
        ``workers``: Faust workers sharing the partitions (one consumer group); the first
        is the one supervised and reported, the others are started and stopped with it."""
        self.settings = settings
        self.run_dir = settings.data_path / "run"
        self.broker: EmbeddedBroker | ExternalBroker = (
            EmbeddedBroker(self.run_dir / "tansu.log", settings.tansu_bin)
            if settings.embedded_broker
            else ExternalBroker(settings.broker_url or "")
        )
        self.postgres: EmbeddedPostgres | ExternalPostgres = (
            EmbeddedPostgres(settings.data_path / "postgres")
            if settings.embedded_postgres or settings.postgres_dsn is None
            else ExternalPostgres(settings.postgres_dsn.get_secret_value())
        )
        self.clickhouse = ClickHouse(settings.clickhouse_dsn)
        self.with_agents = with_agents
        self.worker: subprocess.Popen | None = None
        self.workers = workers
        self.extra_workers: list[subprocess.Popen] = []
        self._lock = DataDirLock(settings.data_path)
        self._http: ThreadingHTTPServer | None = None
        self._ch_lock = threading.Lock()
        self._ch_down = False  # drills: the store answers as a ClickHouse that is down
        self.started_at: float | None = None
        restart = PARTS if supervise is True else tuple(supervise or ())
        self.supervisor: Supervisor | None = (
            Supervisor(self, restart=restart) if supervise is not False else None
        )
        self._restart_lock = threading.RLock()  # the supervisor and stop() never interleave
        self._unsent_alerts: list[dict[str, Any]] = []

    # -- lifecycle -------------------------------------------------------------------------

    def _holder(self) -> str:
        state = read_state(self.settings)
        if state and pid_alive(int(state.get("pid", 0))):
            return f"pid {state['pid']}, up since {state.get('started_at_iso', '?')}"
        return "held by another process"

    def start(self, progress: Progress = _quiet) -> None:
        self._lock.acquire(self._holder)  # refuses before touching anything
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            progress(f"broker ({self.broker.mode})")
            self.broker.start()
            progress(f"postgres ({self.postgres.mode})")
            self.postgres.start()
            progress("postgres migrations")
            migrate_postgres(self.postgres.dsn)
            progress(f"clickhouse ({self.clickhouse.mode})")
            self.clickhouse.start()
            progress("clickhouse migrations")
            self.migrate_clickhouse(
                load_config(self.settings.config_file).analytics.table_retention()
            )
            progress("topics")
            apply_desk_topics(self.broker.bootstrap, self.settings)
            self._serve_health()  # before the agents: the sink reaches chDB through it
            if self.with_agents:
                progress("agents")
                self.start_worker()
            self.started_at = time.time()
            self._write_state()
            if self.supervisor is not None:
                self.supervisor.start()
        except BaseException:
            self.stop()
            raise

    def start_worker(self, timeout_s: float = 60.0) -> None:
        # the first is ``self.worker`` from the moment it runs: the supervisor must not take a
        # worker that is starting for one that died
        self._spawn_worker(0, timeout_s, lambda w: setattr(self, "worker", w))
        while len(self.extra_workers) < self.workers - 1:
            self._spawn_worker(len(self.extra_workers) + 1, timeout_s, self.extra_workers.append)

    def _spawn_worker(
        self, index: int, timeout_s: float, started: Callable[[subprocess.Popen], None]
    ) -> None:
        suffix = "" if index == 0 else f"-{index}"
        ready = self.run_dir / f"worker{suffix}.ready"
        ready.unlink(missing_ok=True)
        env = dict(os.environ)
        env.update(
            DESK_BROKER_URL=self.broker.bootstrap,
            DESK_DATA_DIR=str(self.settings.data_path),
            DESK_TOPIC_PREFIX=self.settings.topic_prefix,
            DESK_APP_ID=self.settings.app_id,
            DESK_LOG_LEVEL=self.settings.log_level,
            DESK_METRICS_PORT=str(self.settings.metrics_port),
            DESK_WORKER_INDEX=str(index),
            DESK_AGENT_MODULES=self.settings.agent_modules or "",
            DESK_BROKER_FETCH_WAIT_MS=str(self.settings.broker_fetch_wait_ms),
            DESK_POSTGRES_DSN=self.postgres.dsn,  # a secret: passed in the environment only
        )
        if self.broker.incarnation is not None:  # an embedded broker: a new life each start
            env["DESK_BROKER_INCARNATION"] = self.broker.incarnation
        if self.clickhouse.dsn.startswith("chdb://"):  # chDB has one owner: this process
            env["DESK_STORE_ENDPOINT"] = self.store_endpoint
        else:
            env["DESK_CLICKHOUSE_URL"] = self.clickhouse.dsn
        if self.settings.config_file is not None:
            env["DESK_CONFIG_FILE"] = str(self.settings.config_file)
        log = self.run_dir / f"worker{suffix}.log"
        worker = spawn([sys.executable, "-m", "streams.cli", "worker"], str(log), env)
        started(worker)
        ok = wait_until(lambda: ready.exists() or worker.poll() is not None, timeout_s, 0.1)
        if not ok or worker.poll() is not None:
            raise DeskError(f"agents did not start; see {log}")

    def stop(self) -> None:
        """Stop in reverse order; safe to call twice and after a partial start. The worker
        drains and commits while the broker is still up (bounded: 30 s, 5 s if the broker is
        already gone and there is nothing to commit to)."""
        if self.supervisor is not None:
            self.supervisor.stop()
        with self._restart_lock:
            self._stop_parts()

    def _stop_parts(self) -> None:
        # the worker first: its graceful stop flushes the ClickHouse sinks through this
        # process's store endpoint, which must still answer (the embedded broker forgets
        # whatever was not written by then)
        for extra in self.extra_workers:
            stop_process(extra, timeout_s=30 if self.broker_alive() else 5)
        self.extra_workers = []
        if self.worker is not None:
            stop_process(self.worker, timeout_s=30 if self.broker_alive() else 5)
            self.worker = None
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
        with self._ch_lock:
            self.clickhouse.stop()
        self.postgres.stop()
        self.broker.stop()
        if self._lock.held:  # only the owner may touch the run state
            with contextlib.suppress(OSError):
                state_path(self.settings).unlink()
            self._lock.release()

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- supervision (streams.runtime.supervisor calls these) ---------------------------------

    def broker_alive(self) -> bool:
        return self.broker.alive()

    def postgres_alive(self) -> bool:
        return self.postgres.health().healthy

    def postgres_problem(self) -> str:
        h = self.postgres.health()
        if isinstance(self.postgres, EmbeddedPostgres) and self.postgres.server_pid() is not None:
            return f"PostgreSQL running but not answering ({h.detail}): stalled?"
        return f"PostgreSQL down ({h.detail})"

    def worker_alive(self) -> bool:
        return self.worker is not None and self.worker.poll() is None

    def restart_worker(self) -> bool:
        with self._restart_lock:
            if self.worker is not None:
                stop_process(self.worker, timeout_s=10)
            self.start_worker()
            return True

    def restart_broker(self) -> bool:
        """A new broker on the same port (it starts empty: a new incarnation), its topics, and
        a worker that knows it. Nothing to restart for an external broker: wait for it."""
        if not isinstance(self.broker, EmbeddedBroker):
            return False
        with self._restart_lock:
            if self.worker is not None:
                stop_process(self.worker, timeout_s=5)  # it cannot commit to a dead broker
                self.worker = None
            self.broker.stop()
            self.broker.start()
            apply_desk_topics(self.broker.bootstrap, self.settings)
            self._write_state()
            if self.with_agents:
                self.start_worker()
            return True

    def restart_postgres(self) -> bool:
        """Only a dead embedded server is restarted; a stalled one is left to recover."""
        if not isinstance(self.postgres, EmbeddedPostgres) or self.postgres.server_pid():
            return False
        with self._restart_lock:
            self.postgres.restart()
            migrate_postgres(self.postgres.dsn)
            return True

    def publish_alert(self, alert: dict[str, Any]) -> None:
        """An operational alert onto ``alerts`` (kept and re-tried while the broker is down)."""
        from streams.kafka import EventProducer

        self._unsent_alerts.append(alert)
        if not self.broker_alive():
            return
        try:
            p = EventProducer(self.broker.bootstrap, self.settings.topic_prefix)
            for a in self._unsent_alerts:
                p.send("alerts", "supervisor", a)
            p.flush(5.0)
        except DeskError as exc:
            log.warning("supervisor alert not published yet: %s", exc)
            return
        self._unsent_alerts.clear()

    # -- health ----------------------------------------------------------------------------

    def agents_health(self) -> PartHealth:
        if not self.with_agents:
            return PartHealth("agents", "embedded", True, "not started (stack only)")
        if self.worker is None or self.worker.poll() is not None:
            code = None if self.worker is None else self.worker.returncode
            return PartHealth("agents", "embedded", False, f"worker not running (exit {code})")
        detail = f"worker pid {self.worker.pid} running"
        if self.supervisor is not None:
            restarts = self.supervisor.policy.parts["worker"].restarts
            detail += f", {restarts} restart(s)" if restarts else ""
        return PartHealth("agents", "embedded", True, detail)

    def health(self) -> list[PartHealth]:
        with self._ch_lock:
            ch = self.clickhouse.health()
        parts = [self.broker.health(), self.postgres.health(), ch, self.agents_health()]
        if self.with_agents:
            parts.append(risk_health(self.settings))
            parts.extend(progress_health(self.settings, self.worker_alive()))
        return parts

    def query_clickhouse(self, sql: str) -> QueryResult:
        """A read-only query on the store this process owns (chDB: one process per path)."""
        with self._ch_lock:
            if self.clickhouse.client is None or self._ch_down:
                raise StoreUnavailable("ClickHouse is not started")
            return DirectStore(
                self.clickhouse.client, self.clickhouse.dsn.startswith("chdb://")
            ).query(sql)

    def migrate_clickhouse(self, retention: dict[str, int]) -> MigrationReport:
        """Pending migrations and the tables' TTLs, on the store this process owns."""
        with self._ch_lock:
            if self.clickhouse.client is None:
                raise StoreUnavailable("ClickHouse is not started")
            try:
                return DirectStore(self.clickhouse.client).migrate(retention)
            except ValueError as exc:
                raise StoreRefused(str(exc)) from None

    def insert_clickhouse(self, table: str, json_each_row: bytes) -> None:
        """Rows for an event table, from the sink in the worker (it cannot open chDB)."""
        if table not in EVENT_TABLES:
            raise StoreRefused(f"{table!r} is not an event table")
        with self._ch_lock:
            if self.clickhouse.client is None or self._ch_down:
                raise StoreUnavailable("ClickHouse is not started")
            DirectStore(self.clickhouse.client).insert(table, json_each_row)

    @contextlib.contextmanager
    def clickhouse_unavailable(self) -> Iterator[None]:
        """For drills: every query and insert is refused as by a ClickHouse that is down
        (503 to the worker's sinks) until the block ends."""
        self._ch_down = True
        try:
            yield
        finally:
            self._ch_down = False

    def _serve_health(self) -> None:
        stack = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: the sinks insert through it all day

            def do_GET(self) -> None:
                if self.path != "/health":
                    self.send_error(404)
                    return
                parts = [p.to_json() for p in stack.health()]
                body = json.dumps({"pid": os.getpid(), "parts": parts}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if len(body) != length:  # the client died mid-send: never a partial insert
                    self.close_connection = True
                    return
                try:
                    if url.path == "/clickhouse/query":
                        out = json.dumps(stack.query_clickhouse(body.decode()).to_json())
                    elif url.path == "/clickhouse/insert":
                        table = urllib.parse.parse_qs(url.query).get("table", [""])[0]
                        stack.insert_clickhouse(table, body)
                        out = "{}"
                    elif url.path == "/clickhouse/migrate":
                        retention = json.loads(body or b"{}")
                        out = json.dumps(stack.migrate_clickhouse(retention).to_json())
                    else:
                        self.send_error(404)
                        return
                except (StoreRefused, UnicodeDecodeError, ValueError) as exc:
                    self._reply(400, str(exc).encode(), "text/plain")
                except StoreUnavailable as exc:
                    self._reply(503, str(exc).encode(), "text/plain")
                else:
                    self._reply(200, out.encode(), "application/json")

            def _reply(self, code: int, body: bytes, kind: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._http.serve_forever, daemon=True, name="health").start()

    @property
    def store_endpoint(self) -> str:
        assert self._http is not None
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    def _write_state(self) -> None:
        assert self._http is not None and self.started_at is not None
        state = {
            "pid": os.getpid(),
            "started_at": self.started_at,
            "started_at_iso": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.started_at)),
            "health_url": f"{self.store_endpoint}/health",
            "store_endpoint": self.store_endpoint if self.clickhouse.mode == "embedded" else None,
            "broker": self.broker.bootstrap,
            "postgres": redact_url(self.postgres.dsn),
            # the embedded server's socket DSN carries no password: other local commands use it
            "postgres_local_dsn": self.postgres.dsn if self.postgres.mode == "embedded" else None,
            "clickhouse": redact_url(self.clickhouse.dsn),
            "topic_prefix": self.settings.topic_prefix,
            # the config its agents run with: a replay checks its streams against it
            "config_file": str((self.settings.config_file or DEFAULT_CONFIG).resolve()),
        }
        path = state_path(self.settings)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(path)


def risk_health(settings: DeskSettings) -> PartHealth:
    """Whether risk's trading state is durable (risk's keeper in the desk core writes it;
    not durable: risk denies new exposure until it is)."""
    path = settings.risk_status_file
    try:
        body = json.loads(path.read_text())
    except (OSError, ValueError):
        return PartHealth("risk", "embedded", True, "no intent yet: state restored on the first")
    if body.get("durable"):
        return PartHealth("risk", "embedded", True, "trading state durable")
    return PartHealth("risk", "embedded", False,
                      f"FAIL CLOSED (new exposure denied): {body.get('reason')}")  # fmt: skip


STUCK_S = 120.0  # a store writer failing this long, or an agent idle while behind: unhealthy


def progress_health(settings: DeskSettings, worker_alive: bool) -> list[PartHealth]:
    """Every agent's progress and every store writer's backlog, from the worker's status file:
    a store that stalls shows here as a growing backlog, not as healthy agents."""
    path = settings.data_path / "run" / f"{settings.topic_prefix}agents.json"
    try:
        body = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    if not worker_alive or time.time() - float(body.get("at", 0)) > 10:
        return [PartHealth("progress", "embedded", False, "worker status is stale")]
    out = []
    for w in body.get("writers", []):
        failing = w.get("failing_for_s")
        ok = failing is None or failing < STUCK_S
        detail = f"{w['pending']} pending"
        if w["behind_s"]:
            detail += f", behind {w['behind_s']} s"
        if failing is not None:
            detail += f", store failing for {failing} s: {w.get('last_error') or '?'}"
        out.append(PartHealth(f"writer {w['name']}", "embedded", ok, detail))
    agents = body.get("agents", {})
    if agents:
        newest = max(a["event_time"] for a in agents.values())
        lagging = {n: a for n, a in agents.items() if a["event_time"] < newest}
        detail = f"{len(agents)} agents; newest input at event time {newest}"
        if lagging:
            worst = min(lagging, key=lambda n: lagging[n]["event_time"])
            behind_s = (newest - agents[worst]["event_time"]) // 1000
            detail += f"; furthest behind: {worst} by {behind_s} s"
        out.append(PartHealth("progress", "embedded", True, detail))
    return out


def status(settings: DeskSettings, timeout_s: float = 5.0) -> dict[str, Any]:
    """Health of every part, from the running stack if there is one, else checked directly."""
    import urllib.request

    state = read_state(settings)
    if state and pid_alive(int(state["pid"])):
        try:
            with urllib.request.urlopen(state["health_url"], timeout=timeout_s) as resp:
                report = json.loads(resp.read())
        except OSError as exc:
            return {
                "running": True,
                "pid": state["pid"],
                "healthy": False,
                "parts": [],
                "error": f"health endpoint unreachable: {exc}",
            }
        parts = report["parts"]
        return {
            "running": True,
            "pid": state["pid"],
            "started_at": state["started_at_iso"],
            "healthy": all(p["healthy"] for p in parts),
            "parts": parts,
        }
    parts = []
    for part, external in (
        ("broker", settings.broker_url),
        ("postgres", settings.postgres_dsn),
        ("clickhouse", settings.clickhouse_url),
    ):
        if external is None:
            parts.append(PartHealth(part, "embedded", False, "not running (start it: desk up)"))
        elif part == "broker":
            parts.append(ExternalBroker(settings.broker_url or "").health())
        elif part == "postgres":
            parts.append(ExternalPostgres(external.get_secret_value()).health())  # type: ignore[union-attr]
        else:
            ch = ClickHouse(external.get_secret_value())  # type: ignore[union-attr]
            try:
                ch.start()
            except DeskError as exc:  # status reports a down part, it does not fail
                parts.append(PartHealth("clickhouse", ch.mode, False, str(exc)))
                continue
            parts.append(ch.health())
            ch.stop()
    parts.append(PartHealth("agents", "embedded", False, "not running (start them: desk up)"))
    return {"running": False, "healthy": False, "parts": [p.to_json() for p in parts]}
