"""Python client of jobop, a Spring Batch-style job operator served over gRPC.

``JobOperatorClient`` (blocking) and ``AsyncJobOperatorClient`` (asyncio) call the
``jobop.v1.JobOperatorService`` API; ``jobctl`` is the command line built on them. They
return the API's protobuf messages; ``BatchStatus(execution.status).name`` gives a status
by Spring Batch's name (``COMPLETED``, ``FAILED``, …).

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
    from jobop_client.client import AsyncJobOperatorClient, JobOperatorClient, Page, RetryPolicy
    from jobop_client.errors import JobOperatorError
    from jobop_client.executions import BatchStatus

__all__ = [
    "AsyncJobOperatorClient",
    "BatchStatus",
    "JobOperatorClient",
    "JobOperatorError",
    "Page",
    "Parameter",
    "ParameterValue",
    "RetryPolicy",
    "format_parameter",
    "parse_parameter",
]

_LAZY = {
    "AsyncJobOperatorClient": "jobop_client.client",
    "BatchStatus": "jobop_client.executions",
    "JobOperatorClient": "jobop_client.client",
    "Page": "jobop_client.client",
    "RetryPolicy": "jobop_client.client",
    "JobOperatorError": "jobop_client.errors",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'jobop_client' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
