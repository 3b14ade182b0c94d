"""The bounded pool of worker threads that run job executions, in the order submitted.

Executions beyond the pool's size wait in a FIFO queue (they are STARTING in the
repository meanwhile). A queued execution can be taken out before a worker picks it up,
which is how a stop or a shutdown ends it without running it. The same workers run tasks
(`submit_task`: the partitions of other nodes' jobs that this node claimed), counted in
the same slots.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from jobop.domain import JobExecution

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Task:
    """Work for a worker other than a job execution: `run` on the worker, or `cancel` if
    the launcher drops it before a worker picked it up (a shutdown)."""

    name: str
    run: Callable[[], None]
    cancel: Callable[[], None]


class Launcher:
    def __init__(
        self,
        run: Callable[[JobExecution], None],
        max_workers: int,
        *,
        thread_name: str = "jobop-worker",
    ) -> None:
        if max_workers < 1:
            raise ValueError(f"max_concurrent_executions must be at least 1, not {max_workers}")
        self.max_workers = max_workers
        self._run = run
        self._lock = threading.RLock()
        # Idle workers wait for work, `wait_idle` for the end of it: two conditions, as
        # waking every worker at each end cost more than the end itself.
        self._work_ready = threading.Condition(self._lock)
        self._idle = threading.Condition(self._lock)
        self._queue: deque[JobExecution | Task] = deque()
        self._running: set[int] = set()
        self._tasks_running = 0
        # Slots promised to executions not submitted yet (claimed while their start is
        # being written): counted as taken, so that claims never exceed the workers.
        self._reserved = 0
        self._closed = False
        # Called (outside the lock) when a worker becomes free.
        self.on_slot_free: Callable[[], None] | None = None
        # A fixed pool, started up front: its size never changes, so nothing leaks.
        self._threads = [
            threading.Thread(target=self._work, name=f"{thread_name}-{index}", daemon=True)
            for index in range(max_workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, execution: JobExecution | Task, *, reserved: bool = False) -> None:
        """Queue the execution; `reserved`: it takes the slot `reserve()` promised."""
        with self._lock:
            if reserved:
                self._reserved = max(0, self._reserved - 1)
            if self._closed:
                raise RuntimeError("the launcher is closed")
            self._queue.append(execution)
            self._work_ready.notify()

    def submit_task(self, task: Task, *, reserved: bool = False) -> None:
        """Queue a task; `reserved`: it takes the slot `reserve()` promised."""
        self.submit(task, reserved=reserved)

    def reserve(self) -> bool:
        """Promise a free worker to an execution about to be submitted; False if none."""
        with self._lock:
            if self._closed or self._free_locked() <= 0:
                return False
            self._reserved += 1
            return True

    def unreserve(self) -> None:
        """Give back a promised slot whose execution will not come."""
        with self._lock:
            self._reserved = max(0, self._reserved - 1)
        self._slot_freed()

    def remove(self, execution_id: int) -> bool:
        """Take a queued execution out before a worker picks it up; False if not queued."""
        with self._lock:
            for execution in self._queue:
                if isinstance(execution, JobExecution) and execution.id == execution_id:
                    self._queue.remove(execution)
                    self._notify_if_idle_locked()
                    return True
        return False

    def drain(self) -> list[JobExecution]:
        """Take every queued execution out (queued tasks are cancelled)."""
        with self._lock:
            queued = list(self._queue)
            self._queue.clear()
            self._notify_if_idle_locked()
        for task in queued:
            if isinstance(task, Task):
                try:
                    task.cancel()
                except Exception:
                    log.exception("could not cancel %s", task.name)
        return [execution for execution in queued if isinstance(execution, JobExecution)]

    def _notify_if_idle_locked(self) -> None:
        if not self._running and not self._tasks_running and not self._queue:
            self._idle.notify_all()

    def is_queued_or_running(self, execution_id: int) -> bool:
        with self._lock:
            return execution_id in self._running or any(
                isinstance(execution, JobExecution) and execution.id == execution_id
                for execution in self._queue
            )

    @property
    def free_slots(self) -> int:
        with self._lock:
            return self._free_locked()

    def _free_locked(self) -> int:
        return (
            self.max_workers
            - len(self._running)
            - self._tasks_running
            - len(self._queue)
            - self._reserved
        )

    def _slot_freed(self) -> None:
        callback = self.on_slot_free
        if callback is not None:
            try:
                callback()
            except Exception:
                log.exception("the free-worker callback failed")

    def running_ids(self) -> list[int]:
        with self._lock:
            return sorted(self._running)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no execution runs or waits; False if some still do after `timeout`."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._running or self._tasks_running or self._queue:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
            return True

    def close(self, timeout: float = 5.0) -> None:
        """Let idle workers exit; a worker stuck in job code is a daemon and is left."""
        with self._lock:
            self._closed = True
            self._work_ready.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _work(self) -> None:
        while True:
            with self._lock:
                while not self._queue and not self._closed:
                    self._work_ready.wait()
                if not self._queue:
                    return
                execution = self._queue.popleft()
                if isinstance(execution, Task):
                    self._tasks_running += 1
                else:
                    self._running.add(execution.id)
            if isinstance(execution, Task):
                self._run_task(execution)
                continue
            try:
                self._run(execution)
            except BaseException:
                log.exception("job execution %s ended with an unexpected error", execution.id)
            finally:
                with self._lock:
                    self._running.discard(execution.id)
                    self._notify_if_idle_locked()
                self._slot_freed()

    def _run_task(self, task: Task) -> None:
        try:
            task.run()
        except BaseException:
            log.exception("%s ended with an unexpected error", task.name)
        finally:
            with self._lock:
                self._tasks_running -= 1
                self._notify_if_idle_locked()
            self._slot_freed()
