"""ChangeRelay on PostgreSQL: what one node announces reaches the others, in few NOTIFYs."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from jobop.domain import BatchStatus
from jobop.operator import ExecutionEvents
from jobop.operator.relay import ChangeRelay
from jobop.repository import create_engine
from jobop.repository.nodes import CHANNEL


@pytest.fixture
def pg_url(pg_clones: Any) -> Iterator[str]:
    name = pg_clones.take()
    yield pg_clones.cluster.url(name)
    pg_clones.cluster.drop_database(name)


class Peer:
    """Another node's LISTEN connection: every `e` payload it hears, on its own thread."""

    def __init__(self, url: str) -> None:
        self.payloads: list[str] = []
        self._connection = psycopg.connect(url.replace("+psycopg", ""), autocommit=True)
        self._connection.execute(f"LISTEN {CHANNEL}")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen, daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        while not self._stop.is_set():
            for notify in self._connection.notifies(timeout=0.05):
                if notify.payload.startswith("e "):
                    self.payloads.append(notify.payload)

    def entries(self) -> list[str]:
        return [entry for payload in self.payloads for entry in payload.split()[1:]]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while len(self.entries()) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.entries()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._connection.close()


def test_a_burst_of_transitions_reaches_other_nodes_whole_in_few_notifies(pg_url: str) -> None:
    engine = create_engine(pg_url)
    events = ExecutionEvents()
    relay = ChangeRelay(engine, events, audience=lambda: True)
    relay.start()
    peer = Peer(pg_url)
    try:
        # 60 short jobs ending one after another, a millisecond apart (more than a
        # NOTIFY's round trip): STARTED then COMPLETED each.
        began = time.monotonic()
        for execution_id in range(1, 61):
            events.publish(execution_id, "job", 1, BatchStatus.STARTED)
            events.publish(execution_id, "job", 2, BatchStatus.COMPLETED)
            time.sleep(0.001)
        spent = time.monotonic() - began
        entries = peer.wait_for(60)
        # The latest version of every execution arrives; a transition overtaken before
        # its NOTIFY went is not sent on its own.
        latest = {entry.split(":")[0]: entry for entry in entries}
        assert set(latest.values()) == {f"{i}:2" for i in range(1, 61)}
        # At most one NOTIFY per 10 ms gap (one per job without it: 60 or more).
        assert len(peer.payloads) <= spent / 0.01 + 2
        assert len(peer.payloads) < 30
        assert relay.messages_sent == len(peer.payloads)
        # A quiet spell later, one transition goes alone, at once.
        time.sleep(0.05)
        events.publish(500, "job", 1, BatchStatus.STARTED)
        assert "500:1" in peer.wait_for(len(entries) + 1)
    finally:
        peer.close()
        relay.close()
        engine.dispose()


def test_what_waits_for_the_gap_is_sent_on_close(pg_url: str) -> None:
    engine = create_engine(pg_url)
    events = ExecutionEvents()
    relay = ChangeRelay(engine, events, audience=lambda: True, send_gap=60.0)
    relay.start()
    peer = Peer(pg_url)
    try:
        events.publish(1, "job", 1, BatchStatus.STARTED)  # at once
        assert peer.wait_for(1) == ["1:1"]
        events.publish(1, "job", 2, BatchStatus.COMPLETED)  # waits for the minute's gap
        time.sleep(0.1)
        assert peer.entries() == ["1:1"]
        relay.close()  # a node shutting down says what it has
        assert peer.wait_for(2) == ["1:1", "1:2"]
    finally:
        peer.close()
        relay.close()
        engine.dispose()
