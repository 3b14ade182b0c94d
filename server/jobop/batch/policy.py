"""Skip and retry policies of a fault-tolerant chunk step (Spring Batch's semantics)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class SkipLimitExceeded(Exception):
    """More items failed with a skippable error than the step's skip limit allows."""

    def __init__(self, skip_limit: int, error: Exception) -> None:
        super().__init__(f"skip limit of {skip_limit} exceeded: {type(error).__name__}: {error}")
        self.skip_limit = skip_limit


class SkipPolicy(Protocol):
    """Whether an item that failed with `error` may be skipped, given the skips so far.

    Return False to fail the step with `error`; raise (e.g. SkipLimitExceeded) to fail it
    with another exception.
    """

    def should_skip(self, error: Exception, skip_count: int) -> bool: ...


class LimitCheckingSkipPolicy:
    """Skip errors of the given types until `skip_limit` items were skipped in the step."""

    def __init__(self, skip_limit: int, skippable: Sequence[type[Exception]]) -> None:
        if skip_limit < 0:
            raise ValueError("skip_limit must not be negative")
        self.skip_limit = skip_limit
        self.skippable = tuple(skippable)

    def should_skip(self, error: Exception, skip_count: int) -> bool:
        if not isinstance(error, self.skippable):
            return False
        if skip_count < self.skip_limit:
            return True
        raise SkipLimitExceeded(self.skip_limit, error) from error


class RetryPolicy:
    """Retry errors of the given types; `retry_limit` counts attempts, the first included."""

    def __init__(self, retry_limit: int, retryable: Sequence[type[Exception]]) -> None:
        if retry_limit < 1:
            raise ValueError("retry_limit counts attempts and must be at least 1")
        self.retry_limit = retry_limit
        self.retryable = tuple(retryable)

    def can_retry(self, error: Exception, attempts: int) -> bool:
        """Whether to try again after `attempts` failed attempts ended with `error`."""
        return attempts < self.retry_limit and isinstance(error, self.retryable)
