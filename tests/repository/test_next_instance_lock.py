"""`NodeRepository.next_instance_lock`: on PostgreSQL, two nodes (two engines, two
sessions) take turns on one job's next instance and never wait on another job's; the
lock goes with its holder's transaction, however the block ends."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
from jobop.repository import create_engine
from jobop.repository.nodes import NodeRepository
from sqlalchemy import Engine, text

postgresql_only = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)


@pytest.fixture
def engines(db_url: str) -> Iterator[list[Engine]]:
    made = [create_engine(db_url) for _ in range(3)]
    yield made
    for engine in made:
        engine.dispose()


def waiting_for_advisory_lock(engine: Engine) -> int:
    """Sessions queued for an advisory lock (pg_locks: not granted)."""
    with engine.connect() as connection:
        return int(
            connection.execute(
                text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            ).scalar_one()
        )


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


class Holder:
    """Takes the lock on a thread of its own: `held` once it has it, until `release()`."""

    def __init__(self, nodes: NodeRepository, job_name: str) -> None:
        self.held = threading.Event()
        self._release = threading.Event()
        self._nodes = nodes
        self._job_name = job_name
        self._thread = threading.Thread(target=self._hold, daemon=True)
        self._thread.start()

    def _hold(self) -> None:
        with self._nodes.next_instance_lock(self._job_name):
            self.held.set()
            self._release.wait(60)

    def release(self) -> None:
        self._release.set()
        self._thread.join(30)


@postgresql_only
def test_two_nodes_take_turns_on_one_job_and_not_on_another(engines: list[Engine]) -> None:
    first, second, observer = engines
    a, b = NodeRepository(first), NodeRepository(second)
    holder_a = Holder(a, "importJob")
    assert holder_a.held.wait(30)
    holder_b = Holder(b, "importJob")
    # B is queued behind A in the database, and does not hold the lock meanwhile.
    wait_until(lambda: waiting_for_advisory_lock(observer) == 1)
    assert not holder_b.held.is_set()
    # Another job's next instance waits for nobody.
    with b.next_instance_lock("exportJob"):
        assert not holder_b.held.is_set()
    holder_a.release()
    assert holder_b.held.wait(30)
    holder_b.release()
    assert waiting_for_advisory_lock(observer) == 0


@postgresql_only
def test_the_lock_is_released_when_the_block_raises(engines: list[Engine]) -> None:
    a, b = NodeRepository(engines[0]), NodeRepository(engines[1])
    with pytest.raises(RuntimeError), a.next_instance_lock("importJob"):
        raise RuntimeError("the launch failed")
    holder = Holder(b, "importJob")
    assert holder.held.wait(30)
    holder.release()
