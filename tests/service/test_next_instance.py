"""StartNextInstance under concurrency: every call gets a next instance of its own (its
incrementer applied to the one before), however many arrive at once, through a real gRPC
server and across two operators sharing one database; on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from jobop.batch import (
    ChunkContext,
    Job,
    JobRegistry,
    RepeatStatus,
    RunIdIncrementer,
    StepContribution,
    TaskletStep,
)
from jobop.domain import JobInstanceAlreadyExists, JobParameters
from jobop.operator import JobOperator
from jobop.repository import JobRepository, create_engine
from jobop_client._proto.jobop.v1 import job_operator_pb2 as pb
from jobop_client._proto.jobop.v1 import job_operator_pb2_grpc as pb_grpc
from service_support import InProcessServer

CALLS = 20


def test_twenty_concurrent_calls_get_twenty_distinct_instances(
    samples_server: InProcessServer,
) -> None:
    with grpc.insecure_channel(samples_server.address) as channel:
        stub = pb_grpc.JobOperatorServiceStub(channel)
        barrier = threading.Barrier(CALLS)

        def next_instance(_: int) -> pb.JobExecution:
            barrier.wait()
            request = pb.StartNextInstanceRequest(job_name="demoTaskletJob")
            return stub.StartNextInstance(request, timeout=60).execution

        with ThreadPoolExecutor(CALLS) as pool:
            executions = list(pool.map(next_instance, range(CALLS)))
    run_ids = sorted(e.parameters["run.id"].long_value for e in executions)
    assert run_ids == list(range(1, CALLS + 1))
    assert len({e.job_instance_id for e in executions}) == CALLS


def _finish(contribution: StepContribution, chunk_context: ChunkContext) -> RepeatStatus:
    return RepeatStatus.FINISHED


NEXT_RACE_JOB = Job("nextRaceJob", [TaskletStep("finish", _finish)], incrementer=RunIdIncrementer())


@pytest.fixture
def two_operators(db_url: str) -> Iterator[list[JobOperator]]:
    """Two operators on engines of their own: two servers sharing the database."""
    engines = [create_engine(db_url) for _ in range(2)]
    operators = [
        JobOperator(JobRepository(engine), JobRegistry([NEXT_RACE_JOB])) for engine in engines
    ]
    yield operators
    for operator, engine in zip(operators, engines, strict=True):
        operator.shutdown(10.0)
        engine.dispose()


def test_concurrent_next_instances_on_two_operators_never_collide(
    two_operators: list[JobOperator],
) -> None:
    barrier = threading.Barrier(CALLS)

    def next_instance(index: int) -> int:
        barrier.wait()
        operator = two_operators[index % 2]
        execution = operator.start_next_instance("nextRaceJob")
        return execution.job_parameters.long("run.id")

    with ThreadPoolExecutor(CALLS) as pool:
        run_ids = sorted(pool.map(next_instance, range(CALLS)))
    assert run_ids == list(range(1, CALLS + 1))


def test_a_next_instance_an_older_instance_already_holds_is_refused_at_once(
    two_operators: list[JobOperator],
) -> None:
    operator = two_operators[0]
    # The last instance has run.id 1, an older one run.id 2: the next would be run.id 2.
    for run_id in (2, 1):
        operator.start("nextRaceJob", JobParameters.of(**{"run.id": run_id}))
    started = time.monotonic()
    with pytest.raises(JobInstanceAlreadyExists):
        operator.start_next_instance("nextRaceJob")
    # Refused after one recomputation, not after retrying the same parameters for 30 s.
    assert time.monotonic() - started < 20
