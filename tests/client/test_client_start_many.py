"""The client's side of StartJobs without a server: each entry's error becomes the typed
error a Start would raise, and `jobctl start-many` refuses a malformed file (exit 2, one
line naming FILE:LINE) before it connects, so nothing starts. The calls themselves are
tested on a real server (tests/e2e/test_start_many_e2e.py, tests/service/test_start_jobs.py).
"""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from jobop_client import errors, jobctl
from jobop_client.client import JobStart, _start_jobs_request, _start_outcomes
from jobop_client.proto import job_operator_pb2 as pb

UNREACHABLE = "127.0.0.1:1"


def test_each_entry_error_is_the_typed_error_of_its_reason() -> None:
    response = pb.StartJobsResponse(
        results=[
            pb.StartJobsResult(execution=pb.JobExecution(id=7, job_name="a")),
            pb.StartJobsResult(
                error=pb.StartJobsError(
                    code=6,
                    reason="JOB_INSTANCE_ALREADY_EXISTS",
                    message="exists",
                    metadata={"job_execution_id": "3"},
                )
            ),
            pb.StartJobsResult(error=pb.StartJobsError(code=5, reason="NO_SUCH_JOB", message="x")),
            # A reason this client does not know: the class of its code.
            pb.StartJobsResult(error=pb.StartJobsError(code=14, reason="NEW_REASON", message="y")),
            pb.StartJobsResult(error=pb.StartJobsError(code=9, reason="NEWER", message="z")),
        ]
    )
    execution, exists, missing, unavailable, other = _start_outcomes(response)
    assert isinstance(execution, pb.JobExecution) and execution.id == 7
    assert isinstance(exists, errors.JobInstanceAlreadyExistsError)
    assert exists.code is grpc.StatusCode.ALREADY_EXISTS
    assert exists.metadata == {"job_execution_id": "3"} and exists.message == "exists"
    assert isinstance(missing, errors.NoSuchJobError)
    assert type(unavailable) is errors.ServerUnavailableError
    assert type(other) is errors.JobOperatorError
    assert other.code is grpc.StatusCode.FAILED_PRECONDITION


def test_entries_travel_as_start_requests() -> None:
    request = _start_jobs_request(
        [JobStart("a", {"n": 1}, request_id="r", priority=-2), JobStart("b")]
    )
    first, second = request.starts
    assert (first.job_name, first.request_id, first.priority) == ("a", "r", -2)
    assert first.parameters["n"].long_value == 1
    assert (second.job_name, second.request_id, dict(second.parameters)) == ("b", "", {})


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("[1, 2]", "not a JSON object"),
        ("{nope", "not a JSON object"),
        ('{"job": "a", "extra": 1}', "unknown keys extra"),
        ('{"parameters": {}}', '"job" must be a job name'),
        ('{"job": 7}', '"job" must be a job name'),
        ('{"job": "a", "parameters": [1]}', '"parameters" must be a JSON object'),
        ('{"job": "a", "parameters": {"n": [1]}}', "parameter 'n':"),
        ('{"job": "a", "parameters": {"n": {"long": "x"}}}', "parameter 'n':"),
        ('{"job": "a", "requestId": 5}', '"requestId" must be a string'),
        ('{"job": "a", "priority": 1001}', '"priority" must be a whole number'),
        ('{"job": "a", "priority": true}', '"priority" must be a whole number'),
    ],
)
def test_a_malformed_line_is_a_usage_error_before_connecting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str, message: str
) -> None:
    path = tmp_path / "starts.jsonl"
    path.write_text('{"job": "demoTaskletJob"}\n\n' + line + "\n")
    code = jobctl.run(["--target", UNREACHABLE, "start-many", str(path)])
    captured = capsys.readouterr()
    assert code == 2, captured
    assert captured.out == ""
    (error,) = captured.err.splitlines()
    assert error.startswith(f"jobctl: {path}:3: ") and message in error, error


def test_an_empty_file_and_a_bad_batch_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("\n  \n")
    assert jobctl.run(["--target", UNREACHABLE, "start-many", str(path)]) == 2
    assert "holds no start" in capsys.readouterr().err
    assert jobctl.run(["--target", UNREACHABLE, "start-many", str(tmp_path / "none")]) == 2
    assert "cannot read" in capsys.readouterr().err
    for batch in ("0", "1001", "x"):
        with pytest.raises(SystemExit) as exited:
            jobctl.run(["--target", UNREACHABLE, "start-many", str(path), "--batch", batch])
        assert exited.value.code == 2
        assert "a batch is 1 to 1000 entries" in capsys.readouterr().err
