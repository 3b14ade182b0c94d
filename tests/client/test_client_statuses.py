"""Statuses by name, and the reason line of an exit description."""

from __future__ import annotations

from jobop_client import BatchStatus
from jobop_client.executions import exit_reason
from jobop_client.proto import job_operator_pb2 as pb


def test_batch_status_names_the_proto_values() -> None:
    for value in pb.BatchStatus.values():
        assert BatchStatus(value).name == pb.BatchStatus.Name(value).removeprefix("BATCH_STATUS_")
    execution = pb.JobExecution(status=pb.BATCH_STATUS_STOPPING)
    assert BatchStatus(execution.status) is BatchStatus.STOPPING
    assert BatchStatus.STOPPING.is_running and not BatchStatus.STOPPED.is_running


def test_exit_reason_is_the_line_that_says_why() -> None:
    spring = "java.lang.IllegalStateException: boom\n\tat com.example.Step.run(Step.java:3)"
    assert exit_reason(spring) == "java.lang.IllegalStateException: boom"
    jobop = (
        "ValueError: bad item\nTraceback (most recent call last):\n  File 'x'\nValueError: bad item"
    )
    assert exit_reason(jobop) == "ValueError: bad item"
    # As earlier jobop versions wrote it: the bare traceback, its reason last.
    bare = 'Traceback (most recent call last):\n  File "x", line 1\n    raise\nKeyError: 3\n'
    assert exit_reason(bare) == "KeyError: 3"
    assert exit_reason("") == ""
    assert exit_reason("stop requested") == "stop requested"
