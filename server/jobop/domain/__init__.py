"""Pure values and rules of the batch domain: no SQL, no gRPC, no threads."""

from __future__ import annotations

from .context_values import JavaFloat, JavaInteger
from .errors import (
    ConcurrentModification,
    ExecutionEndedElsewhere,
    InvalidJobParameters,
    JobExecutionAlreadyRunning,
    JobExecutionNotRunning,
    JobInstanceAlreadyComplete,
    JobInstanceAlreadyExists,
    JobInterrupted,
    JobopError,
    JobParametersNotFound,
    JobRestartNotAllowed,
    NoSuchJob,
    NoSuchJobExecution,
    NoSuchJobInstance,
    StartLimitExceeded,
    UnreadableContext,
)
from .model import (
    EXIT_MESSAGE_LENGTH,
    ExecutionContext,
    JobExecution,
    JobInstance,
    StepExecution,
    truncate_exit_message,
    utcnow,
)
from .parameters import (
    JAVA_TYPES,
    LONG_MAX,
    LONG_MIN,
    JobParameter,
    JobParameters,
    ParameterType,
    ParameterValue,
)
from .status import BatchStatus, ExitStatus

__all__ = [
    "EXIT_MESSAGE_LENGTH",
    "JAVA_TYPES",
    "LONG_MAX",
    "LONG_MIN",
    "BatchStatus",
    "ConcurrentModification",
    "ExecutionContext",
    "ExecutionEndedElsewhere",
    "ExitStatus",
    "InvalidJobParameters",
    "JavaFloat",
    "JavaInteger",
    "JobExecution",
    "JobExecutionAlreadyRunning",
    "JobExecutionNotRunning",
    "JobInstance",
    "JobInstanceAlreadyComplete",
    "JobInstanceAlreadyExists",
    "JobInterrupted",
    "JobParameter",
    "JobParameters",
    "JobParametersNotFound",
    "JobRestartNotAllowed",
    "JobopError",
    "NoSuchJob",
    "NoSuchJobExecution",
    "NoSuchJobInstance",
    "ParameterType",
    "ParameterValue",
    "StartLimitExceeded",
    "StepExecution",
    "UnreadableContext",
    "truncate_exit_message",
    "utcnow",
]
