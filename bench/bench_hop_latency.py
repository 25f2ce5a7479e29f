"""One broker hop on the embedded Tansu: produce → a waiting consumer gets it, by fetch wait.

    .venv/bin/python -m bench.bench_hop_latency [--out bench/results/hop_latency.json]

The desk's consumers are aiokafka's (under Faust). Tansu answers a fetch when its
wait ends, not when data arrives, so a hop costs up to the fetch wait: Faust's
built-in 1,500 ms against the desk's ``DESK_BROKER_FETCH_WAIT_MS`` (50). Measured
side by side in one run on one broker: a message at irregular gaps (as bars
arrive), the wall time until the consumer holds it; median, p90 and max, and the
ratio of the medians.
"""

from __future__ import annotations

import asyncio
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiokafka

from bench import recorded_main
from streams.runtime.broker import EmbeddedBroker

WAITS_MS = (1500, 50)
SAMPLES = 40


async def _hops(bootstrap: str, wait_ms: int) -> list[float]:
    topic = f"hop-{wait_ms}"
    prod = aiokafka.AIOKafkaProducer(bootstrap_servers=bootstrap)
    await prod.start()
    await prod.send_and_wait(topic, b"warm")
    cons = aiokafka.AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=topic,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=wait_ms,
    )
    await cons.start()
    try:
        await cons.getone()
        out = []
        for i in range(SAMPLES):
            await asyncio.sleep(0.05 + (i % 7) * 0.11)  # irregular: land anywhere in a wait
            t0 = time.perf_counter()
            await prod.send_and_wait(topic, b"x")
            await cons.getone()
            out.append(time.perf_counter() - t0)
        return out
    finally:
        await cons.stop()
        await prod.stop()


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        broker = EmbeddedBroker(Path(tmp) / "broker.log")
        broker.start()
        try:
            lat = {w: asyncio.run(_hops(broker.bootstrap, w)) for w in WAITS_MS}
        finally:
            broker.stop()

    def summary(xs: list[float]) -> dict[str, float]:
        q = statistics.quantiles(xs, n=10)
        return {"median_ms": round(statistics.median(xs) * 1000, 1),
                "p90_ms": round(q[-1] * 1000, 1), "max_ms": round(max(xs) * 1000, 1)}  # fmt: skip

    rows = {f"fetch_wait_{w}ms": summary(xs) for w, xs in lat.items()}
    slow, fast = (rows[f"fetch_wait_{w}ms"]["median_ms"] for w in WAITS_MS)
    return {
        "bench": "hop_latency",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "samples": SAMPLES,
        "hops": rows,
        "median_ratio_1500_to_50": round(slow / fast, 1) if fast else None,
    }


def main() -> None:
    recorded_main(__doc__ or "", run, needs_data=False)


if __name__ == "__main__":
    main()
