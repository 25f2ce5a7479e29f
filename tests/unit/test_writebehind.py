"""Write-behind: inputs are acknowledged only once written; a stalled store holds them back
(bounded) without blocking the hand-over; saves coalesce."""

from __future__ import annotations

import asyncio
import threading

from streams.writebehind import Checkpointer, RowBuffer


class Ev:
    def __init__(self, n: int) -> None:
        self.n, self.acked = n, False

    def ack(self) -> None:
        self.acked = True


def test_checkpoint_acks_only_after_the_save_and_coalesces() -> None:
    gate = threading.Event()
    saves: list[int] = []
    state = {"n": 0}

    def save(s: int) -> None:
        gate.wait(5)
        saves.append(s)

    async def run() -> list[Ev]:
        lock = asyncio.Lock()
        cp = Checkpointer("t", lock, lambda: state["n"], save, max_pending=1000)
        events = [Ev(i) for i in range(50)]
        for e in events:  # the store is stalled: hand-over still returns at once
            async with lock:
                state["n"] = e.n
                await cp.applied([e])
            await asyncio.sleep(0)
        assert not any(e.acked for e in events)
        assert cp.backlog.pending == 50
        gate.set()
        assert await cp.flush(5)
        return events

    events = asyncio.run(run())
    assert all(e.acked for e in events)
    assert saves[-1] == 49 and len(saves) < 50  # the newest state; far fewer saves than inputs


def test_row_buffer_writes_in_order_and_applies_backpressure() -> None:
    written: list[int] = []
    release = asyncio.Event()

    async def run() -> tuple[list[Ev], bool]:
        async def write(batch: list[Ev]) -> None:
            await release.wait()
            written.extend(e.n for e in batch)

        buf = RowBuffer("t", write, batch=3, max_pending=5)
        events = [Ev(i) for i in range(8)]
        await buf.add(events[:4])
        blocked = asyncio.ensure_future(buf.add(events[4:]))  # past the bound: waits
        await asyncio.sleep(0.05)
        was_blocked = not blocked.done()
        release.set()
        await blocked
        assert await buf.flush(5)
        return events, was_blocked

    events, was_blocked = asyncio.run(run())
    assert was_blocked
    assert written == list(range(8))
    assert all(e.acked for e in events)


def test_a_failing_store_is_reported_then_cleared() -> None:
    calls = {"n": 0}

    def save(_s: int) -> None:
        calls["n"] += 1
        if calls["n"] < 3:
            raise OSError("connection refused (password=hunter2)")

    async def run() -> tuple[dict, dict]:
        lock = asyncio.Lock()
        cp = Checkpointer("t", lock, lambda: 1, save)
        await cp.applied([Ev(1)])
        await asyncio.sleep(0.05)
        during = cp.backlog.to_json()
        await cp.flush(10)
        return during, cp.backlog.to_json()

    during, after = asyncio.run(run())
    assert during["pending"] == 1 and during["failing_for_s"] is not None
    assert after["pending"] == 0 and after["failing_for_s"] is None and after["written"] == 1


def test_a_write_that_raises_keeps_its_rows_owed_and_in_order() -> None:
    written: list[int] = []
    calls = {"n": 0}

    async def run() -> list[Ev]:
        async def write(batch: list[Ev]) -> None:
            calls["n"] += 1
            if calls["n"] == 1:
                raise RuntimeError("a bug in the sink")  # not a store outage: not retried inside
            written.extend(e.n for e in batch)

        buf = RowBuffer("t", write, batch=10)
        events = [Ev(i) for i in range(5)]
        await buf.add(events)
        assert await buf.flush(5)
        return events

    events = asyncio.run(run())
    assert written == list(range(5)) and all(e.acked for e in events)


def test_a_full_checkpoint_waits_outside_the_lock_and_never_deadlocks() -> None:
    """Past ``max_pending`` the agent waits in ``room()`` before its lock; the writer, which
    needs that lock to capture the state, still gets it, saves, and lets the agent go on."""
    gate = threading.Event()
    saves: list[int] = []
    state = {"n": 0}

    def save(s: int) -> None:
        gate.wait(5)
        saves.append(s)

    async def run() -> list[Ev]:
        lock = asyncio.Lock()
        cp = Checkpointer("t", lock, lambda: state["n"], save, max_pending=3)
        events = [Ev(i) for i in range(10)]

        async def agent() -> None:
            for e in events:
                await cp.room()
                async with lock:
                    state["n"] = e.n
                    await cp.applied([e])  # under the lock: returns at once, even when full

        task = asyncio.ensure_future(agent())
        await asyncio.sleep(0.2)
        assert not task.done()  # held back: the store is stalled and the writer is full
        assert cp.backlog.pending <= 4
        gate.set()
        await asyncio.wait_for(task, 5)
        assert await cp.flush(5)
        return events

    events = asyncio.run(run())
    assert all(e.acked for e in events) and saves[-1] == 9
