"""Typed errors decoded from real gRPC statuses (ErrorInfo in grpc-status-details-bin)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status
from jobop_client import errors
from jobop_client.client import AsyncJobOperatorClient, JobOperatorClient, RetryPolicy

METHOD = "/jobop.v1.JobOperatorService/GetJobNames"

CONTRACT = {
    "NO_SUCH_JOB": ("NOT_FOUND", errors.NoSuchJobError),
    "NO_SUCH_JOB_EXECUTION": ("NOT_FOUND", errors.NoSuchJobExecutionError),
    "NO_SUCH_JOB_INSTANCE": ("NOT_FOUND", errors.NoSuchJobInstanceError),
    "NO_SUCH_OPERATION": ("NOT_FOUND", errors.NoSuchOperationError),
    "JOB_INSTANCE_ALREADY_EXISTS": ("ALREADY_EXISTS", errors.JobInstanceAlreadyExistsError),
    "JOB_INSTANCE_ALREADY_COMPLETE": (
        "FAILED_PRECONDITION",
        errors.JobInstanceAlreadyCompleteError,
    ),
    "JOB_EXECUTION_ALREADY_RUNNING": (
        "FAILED_PRECONDITION",
        errors.JobExecutionAlreadyRunningError,
    ),
    "JOB_EXECUTION_NOT_RUNNING": ("FAILED_PRECONDITION", errors.JobExecutionNotRunningError),
    "JOB_RESTART_NOT_ALLOWED": ("FAILED_PRECONDITION", errors.JobRestartNotAllowedError),
    "INVALID_JOB_PARAMETERS": ("INVALID_ARGUMENT", errors.InvalidJobParametersError),
    "JOB_PARAMETERS_NOT_FOUND": ("FAILED_PRECONDITION", errors.JobParametersNotFoundError),
    "CONCURRENT_MODIFICATION": ("ABORTED", errors.ConcurrentModificationError),
    "DATABASE_UNAVAILABLE": ("UNAVAILABLE", errors.DatabaseUnavailableError),
    "UNAUTHENTICATED": ("UNAUTHENTICATED", errors.UnauthenticatedError),
    "PERMISSION_DENIED": ("PERMISSION_DENIED", errors.PermissionDeniedError),
    "RESOURCE_EXHAUSTED": ("RESOURCE_EXHAUSTED", errors.ResourceExhaustedError),
}
# Reasons of jobop's own, beyond the original table (additions, never renames).
OWN = {
    "SHUTTING_DOWN": ("UNAVAILABLE", errors.ServerShuttingDownError),
    "INVALID_ARGUMENT": ("INVALID_ARGUMENT", errors.InvalidArgumentError),
    "REQUEST_ID_REUSED": ("INVALID_ARGUMENT", errors.RequestIdReusedError),
    "INTERNAL": ("INTERNAL", errors.InternalServerError),
    "JOB_NOT_REGISTERED": ("FAILED_PRECONDITION", errors.JobNotRegisteredError),
    "NO_SUCH_SCHEDULE": ("NOT_FOUND", errors.NoSuchScheduleError),
    "SCHEDULE_EXISTS": ("ALREADY_EXISTS", errors.ScheduleExistsError),
}


def test_the_reason_table_is_the_contracts() -> None:
    table = {r: (errors.STATUS_CODES[r].name, cls) for r, cls in errors.REASONS.items()}
    assert table == {**CONTRACT, **OWN}
    for reason, cls in errors.REASONS.items():
        assert errors.EXCEPTION_REASONS[cls] == reason
        assert cls.reason == reason
        assert issubclass(cls, errors.JobOperatorError)


Handler = Callable[[Any, grpc.ServicerContext], bytes]


def _serve(handler: Handler) -> tuple[grpc.Server, str]:
    """A real server whose one method (GetJobNames) runs ``handler``."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                "jobop.v1.JobOperatorService",
                {"GetJobNames": grpc.unary_unary_rpc_method_handler(handler)},
            )
        ]
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, f"127.0.0.1:{port}"


def _call_and_catch(handler: Handler) -> errors.JobOperatorError:
    server, target = _serve(handler)
    try:
        with (
            JobOperatorClient(target, retry=RetryPolicy(max_attempts=1)) as client,
            pytest.raises(errors.JobOperatorError) as caught,
        ):
            client.get_job_names()
        return caught.value
    finally:
        server.stop(None)


@pytest.mark.parametrize("reason", sorted(CONTRACT))
def test_every_reason_comes_back_as_its_exception(reason: str) -> None:
    def handler(request: Any, context: grpc.ServicerContext) -> bytes:
        code, details, trailers = errors.abort_arguments(reason, f"{reason} happened", {"k": "v"})
        context.set_trailing_metadata(trailers)
        context.abort(code, details)

    error = _call_and_catch(handler)
    assert type(error) is errors.REASONS[reason]
    assert error.code.name == CONTRACT[reason][0]
    assert error.message == f"{reason} happened"
    assert error.metadata == {"k": "v"}
    assert isinstance(error.__cause__, grpc.RpcError)


def test_error_info_packed_by_grpcio_status_is_understood() -> None:
    # What a server using googleapis-common-protos and grpcio-status sends.
    def handler(request: Any, context: grpc.ServicerContext) -> bytes:
        info = error_details_pb2.ErrorInfo(
            reason="NO_SUCH_JOB", domain="jobop", metadata={"job_name": "nope"}
        )
        status = status_pb2.Status(code=code_pb2.NOT_FOUND, message="no job named 'nope'")
        status.details.add().Pack(info)
        context.abort_with_status(rpc_status.to_status(status))

    error = _call_and_catch(handler)
    assert isinstance(error, errors.NoSuchJobError)
    assert isinstance(error, errors.NotFoundError)
    assert str(error) == "no job named 'nope'"
    assert error.metadata == {"job_name": "nope"}


def test_our_status_details_are_valid_for_grpcio_status() -> None:
    def handler(request: Any, context: grpc.ServicerContext) -> bytes:
        code, details, trailers = errors.abort_arguments("JOB_EXECUTION_NOT_RUNNING", "not now")
        context.set_trailing_metadata(trailers)
        context.abort(code, details)

    server, target = _serve(handler)
    try:
        with grpc.insecure_channel(target) as channel, pytest.raises(grpc.RpcError) as caught:
            channel.unary_unary(METHOD)(b"")
        status = rpc_status.from_call(caught.value)  # checks code and message agree
        assert status is not None
        info = error_details_pb2.ErrorInfo()
        assert status.details[0].Unpack(info)
        assert (info.domain, info.reason) == ("jobop", "JOB_EXECUTION_NOT_RUNNING")
    finally:
        server.stop(None)


def test_a_foreign_domain_or_plain_status_keeps_its_code() -> None:
    def foreign(request: Any, context: grpc.ServicerContext) -> bytes:
        info = error_details_pb2.ErrorInfo(reason="NO_SUCH_JOB", domain="example.com")
        status = status_pb2.Status(code=code_pb2.NOT_FOUND, message="elsewhere")
        status.details.add().Pack(info)
        context.abort_with_status(rpc_status.to_status(status))

    error = _call_and_catch(foreign)
    assert type(error) is errors.JobOperatorError
    assert error.code == grpc.StatusCode.NOT_FOUND

    def plain(request: Any, context: grpc.ServicerContext) -> bytes:
        context.abort(grpc.StatusCode.DATA_LOSS, "go away\nnow")

    error = _call_and_catch(plain)
    assert type(error) is errors.JobOperatorError
    assert error.code == grpc.StatusCode.DATA_LOSS
    assert str(error) == "go away now"  # one line

    # A proxy's refusal (no ErrorInfo) still tells jobctl to exit 6 or 7.
    def refused(request: Any, context: grpc.ServicerContext) -> bytes:
        context.abort(grpc.StatusCode.PERMISSION_DENIED, "denied by the mesh")

    error = _call_and_catch(refused)
    assert type(error) is errors.PermissionDeniedError
    assert error.code == grpc.StatusCode.PERMISSION_DENIED

    def broken(request: Any, context: grpc.ServicerContext) -> bytes:
        context.set_trailing_metadata([("grpc-status-details-bin", b"\xff\xfe")])
        context.abort(grpc.StatusCode.INTERNAL, "")

    error = _call_and_catch(broken)
    assert error.code == grpc.StatusCode.INTERNAL
    assert str(error) == "the jobop call failed with INTERNAL"


def test_unreachable_and_deadline_errors() -> None:
    with (
        JobOperatorClient("127.0.0.1:1", retry=RetryPolicy(max_attempts=2)) as client,
        pytest.raises(errors.ServerUnavailableError),
    ):
        client.get_job_names()

    def slow(request: Any, context: grpc.ServicerContext) -> bytes:
        time.sleep(1)
        return b""

    server, target = _serve(slow)
    try:
        with (
            JobOperatorClient(target, timeout=0.2) as client,
            pytest.raises(errors.DeadlineExceededError),
        ):
            client.get_job_names()
    finally:
        server.stop(None)


def test_an_aio_server_and_client_round_trip_the_reason() -> None:
    async def scenario() -> errors.JobOperatorError:
        async def handler(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
            await context.abort(*errors.abort_arguments("JOB_RESTART_NOT_ALLOWED", "limit hit"))
            raise AssertionError

        server = grpc.aio.server()
        server.add_generic_rpc_handlers(
            [
                grpc.method_handlers_generic_handler(
                    "jobop.v1.JobOperatorService",
                    {"GetJobNames": grpc.unary_unary_rpc_method_handler(handler)},
                )
            ]
        )
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        try:
            async with AsyncJobOperatorClient(f"127.0.0.1:{port}") as client:
                with pytest.raises(errors.JobOperatorError) as caught:
                    await client.get_job_names()
            return caught.value
        finally:
            await server.stop(None)

    error = asyncio.run(scenario())
    assert isinstance(error, errors.JobRestartNotAllowedError)
    assert error.message == "limit hit"


def test_abort_arguments_refuses_unknown_reasons() -> None:
    with pytest.raises(KeyError, match="unknown jobop error reason 'NOPE'"):
        errors.abort_arguments("NOPE", "x")


def _run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )


@pytest.mark.parametrize("ours_first", [True, False])
def test_generated_modules_coexist_with_googleapis(ours_first: bool) -> None:
    # A server process has googleapis-common-protos loaded (grpcio-status, reflection):
    # importing both must not raise a duplicate-descriptor error, in either order.
    ours = "from jobop_client.proto import job_operator_pb2 as pb"
    theirs = (
        "import google.api.annotations_pb2 as annotations, google.api.http_pb2;"
        "from google.rpc import status_pb2, error_details_pb2; import grpc_status.rpc_status"
    )
    first, second = (ours, theirs) if ours_first else (theirs, ours)
    result = _run_python(
        f"""
        {first}
        {second}
        import jobop_client.errors
        method = pb.DESCRIPTOR.services_by_name["JobOperatorService"].methods_by_name["Stop"]
        print(method.GetOptions().Extensions[annotations.http].post)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "/api/executions/{execution_id}/stop"


def test_a_client_only_install_needs_no_googleapis() -> None:
    # Hide googleapis-common-protos and grpcio-status, as on a client-only install.
    result = _run_python(
        """
        import sys
        import importlib.abc

        class Hide(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[:2] in (["google", "api"], ["google", "rpc"]) or (
                    name.startswith("grpc_status")
                ):
                    raise ModuleNotFoundError(f"hidden: {name}")
                return None

        sys.meta_path.insert(0, Hide())
        from jobop_client import JobOperatorClient, errors
        from jobop_client.proto import job_operator_pb2 as pb
        from jobop_client._proto.google.api import annotations_pb2

        method = pb.DESCRIPTOR.services_by_name["JobOperatorService"].methods_by_name["Start"]
        print(method.GetOptions().Extensions[annotations_pb2.http].post)
        print(errors.from_rpc_error.__name__)
        assert not [m for m in sys.modules if m.startswith(("google.api", "google.rpc"))]
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["/api/jobs/{job_name}/start", "from_rpc_error"]


@pytest.mark.parametrize("ours_first", [True, False])
def test_a_different_googleapis_release_is_no_conflict(tmp_path: Path, ours_first: bool) -> None:
    # googleapis-common-protos releases differ in google/api/http.proto (1.63 still had
    # cc_enable_arenas), and the default descriptor pool refuses a second, different file
    # of the same name. Build such a release and load it beside our modules.
    vendored = Path(__file__).parents[2] / "protos" / "google" / "api"
    sources = tmp_path / "protos" / "google" / "api"
    sources.mkdir(parents=True)
    http = (vendored / "http.proto").read_text()
    older = http.replace(
        "option go_package", "option cc_enable_arenas = true;\noption go_package", 1
    )
    assert older != http
    (sources / "http.proto").write_text(older)
    shutil.copy(vendored / "annotations.proto", sources)
    site = tmp_path / "site"
    site.mkdir()
    protoc = [sys.executable, "-m", "grpc_tools.protoc", f"-I{tmp_path / 'protos'}"]
    subprocess.run(
        [*protoc, f"--python_out={site}", "google/api/http.proto", "google/api/annotations.proto"],
        check=True,
    )

    ours = "from jobop_client.proto import job_operator_pb2 as pb"
    theirs = "import google.api.annotations_pb2 as annotations, google.api.http_pb2 as http"
    first, second = (ours, theirs) if ours_first else (theirs, ours)
    result = _run_python(
        f"""
        {first}
        {second}
        assert http.__file__.startswith({str(site)!r}), http.__file__
        assert http.DESCRIPTOR.GetOptions().cc_enable_arenas
        method = pb.DESCRIPTOR.services_by_name["JobOperatorService"].methods_by_name["Stop"]
        print(method.GetOptions().Extensions[annotations.http].post)
        """,
        PYTHONPATH=str(site),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "/api/executions/{execution_id}/stop"
