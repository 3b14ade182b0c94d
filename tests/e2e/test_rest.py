"""The REST API and its Server-Sent Events against a real `jobop serve` (SQLite and PostgreSQL).

The HTTP surface runs in the gRPC server's process and loop; these tests check that it
answers as the README and docs/api.md say, with the gRPC API's validation and reasons.
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from e2e_support import ServerFactory, ServerProcess, error_of, start
from jobop.repository import create_engine
from jobop.repository.nodes import NodeInfo, NodeRepository
from jobop_client._proto.jobop.v1 import job_operator_pb2 as pb
from rest_support import Event, open_events, request, wait_for, wait_terminal
from rest_support import error_of as rest_error

ROOT = Path(__file__).resolve().parents[2]


def test_start_with_no_body_answers_201_and_follows_to_completed(
    jobop_server: ServerProcess,
) -> None:
    base = jobop_server.http_url
    # The Spring seed's `curl -X POST http://localhost:8080/api/jobs/demoChunkJob/start`.
    reply = request(base, "POST", "/api/jobs/demoChunkJob/start")
    assert reply.status == 201, reply
    execution_id = reply.body["id"]
    assert reply.headers["Location"] == f"/api/executions/{execution_id}"
    assert reply.body["jobName"] == "demoChunkJob"
    assert reply.body["status"] in {"STARTING", "STARTED", "COMPLETED"}
    final = wait_terminal(base, execution_id)
    assert final["status"] == "COMPLETED"
    assert final["exitStatus"] == {"exitCode": "COMPLETED", "exitDescription": ""}
    (step,) = final["stepExecutions"]
    assert (step["stepName"], step["readCount"], step["writeCount"]) == ("demoChunkStep", 100, 100)
    assert step["commitCount"] == 11 and step["status"] == "COMPLETED"
    steps = request(base, "GET", f"/api/executions/{execution_id}/steps").body
    assert steps == {"stepExecutions": final["stepExecutions"]}
    contexts = request(base, "GET", f"/api/executions/{execution_id}/context").body
    assert "jobop.owner" in contexts["jobExecutionContext"]
    assert set(contexts["stepExecutionContexts"]) == {str(step["id"])}
    # The gRPC API sees the same execution.
    grpc_view = jobop_server.stub.GetJobExecution(
        pb.GetJobExecutionRequest(execution_id=execution_id)
    ).execution
    assert grpc_view.version == final["version"] and grpc_view.step_executions[0].read_count == 100
    jobs = request(base, "GET", "/api/jobs").body
    assert "demoChunkJob" in jobs["jobNames"]
    latest = {job["name"]: job["latestExecution"] for job in jobs["jobs"]}
    assert latest["demoChunkJob"]["id"] == execution_id
    assert latest["demoTaskletJob"] is None


def test_typed_parameters_request_ids_and_paging(jobop_server: ServerProcess) -> None:
    base = jobop_server.http_url
    # A job that takes undeclared parameters: every type travels, as given.
    body = {
        "parameters": {
            "items": 6,
            "day": {"date": "2024-03-15"},
            "chunkSize": {"long": 3, "identifying": False},
            "ratio": 0.5,
            "label": "x,y",
            "flag": {"boolean": True},
            "big": {"long": "9007199254740993"},
        },
        "requestId": "rest-typed-1",
    }
    first = request(base, "POST", "/api/jobs/e2eOpenChunkJob/start", body)
    assert first.status == 201, first
    # A retry with the same request id answers the same execution.
    again = request(base, "POST", "/api/jobs/e2eOpenChunkJob/start", body)
    assert again.status == 201 and again.body["id"] == first.body["id"]
    execution_id = first.body["id"]
    final = wait_terminal(base, execution_id)
    assert final["status"] == "COMPLETED"
    assert final["stepExecutions"][0]["readCount"] == 6
    assert final["stepExecutions"][0]["commitCount"] == 3  # chunks of 3, then an empty read
    parameters = request(base, "GET", f"/api/executions/{execution_id}/parameters").body
    assert (
        parameters["parameters"]
        == final["parameters"]
        == {
            "big": {"long": 9007199254740993, "identifying": True},
            "chunkSize": {"long": 3, "identifying": False},
            "day": {"date": "2024-03-15T00:00:00Z", "identifying": True},
            "flag": {"boolean": True, "identifying": True},
            "items": {"long": 6, "identifying": True},
            "label": {"string": "x,y", "identifying": True},
            "ratio": {"double": 0.5, "identifying": True},
        }
    )
    # What a response holds can be sent back: the same instance, so it already exists.
    resent = request(
        base, "POST", "/api/jobs/e2eOpenChunkJob/start", {"parameters": final["parameters"]}
    )
    assert rest_error(resent)[:3] == (409, "ALREADY_EXISTS", "JOB_INSTANCE_ALREADY_EXISTS")
    reused = request(
        base,
        "POST",
        "/api/jobs/e2eOpenChunkJob/start",
        {"parameters": {"items": 7}, "requestId": "rest-typed-1"},
    )
    assert rest_error(reused)[:3] == (400, "INVALID_ARGUMENT", "REQUEST_ID_REUSED")

    ids = [execution_id]
    for items in (1, 2):
        started = request(
            base, "POST", "/api/jobs/e2eOpenChunkJob/start", {"parameters": {"items": items}}
        )
        ids.append(started.body["id"])
        wait_terminal(base, started.body["id"])
    page = request(base, "GET", "/api/jobs/e2eOpenChunkJob/executions?pageSize=2").body
    assert [e["id"] for e in page["executions"]] == ids[::-1][:2] and page["nextPageToken"]
    rest = request(
        base,
        "GET",
        f"/api/jobs/e2eOpenChunkJob/executions?pageSize=2&pageToken={page['nextPageToken']}",
    ).body
    assert [e["id"] for e in rest["executions"]] == [ids[0]] and rest["nextPageToken"] == ""
    instances = request(base, "GET", "/api/jobs/e2eOpenChunkJob/instances?pageSize=10").body
    assert len(instances["jobInstances"]) == 3
    instance_id = final["jobInstanceId"]
    by_instance = request(base, "GET", f"/api/instances/{instance_id}/executions").body
    assert [e["id"] for e in by_instance["executions"]] == [execution_id]
    summary = request(base, "GET", f"/api/executions/{execution_id}/summary").body["summary"]
    assert summary.startswith(f"JobExecution: id={execution_id}, ")
    summaries = request(base, "GET", f"/api/executions/{execution_id}/stepSummaries").body
    step_id = str(final["stepExecutions"][0]["id"])
    assert summaries["summaries"][step_id].startswith(f"StepExecution: id={step_id}, ")


def test_errors_carry_the_grpc_reasons_and_http_codes(jobop_server: ServerProcess) -> None:
    base = jobop_server.http_url
    stub = jobop_server.stub
    done = request(base, "POST", "/api/jobs/demoChunkJob/start", {"parameters": {"items": 3}})
    wait_terminal(base, done.body["id"])
    done_id = done.body["id"]

    def same_as_grpc(path: str, body: object, grpc_call: object) -> tuple[int, str]:
        reply = request(
            base, "POST" if body is not ... else "GET", path, None if body is ... else body
        )
        status, code, reason, _ = rest_error(reply)
        grpc_code, grpc_reason, grpc_message = error_of(grpc_call)  # type: ignore[arg-type]
        assert (code, reason, reply.body["error"]["message"]) == (
            grpc_code.name,
            grpc_reason,
            grpc_message,
        )
        return status, reason

    assert same_as_grpc("/api/jobs/noSuchJob/start", None, lambda: start(stub, "noSuchJob")) == (
        404,
        "NO_SUCH_JOB",
    )
    assert same_as_grpc(
        "/api/executions/999999",
        ...,
        lambda: stub.GetJobExecution(pb.GetJobExecutionRequest(execution_id=999999)),
    ) == (404, "NO_SUCH_JOB_EXECUTION")
    assert same_as_grpc(
        "/api/executions/0",
        ...,
        lambda: stub.GetJobExecution(pb.GetJobExecutionRequest(execution_id=0)),
    ) == (400, "INVALID_ARGUMENT")
    assert same_as_grpc(
        f"/api/executions/{done_id}/stop",
        None,
        lambda: stub.Stop(pb.StopRequest(execution_id=done_id)),
    ) == (412, "JOB_EXECUTION_NOT_RUNNING")
    assert same_as_grpc(
        f"/api/executions/{done_id}/restart",
        None,
        lambda: stub.Restart(pb.RestartRequest(execution_id=done_id)),
    ) == (412, "JOB_INSTANCE_ALREADY_COMPLETE")
    # A COMPLETED execution cannot be abandoned: whatever gRPC says, REST says too.
    same_as_grpc(
        f"/api/executions/{done_id}/abandon",
        None,
        lambda: stub.Abandon(pb.AbandonRequest(execution_id=done_id)),
    )
    assert same_as_grpc(
        "/api/jobs/e2eNoIncrementerJob/next",
        None,
        lambda: stub.StartNextInstance(pb.StartNextInstanceRequest(job_name="e2eNoIncrementerJob")),
    ) == (412, "JOB_PARAMETERS_NOT_FOUND")
    long_name = "j" * 101
    assert same_as_grpc(f"/api/jobs/{long_name}/start", None, lambda: start(stub, long_name)) == (
        400,
        "INVALID_ARGUMENT",
    )

    # Checks of the HTTP layer itself, with the gRPC API's reasons.
    cases = [
        ("POST", "/api/executions/abc/stop", None, None, "INVALID_ARGUMENT", "execution_id"),
        ("GET", "/api/executions/-1", None, None, "INVALID_ARGUMENT", "execution_id"),
        ("GET", f"/api/executions/{2**63}", None, None, "INVALID_ARGUMENT", "execution_id"),
        ("POST", "/api/jobs/demoChunkJob/start", None, b"{not json", "INVALID_ARGUMENT", "body"),
        ("POST", "/api/jobs/demoChunkJob/start", None, b"[1]", "INVALID_ARGUMENT", "body"),
        ("POST", "/api/jobs/demoChunkJob/start", {"nope": 1}, None, "INVALID_ARGUMENT", "nope"),
        (
            "POST",
            "/api/jobs/demoChunkJob/start",
            {"requestId": 5},
            None,
            "INVALID_ARGUMENT",
            "request_id",
        ),
        (
            "GET",
            "/api/jobs/demoChunkJob/executions?pageSize=x",
            None,
            None,
            "INVALID_ARGUMENT",
            "page_size",
        ),
        (
            "GET",
            "/api/jobs/demoChunkJob/executions?pageToken=zz",
            None,
            None,
            "INVALID_ARGUMENT",
            "page_token",
        ),
        (
            "GET",
            "/api/jobs/demoChunkJob/executions?running=maybe",
            None,
            None,
            "INVALID_ARGUMENT",
            "running",
        ),
    ]
    for method, path, body, raw, reason, field in cases:
        headers = {"Content-Type": "application/json"} if raw else None
        reply = request(base, method, path, body, raw=raw, headers=headers)
        assert rest_error(reply) == (400, "INVALID_ARGUMENT", reason, {"field": field}), (
            path,
            reply,
        )
    for parameters in (
        {"items": [1]},
        {"items": {"long": 1.5}},
        {"items": {"long": 1, "double": 2}},
        {"items": {"date": "yesterday"}},
        {"items": {"long": 2**63}},
        {"items": {"long": 1, "identifying": "no"}},
        "items=1",
    ):
        reply = request(base, "POST", "/api/jobs/demoChunkJob/start", {"parameters": parameters})
        assert rest_error(reply)[:3] == (400, "INVALID_ARGUMENT", "INVALID_JOB_PARAMETERS"), reply
    # The job's own validator, as over gRPC.
    reply = request(base, "POST", "/api/jobs/demoChunkJob/start", {"parameters": {"items": -1}})
    assert rest_error(reply)[2] == "INVALID_JOB_PARAMETERS"
    assert rest_error(request(base, "GET", "/api/nope"))[:3] == (404, "NOT_FOUND", "NOT_FOUND")
    assert request(base, "DELETE", "/api/jobs").status == 405
    # Nothing was written by the refused calls: only the one execution exists.
    assert [
        e["id"]
        for e in request(base, "GET", "/api/jobs/demoChunkJob/executions").body["executions"]
    ] == [done_id]


def test_stop_restart_abandon_and_running(jobop_server: ServerProcess) -> None:
    base = jobop_server.http_url
    slow = {
        "parameters": {
            "items": 400,
            "chunkSize": {"long": 2, "identifying": False},
            "itemDelayMs": {"long": 10, "identifying": False},
        }
    }
    started = request(base, "POST", "/api/jobs/demoChunkJob/start", slow).body
    execution_id = started["id"]
    wait_for(
        base,
        execution_id,
        lambda e: bool(e["stepExecutions"]) and e["stepExecutions"][0]["writeCount"] > 0,
    )
    running = request(base, "GET", "/api/jobs/demoChunkJob/executions?running=true").body
    assert [e["id"] for e in running["executions"]] == [execution_id]
    assert request(base, "GET", "/api/jobs/demoChunkJob/runningExecutions").body == {
        "executionIds": [execution_id]
    }
    stopped = request(base, "POST", f"/api/executions/{execution_id}/stop")
    assert stopped.status == 200 and stopped.body["status"] in {"STOPPING", "STOPPED"}
    final = wait_terminal(base, execution_id)
    assert final["status"] == "STOPPED" and final["exitStatus"]["exitCode"] == "STOPPED"
    # Abandon a running one is refused; restart the stopped one instead.
    restarted = request(
        base, "POST", f"/api/executions/{execution_id}/restart", {"requestId": "r-1"}
    )
    assert restarted.status == 201, restarted
    new_id = restarted.body["id"]
    assert new_id != execution_id and restarted.headers["Location"] == f"/api/executions/{new_id}"
    assert (
        rest_error(request(base, "POST", f"/api/executions/{new_id}/abandon"))[2]
        == "JOB_EXECUTION_ALREADY_RUNNING"
    )
    request(base, "POST", f"/api/executions/{new_id}/stop")
    assert wait_terminal(base, new_id)["status"] == "STOPPED"
    abandoned = request(base, "POST", f"/api/executions/{new_id}/abandon")
    assert abandoned.status == 200 and abandoned.body["status"] == "ABANDONED"
    # Recover is refused while the owner (this server) is alive and it is not running.
    assert rest_error(request(base, "POST", f"/api/executions/{new_id}/recover"))[0] in {409, 412}
    nxt = request(base, "POST", "/api/jobs/demoTaskletJob/next", {})
    assert nxt.status == 201 and wait_terminal(base, nxt.body["id"])["status"] == "COMPLETED"


def _collect(stream_events: list[Event], events: object) -> None:
    """Append events until `end` or `error`, or until the stream is closed under us."""
    try:
        for event in events:  # type: ignore[attr-defined]
            stream_events.append(event)
            if event.name in ("end", "error"):
                return
    except (AttributeError, OSError, ValueError):
        return  # closed by the test from another thread


def test_execution_events_follow_to_the_end_and_resume_by_version(
    jobop_server: ServerProcess,
) -> None:
    base = jobop_server.http_url
    body = {
        "parameters": {
            "items": 60,
            "chunkSize": {"long": 5, "identifying": False},
            "itemDelayMs": {"long": 5, "identifying": False},
        }
    }
    execution_id = request(base, "POST", "/api/jobs/demoChunkJob/start", body).body["id"]
    stream = open_events(base, f"/api/executions/{execution_id}/events")
    assert stream.status == 200 and stream.headers["Content-Type"].startswith("text/event-stream")
    events: list[Event] = []
    _collect(events, stream.events())
    stream.close()
    assert events[-1].name == "end"
    snapshots = [e for e in events if e.name == "execution"]
    assert snapshots[-1].data["status"] == "COMPLETED"
    versions = [int(e.id) for e in snapshots if e.id is not None]
    assert len(versions) == len(snapshots) and versions == sorted(set(versions))
    assert [e.data["version"] for e in snapshots] == versions
    written = [
        e.data["stepExecutions"][0]["writeCount"] for e in snapshots if e.data["stepExecutions"]
    ]
    assert written == sorted(written) and written[-1] == 60 and len(set(written)) > 2
    # Reconnecting with Last-Event-ID sends only what is newer: here the final snapshot.
    middle = versions[len(versions) // 2]
    resumed = open_events(
        base, f"/api/executions/{execution_id}/events", {"Last-Event-ID": str(middle)}
    )
    later: list[Event] = []
    _collect(later, resumed.events())
    resumed.close()
    assert [int(e.id) for e in later if e.name == "execution"] == [versions[-1]]
    up_to_date = open_events(
        base, f"/api/executions/{execution_id}/events?afterVersion={versions[-1]}"
    )
    nothing: list[Event] = []
    _collect(nothing, up_to_date.events())
    assert [e.name for e in nothing] == ["end"]
    # Errors found at once keep their status.
    missing = open_events(base, "/api/executions/999999/events")
    assert missing.status == 404
    bad = open_events(base, f"/api/executions/{execution_id}/events", {"Last-Event-ID": "x"})
    assert bad.status == 400


def test_events_of_a_job_with_heartbeats(jobop_server: ServerProcess) -> None:
    base = jobop_server.http_url
    stream = open_events(base, "/api/events?job=demoTaskletJob")
    assert stream.status == 200
    events: list[Event] = []
    reader = threading.Thread(target=_collect, args=(events, stream.events()), daemon=True)
    reader.start()
    execution_id = request(
        base, "POST", "/api/jobs/demoTaskletJob/start", {"parameters": {"durationMs": 1500}}
    ).body["id"]
    final = wait_terminal(base, execution_id)
    assert final["status"] == "COMPLETED"
    # Then, with nothing running, heartbeats (--stream-heartbeat 1) keep the stream open.
    end = time.monotonic() + 10.0
    while time.monotonic() < end and "heartbeat" not in stream.comments:
        time.sleep(0.05)
    stream.close()
    statuses = [e.data["status"] for e in events if e.name == "execution"]
    assert statuses[-1] == "COMPLETED" and {e.data["id"] for e in events} == {execution_id}
    assert "heartbeat" in stream.comments
    unknown = open_events(base, "/api/events?job=noSuchJob")
    assert unknown.status == 404


def test_openapi_document_and_proto_bindings_agree_with_the_routes(
    jobop_server: ServerProcess,
) -> None:
    document = request(jobop_server.http_url, "GET", "/openapi.json").body
    assert document["openapi"] == "3.1.0"
    paths = set(document["paths"])
    proto = (ROOT / "protos/jobop/v1/job_operator.proto").read_text()
    bindings = re.findall(r'\b(get|post|put): "([^"]+)"', proto)
    assert len(bindings) == 33
    bound = set()
    for method, template in bindings:
        path = re.sub(r"\{(\w+)\}", lambda m: "{" + _camel(m.group(1)) + "}", template)
        bound.add(path)
        assert path in paths, (method, template)
        assert method in document["paths"][path], (method, template)
    # Every documented operation answers something other than 404 Not Found / 405.
    # The bindings, and the routes of REST's own: an execution's steps and contexts, nodes.
    assert paths - bound == {
        "/api/executions/{executionId}/steps",
        "/api/executions/{executionId}/context",
        "/api/nodes",
        "/api/audit",
        "/api/settings",
        # Bulk operations: no binding, as a transcoder would stream them (docs/api.md).
        "/api/executions/stop",
        "/api/executions/abandon",
        "/api/executions/restart",
        "/api/executions/recover",
        "/api/operations/{id}",
        "/api/operations/{id}/cancel",
        "/api/jobs/start",
        "/healthz",
        "/readyz",
    }


def test_nodes_lists_the_server_and_a_node_that_left(
    jobop_server: ServerProcess, db_url: str
) -> None:
    engine = create_engine(db_url)
    try:
        nodes = NodeRepository(engine)
        nodes.register(NodeInfo("feedc0de0001", "elsewhere", 4242, None, "worker", "test", 30))
        nodes.deregister("feedc0de0001")
    finally:
        engine.dispose()
    base = jobop_server.http_url
    listed = request(base, "GET", "/api/nodes").body["nodes"]
    by_pid = {node["pid"]: node for node in listed}
    assert set(by_pid) == {jobop_server.process.pid, 4242}
    own, gone = by_pid[jobop_server.process.pid], by_pid[4242]
    assert own["state"] == "live" and own["role"] == "all" and own["left"] is None
    assert own["lastHeartbeat"].endswith("Z") and own["leaseSeconds"] > 0
    assert own["runningExecutions"] == 0 and gone["runningExecutions"] == 0
    # The server heartbeats (every 5 s); the node that left stopped before the request.
    assert 0 <= own["heartbeatAgeSeconds"] < 10 and gone["heartbeatAgeSeconds"] >= 0
    assert gone["nodeId"] == "feedc0de0001" and gone["host"] == "elsewhere"
    assert (gone["state"], gone["role"], gone["lost"]) == ("left", "worker", None)
    assert gone["left"].endswith("Z")
    # Newest first: the test's node registered after the server's.
    assert [node["pid"] for node in listed] == [4242, jobop_server.process.pid]
    live = request(base, "GET", "/api/nodes?live=true").body["nodes"]
    assert [node["nodeId"] for node in live] == [own["nodeId"]]
    refused = request(base, "GET", "/api/nodes?live=maybe")
    assert rest_error(refused)[:2] == (400, "INVALID_ARGUMENT")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def test_sigterm_ends_open_event_streams_and_exits_zero(start_server: ServerFactory) -> None:
    server = start_server("--stop-grace", "5")
    base = server.http_url
    stream = open_events(base, "/api/events")
    assert stream.status == 200
    events: list[Event] = []
    reader = threading.Thread(target=_collect, args=(events, stream.events()), daemon=True)
    reader.start()
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(30) == 0
    reader.join(10)
    assert not reader.is_alive()
    assert [e.name for e in events][-1:] == ["error"]
    assert events[-1].data["error"]["reason"] == "SHUTTING_DOWN"


@pytest.mark.parametrize("address", [""])
def test_http_can_be_turned_off(start_server: ServerFactory, address: str) -> None:
    server = start_server("--http-address", address)
    assert server.http_address == ""
    assert server.stub.GetJobNames(pb.GetJobNamesRequest()).job_names


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_busy_http_port_is_refused(db_url: str, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "jobop.app.cli",
                "serve",
                "--db",
                db_url,
                "--grpc-address",
                "127.0.0.1:0",
                "--http-address",
                f"127.0.0.1:{port}",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 2, result
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "listening on" not in result.stdout


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_worker_serves_only_metrics_over_http(start_server: ServerFactory) -> None:
    worker = start_server("--role", "worker")
    with urllib.request.urlopen(f"{worker.http_url}/metrics", timeout=10) as response:
        assert b"jobop_job_launch" in response.read()
    # The probes too: a worker's readiness follows its database as well.
    for path in ("/healthz", "/readyz"):
        assert request(worker.http_url, "GET", path).body == {"status": "SERVING"}, path
    for path in ("/api/jobs", "/openapi.json", "/"):
        assert rest_error(request(worker.http_url, "GET", path))[:3] == (
            404,
            "NOT_FOUND",
            "NOT_FOUND",
        ), path


def test_cross_site_requests_and_rebound_hosts_are_refused(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    """A web page a developer visits may post to the loopback server (a form, a text/plain
    fetch) and, with its name rebound to 127.0.0.1, read from it: all refused."""
    from test_auth import TOKENS, tokens_file

    server = start_server()
    base = server.http_url
    running = request(
        base, "POST", "/api/jobs/demoTaskletJob/start", {"parameters": {"durationMs": 60_000}}
    ).body["id"]
    wait_for(base, running, lambda e: e["status"] == "STARTED")
    stopped = request(
        base, "POST", "/api/jobs/demoTaskletJob/start", {"parameters": {"durationMs": 60_001}}
    ).body["id"]
    wait_for(base, stopped, lambda e: e["status"] == "STARTED")
    request(base, "POST", f"/api/executions/{stopped}/stop")
    wait_terminal(base, stopped)
    evil = "http://evil.example"
    for headers, raw, expected in (
        ({"Origin": evil, "Content-Type": "text/plain"}, b"{}", (403, "FORBIDDEN_ORIGIN")),
        ({"Origin": evil}, None, (403, "FORBIDDEN_ORIGIN")),
        ({"Origin": "null", "Content-Type": "application/json"}, b"{}", (403, "FORBIDDEN_ORIGIN")),
        ({"Content-Type": "text/plain"}, b'{"parameters": {}}', (415, "UNSUPPORTED_MEDIA_TYPE")),
        ({"Content-Type": "text/plain"}, b"", (415, "UNSUPPORTED_MEDIA_TYPE")),
        (
            {"Content-Type": "application/x-www-form-urlencoded"},
            b"parameters=1",
            (415, "UNSUPPORTED_MEDIA_TYPE"),
        ),
        (
            {"Content-Type": "multipart/form-data; boundary=x"},
            b"--x--",
            (415, "UNSUPPORTED_MEDIA_TYPE"),
        ),
    ):
        for path in (
            "/api/jobs/demoTaskletJob/start",
            "/api/jobs/demoTaskletJob/next",
            f"/api/executions/{running}/stop",
            f"/api/executions/{stopped}/abandon",
            f"/api/executions/{stopped}/restart",
        ):
            reply = request(base, "POST", path, raw=raw, headers=headers)
            status, _, reason, _ = rest_error(reply)
            assert (status, reason) == expected, (path, headers, reply.body)
    # Nothing was written: no new execution, the running one runs, the stopped one stays.
    executions = request(base, "GET", "/api/jobs/demoTaskletJob/executions").body["executions"]
    assert sorted(e["id"] for e in executions) == sorted([running, stopped])
    assert request(base, "GET", f"/api/executions/{running}").body["status"] == "STARTED"
    assert request(base, "GET", f"/api/executions/{stopped}").body["status"] == "STOPPED"
    # The server's own pages, and clients that are not browsers, still may.
    own = {"Origin": base, "Content-Type": "application/json; charset=utf-8"}
    assert (
        request(base, "POST", f"/api/executions/{running}/stop", raw=b"", headers=own).status == 200
    )
    assert request(base, "POST", "/api/jobs/demoTaskletJob/next").status in (201, 412)

    # A rebound name reads nothing; IP addresses and localhost are served.
    port = server.http_address.rpartition(":")[2]
    for path in ("/api/jobs", f"/api/executions/{running}", "/metrics", "/", "/openapi.json"):
        reply = request(base, "GET", path, headers={"Host": f"evil.example:{port}"})
        assert rest_error(reply)[:3] == (403, "PERMISSION_DENIED", "FORBIDDEN_HOST"), path
    for host in (f"localhost:{port}", f"127.0.0.1:{port}"):
        assert request(base, "GET", "/api/jobs", headers={"Host": host}).status == 200
    assert "refused" in server.log() and "Traceback" not in server.log()

    # Names given by --http-allowed-hosts are served; with credentials, Host is not checked.
    named = start_server("--http-allowed-hosts", "jobs.test,ops.test")
    assert request(named.http_url, "GET", "/api/jobs", headers={"Host": "jobs.test"}).status == 200
    assert (
        rest_error(request(named.http_url, "GET", "/api/jobs", headers={"Host": "evil.example"}))[2]
        == "FORBIDDEN_HOST"
    )
    guarded = start_server("--tokens-file", str(tokens_file(tmp_path)))
    viewer = {"Authorization": f"Bearer {TOKENS['viewer']}", "Host": "jobs.example.com"}
    assert request(guarded.http_url, "GET", "/api/jobs", headers=viewer).status == 200
    operator = {"Authorization": f"Bearer {TOKENS['operator']}", "Origin": evil}
    refused = request(guarded.http_url, "POST", "/api/jobs/demoTaskletJob/next", headers=operator)
    assert rest_error(refused)[2] == "FORBIDDEN_ORIGIN"
