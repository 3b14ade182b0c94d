"""What a hostile or careless caller found: every malformed request gets INVALID_ARGUMENT
with a reason and the field, writes nothing, and never poisons later reads; on SQLite and
PostgreSQL alike."""

from __future__ import annotations

import base64
import json
import logging
import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest
from jobop.service.handlers import SERVICE
from jobop_client._proto.jobop.v1 import job_operator_pb2 as pb
from jobop_client._proto.jobop.v1 import job_operator_pb2_grpc as pb_grpc
from jobop_client.parameters import to_proto_map
from service_support import InProcessServer, rpc_error
from sqlalchemy import create_engine, func, select, text

LONG_MAX = (1 << 63) - 1


@pytest.fixture
def stub(samples_server: InProcessServer) -> Iterator[pb_grpc.JobOperatorServiceStub]:
    with grpc.insecure_channel(samples_server.address) as channel:
        yield pb_grpc.JobOperatorServiceStub(channel)


def _error(call: Callable[[], Any]) -> tuple[grpc.StatusCode, str, dict[str, str]]:
    """(code, reason, metadata) of a call that must fail."""
    code, reason, metadata, _ = rpc_error(call)
    return code, reason, metadata


def _rows(server: InProcessServer) -> tuple[int, ...]:
    """Row counts of the tables a launch writes."""
    engine = server.operator.repository.engine
    tables = ("batch_job_instance", "batch_job_execution", "batch_job_execution_params")
    with engine.connect() as connection:
        return tuple(
            connection.execute(select(func.count()).select_from(text(table))).scalar_one()
            for table in tables
        )


def _wait_ended(stub: pb_grpc.JobOperatorServiceStub, execution_id: int) -> pb.JobExecution:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        execution = stub.GetJobExecution(pb.GetJobExecutionRequest(execution_id=execution_id))
        if execution.execution.status not in (
            pb.BATCH_STATUS_STARTING,
            pb.BATCH_STATUS_STARTED,
            pb.BATCH_STATUS_STOPPING,
        ):
            return execution.execution
        time.sleep(0.02)
    raise AssertionError(f"execution {execution_id} did not end")


def _start(stub: pb_grpc.JobOperatorServiceStub, job: str, **values: Any) -> pb.JobExecution:
    response = stub.Start(pb.StartRequest(job_name=job, parameters=to_proto_map(values)))
    return _wait_ended(stub, response.execution.id)


# -- 1. the incrementer's overflow, and stored values that cannot be read ----------------


def test_next_instance_past_the_largest_long_is_refused_and_writes_nothing(
    samples_server: InProcessServer, stub: pb_grpc.JobOperatorServiceStub
) -> None:
    _start(stub, "demoTaskletJob", **{"run.id": LONG_MAX, "durationMs": 1})
    before = _rows(samples_server)
    for _ in range(3):  # a retry changes nothing either
        code, reason, _ = _error(
            lambda: stub.StartNextInstance(pb.StartNextInstanceRequest(job_name="demoTaskletJob"))
        )
        assert (code, reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_JOB_PARAMETERS")
    assert _rows(samples_server) == before
    listed = stub.ListJobExecutions(pb.ListJobExecutionsRequest(job_name="demoTaskletJob"))
    assert [e.parameters["run.id"].long_value for e in listed.executions] == [LONG_MAX]


def test_a_long_outside_64_bits_is_refused_before_anything_is_written(
    samples_server: InProcessServer,
) -> None:
    operator = samples_server.operator
    from jobop.domain import InvalidJobParameters, JobParameter, JobParameters

    before = _rows(samples_server)
    too_big = JobParameters({"run.id": JobParameter(LONG_MAX + 1, "LONG")})
    with pytest.raises(InvalidJobParameters, match="64-bit"):
        operator.start("demoTaskletJob", too_big)
    assert _rows(samples_server) == before


def test_stored_values_that_cannot_be_read_show_as_text(
    samples_server: InProcessServer,
    stub: pb_grpc.JobOperatorServiceStub,
    caplog: pytest.LogCaptureFixture,
) -> None:
    execution = _start(stub, "demoTaskletJob", **{"run.id": 7, "durationMs": 1})
    engine = samples_server.operator.repository.engine
    # Values this process has not warned about yet (the warning is once per process).
    unique = secrets.randbelow(10**9)
    too_big, word = str(LONG_MAX + 1 + unique), f"twelve-{unique}"
    with engine.begin() as connection:
        # As another tool (or an older jobop) might have left them.
        connection.execute(
            text(
                "UPDATE batch_job_execution_params SET parameter_value = :v "
                "WHERE job_execution_id = :id AND parameter_name = 'run.id'"
            ),
            {"v": too_big, "id": execution.id},
        )
        connection.execute(
            text(
                "INSERT INTO batch_job_execution_params (job_execution_id, parameter_name, "
                "parameter_type, parameter_value, identifying) VALUES "
                "(:id, 'ratio', 'java.lang.Float', :ratio, 'N'), "
                "(:id, 'count', 'java.lang.Long', :word, 'N')"
            ),
            {"id": execution.id, "ratio": f"1.{unique}", "word": word},
        )
    with caplog.at_level(logging.WARNING, logger="jobop.domain.parameters"):
        for _ in range(2):
            read = stub.GetJobExecution(pb.GetJobExecutionRequest(execution_id=execution.id))
            listed = stub.ListJobExecutions(pb.ListJobExecutionsRequest(job_name="demoTaskletJob"))
            shown = stub.GetParameters(pb.GetParametersRequest(execution_id=execution.id))
            watched = list(stub.WatchExecution(pb.WatchExecutionRequest(execution_id=execution.id)))
    for parameters in (
        read.execution.parameters,
        listed.executions[0].parameters,
        shown.parameters,
        watched[-1].execution.parameters,
    ):
        assert parameters["run.id"].string_value == too_big
        assert parameters["ratio"].string_value == f"1.{unique}"
        assert parameters["count"].string_value == word
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 3  # once per stored value, not once per read
    before = _rows(samples_server)
    # Neither restarting it nor counting on from it may write such a value anew.
    code, reason, _ = _error(
        lambda: stub.StartNextInstance(pb.StartNextInstanceRequest(job_name="demoTaskletJob"))
    )
    assert (code, reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_JOB_PARAMETERS")
    assert _rows(samples_server) == before


# -- 2. page tokens ----------------------------------------------------------------------


def _token(fields: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(fields).encode()).decode().rstrip("=")


def _fields(token: str) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    return decoded


def test_page_tokens_are_validated(stub: pb_grpc.JobOperatorServiceStub) -> None:
    for run_id in (1, 2, 3):
        _start(stub, "demoTaskletJob", **{"run.id": run_id, "durationMs": 1})
    _start(stub, "countJob", items=1)
    page = stub.ListJobExecutions(
        pb.ListJobExecutionsRequest(job_name="demoTaskletJob", page_size=1)
    )
    real = page.next_page_token
    assert real
    tag = _fields(real)["q"]
    instances = stub.ListJobInstances(
        pb.ListJobInstancesRequest(job_name="demoTaskletJob", page_size=1)
    )
    instance_tag = _fields(instances.next_page_token)["q"]
    forged = [
        _token({"before": True, "q": tag}),
        _token({"before": 1 << 63, "q": tag}),
        _token({"before": -1, "q": tag}),
        _token({"before": 1.5, "q": tag}),
        _token({"before": "2", "q": tag}),
        _token({"before": 2}),
        _token({"before": 2, "q": tag, "extra": 1}),
        _token([2]),  # type: ignore[arg-type]
        "not base64 at all!",
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ]
    for token in forged:
        code, reason, metadata = _error(
            lambda token=token: stub.ListJobExecutions(
                pb.ListJobExecutionsRequest(job_name="demoTaskletJob", page_token=token)
            )
        )
        assert (code, reason, metadata) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            "INVALID_ARGUMENT",
            {"field": "page_token"},
        ), token
    # A token belongs to the query that made it.
    code, _, metadata = _error(
        lambda: stub.ListJobExecutions(
            pb.ListJobExecutionsRequest(job_name="countJob", page_token=real)
        )
    )
    assert (code, metadata) == (grpc.StatusCode.INVALID_ARGUMENT, {"field": "page_token"})
    for fields in (
        {"offset": 1 << 63, "before": 2, "q": instance_tag},
        {"offset": 0, "before": False, "q": instance_tag},
    ):
        code, _, metadata = _error(
            lambda fields=fields: stub.ListJobInstances(
                pb.ListJobInstancesRequest(job_name="demoTaskletJob", page_token=_token(fields))
            )
        )
        assert (code, metadata) == (grpc.StatusCode.INVALID_ARGUMENT, {"field": "page_token"})
    # The real tokens still work, and the largest valid values are merely empty pages.
    assert stub.ListJobExecutions(
        pb.ListJobExecutionsRequest(job_name="demoTaskletJob", page_token=real)
    ).executions
    far = _token({"offset": LONG_MAX, "before": LONG_MAX, "q": instance_tag})
    assert not stub.ListJobInstances(
        pb.ListJobInstancesRequest(job_name="demoTaskletJob", page_token=far)
    ).job_instances


# -- 3. NUL characters -------------------------------------------------------------------


def test_nul_characters_are_refused_naming_the_field(
    samples_server: InProcessServer, stub: pb_grpc.JobOperatorServiceStub
) -> None:
    before = _rows(samples_server)
    calls: list[tuple[Callable[[], Any], str, str]] = [
        (
            lambda: stub.Start(
                pb.StartRequest(job_name="countJob", parameters=to_proto_map({"items": "a\0b"}))
            ),
            "INVALID_JOB_PARAMETERS",
            "parameters",
        ),
        (
            lambda: stub.Start(
                pb.StartRequest(job_name="countJob", parameters=to_proto_map({"it\0ems": 1}))
            ),
            "INVALID_JOB_PARAMETERS",
            "parameters",
        ),
        (
            lambda: stub.Start(pb.StartRequest(job_name="countJob", request_id="r\0")),
            "INVALID_ARGUMENT",
            "request_id",
        ),
        (
            lambda: stub.StartNextInstance(
                pb.StartNextInstanceRequest(job_name="demoTaskletJob", request_id="\0")
            ),
            "INVALID_ARGUMENT",
            "request_id",
        ),
        (
            lambda: stub.Start(pb.StartRequest(job_name="count\0Job")),
            "INVALID_ARGUMENT",
            "job_name",
        ),
        (
            lambda: stub.GetRunningExecutions(pb.GetRunningExecutionsRequest(job_name="x\0")),
            "INVALID_ARGUMENT",
            "job_name",
        ),
        (
            lambda: next(iter(stub.WatchExecutions(pb.WatchExecutionsRequest(job_name="x\0")))),
            "INVALID_ARGUMENT",
            "job_name",
        ),
        (
            lambda: stub.ListJobInstances(pb.ListJobInstancesRequest(job_name="\0")),
            "INVALID_ARGUMENT",
            "job_name",
        ),
    ]
    for call, reason, field in calls:
        code, got_reason, metadata = _error(call)
        assert (code, got_reason, metadata) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            reason,
            {"field": field},
        )
    assert _rows(samples_server) == before


# -- 4. undecodable payloads -------------------------------------------------------------

# A StartRequest whose job_name (field 1, length-delimited) is not UTF-8.
_START_WITH_BAD_UTF8 = b"\x0a\x02\xff\xfe"


def test_undecodable_bytes_get_invalid_argument_from_every_method(
    samples_server: InProcessServer, caplog: pytest.LogCaptureFixture
) -> None:
    sent = 0
    with (
        caplog.at_level(logging.WARNING),
        grpc.insecure_channel(samples_server.address) as channel,
    ):
        for method in SERVICE.methods:
            path = f"/{SERVICE.full_name}/{method.name}"
            for payload in (b"\xff", b"\x0a\x05ab", b"\x08" + b"\xff" * 11):
                if method.server_streaming:
                    call = channel.unary_stream(path)
                    code, reason, _ = _error(lambda call=call, p=payload: list(call(p, timeout=10)))
                else:
                    call = channel.unary_unary(path)
                    code, reason, _ = _error(lambda call=call, p=payload: call(p, timeout=10))
                assert (code, reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"), (
                    method.name,
                    payload,
                )
                sent += 1
        start = channel.unary_unary(f"/{SERVICE.full_name}/Start")
        code, _, _ = _error(lambda: start(_START_WITH_BAD_UTF8, timeout=10))
        assert code == grpc.StatusCode.INVALID_ARGUMENT
        sent += 1
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert not [r for r in warnings if r.exc_info], "a traceback was logged"
    assert len(warnings) <= 6  # rate-limited: a burst of five, then one with the count
    assert sent > len(warnings)


def test_the_database_is_not_needed_to_refuse_garbage(
    samples_server: InProcessServer, db_url: str
) -> None:
    # A refused request leaves the repository readable and unchanged (checked above per
    # defect); here: the server still serves real calls after a flood of garbage.
    with grpc.insecure_channel(samples_server.address) as channel:
        call = channel.unary_unary(f"/{SERVICE.full_name}/GetJobNames")
        for _ in range(50):
            _error(lambda: call(b"\xff\xff", timeout=10))
        names = pb_grpc.JobOperatorServiceStub(channel).GetJobNames(pb.GetJobNamesRequest())
    assert "demoTaskletJob" in names.job_names
    engine = create_engine(db_url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT 1")).scalar_one() == 1
    engine.dispose()


# -- 5. lengths the columns cannot hold ------------------------------------------------------


def test_a_parameter_name_longer_than_its_column_is_refused_and_writes_nothing(
    samples_server: InProcessServer, stub: pb_grpc.JobOperatorServiceStub
) -> None:
    before = _rows(samples_server)
    for name in ("n" * 101, "é" * 101, "n" * 5000):
        code, reason, metadata = _error(
            lambda name=name: stub.Start(
                pb.StartRequest(job_name="demoTaskletJob", parameters=to_proto_map({name: 1}))
            )
        )
        assert (code, reason, metadata) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            "INVALID_JOB_PARAMETERS",
            {"field": "parameters"},
        )
    assert _rows(samples_server) == before
    # At the limit it is stored and read back whole.
    execution = _start(stub, "demoTaskletJob", **{"n" * 100: 1, "durationMs": 1})
    assert "n" * 100 in execution.parameters


def test_an_oversized_value_under_a_huge_name_is_refused_with_a_short_message() -> None:
    # Found by the fuzz test: the message quoted the whole name (25 KB here), more than a
    # client accepts in the error's trailers (16 KiB), so the caller saw RESOURCE_EXHAUSTED.
    from jobop.domain import InvalidJobParameters
    from jobop.service import validation as check

    name = "\U0009b50a" * 2500
    for value, why in (
        (pb.JobParameter(string_value="v" * 3000), "longer than 2500 characters"),
        (pb.JobParameter(), "has no value"),
    ):
        with pytest.raises(InvalidJobParameters) as refused:
            check.parameters({name: value})
        assert len(str(refused.value)) < 1200 and why in str(refused.value), why
