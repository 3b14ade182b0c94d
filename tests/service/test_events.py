"""ExecutionEvents: level-triggered announcements, latest change per execution."""

from __future__ import annotations

import asyncio
import threading

from jobop.domain import BatchStatus
from jobop.operator import ExecutionEvents


def test_a_watcher_sees_the_latest_change_per_execution_not_a_backlog() -> None:
    events = ExecutionEvents()
    with events.subscription(job_name="a") as watcher:
        for version in range(1, 101):
            events.publish(1, "a", version)
        events.publish(2, "a", 7, BatchStatus.STARTED)
        events.publish(3, "b", 1)  # another job: not ours
        changes = watcher.drain()
    assert [(c.execution_id, c.version) for c in changes] == [(1, 100), (2, 7)]
    assert changes[1].status is BatchStatus.STARTED
    assert changes[0].sequence < changes[1].sequence == events.last_sequence - 1


def test_filters_by_execution_and_all_jobs() -> None:
    events = ExecutionEvents()
    one = events.subscribe(execution_id=5)
    every = events.subscribe()
    events.publish(5, "a", 1)
    events.publish(6, "b", 1)
    assert [c.execution_id for c in one.drain()] == [5]
    assert [c.execution_id for c in every.drain()] == [5, 6]
    one.close()
    every.close()
    assert events.subscriber_count == 0
    events.publish(5, "a", 2)  # nobody listens: nothing kept


def test_async_watcher_is_woken_by_a_publishing_thread() -> None:
    events = ExecutionEvents()

    async def watch() -> list[int]:
        with events.subscription(execution_id=9) as watcher:
            assert await watcher.wait(0.01) == []  # times out empty
            publisher = threading.Timer(0.05, events.publish, args=(9, "a", 3))
            publisher.start()
            changes = await watcher.wait(5)
            publisher.join()
            return [c.version for c in changes]

    assert asyncio.run(watch()) == [3]


def test_interrupt_wakes_a_waiter_without_a_change() -> None:
    events = ExecutionEvents()

    async def watch() -> list[object]:
        watcher = events.subscribe(job_name="a")
        asyncio.get_running_loop().call_later(0.05, watcher.interrupt)
        try:
            return list(await watcher.wait(5))
        finally:
            watcher.close()

    assert asyncio.run(watch()) == []


def test_thread_waiter() -> None:
    events = ExecutionEvents()
    watcher = events.subscribe(execution_id=1)
    threading.Timer(0.05, events.publish, args=(1, "a", 2)).start()
    assert [c.version for c in watcher.wait_sync(5)] == [2]
    watcher.close()
