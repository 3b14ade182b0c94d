"""Python client of jobop, a Spring Batch-style job operator served over gRPC.

``Client`` (blocking) and ``AsyncClient`` (asyncio) return executions as Python objects
(``jobop_client.model``: statuses as ``BatchStatus`` members, aware datetimes, plain
parameter values), ``client.run(job, **params)`` starts a job and waits for its end::

    with Client() as jobop:
        print(jobop.run("demoChunkJob", items=20).summary)

``JobOperatorClient`` and ``AsyncJobOperatorClient`` beneath them call the
``jobop.v1.JobOperatorService`` API one to one and return its protobuf messages; ``jobctl``
is the command line built on them. docs/client.md has the guide.

The grpc-dependent names load on first use, so that ``jobop_client.parameters`` and
``jobop_client.exit_codes`` stay importable without grpc (the server's domain layer uses
them).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from jobop_client.parameters import (
    Parameter,
    ParameterValue,
    format_parameter,
    parse_parameter,
)

if TYPE_CHECKING:
    from jobop_client.client import (
        AsyncJobOperatorClient,
        JobOperatorClient,
        JobStart,
        Page,
        RetryPolicy,
    )
    from jobop_client.errors import JobOperatorError
    from jobop_client.executions import BatchStatus
    from jobop_client.friendly import AsyncClient, AsyncRun, Client, Run
    from jobop_client.model import (
        ExitStatus,
        JobExecution,
        JobInstance,
        JobParameters,
        JobWorkload,
        QueuedExecution,
        StepExecution,
    )

__all__ = [
    "AsyncClient",
    "AsyncJobOperatorClient",
    "AsyncRun",
    "BatchStatus",
    "Client",
    "ExitStatus",
    "JobExecution",
    "JobInstance",
    "JobOperatorClient",
    "JobOperatorError",
    "JobParameters",
    "JobStart",
    "JobWorkload",
    "Page",
    "Parameter",
    "ParameterValue",
    "QueuedExecution",
    "RetryPolicy",
    "Run",
    "StepExecution",
    "format_parameter",
    "parse_parameter",
]

_LAZY = {
    "AsyncJobOperatorClient": "jobop_client.client",
    "BatchStatus": "jobop_client.executions",
    "JobOperatorClient": "jobop_client.client",
    "Page": "jobop_client.client",
    "JobStart": "jobop_client.client",
    "RetryPolicy": "jobop_client.client",
    "JobOperatorError": "jobop_client.errors",
    "Client": "jobop_client.friendly",
    "AsyncClient": "jobop_client.friendly",
    "Run": "jobop_client.friendly",
    "AsyncRun": "jobop_client.friendly",
    "ExitStatus": "jobop_client.model",
    "JobExecution": "jobop_client.model",
    "JobInstance": "jobop_client.model",
    "JobParameters": "jobop_client.model",
    "JobWorkload": "jobop_client.model",
    "QueuedExecution": "jobop_client.model",
    "StepExecution": "jobop_client.model",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'jobop_client' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
