"""The HTTP admin surface: REST API with SSE and OpenAPI, /metrics, and the dashboard."""

from __future__ import annotations

from .metrics import Metrics
from .server import HttpServer, create_app

__all__ = ["HttpServer", "Metrics", "create_app"]
