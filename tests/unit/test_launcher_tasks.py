"""The launcher's tasks (partitions this node claimed) share the workers of its
executions: they take slots, a queued one is cancelled by a drain, and the launcher is
idle only once they have run."""

from __future__ import annotations

import threading
import time

from jobop.domain import JobExecution, JobInstance, JobParameters
from jobop.operator.launcher import Launcher, Task


def execution(execution_id: int) -> JobExecution:
    return JobExecution(JobInstance(1, "job", "key"), JobParameters(), id=execution_id)


def test_tasks_take_the_workers_of_executions_and_a_drain_cancels_queued_ones() -> None:
    release = threading.Event()
    ran: list[str] = []
    cancelled: list[str] = []
    freed = threading.Semaphore(0)
    launcher = Launcher(lambda e: release.wait(10), 2)
    launcher.on_slot_free = freed.release

    def task(name: str) -> Task:
        def run() -> None:
            ran.append(name)
            release.wait(10)

        return Task(name, run, lambda: cancelled.append(name))

    assert launcher.reserve()
    launcher.submit_task(task("first"), reserved=True)
    launcher.submit(execution(7))
    assert launcher.free_slots == 0 and not launcher.reserve()
    deadline = time.monotonic() + 5
    while launcher.running_ids() != [7] or ran != ["first"]:  # both picked up
        assert time.monotonic() < deadline
        time.sleep(0.005)
    launcher.submit_task(task("queued"))
    assert launcher.is_queued_or_running(7) and not launcher.remove(1)
    assert launcher.drain() == []  # no execution queued; the task is cancelled
    assert cancelled == ["queued"]
    assert not launcher.wait_idle(0.05)  # the task and the execution still run
    release.set()
    assert launcher.wait_idle(5)
    assert freed.acquire(timeout=5) and freed.acquire(timeout=5)
    assert ran == ["first"] and launcher.free_slots == 2
    launcher.close()
