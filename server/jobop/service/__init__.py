"""The gRPC service: JobOperatorService over a JobOperator, plus health and reflection."""

from __future__ import annotations

from .server import JobopServer, ServerOptions, create_server
from .servicer import SERVICE_NAME, JobOperatorServicer

__all__ = ["SERVICE_NAME", "JobOperatorServicer", "JobopServer", "ServerOptions", "create_server"]
