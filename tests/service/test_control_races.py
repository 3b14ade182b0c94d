"""Control calls racing each other and the worker: one lock order (the job row before its
step rows) on every path, so no deadlock; a lost race is ABORTED or a precondition, never
INTERNAL; and a worker whose execution was ended under it ends quietly."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import pytest
from jobop.domain import BatchStatus
from jobop_client._proto.jobop.v1 import job_operator_pb2 as pb
from jobop_client._proto.jobop.v1 import job_operator_pb2_grpc as pb_grpc
from jobop_client.parameters import to_proto_map
from service_support import InProcessServer

RUNNING = (pb.BATCH_STATUS_STARTING, pb.BATCH_STATUS_STARTED, pb.BATCH_STATUS_STOPPING)
# What a lost race may answer; INTERNAL and UNKNOWN are bugs.
EXPECTED = {
    grpc.StatusCode.OK,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.ABORTED,
}


@pytest.fixture
def stub(inprocess_server: InProcessServer) -> Iterator[pb_grpc.JobOperatorServiceStub]:
    with grpc.insecure_channel(inprocess_server.address) as channel:
        yield pb_grpc.JobOperatorServiceStub(channel)


def _wait(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def _status(stub: pb_grpc.JobOperatorServiceStub, execution_id: int) -> int:
    request = pb.GetJobExecutionRequest(execution_id=execution_id)
    return int(stub.GetJobExecution(request).execution.status)


def _start_running(stub: pb_grpc.JobOperatorServiceStub, **values: Any) -> int:
    response = stub.Start(pb.StartRequest(job_name="countJob", parameters=to_proto_map(values)))
    execution_id = response.execution.id
    _wait(lambda: _status(stub, execution_id) != pb.BATCH_STATUS_STARTING, "STARTED")
    return execution_id


def _code(call: Callable[[], object]) -> grpc.StatusCode:
    try:
        call()
    except grpc.RpcError as error:
        return error.code()  # type: ignore[attr-defined, no-any-return]
    return grpc.StatusCode.OK


def _errors_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        f"{r.name}: {r.getMessage()}"
        for r in caplog.records
        if r.levelno >= logging.ERROR and r.name.startswith("jobop")
    ]


def _settle(server: InProcessServer, stub: pb_grpc.JobOperatorServiceStub) -> None:
    """Stop whatever still runs and wait until nothing does."""

    def quiet() -> bool:
        running = server.operator.get_running_executions("countJob")
        for execution_id in running:
            _code(lambda e=execution_id: stub.Stop(pb.StopRequest(execution_id=e)))
        return not running

    _wait(quiet, "every execution to end")


def _check_consistent(server: InProcessServer) -> None:
    """No execution left running, and no ABANDONED or FAILED one with a running step."""
    explorer = server.operator.explorer
    for instance in explorer.get_job_instances("countJob", 0, 1000):
        for execution in explorer.get_job_executions(instance):
            assert not execution.status.is_running, execution.summary()
            for step in execution.step_executions:
                assert not step.status.is_running or execution.status is BatchStatus.STOPPED, (
                    execution.summary(),
                    step.summary(),
                )


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_concurrent_control_calls_never_deadlock_or_answer_internal(
    inprocess_server: InProcessServer,
    stub: pb_grpc.JobOperatorServiceStub,
    caplog: pytest.LogCaptureFixture,
) -> None:
    shuffle = random.Random(7).shuffle
    calls: dict[str, Callable[[int], object]] = {
        "Stop": lambda e: stub.Stop(pb.StopRequest(execution_id=e)),
        "Restart": lambda e: stub.Restart(pb.RestartRequest(execution_id=e)),
        "Abandon": lambda e: stub.Abandon(pb.AbandonRequest(execution_id=e)),
        "Recover": lambda e: stub.Recover(pb.RecoverRequest(execution_id=e)),
    }
    answers: dict[tuple[str, grpc.StatusCode], int] = {}
    with caplog.at_level(logging.WARNING), ThreadPoolExecutor(48) as pool:
        for round_number in range(20):
            execution_id = _start_running(
                stub, items=200, itemDelayMs=1, chunkSize=4, round=round_number
            )
            names = [name for name in calls for _ in range(12)]
            shuffle(names)
            codes = list(
                pool.map(lambda name, e=execution_id: (name, _code(lambda: calls[name](e))), names)
            )
            for answer in codes:
                answers[answer] = answers.get(answer, 0) + 1
            unexpected = [answer for answer in codes if answer[1] not in EXPECTED]
            assert not unexpected, f"round {round_number}: {unexpected}"
            _settle(inprocess_server, stub)
    _check_consistent(inprocess_server)
    assert not _errors_logged(caplog)
    # The rounds did race: stops and abandons both won somewhere.
    assert answers.get(("Stop", grpc.StatusCode.OK), 0) >= 20
    assert answers.get(("Abandon", grpc.StatusCode.OK), 0) >= 1


def test_abandon_while_stopping_ends_the_worker_quietly(
    inprocess_server: InProcessServer,
    stub: pb_grpc.JobOperatorServiceStub,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Chunks of half a second: the stop is noticed at the next boundary, and the abandon
    # lands in between.
    with caplog.at_level(logging.INFO):
        execution_id = _start_running(stub, items=40, itemDelayMs=50, chunkSize=10)
        stopped = stub.Stop(pb.StopRequest(execution_id=execution_id)).execution
        assert stopped.status == pb.BATCH_STATUS_STOPPING
        abandoned = stub.Abandon(pb.AbandonRequest(execution_id=execution_id)).execution
        assert abandoned.status == pb.BATCH_STATUS_ABANDONED
        _wait(
            lambda: not inprocess_server.operator._launcher.running_ids(),  # type: ignore[union-attr]
            "the worker to end",
        )
    final = stub.GetJobExecution(pb.GetJobExecutionRequest(execution_id=execution_id)).execution
    assert final.status == pb.BATCH_STATUS_ABANDONED
    assert [step.status for step in final.step_executions] == [pb.BATCH_STATUS_ABANDONED]
    assert not _errors_logged(caplog)
    assert any("ABANDONED elsewhere" in r.getMessage() for r in caplog.records)
