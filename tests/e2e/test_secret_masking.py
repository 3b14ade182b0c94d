"""Secret-named job parameters on a real `jobop serve` with a tokens file: every read of a
viewer or an operator, over gRPC and REST (responses, listings, summaries, streams, SSE),
shows their values masked; an admin reads them; what is stored stays whole."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import grpc
import pytest
from e2e_support import ServerFactory, ServerProcess, nonid, params
from jobop_client import parameters as client_parameters
from jobop_client._proto.jobop.v1 import job_operator_pb2 as pb
from rest_support import open_events, request
from test_auth import TOKENS, tokens_file

sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

PASSWORD = "hunter2-in-clear"
API_KEY = 987654321987


def metadata(role: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {TOKENS[role]}")]


def rest(server: ServerProcess, path: str, role: str, body: object = None) -> Any:
    method = "POST" if body is not None else "GET"
    headers = {"Authorization": f"Bearer {TOKENS[role]}"}
    reply = request(server.http_url, method, path, body, headers=headers)
    assert reply.status in (200, 201), reply
    return reply.body


def first_event(server: ServerProcess, path: str, role: str) -> Any:
    stream = open_events(server.http_url, path, {"Authorization": f"Bearer {TOKENS[role]}"})
    try:
        assert stream.status == 200
        return next(event for event in stream.events() if event.name == "execution").data
    finally:
        stream.close()


def grpc_values(parameters: Any) -> dict[str, object]:
    return {
        name: client_parameters.from_proto(message).value for name, message in parameters.items()
    }


def grpc_reads(server: ServerProcess, execution_id: int, role: str) -> dict[str, Any]:
    """What each gRPC read shows a role: the parameters, or the summary's text."""
    stub, md = server.stub, metadata(role)
    by_id = pb.GetJobExecutionRequest(execution_id=execution_id)
    listed = stub.ListJobExecutions(
        pb.ListJobExecutionsRequest(job_name="demoTaskletJob"), metadata=md, timeout=30
    ).executions
    watched = next(
        iter(
            stub.WatchExecution(
                pb.WatchExecutionRequest(execution_id=execution_id), metadata=md, timeout=30
            )
        )
    )
    all_watched = stub.WatchExecutions(pb.WatchExecutionsRequest(), metadata=md, timeout=30)
    try:
        running = next(m for m in all_watched if m.execution.id == execution_id)
    finally:
        all_watched.cancel()
    return {
        "GetParameters": grpc_values(
            stub.GetParameters(
                pb.GetParametersRequest(execution_id=execution_id), metadata=md, timeout=30
            ).parameters
        ),
        "GetJobExecution": grpc_values(
            stub.GetJobExecution(by_id, metadata=md, timeout=30).execution.parameters
        ),
        "ListJobExecutions": grpc_values(
            next(e for e in listed if e.id == execution_id).parameters
        ),
        "WatchExecution": grpc_values(watched.execution.parameters),
        "WatchExecutions": grpc_values(running.execution.parameters),
        "summary": stub.GetSummary(
            pb.GetSummaryRequest(execution_id=execution_id), metadata=md, timeout=30
        ).summary,
    }


def rest_values(parameters: dict[str, Any]) -> dict[str, object]:
    return {
        name: next(v for k, v in item.items() if k != "identifying")
        for name, item in parameters.items()
    }


def rest_reads(server: ServerProcess, execution_id: int, role: str) -> dict[str, Any]:
    listed = rest(server, "/api/jobs/demoTaskletJob/executions", role)["executions"]
    latest = next(
        j for j in rest(server, "/api/jobs", role)["jobs"] if j["name"] == "demoTaskletJob"
    )
    return {
        "execution": rest_values(
            rest(server, f"/api/executions/{execution_id}", role)["parameters"]
        ),
        "parameters": rest_values(
            rest(server, f"/api/executions/{execution_id}/parameters", role)["parameters"]
        ),
        "listing": rest_values(next(e for e in listed if e["id"] == execution_id)["parameters"]),
        "jobs": rest_values(latest["latestExecution"]["parameters"]),
        "running": rest_values(
            rest(server, "/api/jobs/demoTaskletJob/executions?running=true", role)["executions"][0][
                "parameters"
            ]
        ),
        "events": rest_values(
            first_event(server, f"/api/executions/{execution_id}/events", role)["parameters"]
        ),
        "all events": rest_values(first_event(server, "/api/events", role)["parameters"]),
        "summary": rest(server, f"/api/executions/{execution_id}/summary", role)["summary"],
    }


@sqlite_only
def test_secret_parameters_are_masked_for_every_reader_but_an_admin(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    server = start_server("--tokens-file", str(tokens_file(tmp_path)))
    started = server.stub.Start(
        pb.StartRequest(
            job_name="demoTaskletJob",
            parameters=params(
                dbPassword=PASSWORD,
                apiKey=nonid(API_KEY),
                region="eu",
                durationMs=120_000,
                **{"run.id": time.time_ns() % 2**62},
            ),
        ),
        metadata=metadata("operator"),
        timeout=30,
    ).execution
    # The operator who started it gets its execution back masked too.
    assert grpc_values(started.parameters)["dbPassword"] == "***"
    assert started.parameters["apiKey"].identifying is False
    execution_id = started.id
    try:
        deadline = time.monotonic() + 60
        while rest(server, f"/api/executions/{execution_id}", "viewer")["status"] != "STARTED":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        for role in ("viewer", "operator", "admin"):
            shown = {
                **grpc_reads(server, execution_id, role),
                **{
                    f"REST {name}": value
                    for name, value in rest_reads(server, execution_id, role).items()
                },
            }
            summaries = [shown.pop("summary"), shown.pop("REST summary")]
            if role == "admin":
                expected = {"dbPassword": PASSWORD, "apiKey": API_KEY}
                assert all(PASSWORD in text and str(API_KEY) in text for text in summaries)
            else:
                expected = {"dbPassword": "***", "apiKey": "***"}
                for text in summaries:
                    assert PASSWORD not in text and str(API_KEY) not in text, text
                    assert "'dbPassword':'{value=***, type=class java.lang.String" in text
                    assert "'apiKey':'{value=***, type=class java.lang.Long" in text
            for read, values in shown.items():
                assert values["region"] == "eu", (role, read)
                assert {name: values[name] for name in expected} == expected, (role, read)
    finally:
        server.stub.Stop(
            pb.StopRequest(execution_id=execution_id), metadata=metadata("admin"), timeout=30
        )
    # Stored whole: the admin's REST start gets the values it sent back; restarts keep them.
    rest_start = rest(
        server,
        "/api/jobs/demoTaskletJob/start",
        "admin",
        {"parameters": {"apiToken": "t-1", "durationMs": 0, "run.id": time.time_ns() % 2**62}},
    )
    assert rest_start["parameters"]["apiToken"] == {"string": "t-1", "identifying": True}
    refused = rest(server, f"/api/executions/{rest_start['id']}/parameters", "viewer")
    assert refused["parameters"]["apiToken"] == {"string": "***", "identifying": True}
    with pytest.raises(grpc.RpcError):  # no token: nothing at all
        server.stub.GetParameters(pb.GetParametersRequest(execution_id=execution_id), timeout=30)
