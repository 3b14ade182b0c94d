"""Workload control on real `jobop serve` processes: three replicas on one PostgreSQL (one
server on SQLite) under concurrency limits, per-key limits, priorities, pause and resume,
a replica killed while it holds a slot, stops of queued executions and overdue executions.

What runs is read straight from the database every 20 ms, never through a server: a job's
slots are its STARTED and STOPPING executions plus the STARTING ones a node has claimed
(the definition of docs/workload.md), counted in one statement.

The jobs are e2e_jobs' governed copies of demoTaskletJob (`durationMs` of stoppable work):
e2eLimitedJob (limit 2), e2eSerialJob (limit 1), e2eTenantJob (limit 1 per `tenant`),
e2eOverdueJob and e2eOverdueStopJob (overdue after a second; the second is then stopped).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from threading import Barrier
from typing import Any

import pytest
import test_replicas
from e2e_support import TERMINAL, ServerFactory, ServerProcess, execution, status_name, wait_for
from jobop_client import JobOperatorClient
from jobop_client._proto.jobop.v1 import job_operator_pb2 as pb
from sqlalchemy import Engine, text
from test_logs import log_records
from test_metrics import scrape, value
from test_replicas import (
    HEARTBEAT,
    LEASE,
    NO_SAFETY_POLL,
    REPLICA,
    kill,
    owner_pid,
    wait_until,
)

pytestmark = pytest.mark.slow

engine = test_replicas.engine  # the fixture: an engine on the test's database

postgresql_only = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)

SAMPLE_EVERY = 0.02
# Long enough to hold its slot for the whole test; stopped (or its node killed) to end.
HOLD = {"durationMs": 120_000}


@dataclass
class Replica:
    server: ServerProcess
    client: JobOperatorClient

    @property
    def stub(self) -> Any:
        return self.server.stub


@pytest.fixture
def replicas(start_server: ServerFactory, db_url: str) -> Iterator[list[Replica]]:
    """Three `jobop serve` replicas on PostgreSQL, one server on SQLite (short leases)."""
    count = 3 if db_url.startswith("postgresql") else 1
    with clients_of([start_server(*REPLICA) for _ in range(count)]) as made:
        yield made


@contextlib.contextmanager
def clients_of(servers: Sequence[ServerProcess]) -> Iterator[list[Replica]]:
    """The servers, each with a client library's JobOperatorClient, closed at the end."""
    with contextlib.ExitStack() as stack:
        yield [Replica(s, stack.enter_context(JobOperatorClient(s.address))) for s in servers]


# -- what the database says ----------------------------------------------------------------

_SLOTS = """
SELECT i.JOB_NAME, {key}, count(*)
FROM BATCH_JOB_EXECUTION e
JOIN BATCH_JOB_INSTANCE i ON i.JOB_INSTANCE_ID = e.JOB_INSTANCE_ID
LEFT JOIN JOBOP_LAUNCH_REQUEST l ON l.JOB_EXECUTION_ID = e.JOB_EXECUTION_ID
{join}
WHERE (e.STATUS IN ('STARTED', 'STOPPING') OR (e.STATUS = 'STARTING' AND l.NODE_ID IS NOT NULL))
GROUP BY i.JOB_NAME{group}
"""


def slots_statement(key: str | None) -> Any:
    """Slots held now, per job (and per value of the job parameter `key`): one statement,
    so one snapshot of the database."""
    if key is None:
        return text(_SLOTS.format(key="''", join="", group=""))
    return text(
        _SLOTS.format(
            key="coalesce(p.PARAMETER_VALUE, '')",
            join="LEFT JOIN BATCH_JOB_EXECUTION_PARAMS p ON p.JOB_EXECUTION_ID = "
            f"e.JOB_EXECUTION_ID AND p.PARAMETER_NAME = '{key}'",
            group=", coalesce(p.PARAMETER_VALUE, '')",
        )
    )


@dataclass
class SlotSampler:
    """Reads the slots every 20 ms on a thread of its own; keeps each group's peak."""

    engine: Engine
    key: str | None = None
    peaks: dict[tuple[str, str], int] = field(default_factory=dict)
    total_peaks: dict[str, int] = field(default_factory=dict)
    samples: int = 0

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._error: BaseException | None = None

    def _run(self) -> None:
        statement = slots_statement(self.key)
        try:
            with self.engine.connect() as connection:
                while not self._stop.is_set():
                    rows = connection.execute(statement).all()
                    connection.rollback()  # a fresh snapshot for the next sample
                    totals: dict[str, int] = {}
                    for job, value, count in rows:
                        group = (str(job), str(value))
                        self.peaks[group] = max(self.peaks.get(group, 0), int(count))
                        totals[job] = totals.get(job, 0) + int(count)
                    for job, count in totals.items():
                        self.total_peaks[job] = max(self.total_peaks.get(job, 0), count)
                    self.samples += 1
                    self._stop.wait(SAMPLE_EVERY)
        except BaseException as error:  # reported by __exit__
            self._error = error

    def peak(self, job: str, value: str = "") -> int:
        return self.peaks.get((job, value), 0)

    def __enter__(self) -> SlotSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
        if self._error is not None:
            raise self._error
        assert self.samples > 0


def claim_order(engine: Engine, ids: Sequence[int]) -> list[int]:
    """The executions in the order their launch requests were claimed (the database's
    clock), then by START_TIME: the order in which the cluster ran them."""
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT e.JOB_EXECUTION_ID FROM BATCH_JOB_EXECUTION e "
                "JOIN JOBOP_LAUNCH_REQUEST l ON l.JOB_EXECUTION_ID = e.JOB_EXECUTION_ID "
                "WHERE e.JOB_EXECUTION_ID IN ({}) ORDER BY l.CLAIMED, e.START_TIME".format(
                    ", ".join(str(int(i)) for i in ids)
                )
            )
        ).all()
    return [int(row[0]) for row in rows]


# -- starting and waiting ------------------------------------------------------------------


def launch(
    replicas: list[Replica], job: str, parameter_sets: Sequence[dict[str, Any]], threads: int = 6
) -> list[int]:
    """Starts spread round robin over the replicas, `threads` calls in flight."""

    def one(index: int) -> int:
        replica = replicas[index % len(replicas)]
        return replica.client.start(job, parameter_sets[index]).id

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(one, range(len(parameter_sets))))


def ends(replicas: list[Replica], ids: Sequence[int], timeout: float = 120.0) -> list[str]:
    deadline = time.monotonic() + timeout
    stub = replicas[-1].stub
    finals = []
    for execution_id in ids:
        left = max(1.0, deadline - time.monotonic())
        finals.append(status_name(wait_for(stub, execution_id, _ended, left).status))
    return finals


def _ended(e: pb.JobExecution) -> bool:
    return e.status in TERMINAL


def _started(e: pb.JobExecution) -> bool:
    return status_name(e.status) == "STARTED"


def hold_slot(replica: Replica, job: str, **parameters: Any) -> int:
    """A long execution of `job`, running (it holds a slot) when this returns."""
    held = replica.client.start(job, {**HOLD, **parameters}).id
    wait_for(replica.stub, held, _started)
    return held


def queued(engine: Engine, replicas: list[Replica], ids: Sequence[int]) -> bool:
    """All still STARTING and claimed by nobody."""
    return all(
        owner_pid(engine, i) is None
        and status_name(execution(replicas[0].stub, i).status) == "STARTING"
        for i in ids
    )


def queue_of(replica: Replica, job: str) -> list[pb.QueuedExecution]:
    return list(replica.client.list_queue(job).executions)


# -- limits ---------------------------------------------------------------------------------


def test_a_limit_of_two_holds_across_the_replicas_and_every_start_completes(
    replicas: list[Replica], engine: Engine
) -> None:
    starts = 30 if len(replicas) > 1 else 12
    with SlotSampler(engine) as sampler:
        ids = launch(
            replicas, "e2eLimitedJob", [{"durationMs": 150, "n": n} for n in range(starts)]
        )
        finals = ends(replicas, ids)
    assert finals == ["COMPLETED"] * starts
    assert sampler.total_peaks["e2eLimitedJob"] == 2, sampler.total_peaks  # never more


def test_a_limit_per_key_holds_for_each_tenant_and_lets_the_others_run(
    replicas: list[Replica], engine: Engine
) -> None:
    job = "e2eTenantJob"
    with SlotSampler(engine, key="tenant") as sampler:
        held = hold_slot(replicas[0], job, tenant="a")
        burst = [
            {"durationMs": 100, "tenant": tenant, "n": n} for n in range(4) for tenant in "abc"
        ]
        ids = launch(replicas, job, burst)
        of_a = sorted(i for i, p in zip(ids, burst, strict=True) if p["tenant"] == "a")
        others = [i for i in ids if i not in of_a]
        # b and c run beside a's holder; a's own starts wait behind it.
        assert ends(replicas, others) == ["COMPLETED"] * len(others)
        assert queued(engine, replicas, of_a)
        waiting = queue_of(replicas[-1], job)
        assert [q.execution_id for q in waiting] == of_a
        assert {q.waiting_for for q in waiting} == {
            f"limit 1 of {job} for tenant=a reached (1 running)"
        }
        replicas[-1].client.stop(held)
        assert ends(replicas, of_a) == ["COMPLETED"] * len(of_a)
    assert ends(replicas, [held]) == ["STOPPED"]
    assert {value: sampler.peak(job, value) for value in "abc"} == {"a": 1, "b": 1, "c": 1}
    assert sampler.total_peaks[job] >= 2  # the keys ran side by side


def test_a_limit_set_at_run_time_holds_moves_its_queue_at_once_and_clears(
    start_server: ServerFactory, engine: Engine
) -> None:
    # One server, on either database: no other node hears its NOTIFY for it. demoTaskletJob
    # declares no limit. A lease so long that its safety poll never comes within the test:
    # only the wake-up of the start or of the freed slot can claim.
    job = "demoTaskletJob"
    with clients_of([start_server(*NO_SAFETY_POLL)]) as (server,):
        workload = server.client.update_job_settings(job, {"max_concurrent": 1})
        assert workload.settings.max_concurrent == 1
        with SlotSampler(engine) as sampler:
            for n in range(10):  # one after another: each finds the slot free
                alone = server.client.start(job, {"durationMs": 20, "n": n}).id
                assert ends([server], [alone], 30) == ["COMPLETED"], n
            # A queue draining one by one: each end must wake the next claim.
            held = hold_slot(server, job)
            ids = launch([server], job, [{"durationMs": 10, "m": m} for m in range(30)])
            server.client.stop(held)
            assert ends([server], ids, 60) == ["COMPLETED"] * len(ids)
        assert sampler.total_peaks[job] == 1
        cleared = server.client.update_job_settings(job, {"max_concurrent": None})
        assert not cleared.settings.HasField("max_concurrent")
        with SlotSampler(engine) as sampler:
            ids = launch([server], job, [{"durationMs": 400, "k": k} for k in range(4)])
            assert ends([server], ids, 60) == ["COMPLETED"] * len(ids)
        assert sampler.total_peaks[job] >= 2  # no limit in force any more


def test_priorities_run_in_order_behind_a_limit_of_one(
    replicas: list[Replica], engine: Engine
) -> None:
    job = "e2eSerialJob"
    held = hold_slot(replicas[0], job)
    priorities = [0, 5, -3, 5, 1000, 0, -1000, 1]
    ids = []
    for index, priority in enumerate(priorities):  # one at a time: ids grow in this order
        replica = replicas[index % len(replicas)]
        ids.append(replica.client.start(job, {"durationMs": 20, "n": index}, priority=priority).id)
    expected = [
        i for _, i in sorted(zip(priorities, ids, strict=True), key=lambda p: (-p[0], p[1]))
    ]
    shown = [execution(replicas[-1].stub, i).priority for i in ids]
    assert shown == priorities
    waiting = queue_of(replicas[-1], job)
    assert [q.execution_id for q in waiting] == expected
    assert [q.priority for q in waiting] == sorted(priorities, reverse=True)
    assert [q.position for q in waiting] == list(range(1, len(ids) + 1))
    assert {q.waiting_for for q in waiting} == {f"limit 1 of {job} reached (1 running)"}
    with SlotSampler(engine) as sampler:
        replicas[-1].client.stop(held)
        assert ends(replicas, ids) == ["COMPLETED"] * len(ids)
    assert sampler.total_peaks.get(job, 0) <= 1
    assert claim_order(engine, ids) == expected


# -- pause and resume -----------------------------------------------------------------------


def test_a_paused_job_holds_its_starts_on_every_replica_until_resumed(
    replicas: list[Replica], engine: Engine
) -> None:
    # demoTaskletJob declares no limit: pausing alone governs it.
    job = "demoTaskletJob"
    running = replicas[0].client.start(job, {"durationMs": 1500, "n": -1}).id
    wait_for(replicas[0].stub, running, _started)
    paused = replicas[0].client.pause_job(job)
    assert list(paused.stopped_execution_ids) == []
    ids = launch(replicas, job, [{"durationMs": 20, "n": n} for n in range(3 * len(replicas))])
    # What ran before the pause goes on to its end; what came after waits, on every replica.
    assert ends(replicas, [running]) == ["COMPLETED"]
    assert queued(engine, replicas, ids)
    for replica in replicas:
        (settings,) = replica.client.get_job_settings([job])
        assert settings.settings.paused
        assert settings.queued == len(ids)
    waiting = queue_of(replicas[-1], job)
    assert sorted(q.execution_id for q in waiting) == sorted(ids)
    assert {q.waiting_for for q in waiting} == {f"{job} is paused"}
    replicas[-1].client.resume_job(job)
    assert ends(replicas, ids) == ["COMPLETED"] * len(ids)
    assert queue_of(replicas[0], job) == []


# -- a slot held by a dead node --------------------------------------------------------------


@postgresql_only
def test_a_replica_killed_while_holding_a_slot_frees_it_within_lease_and_heartbeat(
    start_server: ServerFactory, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = "e2eSerialJob"
    servers = []
    for host in "abc":
        with monkeypatch.context() as patch:
            # Each on a host of its own: only a lease can tell the others that one died.
            patch.setenv("JOBOP_NODE_HOST", f"replica-{host}")
            servers.append(start_server(*REPLICA))
    with clients_of(servers) as replicas:
        held = hold_slot(replicas[0], job)
        # Any replica may have claimed it (a governed start waits for a claim).
        (holder,) = [r for r in replicas if r.server.process.pid == owner_pid(engine, held)]
        survivors = [r for r in replicas if r is not holder]
        waiting = survivors[0].client.start(job, {"durationMs": 20}).id
        wait_until(lambda: len(queue_of(survivors[1], job)) == 1)
        assert queued(engine, survivors, [waiting])
        kill(holder.server)
        killed = time.monotonic()
        wait_until(lambda: owner_pid(engine, waiting) is not None, 30)
        # Within the lease and a heartbeat (and a heartbeat of slack for a loaded machine).
        assert time.monotonic() - killed <= LEASE + 3 * HEARTBEAT + 2.0
        assert owner_pid(engine, waiting) in {r.server.process.pid for r in survivors}
        assert ends(survivors, [held, waiting]) == ["FAILED", "COMPLETED"]
        failed = execution(survivors[0].stub, held)
        assert failed.exit_status.exit_description.startswith("owner lost: node ")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_single_sqlite_server_killed_with_a_slot_frees_it_when_it_comes_back(
    start_server: ServerFactory, engine: Engine
) -> None:
    job = "e2eSerialJob"
    with clients_of([start_server(*REPLICA)]) as (first,):
        held = hold_slot(first, job)
        waiting = first.client.start(job, {"durationMs": 20}).id
        assert queued(engine, [first], [waiting])
        kill(first.server)
    with clients_of([start_server(*REPLICA)]) as (second,):
        assert ends([second], [held, waiting]) == ["FAILED", "COMPLETED"]
        assert owner_pid(engine, waiting) == second.server.process.pid


# -- stop and abandon of queued executions ---------------------------------------------------


def test_a_queued_execution_stopped_or_abandoned_never_runs(
    replicas: list[Replica], engine: Engine
) -> None:
    job = "e2eSerialJob"
    held = hold_slot(replicas[0], job)
    behind_limit, behind_pause = launch(replicas, job, [{"durationMs": 20, "n": n} for n in (1, 2)])
    wait_until(lambda: len(queue_of(replicas[-1], job)) == 2)
    # Behind the limit: stopped at once, without a node.
    replicas[-1].client.stop(behind_limit)
    assert ends(replicas, [behind_limit]) == ["STOPPED"]
    # Behind a pause, once the holder is gone: stopped, then abandoned.
    replicas[0].client.pause_job(job)
    replicas[0].client.stop(held)
    assert ends(replicas, [held]) == ["STOPPED"]
    assert queued(engine, replicas, [behind_pause])
    replicas[-1].client.stop(behind_pause)
    assert ends(replicas, [behind_pause]) == ["STOPPED"]
    replicas[0].client.abandon(behind_pause)
    replicas[-1].client.resume_job(job)
    # The queue drains past them: a new start runs, they never do.
    after = replicas[-1].client.start(job, {"durationMs": 20, "n": 3}).id
    assert ends(replicas, [after]) == ["COMPLETED"]
    for stopped, status in ((behind_limit, "STOPPED"), (behind_pause, "ABANDONED")):
        current = execution(replicas[0].stub, stopped)
        assert status_name(current.status) == status
        assert list(current.step_executions) == []
        assert owner_pid(engine, stopped) is None
    assert queue_of(replicas[0], job) == []


# -- overdue executions ----------------------------------------------------------------------

OVERDUE = "JOBOP-1011"


def overdue_counts(replicas: list[Replica], name: str, job: str) -> float:
    """A metric of the job summed over the replicas' /metrics."""
    return sum(value(scrape(r.server), name, job_name=job) for r in replicas)


def rest_execution(replica: Replica, execution_id: int) -> dict[str, Any]:
    url = f"{replica.server.http_url}/api/executions/{execution_id}"
    with urllib.request.urlopen(url, timeout=10) as reply:
        return dict(json.load(reply))


def test_an_overdue_execution_is_flagged_once_and_stopped_where_its_job_says_so(
    replicas: list[Replica],
) -> None:
    # Overdue after 1 s: one works on for 5 s, the other until it is stopped for it.
    flagged = replicas[0].client.start("e2eOverdueJob", {"durationMs": 5000}).id
    stopped = replicas[-1].client.start("e2eOverdueStopJob", HOLD).id
    for execution_id in (flagged, stopped):
        wait_for(replicas[0].stub, execution_id, lambda e: e.overdue, 60)
    assert ends(replicas, [flagged, stopped]) == ["COMPLETED", "STOPPED"]
    for execution_id in (flagged, stopped):
        assert execution(replicas[0].stub, execution_id).overdue
        assert rest_execution(replicas[-1], execution_id)["overdue"] is True
    for job in ("e2eOverdueJob", "e2eOverdueStopJob"):
        assert overdue_counts(replicas, "jobop_executions_overdue_total", job) == 1.0
        assert overdue_counts(replicas, "jobop_executions_overdue_running", job) == 0.0  # none now
    warnings = [
        (record["level"], record["job_execution_id"])
        for r in replicas
        for record in log_records(r.server.log(), "text")
        if record["code"] == OVERDUE
    ]
    # Once each, by one replica.
    assert sorted(warnings) == [("WARNING", flagged), ("WARNING", stopped)]


# -- the race --------------------------------------------------------------------------------

ROUNDS = 20


@postgresql_only
def test_bursts_of_starts_on_three_replicas_never_exceed_the_limit(
    replicas: list[Replica], engine: Engine
) -> None:
    limits = {"e2eSerialJob": 1, "e2eLimitedJob": 2}
    per_round = 6
    finals: list[str] = []
    with SlotSampler(engine) as sampler:
        for round_ in range(ROUNDS):
            job = "e2eSerialJob" if round_ % 2 else "e2eLimitedJob"
            gate = Barrier(per_round)

            def burst(index: int, job: str = job, gate: Barrier = gate, at: int = round_) -> int:
                gate.wait(30)  # every replica's starts at once
                replica = replicas[index % len(replicas)]
                return replica.client.start(job, {"durationMs": 30, "round": at, "n": index}).id

            with ThreadPoolExecutor(max_workers=per_round) as pool:
                ids = list(pool.map(burst, range(per_round)))
            finals += ends(replicas, ids)
    assert finals == ["COMPLETED"] * ROUNDS * per_round
    for job, limit in limits.items():
        assert sampler.total_peaks[job] <= limit, (job, sampler.total_peaks)
    assert sampler.total_peaks["e2eLimitedJob"] == 2  # the bursts did contend
