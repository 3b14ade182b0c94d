"""The errors of the job operator's domain; `reason` is the ErrorInfo reason
(docs/api.md)."""

from __future__ import annotations


class JobopError(Exception):
    """Base of every expected, user-facing failure. `field` names the request field at
    fault, where there is one; `metadata` says more for programs (the ErrorInfo's)."""

    reason = "INTERNAL"

    def __init__(
        self,
        message: str = "",
        *,
        field: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.field = field
        self.metadata = dict(metadata or {})


class NoSuchJob(JobopError):
    reason = "NO_SUCH_JOB"


class JobNotRegistered(JobopError):
    """The repository knows the job (a Spring Batch application's, or a job no longer
    deployed) but this server has not registered it: it can show it, not launch it."""

    reason = "JOB_NOT_REGISTERED"


class NoSuchJobExecution(JobopError):
    reason = "NO_SUCH_JOB_EXECUTION"


class NoSuchJobInstance(JobopError):
    reason = "NO_SUCH_JOB_INSTANCE"


class NoSuchBulkOperation(JobopError):
    reason = "NO_SUCH_OPERATION"


class JobInstanceAlreadyExists(JobopError):
    reason = "JOB_INSTANCE_ALREADY_EXISTS"


class JobInstanceAlreadyComplete(JobopError):
    reason = "JOB_INSTANCE_ALREADY_COMPLETE"


class JobExecutionAlreadyRunning(JobopError):
    reason = "JOB_EXECUTION_ALREADY_RUNNING"


class JobExecutionNotRunning(JobopError):
    reason = "JOB_EXECUTION_NOT_RUNNING"


class JobRestartNotAllowed(JobopError):
    reason = "JOB_RESTART_NOT_ALLOWED"


class InvalidJobParameters(JobopError):
    reason = "INVALID_JOB_PARAMETERS"


class JobParametersNotFound(JobopError):
    reason = "JOB_PARAMETERS_NOT_FOUND"


class ConcurrentModification(JobopError):
    """An optimistic-locking conflict: the row's VERSION moved on since it was read."""

    reason = "CONCURRENT_MODIFICATION"


class ExecutionEndedElsewhere(ConcurrentModification):
    """The running execution was ended by another caller meanwhile (abandoned, recovered,
    stopped before it started): its worker leaves the repository as it is and stops."""

    def __init__(self, message: str, *, execution_id: int, status: str) -> None:
        super().__init__(message)
        self.execution_id = execution_id
        self.status = status


class StartLimitExceeded(JobRestartNotAllowed):
    """A step has already run `start_limit` times."""


class JobInterrupted(JobopError):
    """Raised inside a step when a stop request is noticed; ends the step STOPPED."""

    reason = "JOB_INTERRUPTED"


class UnreadableContext(JobRestartNotAllowed):
    """A stored execution context in none of the formats jobop reads (or holding a Java
    class it does not map): the execution shows, but cannot be resumed from it."""


class UnstorableContext(TypeError):
    """An execution context holding a value no Java type holds, found when it is saved
    (a value changed in place after it was put: `context["seen"].append(object())`)."""
