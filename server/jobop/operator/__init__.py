"""The job operator: launching, stopping and following executions (no transport here)."""

from __future__ import annotations

from .events import ExecutionChange, ExecutionEvents, Subscription
from .job_operator import (
    ROLES,
    ExecutionObserver,
    JobOperator,
    LaunchHold,
    OperatorShutDown,
    StartEntry,
)
from .requests import RequestIdReused, RequestLedger

__all__ = [
    "ROLES",
    "ExecutionChange",
    "ExecutionEvents",
    "ExecutionObserver",
    "JobOperator",
    "LaunchHold",
    "OperatorShutDown",
    "RequestIdReused",
    "RequestLedger",
    "StartEntry",
    "Subscription",
]
