"""Jobs only the repository knows (rows a Spring Batch application wrote, or a jobop job no
longer deployed), over gRPC on SQLite and PostgreSQL: listed across jobs, refused launches
(JOB_NOT_REGISTERED), stopped as Spring stops them, recovered as Spring 6 recovers them and
only with `force`. tests/spring/test_spring_console.py does the same with a real JVM."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2  # type: ignore[import-untyped]
from jobop.domain import BatchStatus, JobParameters, StepExecution, utcnow
from jobop.repository import JobRepository
from jobop_client._proto.jobop.v1 import job_operator_pb2 as pb
from jobop_client._proto.jobop.v1 import job_operator_pb2_grpc as pb_grpc
from service_support import InProcessServer

FOREIGN = "springJob"


@pytest.fixture
def stub(inprocess_server: InProcessServer) -> Iterator[pb_grpc.JobOperatorServiceStub]:
    with grpc.insecure_channel(inprocess_server.address) as channel:
        yield pb_grpc.JobOperatorServiceStub(channel)


def foreign_execution(
    repository: JobRepository, n: int, status: BatchStatus = BatchStatus.STARTED
) -> int:
    """An execution written as a Spring Batch application writes one: no launch request,
    no `jobop.owner` in its context; with one step (STARTED while the job runs)."""
    execution = repository.create_job_execution(FOREIGN, JobParameters.of(n=n))
    if status is BatchStatus.STARTING:
        return execution.id
    execution.status = BatchStatus.STARTED
    execution.start_time = utcnow()
    execution.execution_context["spring.key"] = "kept"
    repository.update_job_execution(execution)
    step = StepExecution("springStep", execution.id, status=BatchStatus.STARTED)
    step.start_time = utcnow()
    repository.add_step_execution(step)
    if status is not BatchStatus.STARTED:
        for target in (step, execution):
            target.status = status
            target.end_time = utcnow()
        repository.update_step_execution(step)
        repository.update_job_execution(execution)
    return execution.id


def error_of(call: Callable[[], object]) -> tuple[grpc.StatusCode, str, str]:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    error = caught.value
    rich = status_pb2.Status.FromString(dict(error.trailing_metadata())["grpc-status-details-bin"])  # type: ignore[attr-defined]
    info = error_details_pb2.ErrorInfo()
    rich.details[0].Unpack(info)
    return error.code(), info.reason, error.details()  # type: ignore[attr-defined]


def execution(stub: pb_grpc.JobOperatorServiceStub, execution_id: int) -> pb.JobExecution:
    request = pb.GetJobExecutionRequest(execution_id=execution_id)
    return stub.GetJobExecution(request).execution


def test_launches_of_a_job_only_the_repository_knows_are_refused(
    inprocess_server: InProcessServer, stub: pb_grpc.JobOperatorServiceStub
) -> None:
    repository = inprocess_server.operator.repository
    failed = foreign_execution(repository, 1, BatchStatus.FAILED)
    before = len(repository.explorer.list_job_executions(limit=100))
    refusals: list[Callable[[], object]] = [
        lambda: stub.Start(pb.StartRequest(job_name=FOREIGN)),
        lambda: stub.StartNextInstance(pb.StartNextInstanceRequest(job_name=FOREIGN)),
        lambda: stub.Restart(pb.RestartRequest(execution_id=failed)),
    ]
    for call in refusals:
        code, reason, message = error_of(call)
        assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "JOB_NOT_REGISTERED")
        assert FOREIGN in message and "not registered" in message
    assert len(repository.explorer.list_job_executions(limit=100)) == before
    # A name the repository does not know either stays NO_SUCH_JOB.
    code, reason, _ = error_of(lambda: stub.Start(pb.StartRequest(job_name="nobodysJob")))
    assert (code, reason) == (grpc.StatusCode.NOT_FOUND, "NO_SUCH_JOB")


def test_every_jobs_executions_and_running_ones_are_listed_without_a_job_name(
    inprocess_server: InProcessServer, stub: pb_grpc.JobOperatorServiceStub
) -> None:
    repository = inprocess_server.operator.repository
    ours = stub.Start(
        pb.StartRequest(job_name="countJob", parameters={"items": pb.JobParameter(long_value=1)})
    ).execution.id
    running = foreign_execution(repository, 1)
    ended = foreign_execution(repository, 2, BatchStatus.COMPLETED)
    listed: list[int] = []
    token = ""
    while True:  # pages of two, newest first, across both jobs
        page = stub.ListJobExecutions(pb.ListJobExecutionsRequest(page_size=2, page_token=token))
        assert len(page.executions) <= 2
        listed += [e.id for e in page.executions]
        token = page.next_page_token
        if not token:
            break
    assert listed == sorted([ours, running, ended], reverse=True)
    instances = stub.ListJobInstances(pb.ListJobInstancesRequest()).job_instances
    assert [i.job_name for i in instances] == [FOREIGN, FOREIGN, "countJob"]
    ids = stub.GetRunningExecutions(pb.GetRunningExecutionsRequest()).execution_ids
    assert running in ids and ended not in ids
    assert execution(stub, running).job_name == FOREIGN


def test_stop_of_a_foreign_execution_writes_stopping_as_spring_does(
    inprocess_server: InProcessServer, stub: pb_grpc.JobOperatorServiceStub
) -> None:
    repository = inprocess_server.operator.repository
    started = foreign_execution(repository, 1)
    # A Spring launch under way: STARTING, which its own launcher is about to run.
    starting = foreign_execution(repository, 2, BatchStatus.STARTING)
    for execution_id in (started, starting):
        stopped = stub.Stop(pb.StopRequest(execution_id=execution_id)).execution
        assert stopped.status == pb.BATCH_STATUS_STOPPING
        assert not stopped.HasField("end_time")
    # Its steps are Spring's to end; Abandon works as for jobop's own.
    (step,) = execution(stub, started).step_executions
    assert step.status == pb.BATCH_STATUS_STARTED
    abandoned = stub.Abandon(pb.AbandonRequest(execution_id=started)).execution
    assert abandoned.status == pb.BATCH_STATUS_ABANDONED
    assert [s.status for s in abandoned.step_executions] == [pb.BATCH_STATUS_ABANDONED]


def test_recover_of_a_foreign_execution_needs_force_and_recovers_as_spring_6(
    inprocess_server: InProcessServer, stub: pb_grpc.JobOperatorServiceStub
) -> None:
    repository = inprocess_server.operator.repository
    running = foreign_execution(repository, 1)
    code, reason, message = error_of(lambda: stub.Recover(pb.RecoverRequest(execution_id=running)))
    assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "JOB_EXECUTION_ALREADY_RUNNING")
    assert "no jobop node owns it" in message and "force" in message
    assert execution(stub, running).status == pb.BATCH_STATUS_STARTED
    recovered = stub.Recover(pb.RecoverRequest(execution_id=running, force=True)).execution
    assert recovered.status == pb.BATCH_STATUS_FAILED and recovered.HasField("end_time")
    (step,) = recovered.step_executions
    assert step.status == pb.BATCH_STATUS_FAILED and step.HasField("end_time")
    # Spring 6 leaves the exit codes as they were, and marks both contexts.
    assert recovered.exit_status.exit_code == "UNKNOWN"
    assert step.exit_status.exit_code == "EXECUTING"
    stored = repository.explorer.get_job_execution(running)
    assert stored is not None
    assert stored.execution_context["batch.recovered"] is True
    assert stored.execution_context["spring.key"] == "kept"
    assert stored.step_executions[0].execution_context["batch.recovered"] is True
    # Once not running, there is nothing to recover, forced or not.
    code, reason, _ = error_of(
        lambda: stub.Recover(pb.RecoverRequest(execution_id=running, force=True))
    )
    assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "JOB_EXECUTION_NOT_RUNNING")


def test_force_does_not_override_a_live_jobop_owner(
    inprocess_server: InProcessServer, stub: pb_grpc.JobOperatorServiceStub
) -> None:
    request = pb.StartRequest(
        job_name="countJob",
        parameters={
            "items": pb.JobParameter(long_value=100000),
            "itemDelayMs": pb.JobParameter(long_value=10),
        },
    )
    execution_id = stub.Start(request).execution.id
    code, reason, _ = error_of(
        lambda: stub.Recover(pb.RecoverRequest(execution_id=execution_id, force=True))
    )
    assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "JOB_EXECUTION_ALREADY_RUNNING")
    stub.Stop(pb.StopRequest(execution_id=execution_id))
