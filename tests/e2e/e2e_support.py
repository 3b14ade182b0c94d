"""Helpers of the end-to-end tests: parameters, calls, errors and watching."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import grpc
from google.rpc import error_details_pb2  # type: ignore[import-untyped]
from grpc_status import rpc_status
from jobop_client import parameters as client_parameters
from jobop_client._proto.jobop.v1 import job_operator_pb2 as pb
from jobop_client._proto.jobop.v1 import job_operator_pb2_grpc as pb_grpc

Stub = pb_grpc.JobOperatorServiceStub


@dataclass
class ServerProcess:
    process: subprocess.Popen[str]
    address: str
    db_url: str
    log_path: Path
    channel: grpc.Channel
    stub: pb_grpc.JobOperatorServiceStub
    http_address: str = ""  # HOST:PORT of the HTTP surface ("" when not served)

    @property
    def http_url(self) -> str:
        return f"http://{self.http_address}"

    def terminate(self, timeout: float = 60.0) -> int:
        """SIGTERM, then wait for the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        finally:
            self.channel.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


ServerFactory = Callable[..., ServerProcess]

TERMINAL = {
    pb.BATCH_STATUS_COMPLETED,
    pb.BATCH_STATUS_STOPPED,
    pb.BATCH_STATUS_FAILED,
    pb.BATCH_STATUS_ABANDONED,
    pb.BATCH_STATUS_UNKNOWN,
}


def params(**values: object) -> dict[str, pb.JobParameter]:
    """Proto parameters; wrap a value in `nonid()` to make it non-identifying."""
    return client_parameters.to_proto_map(values)  # type: ignore[arg-type]


def nonid(value: object) -> client_parameters.Parameter:
    return client_parameters.Parameter(value, identifying=False)  # type: ignore[arg-type]


def status_name(status: int) -> str:
    return pb.BatchStatus.Name(status).removeprefix("BATCH_STATUS_")  # type: ignore[arg-type]


def start(
    stub: Stub, job: str, parameters: Mapping[str, pb.JobParameter] | None = None, **kw: str
) -> pb.JobExecution:
    return stub.Start(pb.StartRequest(job_name=job, parameters=parameters, **kw)).execution


def execution(stub: Stub, execution_id: int) -> pb.JobExecution:
    return stub.GetJobExecution(pb.GetJobExecutionRequest(execution_id=execution_id)).execution


def wait_for(
    stub: Stub,
    execution_id: int,
    predicate: Callable[[pb.JobExecution], bool],
    timeout: float = 60.0,
) -> pb.JobExecution:
    deadline = time.monotonic() + timeout
    while True:
        current = execution(stub, execution_id)
        if predicate(current):
            return current
        if time.monotonic() > deadline:
            raise AssertionError(f"execution {execution_id} never matched: {current}")
        time.sleep(0.02)


def wait_terminal(stub: Stub, execution_id: int, timeout: float = 60.0) -> pb.JobExecution:
    return wait_for(stub, execution_id, lambda e: e.status in TERMINAL, timeout)


def watch(
    stub: Stub, execution_id: int, after_version: int = 0, timeout: float = 60.0
) -> list[pb.WatchExecutionResponse]:
    """Every message of a WatchExecution stream, to its end."""
    request = pb.WatchExecutionRequest(execution_id=execution_id, after_version=after_version)
    return list(stub.WatchExecution(request, timeout=timeout))


def reason_of(error: grpc.RpcError) -> str:
    """The ErrorInfo reason of a failed call (checking the domain and that there is one)."""
    assert isinstance(error, grpc.Call)
    status = rpc_status.from_call(error)
    assert status is not None, f"no grpc-status-details-bin trailer: {error}"
    infos = []
    for detail in status.details:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            infos.append(info)
    assert len(infos) == 1, f"expected one ErrorInfo: {status}"
    assert infos[0].domain == "jobop"
    return str(infos[0].reason)


def error_of(call: Callable[[], object]) -> tuple[grpc.StatusCode, str, str]:
    """Run a call that must fail: its status code, ErrorInfo reason and message."""
    try:
        call()
    except grpc.RpcError as error:
        assert isinstance(error, grpc.Call)
        return error.code(), reason_of(error), error.details() or ""
    raise AssertionError("the call succeeded")


def run_serve(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`jobop serve ARGS` on a SQLite file, for servers that must refuse to start."""
    command = [sys.executable, "-m", "jobop.app.cli", "serve"]
    return subprocess.run(
        [*command, "--db", f"sqlite:///{tmp_path}/refused.db", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def run_jobctl(address: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`jobctl --target ADDRESS ARGS` with only the JOBOP_ variables given in `env`."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("JOBOP_")}
    return subprocess.run(
        [str(Path(sys.executable).parent / "jobctl"), "--target", address, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**environment, **env},
        check=False,
    )
