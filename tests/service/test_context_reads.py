"""Reads load only what they return: an execution's contexts (megabytes, if its job puts
them there) are read by the REST context route alone, never by the RPCs, which return
none."""

from __future__ import annotations

import grpc
from jobop.domain import JobParameters
from jobop.repository import StatementCounter
from jobop_client._proto.jobop.v1 import job_operator_pb2 as pb
from jobop_client._proto.jobop.v1 import job_operator_pb2_grpc as pb_grpc
from service_support import InProcessServer

SIZE = 2_000_000


def test_rpcs_do_not_read_contexts(inprocess_server: InProcessServer) -> None:
    repository = inprocess_server.operator.repository
    execution = repository.create_job_execution(
        "countJob", JobParameters.of(items=1), context={"blob": "x" * SIZE}
    )
    with grpc.insecure_channel(inprocess_server.address) as channel:
        stub = pb_grpc.JobOperatorServiceStub(channel)
        with StatementCounter(repository.engine) as counter:
            got = stub.GetJobExecution(pb.GetJobExecutionRequest(execution_id=execution.id))
            listed = stub.ListJobExecutions(pb.ListJobExecutionsRequest(job_name="countJob"))
            summary = stub.GetSummary(pb.GetSummaryRequest(execution_id=execution.id))
    assert got.execution.id == execution.id
    assert [e.id for e in listed.executions] == [execution.id]
    assert summary.summary
    assert counter.count > 0
    assert not counter.matching("execution_context"), counter.statements
    # What the context route reads is still there, whole.
    whole = inprocess_server.operator.get_job_execution(execution.id, contexts=True)
    assert len(whole.execution_context["blob"]) == SIZE
