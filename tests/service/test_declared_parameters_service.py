"""Start, Restart and StartNextInstance check a job's declared parameters before anything is
written: INVALID_ARGUMENT, reason INVALID_JOB_PARAMETERS, the offenders in the ErrorInfo's
metadata; what passes is stored typed as declared. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from jobop.batch import (
    Job,
    JobLauncher,
    JobRegistry,
    RepeatStatus,
    RunIdIncrementer,
    TaskletStep,
)
from jobop.domain import (
    BatchStatus,
    InvalidJobParameters,
    JobExecution,
    JobParameter,
    JobParameters,
    ParameterDeclaration,
)
from jobop.operator import JobOperator
from jobop.repository import JobRepository, create_engine
from jobop_client._proto.jobop.v1 import job_operator_pb2 as pb
from jobop_client._proto.jobop.v1 import job_operator_pb2_grpc as pb_grpc
from jobop_client.parameters import to_proto_map
from service_support import InProcessServer, rpc_error
from sqlalchemy import Engine, func, select, text

# Every table a start, restart or next instance writes to.
TABLES = (
    "batch_job_instance",
    "batch_job_execution",
    "batch_job_execution_params",
    "batch_job_execution_context",
    "jobop_launch_request",
    "jobop_request",
)


def rows(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table: connection.execute(select(func.count()).select_from(text(table))).scalar_one()
            for table in TABLES
        }


@pytest.fixture
def stub(samples_server: InProcessServer) -> Iterator[pb_grpc.JobOperatorServiceStub]:
    with grpc.insecure_channel(samples_server.address) as channel:
        yield pb_grpc.JobOperatorServiceStub(channel)


def old_execution(engine: Engine, job_name: str, parameters: JobParameters) -> JobExecution:
    """A FAILED execution of `job_name` written by an earlier version of the job, one that
    declared nothing: what a database holds when a job starts declaring its parameters."""

    def fails(contribution: object, context: object) -> RepeatStatus:
        raise RuntimeError("the old version failed")

    old = Job(job_name, [TaskletStep("old", fails)], incrementer=RunIdIncrementer())
    execution = JobLauncher(JobRepository(engine)).launch(old, parameters)
    assert execution.status is BatchStatus.FAILED
    return execution


def test_a_start_that_does_not_fit_is_refused_before_anything_is_written(
    samples_server: InProcessServer, stub: pb_grpc.JobOperatorServiceStub
) -> None:
    engine = samples_server.operator.repository.engine
    before = rows(engine)
    # `jobctl start demoChunkJob itemz=7,long items=abc` as the client sends it.
    request = pb.StartRequest(
        job_name="demoChunkJob",
        parameters=to_proto_map({"itemz": 7, "items": "abc", "chunkSize": True}),
        request_id="typo-1",
    )
    code, reason, metadata, message = rpc_error(lambda: stub.Start(request))
    assert (code, reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_JOB_PARAMETERS")
    assert metadata == {"unknown": "itemz", "invalid": "chunkSize,items"}
    assert "'demoChunkJob'" in message and "unknown itemz" in message
    assert "items ('abc' is not a whole number)" in message
    assert "chunkSize (a boolean where a long is declared)" in message
    assert rows(engine) == before
    # The request id was not spent on the refusal.
    fixed = pb.StartRequest(
        job_name="demoChunkJob", parameters=to_proto_map({"items": "6"}), request_id="typo-1"
    )
    assert stub.Start(fixed).execution.id > 0


def test_text_is_stored_typed_as_declared_without_the_defaults(
    samples_server: InProcessServer, stub: pb_grpc.JobOperatorServiceStub
) -> None:
    parameters = to_proto_map({"items": "6", "chunkSize": "4"})
    started = stub.Start(pb.StartRequest(job_name="demoChunkJob", parameters=parameters))
    execution_id = started.execution.id
    stored = samples_server.operator.explorer.get_parameters(execution_id)
    assert stored == JobParameters(
        {"items": JobParameter(6, "LONG"), "chunkSize": JobParameter(4, "LONG", False)}
    )
    with samples_server.operator.repository.engine.connect() as connection:
        key = connection.execute(
            text(
                "SELECT i.JOB_KEY FROM BATCH_JOB_INSTANCE i JOIN BATCH_JOB_EXECUTION e "
                "ON e.JOB_INSTANCE_ID = i.JOB_INSTANCE_ID WHERE e.JOB_EXECUTION_ID = :id"
            ),
            {"id": execution_id},
        ).scalar_one()
    assert key == JobParameters.parse(["items=6,long"]).job_key()
    shown = started.execution.parameters
    assert (shown["items"].long_value, shown["chunkSize"].identifying) == (6, False)
    # The same instance, typed by the caller this time.
    typed = to_proto_map({"items": 6})
    code, reason, _, _ = rpc_error(
        lambda: stub.Start(pb.StartRequest(job_name="demoChunkJob", parameters=typed))
    )
    assert (code, reason) in {
        (grpc.StatusCode.FAILED_PRECONDITION, "JOB_EXECUTION_ALREADY_RUNNING"),
        (grpc.StatusCode.ALREADY_EXISTS, "JOB_INSTANCE_ALREADY_EXISTS"),
    }


def test_restart_and_next_instance_of_parameters_that_no_longer_fit_write_nothing(
    samples_server: InProcessServer, stub: pb_grpc.JobOperatorServiceStub
) -> None:
    engine = samples_server.operator.repository.engine
    old = old_execution(engine, "demoChunkJob", JobParameters.parse(["itemz=7", "items=5"]))
    before = rows(engine)
    restart = pb.RestartRequest(execution_id=old.id, request_id="restart-1")
    # The next instance starts from the last one's parameters: itemz again.
    following = pb.StartNextInstanceRequest(job_name="demoChunkJob", request_id="next-1")
    for call in (lambda: stub.Restart(restart), lambda: stub.StartNextInstance(following)):
        code, reason, metadata, _ = rpc_error(call)
        assert (code, reason, metadata) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            "INVALID_JOB_PARAMETERS",
            {"unknown": "itemz"},
        )
        assert rows(engine) == before


def test_a_restart_of_parameters_stored_as_text_keeps_them_and_its_instance(
    samples_server: InProcessServer, stub: pb_grpc.JobOperatorServiceStub
) -> None:
    engine = samples_server.operator.repository.engine
    old = old_execution(engine, "demoChunkJob", JobParameters.parse(["items=5", "chunkSize=2"]))
    restarted = stub.Restart(pb.RestartRequest(execution_id=old.id)).execution
    assert restarted.job_instance_id == old.job_instance_id
    assert samples_server.operator.explorer.get_parameters(restarted.id) == old.job_parameters


@pytest.fixture
def operator(db_url: str) -> Iterator[JobOperator]:
    """An operator whose job needs a parameter that its incrementer does not give."""
    job = Job(
        "regionJob",
        [TaskletStep("work", lambda contribution, context: RepeatStatus.FINISHED)],
        incrementer=RunIdIncrementer(),
        parameters=[ParameterDeclaration("region", required=True, description="Where.")],
    )
    engine = create_engine(db_url)
    running = JobOperator(JobRepository(engine), JobRegistry([job]))
    try:
        yield running
    finally:
        running.shutdown(5.0)
        engine.dispose()


def test_a_required_parameter_missing_is_refused_on_every_launch(operator: JobOperator) -> None:
    engine = operator.repository.engine
    before = rows(engine)
    with pytest.raises(InvalidJobParameters) as missing:
        operator.start("regionJob", JobParameters(), request_id="start-1")
    assert missing.value.metadata == {"missing": "region"}
    assert "missing required region" in str(missing.value)
    with pytest.raises(InvalidJobParameters) as next_missing:
        operator.start_next_instance("regionJob", request_id="next-1")
    assert next_missing.value.metadata == {"missing": "region"}
    assert rows(engine) == before
    # run.id, the incrementer's, needs no declaring.
    started = operator.start("regionJob", JobParameters.parse(["region=eu", "run.id=4,long"]))
    assert started.job_parameters == JobParameters.parse(["region=eu", "run.id=4,long"])
