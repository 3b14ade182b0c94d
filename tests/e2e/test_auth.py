"""Authentication and roles on a real `jobop serve`: bearer tokens from a tokens file,
a forwarded identity from a trusted mesh, the roles' reach, jobctl's exit codes, and the
loopback rule for a server without credentials."""

from __future__ import annotations

import hashlib
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from e2e_support import ServerFactory, ServerProcess, error_of, params, run_jobctl, run_serve
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from jobop_client._proto.jobop.v1 import job_operator_pb2 as pb

sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

TOKENS = {"viewer": "v-" + "1" * 40, "operator": "o-" + "2" * 40, "admin": "a-" + "3" * 40}


def tokens_file(folder: Path, tokens: dict[str, str] = TOKENS) -> Path:
    path = folder / "tokens.toml"
    path.write_text(
        "".join(
            f'[[tokens]]\nsha256 = "{hashlib.sha256(token.encode()).hexdigest()}"\n'
            f'principal = "{role}-user"\nrole = "{role}"\n\n'
            for role, token in tokens.items()
        )
    )
    return path


def as_role(server: ServerProcess, role: str | None) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {TOKENS[role]}")] if role else []


def call(server: ServerProcess, method: str, request: Any, role: str | None) -> Any:
    return getattr(server.stub, method)(request, metadata=as_role(server, role), timeout=30)


def refused(fn: Callable[[], object]) -> tuple[grpc.StatusCode, str]:
    code, reason, _ = error_of(fn)
    return code, reason


def jobctl(server: ServerProcess, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_jobctl(server.address, *args, **env)


@pytest.fixture
def token_server(start_server: ServerFactory, tmp_path: Path) -> ServerProcess:
    return start_server("--tokens-file", str(tokens_file(tmp_path)))


def wait_until(
    server: ServerProcess, execution_id: int, predicate: Callable[[pb.JobExecution], bool]
) -> pb.JobExecution:
    deadline = time.monotonic() + 60
    while True:
        request = pb.GetJobExecutionRequest(execution_id=execution_id)
        execution: pb.JobExecution = call(server, "GetJobExecution", request, "viewer").execution
        if predicate(execution):
            return execution
        assert time.monotonic() < deadline, f"execution {execution_id} never matched"
        time.sleep(0.05)


def _long_run(server: ServerProcess, role: str = "operator") -> pb.JobExecution:
    request = pb.StartRequest(
        job_name="demoTaskletJob",
        parameters=params(durationMs=60_000, **{"run.id": time.time_ns()}),
    )
    execution = call(server, "Start", request, role).execution
    return wait_until(server, execution.id, lambda e: e.status == pb.BATCH_STATUS_STARTED)


@sqlite_only
def test_each_role_reaches_what_the_issue_says(token_server: ServerProcess) -> None:
    server = token_server
    names = pb.GetJobNamesRequest()
    # No token, a wrong one, a malformed header: UNAUTHENTICATED.
    assert refused(lambda: call(server, "GetJobNames", names, None)) == (
        grpc.StatusCode.UNAUTHENTICATED,
        "UNAUTHENTICATED",
    )
    for header in ("Bearer not-a-known-token", "Basic dXNlcjpwYXNz", "Bearer "):
        code, reason = refused(
            lambda header=header: server.stub.GetJobNames(
                names, metadata=[("authorization", header)], timeout=10
            )
        )
        assert (code, reason) == (grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED"), header
    # Health and reflection stay open.
    health = health_pb2_grpc.HealthStub(server.channel).Check(health_pb2.HealthCheckRequest())
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    listing = reflection_pb2_grpc.ServerReflectionStub(server.channel).ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")])
    )
    assert any("JobOperatorService" in s.name for s in next(listing).list_services_response.service)

    for role in ("viewer", "operator", "admin"):
        assert "demoTaskletJob" in call(server, "GetJobNames", names, role).job_names
    running = _long_run(server)
    stop = pb.StopRequest(execution_id=running.id)
    # A viewer cannot stop; an operator can.
    assert refused(lambda: call(server, "Stop", stop, "viewer")) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "PERMISSION_DENIED",
    )
    assert call(server, "Stop", stop, "operator").execution.id == running.id
    ended = wait_until(server, running.id, lambda e: e.status == pb.BATCH_STATUS_STOPPED)
    # An operator cannot abandon; an admin can.
    abandon = pb.AbandonRequest(execution_id=ended.id)
    assert refused(lambda: call(server, "Abandon", abandon, "operator")) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "PERMISSION_DENIED",
    )
    assert call(server, "Abandon", abandon, "admin").execution.status == pb.BATCH_STATUS_ABANDONED
    # A viewer cannot start, and reads the audit trail only from operator up.
    start_request = pb.StartRequest(job_name="demoTaskletJob", parameters=params(durationMs=1))
    assert refused(lambda: call(server, "Start", start_request, "viewer"))[0] == (
        grpc.StatusCode.PERMISSION_DENIED
    )
    audit = pb.ListAuditEventsRequest()
    assert refused(lambda: call(server, "ListAuditEvents", audit, "viewer"))[0] == (
        grpc.StatusCode.PERMISSION_DENIED
    )
    assert call(server, "ListAuditEvents", audit, "operator").events
    # Streams are checked too.
    watch = pb.WatchExecutionRequest(execution_id=ended.id)
    assert refused(lambda: list(server.stub.WatchExecution(watch, timeout=10)))[0] == (
        grpc.StatusCode.UNAUTHENTICATED
    )
    assert list(server.stub.WatchExecution(watch, metadata=as_role(server, "viewer"), timeout=10))
    # No token ever reaches the log.
    log = server.log()
    assert all(token not in log for token in TOKENS.values())


@sqlite_only
def test_jobctl_says_in_one_line_and_exits_6_or_7(token_server: ServerProcess) -> None:
    server = token_server
    missing = jobctl(server, "jobs")
    assert missing.returncode == 6, missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
    assert "not authenticated" in missing.stderr and "--token" in missing.stderr
    wrong = jobctl(server, "--token", "nope", "jobs")
    assert wrong.returncode == 6
    viewer = jobctl(server, "jobs", JOBOP_TOKEN=TOKENS["viewer"])
    assert viewer.returncode == 0, viewer.stderr
    running = _long_run(server)
    denied = jobctl(server, "--token", TOKENS["viewer"], "stop", str(running.id))
    assert denied.returncode == 7, denied.stderr
    assert denied.stderr.strip().splitlines() == [
        "jobctl: not permitted: principal 'viewer-user' (viewer) may not call Stop: it needs "
        "operator"
    ]
    stopped = jobctl(server, "--token", TOKENS["operator"], "stop", str(running.id))
    assert stopped.returncode == 0, stopped.stderr
    as_json = jobctl(server, "--json", "--token", TOKENS["operator"], "abandon", str(running.id))
    assert as_json.returncode == 7
    assert '"reason": "PERMISSION_DENIED"' in as_json.stderr


@sqlite_only
def test_the_tokens_file_is_reloaded_when_it_changes(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    path = tokens_file(tmp_path, {"viewer": TOKENS["viewer"]})
    server = start_server("--tokens-file", str(path))
    names = pb.GetJobNamesRequest()
    assert refused(lambda: call(server, "GetJobNames", names, "admin"))[0] == (
        grpc.StatusCode.UNAUTHENTICATED
    )
    tokens_file(tmp_path, {"viewer": TOKENS["viewer"], "admin": TOKENS["admin"]})
    until_refused(server, "admin", refused=False)
    # A broken version is logged and admits no one (the next test goes further).
    path.write_text("[[tokens]]\nsha256 = 'plaintext-token'\n")
    until_refused(server, "admin")
    assert refused(lambda: call(server, "GetJobNames", names, "viewer"))[0] == (
        grpc.StatusCode.UNAUTHENTICATED
    )
    assert "every bearer token is refused until it is mended" in server.log()


def until_refused(server: ServerProcess, role: str, *, refused: bool = True) -> None:
    """Calls with `role`'s token (each one a reason to re-read the tokens file) until it is
    refused (UNAUTHENTICATED), or with refused=False until it is accepted."""
    deadline = time.monotonic() + 30
    while True:
        try:
            call(server, "GetJobNames", pb.GetJobNamesRequest(), role)
            if not refused:
                return
        except grpc.RpcError as error:
            if refused:
                assert error.code() == grpc.StatusCode.UNAUTHENTICATED  # type: ignore[attr-defined]
                return
        assert time.monotonic() < deadline, (
            f"the {role} token was never {'refused' if refused else 'accepted'}"
        )
        time.sleep(0.2)


def _refused_to_all(server: ServerProcess, execution_id: int) -> None:
    """No token, the revoked admin token and a made-up one: Start, ListAuditEvents and
    Abandon are all UNAUTHENTICATED."""
    start = pb.StartRequest(
        job_name="demoTaskletJob", parameters=params(durationMs=1, **{"run.id": time.time_ns()})
    )
    requests = {
        "Start": start,
        "ListAuditEvents": pb.ListAuditEventsRequest(),
        "Abandon": pb.AbandonRequest(execution_id=execution_id),
    }
    for metadata in ([], as_role(server, "admin"), [("authorization", "Bearer made-up")]):
        for method, request in requests.items():
            code, reason = refused(
                lambda method=method, request=request, metadata=metadata: getattr(
                    server.stub, method
                )(request, metadata=metadata, timeout=30)
            )
            assert (code, reason) == (grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED"), (
                method,
                metadata,
            )


@sqlite_only
def test_an_emptied_tokens_file_admits_no_one_until_restored(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    path = tokens_file(tmp_path, {"admin": TOKENS["admin"]})
    server = start_server("--tokens-file", str(path))
    request = pb.StartRequest(job_name="demoTaskletJob", parameters=params(durationMs=1))
    execution = call(server, "Start", request, "admin").execution
    # Every token revoked: a request with a token re-reads the file, then no one gets in.
    path.write_text("# every token revoked\n")
    until_refused(server, "admin")
    _refused_to_all(server, execution.id)
    _refused_to_all(server, execution.id)
    assert server.log().count("holds no tokens") == 1  # once, not per request
    # Restored: the admin token works again without a restart; nothing refused left a row.
    tokens_file(tmp_path, {"admin": TOKENS["admin"]})
    until_refused(server, "admin", refused=False)
    assert "is valid again: 1 tokens" in server.log()
    listing = pb.ListJobExecutionsRequest(job_name="demoTaskletJob")
    assert [e.id for e in call(server, "ListJobExecutions", listing, "admin").executions] == [
        execution.id
    ]
    # An empty file at start-up: the server serves, and admits no one.
    empty = tmp_path / "empty.toml"
    empty.write_text("# no tokens yet\n")
    guarded = start_server("--tokens-file", str(empty))
    assert "holds no tokens" in guarded.log()
    _refused_to_all(guarded, execution.id)


@sqlite_only
def test_a_forwarded_identity_counts_only_when_trusted(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    principals = tmp_path / "principals.toml"
    principals.write_text('[principals]\n"spiffe://mesh/payroll" = "operator"\n')
    header = (
        "By=spiffe://mesh/jobop;Hash=abc;"
        'Subject="CN=payroll,O=Example, Inc.";URI=spiffe://mesh/payroll'
    )
    names = pb.GetJobNamesRequest()
    forwarded = [("x-forwarded-client-cert", header)]
    untrusting = start_server("--tokens-file", str(tokens_file(tmp_path)))
    assert refused(lambda: untrusting.stub.GetJobNames(names, metadata=forwarded))[0] == (
        grpc.StatusCode.UNAUTHENTICATED
    )
    trusting = start_server(
        "--trust-forwarded-identity",
        "--tls-principal",
        "san",
        "--principals-file",
        str(principals),
    )
    assert trusting.stub.GetJobNames(names, metadata=forwarded).job_names
    assert refused(lambda: trusting.stub.GetJobNames(names))[0] == grpc.StatusCode.UNAUTHENTICATED
    request = pb.StartRequest(job_name="demoTaskletJob", parameters=params(durationMs=1))
    execution = trusting.stub.Start(request, metadata=forwarded).execution
    abandon = pb.AbandonRequest(execution_id=execution.id)
    code, _, message = error_of(lambda: trusting.stub.Abandon(abandon, metadata=forwarded))
    assert code == grpc.StatusCode.PERMISSION_DENIED
    assert "'spiffe://mesh/payroll' (operator)" in message


@sqlite_only
def test_a_forwarded_subject_is_read_as_envoy_writes_it(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    from rest_support import request

    principals = tmp_path / "principals.toml"
    principals.write_text('[principals]\n"admin-svc" = "admin"\n"viewer-svc" = "viewer"\n')
    server = start_server("--trust-forwarded-identity", "--principals-file", str(principals))

    def header(subject: str) -> dict[str, str]:
        return {"x-forwarded-client-cert": f'By=spiffe://mesh/jobop;Hash=ab;Subject="{subject}"'}

    # The escaped comma is part of the OU: the caller is viewer-svc, never admin-svc.
    escaped = header(r"OU=x\,CN=admin-svc,CN=viewer-svc")
    metadata = list(escaped.items())
    assert server.stub.GetJobNames(pb.GetJobNamesRequest(), metadata=metadata).job_names
    abandon = pb.AbandonRequest(execution_id=1)
    code, _, message = error_of(lambda: server.stub.Abandon(abandon, metadata=metadata))
    assert code == grpc.StatusCode.PERMISSION_DENIED and "'viewer-svc' (viewer)" in message
    reply = request(server.http_url, "POST", "/api/executions/1/abandon", headers=escaped)
    assert reply.status == 403 and "'viewer-svc' (viewer)" in reply.body["error"]["message"]
    # Two CNs name no one, on either surface.
    both = header("CN=viewer-svc,CN=admin-svc")
    code, reason, message = error_of(
        lambda: server.stub.GetJobNames(pb.GetJobNamesRequest(), metadata=list(both.items()))
    )
    assert (code, reason) == (grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED")
    assert "ambiguous: it has 2 common name (CN)s" in message
    reply = request(server.http_url, "GET", "/api/jobs", headers=both)
    assert reply.status == 401 and "ambiguous" in reply.body["error"]["message"]


@pytest.mark.parametrize("option", ["--grpc-address", "--http-address"])
def test_a_public_address_without_credentials_refuses_to_start(tmp_path: Path, option: str) -> None:
    completed = run_serve(tmp_path, option, "0.0.0.0:0")
    assert completed.returncode == 2
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and "--insecure" in lines[0], lines
    assert f"{option} 0.0.0.0:0" in lines[0], lines


@sqlite_only
def test_insecure_or_credentials_allow_a_public_address(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    insecure = start_server("--grpc-address", "0.0.0.0:0", "--insecure")
    assert "--insecure: anyone who reaches" in insecure.log()
    guarded = start_server(
        "--grpc-address", "0.0.0.0:0", "--tokens-file", str(tokens_file(tmp_path))
    )
    assert "callers authenticated by bearer tokens" in guarded.log()
    assert "bearer tokens reach 0.0.0.0:0 in plaintext" in guarded.log()
    local = start_server()
    assert "loopback only" in local.log()
