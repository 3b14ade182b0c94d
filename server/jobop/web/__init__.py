"""The HTTP admin surface: REST API with SSE and OpenAPI, /metrics, and the dashboard."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .metrics import Metrics
from .server import HttpServer, create_app

if TYPE_CHECKING:
    from .tracing import Tracing

__all__ = ["HttpServer", "Metrics", "create_app", "tracing_from_environment"]

# Variables that say the operator wants traces; without any of them none are made.
TRACING_VARIABLES = (
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
)


def tracing_from_environment() -> Tracing | None:
    """Traces as OTEL_* asks, None when it asks for none; ImportError when it asks for
    traces and the `otel` extra is not installed."""
    if not any(os.environ.get(name) for name in TRACING_VARIABLES):
        return None
    from .tracing import from_environment

    return from_environment()
