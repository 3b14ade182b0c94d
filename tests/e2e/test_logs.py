"""`jobop serve` logs, text and JSON: every record made inside an execution names its job,
execution, step and node, and lifecycle events carry their stable message codes."""

from __future__ import annotations

import json
import re

import grpc
import pytest
from e2e_support import ServerFactory, error_of, params, start, wait_for, wait_terminal
from jobop.domain.messages import MessageCode
from jobop_client._proto.jobop.v1 import job_operator_pb2 as pb

# 2026-12-01 19:10:56,613 INFO  JOBOP-1101 [job #1 step] @host:pid logger: message
TEXT = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (?P<level>[A-Z]+) +(?:(?P<code>JOBOP-\d{4}) )?"
    r"(?:\[(?P<job>\S+) #(?P<id>\d+)(?: (?P<step>[^\]]+))?\] @(?P<node>\S+) )?"
    r"(?P<logger>[\w.]+): (?P<message>.*)$"
)


def log_records(log: str, log_format: str) -> list[dict[str, object]]:
    records: list[dict[str, object]] = []
    for line in log.splitlines():
        if log_format == "json":
            records.append(json.loads(line))  # every line is one JSON object
            continue
        match = TEXT.match(line)
        if match is None:
            assert line.startswith((" ", "Traceback")), f"not a log line: {line!r}"
            continue
        records.append(
            {
                "level": match["level"],
                "code": match["code"],
                "job_name": match["job"],
                "job_execution_id": int(match["id"]) if match["id"] else None,
                "step_name": match["step"],
                "node_id": match["node"],
                "logger": match["logger"],
                "message": match["message"],
            }
        )
    return records


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("log_format", ["text", "json"])
def test_execution_records_carry_context_and_lifecycle_codes(
    start_server: ServerFactory, log_format: str
) -> None:
    server = start_server("--log-format", log_format)
    stub = server.stub
    logged = start(stub, "e2eLoggingJob", params(items=6, itemDelayMs=0))
    assert wait_terminal(stub, logged.id).status == pb.BATCH_STATUS_COMPLETED
    # A stop, its STOPPED end, a restart and an abandon: the other lifecycle codes.
    slow = start(stub, "e2eSlowChunkJob", params(items=1000, itemDelayMs=10))
    wait_for(
        stub, slow.id, lambda e: bool(e.step_executions) and e.step_executions[0].read_count > 0
    )
    stub.Stop(pb.StopRequest(execution_id=slow.id))
    assert wait_terminal(stub, slow.id).status == pb.BATCH_STATUS_STOPPED
    restarted = stub.Restart(pb.RestartRequest(execution_id=slow.id)).execution
    wait_for(stub, restarted.id, lambda e: e.status == pb.BATCH_STATUS_STARTED)
    stub.Stop(pb.StopRequest(execution_id=restarted.id))
    wait_terminal(stub, restarted.id)
    stub.Abandon(pb.AbandonRequest(execution_id=restarted.id))
    # A failed action: the request names only the execution.
    code, _, _ = error_of(lambda: stub.Recover(pb.RecoverRequest(execution_id=logged.id)))
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    assert server.terminate() == 0

    records = log_records(server.log(), log_format)
    node = next(r["node_id"] for r in records if r.get("job_name"))
    assert node and all(r["node_id"] == node for r in records if r.get("job_name"))
    # Audit records name the job and execution they are about, as the job's own do.
    audit = [r for r in records if r["logger"] == "jobop.audit"]
    assert [(r["job_name"], r["job_execution_id"]) for r in audit] == [
        ("e2eLoggingJob", logged.id),
        ("e2eSlowChunkJob", slow.id),
        ("e2eSlowChunkJob", slow.id),
        ("e2eSlowChunkJob", restarted.id),
        ("e2eSlowChunkJob", restarted.id),
        ("e2eSlowChunkJob", restarted.id),
        ("e2eLoggingJob", logged.id),  # read from the execution the request named
    ]
    assert all(r["node_id"] == node for r in audit)
    assert str(audit[-1]["message"]).startswith("AUDIT-FAILED Recover")
    user = [r for r in records if r["logger"] == "e2e.user_code"]
    assert [r["message"] for r in user] == ["writing 2 items"] * 3 + ["tasklet step of its own"]
    for record in user:
        assert (record["job_name"], record["job_execution_id"]) == ("e2eLoggingJob", logged.id)
        assert record["step_name"] in ("logWrites", "logOnce")
    assert [r["step_name"] for r in user] == ["logWrites"] * 3 + ["logOnce"]

    inside = [r for r in records if r.get("job_execution_id") == logged.id]
    codes = [r["code"] for r in inside if r["code"]]
    assert codes == [
        MessageCode.JOB_STARTED.code,
        MessageCode.STEP_STARTED.code,
        MessageCode.STEP_COMPLETED.code,
        MessageCode.STEP_STARTED.code,
        MessageCode.STEP_COMPLETED.code,
        MessageCode.JOB_COMPLETED.code,
    ]
    for record in inside:
        if record["code"] in (MessageCode.STEP_STARTED.code, MessageCode.STEP_COMPLETED.code):
            assert record["step_name"] in ("logWrites", "logOnce")

    def coded(code: MessageCode) -> list[dict[str, object]]:
        return [r for r in records if r["code"] == code.code]

    assert len(coded(MessageCode.JOB_STOP_REQUESTED)) == 2
    assert {r["job_execution_id"] for r in coded(MessageCode.JOB_STOPPED)} == {
        slow.id,
        restarted.id,
    }
    assert len(coded(MessageCode.STEP_STOPPED)) == 2
    assert len(coded(MessageCode.JOB_RESTARTED)) == 1
    assert len(coded(MessageCode.JOB_ABANDONED)) == 1
    # The control actions' own records name the execution they are about, too.
    assert [
        (r["code"], r["job_name"], r["job_execution_id"])
        for r in records
        if r["code"]
        in (
            MessageCode.JOB_STOP_REQUESTED.code,
            MessageCode.JOB_RESTARTED.code,
            MessageCode.JOB_ABANDONED.code,
        )
    ] == [
        (MessageCode.JOB_STOP_REQUESTED.code, "e2eSlowChunkJob", slow.id),
        (MessageCode.JOB_RESTARTED.code, "e2eSlowChunkJob", restarted.id),
        (MessageCode.JOB_STOP_REQUESTED.code, "e2eSlowChunkJob", restarted.id),
        (MessageCode.JOB_ABANDONED.code, "e2eSlowChunkJob", restarted.id),
    ]
    for code in (
        MessageCode.SERVER_STARTED,
        MessageCode.SERVER_STOPPING,
        MessageCode.SERVER_STOPPED,
    ):
        assert len(coded(code)) == 1, code


# A line the way the server writes one, to be smuggled in through a job parameter.
FORGED = "x\n2026-12-07 10:00:00,000 INFO  jobop.audit: AUDIT-OK Abandon by root (admin)"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_parameter_cannot_forge_a_log_line_or_turn_the_text_around(
    start_server: ServerFactory, log_format: str
) -> None:
    server = start_server("--log-format", log_format)
    launched = start(
        server.stub, "demoTaskletJob", params(note=FORGED + " \u202eexe.txt", durationMs=0)
    )
    assert wait_terminal(server.stub, launched.id).status == pb.BATCH_STATUS_COMPLETED
    assert server.terminate() == 0

    log = server.log()
    records = log_records(log, log_format)  # every line a record or a traceback's line
    assert not [r for r in records if str(r["message"]).startswith("AUDIT-OK Abandon")]
    assert "\u202e" not in log
    mentions = [r for r in records if "AUDIT-OK Abandon" in str(r["message"])]
    assert mentions and all(r["job_execution_id"] == launched.id for r in mentions)
    if log_format == "text":
        assert "x\\n2026-12-07 10:00:00,000 INFO  jobop.audit: AUDIT-OK" in log
        assert "\\u202eexe.txt" in log
    else:
        assert any(FORGED + " \u202eexe.txt" in str(r["message"]) for r in mentions)
