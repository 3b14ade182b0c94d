"""ListJobExecutions with a filter and CountJobExecutions over real gRPC, on SQLite and
PostgreSQL: filters, both orders, page tokens bound to their filter, and malformed
filters refused with INVALID_ARGUMENT naming the field."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from jobop.domain import BatchStatus, ExitStatus, JobParameter, JobParameters
from jobop.repository import JobRepository, write_transaction
from jobop.repository.schema import job_execution
from jobop_client._proto.jobop.v1 import job_operator_pb2 as pb
from jobop_client._proto.jobop.v1 import job_operator_pb2_grpc as pb_grpc
from service_support import InProcessServer, rpc_error

T0 = datetime(2026, 3, 1, tzinfo=UTC)

Stub = pb_grpc.JobOperatorServiceStub


def _finished(
    repository: JobRepository, job: str, run: int, tenant: int, status: BatchStatus
) -> int:
    parameters = JobParameters.of(run=run, tenant=JobParameter(tenant, "LONG", identifying=False))
    execution = repository.create_job_execution(job, parameters)
    execution.create_time = T0 + timedelta(hours=run)
    execution.start_time = execution.create_time
    execution.end_time = execution.create_time + timedelta(minutes=5)
    execution.status = status
    execution.exit_status = ExitStatus(status.value)
    repository.update_job_execution(execution)
    with write_transaction(repository.engine) as connection:  # the runner never sets it
        connection.execute(
            job_execution.update()
            .where(job_execution.c.job_execution_id == execution.id)
            .values(create_time=execution.create_time)
        )
    return execution.id


@pytest.fixture
def stub(inprocess_server: InProcessServer) -> Iterator[Stub]:
    with grpc.insecure_channel(inprocess_server.address) as channel:
        yield pb_grpc.JobOperatorServiceStub(channel)


@pytest.fixture
def ids(inprocess_server: InProcessServer) -> dict[tuple[str, int], int]:
    """Ten executions of three jobs, run r at T0 + r hours, tenant r % 3, FAILED when r is
    odd."""
    repository = inprocess_server.operator.repository
    found = {}
    for run in range(1, 11):
        job = ("importJob", "exportJob", "reportJob")[run % 3]
        status = BatchStatus.FAILED if run % 2 else BatchStatus.COMPLETED
        found[(job, run)] = _finished(repository, job, run, run % 3, status)
    return found


def _timestamp(moment: datetime) -> pb.google_dot_protobuf_dot_timestamp__pb2.Timestamp:  # type: ignore[name-defined]
    stamp = pb.JobExecution().create_time
    stamp.FromDatetime(moment)
    return stamp


def _runs(response: pb.ListJobExecutionsResponse) -> list[int]:
    return [execution.parameters["run"].long_value for execution in response.executions]


def test_filtered_pages_newest_and_oldest_first_with_the_count(stub: Stub, ids: object) -> None:
    selection = pb.ExecutionFilter(
        job_names=["importJob", "exportJob"],
        statuses=[pb.BATCH_STATUS_FAILED, pb.BATCH_STATUS_STOPPED],
        created=pb.TimeRange(since=_timestamp(T0 + timedelta(hours=2))),
    )
    # Runs 3 (importJob), 5 (reportJob: no), 7 (exportJob), 9 (importJob): odd, job % 3 != 2.
    pages, token = [], ""
    while True:
        page = stub.ListJobExecutions(
            pb.ListJobExecutionsRequest(filter=selection, page_size=2, page_token=token)
        )
        pages.append(_runs(page))
        token = page.next_page_token
        if not token:
            break
    assert pages == [[9, 7], [3]]
    oldest = stub.ListJobExecutions(
        pb.ListJobExecutionsRequest(filter=selection, oldest_first=True, page_size=2)
    )
    assert _runs(oldest) == [3, 7]
    rest = stub.ListJobExecutions(
        pb.ListJobExecutionsRequest(
            filter=selection, oldest_first=True, page_size=2, page_token=oldest.next_page_token
        )
    )
    assert (_runs(rest), rest.next_page_token) == ([9], "")
    count = stub.CountJobExecutions(pb.CountJobExecutionsRequest(filter=selection))
    assert count.count == 3


def test_each_filter_through_the_rpc(stub: Stub, ids: object) -> None:
    def runs(**fields: object) -> list[int]:
        request = pb.ListJobExecutionsRequest(filter=pb.ExecutionFilter(**fields), page_size=100)
        found = _runs(stub.ListJobExecutions(request))
        count = stub.CountJobExecutions(pb.CountJobExecutionsRequest(filter=request.filter))
        assert count.count == len(found)
        return found

    assert runs(job_names=["reportJob"]) == [8, 5, 2]
    assert runs(statuses=[pb.BATCH_STATUS_COMPLETED]) == [10, 8, 6, 4, 2]
    assert runs(exit_codes=["FAILED"]) == [9, 7, 5, 3, 1]
    hour = timedelta(hours=1)
    window = pb.TimeRange(since=_timestamp(T0 + 2 * hour), until=_timestamp(T0 + 4 * hour))
    assert runs(created=window) == [3, 2]
    assert runs(started=window) == [3, 2]
    assert runs(ended=pb.TimeRange(until=_timestamp(T0 + 2 * hour))) == [1]
    assert runs(parameters=[pb.ParameterFilter(name="tenant", value="2")]) == [8, 5, 2]
    # Nothing launched these through a node: no owner, never overdue.
    assert runs(node_id="node-1") == []
    assert runs(overdue=True) == []
    assert len(runs(overdue=False)) == 10


def test_the_request_job_name_and_instance_combine_with_the_filter(
    stub: Stub, ids: dict[tuple[str, int], int], inprocess_server: InProcessServer
) -> None:
    request = pb.ListJobExecutionsRequest(
        job_name="importJob", filter=pb.ExecutionFilter(statuses=[pb.BATCH_STATUS_FAILED])
    )
    assert _runs(stub.ListJobExecutions(request)) == [9, 3]
    instance = inprocess_server.operator.explorer.get_job_execution(ids[("importJob", 9)])
    assert instance is not None
    by_instance = pb.CountJobExecutionsRequest(job_instance_id=instance.job_instance_id)
    assert stub.CountJobExecutions(by_instance).count == 1
    code, reason, _, _ = rpc_error(
        lambda: stub.CountJobExecutions(pb.CountJobExecutionsRequest(job_instance_id=10**9))
    )
    assert (code, reason) == (grpc.StatusCode.NOT_FOUND, "NO_SUCH_JOB_INSTANCE")


def test_a_page_token_is_bound_to_its_filter_and_order(stub: Stub, ids: object) -> None:
    failed = pb.ExecutionFilter(statuses=[pb.BATCH_STATUS_FAILED])
    page = stub.ListJobExecutions(pb.ListJobExecutionsRequest(filter=failed, page_size=2))
    token = page.next_page_token
    assert token
    others = [
        pb.ListJobExecutionsRequest(page_token=token),
        pb.ListJobExecutionsRequest(
            filter=pb.ExecutionFilter(statuses=[pb.BATCH_STATUS_COMPLETED]), page_token=token
        ),
        pb.ListJobExecutionsRequest(
            filter=pb.ExecutionFilter(statuses=[pb.BATCH_STATUS_FAILED], job_names=["importJob"]),
            page_token=token,
        ),
        pb.ListJobExecutionsRequest(filter=failed, oldest_first=True, page_token=token),
    ]
    for request in others:
        code, reason, metadata, _ = rpc_error(lambda r=request: stub.ListJobExecutions(r))
        assert (code, reason, metadata.get("field")) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            "INVALID_ARGUMENT",
            "page_token",
        )
    # The same filter, its lists in another order, takes it.
    again = pb.ExecutionFilter(statuses=[pb.BATCH_STATUS_FAILED, pb.BATCH_STATUS_FAILED])
    following = stub.ListJobExecutions(
        pb.ListJobExecutionsRequest(filter=again, page_size=2, page_token=token)
    )
    assert _runs(following) == [5, 3]


@pytest.mark.parametrize(
    ("selection", "field"),
    [
        (pb.ExecutionFilter(statuses=[pb.BATCH_STATUS_UNSPECIFIED]), "filter.statuses"),
        (pb.ExecutionFilter(statuses=[42]), "filter.statuses"),
        (pb.ExecutionFilter(job_names=[""]), "filter.job_names"),
        (pb.ExecutionFilter(job_names=["j"] * 101), "filter.job_names"),
        (pb.ExecutionFilter(exit_codes=[""]), "filter.exit_codes"),
        (pb.ExecutionFilter(parameters=[pb.ParameterFilter(value="7")]), "filter.parameters.name"),
        (
            pb.ExecutionFilter(parameters=[pb.ParameterFilter(name="a", value="\x00")]),
            "filter.parameters.value",
        ),
        (pb.ExecutionFilter(node_id="n" * 41), "filter.node_id"),
        (
            pb.ExecutionFilter(
                created=pb.TimeRange(since=_timestamp(T0), until=_timestamp(T0 - timedelta(1)))
            ),
            "filter.created",
        ),
    ],
)
def test_malformed_filters_are_refused_naming_the_field(
    stub: Stub, selection: pb.ExecutionFilter, field: str
) -> None:
    for call in (
        lambda: stub.ListJobExecutions(pb.ListJobExecutionsRequest(filter=selection)),
        lambda: stub.CountJobExecutions(pb.CountJobExecutionsRequest(filter=selection)),
    ):
        code, reason, metadata, _ = rpc_error(call)
        assert (code, reason, metadata.get("field")) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            "INVALID_ARGUMENT",
            field,
        )
