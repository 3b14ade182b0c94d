"""ChunkStep: read items up to the commit interval, process them, write them, commit.

One chunk is one transaction: the writer's writes, the step's counters and its execution
context commit together (`JobRepository.chunk_transaction`), at most two metadata
statements per chunk. Items are read and processed before the transaction begins, so a
slow reader never holds a database lock (on SQLite, the single write lock).

Fault tolerance follows Spring Batch: a skippable error on read skips the item; on process
the item is retried (retryable errors) and then skipped; on write the chunk is retried and
then scanned item by item so that only the bad items are skipped. The scan runs in one
transaction with a savepoint per item: the chunk still commits as a whole with the reader's
position, so a crash during a scan neither loses nor repeats an item.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from jobop.domain import BatchStatus, JobInterrupted, StepExecution

from .item import Chunk, ItemProcessor, ItemReader, ItemStream, ItemWriter
from .listeners import StepHooks
from .policy import LimitCheckingSkipPolicy, RetryPolicy, SkipPolicy
from .step import (
    STOP_REQUESTED,
    ChunkContext,
    ExecutionSnapshot,
    Step,
    StepContext,
    StepRun,
    StepScoped,
    resolve,
)

if TYPE_CHECKING:
    from jobop.repository import JobRepository

log = logging.getLogger(__name__)

_SKIPPED = object()


class _Counts:
    """What one chunk adds to its step's counters."""

    __slots__ = (
        "filters",
        "process_skips",
        "read_skips",
        "reads",
        "rollbacks",
        "write_skips",
        "writes",
        "writing",
    )

    def __init__(self) -> None:
        self.reads = 0
        self.filters = 0
        self.writes = 0
        self.read_skips = 0
        self.process_skips = 0
        self.write_skips = 0
        self.rollbacks = 0
        self.writing = False

    @property
    def skips(self) -> int:
        return self.read_skips + self.process_skips + self.write_skips

    def apply_to(self, step: StepExecution) -> None:
        step.read_count += self.reads
        step.filter_count += self.filters
        step.write_count += self.writes
        step.read_skip_count += self.read_skips
        step.process_skip_count += self.process_skips
        step.write_skip_count += self.write_skips
        step.rollback_count += self.rollbacks


class ChunkStep(Step):
    """reader -> processor (optional; returning None filters the item) -> writer.

    `chunk_size` is the commit interval: an int, or a function of the StepContext (e.g. to
    read it from a job parameter). Reader, processor and writer are objects or
    `step_scope(factory)`s (a processor factory may return None: no processing). Any of
    them that is an ItemStream is opened with the step's execution context, updated before
    every commit and closed at the end.

    Fault tolerance: `skippable` error types may be skipped up to `skip_limit` items in the
    step (or pass your own `skip_policy`); `retryable` error types are tried `retry_limit`
    times in all before they count as failures.
    """

    def __init__(
        self,
        name: str,
        *,
        reader: ItemReader[Any] | StepScoped[ItemReader[Any]],
        writer: ItemWriter[Any] | StepScoped[ItemWriter[Any]],
        processor: (
            ItemProcessor[Any, Any]
            | Callable[[Any], Any]
            | StepScoped[ItemProcessor[Any, Any] | Callable[[Any], Any] | None]
            | None
        ) = None,
        chunk_size: int | Callable[[StepContext], int] = 10,
        skippable: Sequence[type[Exception]] = (),
        skip_limit: int = 10,
        skip_policy: SkipPolicy | None = None,
        retryable: Sequence[type[Exception]] = (),
        retry_limit: int = 3,
        listeners: Sequence[object] = (),
        allow_start_if_complete: bool = False,
        start_limit: int | None = None,
    ) -> None:
        super().__init__(
            name,
            listeners=listeners,
            allow_start_if_complete=allow_start_if_complete,
            start_limit=start_limit,
        )
        if isinstance(chunk_size, int) and chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        self.reader = reader
        self.processor = processor
        self.writer = writer
        self.chunk_size = chunk_size
        self.skip_policy: SkipPolicy | None = skip_policy
        if skip_policy is None and skippable:
            self.skip_policy = LimitCheckingSkipPolicy(skip_limit, skippable)
        self.retry_policy = RetryPolicy(retry_limit, retryable) if retryable else None

    def components(self, context: StepContext) -> list[object]:
        processor = self.processor
        if isinstance(processor, StepScoped):
            processor = processor.factory(context)
        return [resolve(self.reader, context), processor, resolve(self.writer, context)]

    def _chunk_size(self, context: StepContext) -> int:
        size = self.chunk_size if isinstance(self.chunk_size, int) else self.chunk_size(context)
        if size < 1:
            raise ValueError(f"chunk size must be at least 1, not {size}")
        return size

    def do_execute(
        self,
        step_execution: StepExecution,
        context: StepContext,
        components: list[object],
        hooks: StepHooks,
        streams: list[ItemStream],
        run: StepRun,
    ) -> None:
        reader: ItemReader[Any] = components[0]  # type: ignore[assignment]
        processor: ItemProcessor[Any, Any] | Callable[[Any], Any] | None = components[1]  # type: ignore[assignment]
        writer: ItemWriter[Any] = components[2]  # type: ignore[assignment]
        size = self._chunk_size(context)
        chunk_context = ChunkContext(context)
        stop = run.stop
        job_status = BatchStatus.STARTED
        while True:
            if stop.is_set() or job_status is BatchStatus.STOPPING:
                raise JobInterrupted(STOP_REQUESTED)
            for hook in hooks.before_chunk:
                hook(chunk_context)
            counts = _Counts()
            try:
                items, exhausted = self._read(reader, size, step_execution, counts, hooks)
                outputs = (
                    items
                    if processor is None
                    else self._process(processor, items, step_execution, counts, hooks)
                )
                job_status = self._write(
                    writer, outputs, step_execution, counts, hooks, streams, run.repository
                )
            except Exception as error:
                # Spring keeps a failed chunk's read, filter and skip counts, and counts the
                # rollback (writing counts its own; reading and processing hold no
                # transaction here, but Spring's would roll back).
                if not counts.writing:
                    counts.rollbacks += 1
                counts.writes = 0
                counts.apply_to(step_execution)
                for hook in hooks.after_chunk_error:
                    hook(chunk_context, error)
                raise
            for hook in hooks.after_chunk:
                hook(chunk_context)
            if exhausted:
                return

    def _read(
        self,
        reader: ItemReader[Any],
        size: int,
        step: StepExecution,
        counts: _Counts,
        hooks: StepHooks,
    ) -> tuple[list[Any], bool]:
        read = reader.read
        items: list[Any] = []
        append = items.append
        before, after, on_error = hooks.before_read, hooks.after_read, hooks.on_read_error
        skip = self.skip_policy
        if skip is None and not before and not after and not on_error:
            # The common case, kept lean: no per-item work besides the read itself.
            for _ in range(size):
                item = read()
                if item is None:
                    counts.reads = len(items)
                    return items, True
                append(item)
            counts.reads = size
            return items, False
        while len(items) < size:
            for hook in before:
                hook()
            try:
                item = read()
            except Exception as error:
                for hook in on_error:
                    hook(error)
                if skip is None or not skip.should_skip(error, step.skip_count + counts.skips):
                    raise
                counts.read_skips += 1
                for hook in hooks.on_skip_in_read:
                    hook(error)
                continue
            if item is None:
                counts.reads = len(items)
                return items, True
            for hook in after:
                hook(item)
            append(item)
        counts.reads = len(items)
        return items, False

    def _process(
        self,
        processor: ItemProcessor[Any, Any] | Callable[[Any], Any],
        items: list[Any],
        step: StepExecution,
        counts: _Counts,
        hooks: StepHooks,
    ) -> list[Any]:
        # A plain function is a processor too: the pleasant way to write a small one.
        process: Callable[[Any], Any] = (
            processor.process if hasattr(processor, "process") else processor
        )
        before, after = hooks.before_process, hooks.after_process
        if (
            self.skip_policy is None
            and self.retry_policy is None
            and not before
            and not after
            and not hooks.on_process_error
        ):
            outputs = [result for item in items if (result := process(item)) is not None]
            counts.filters = len(items) - len(outputs)
            return outputs
        outputs = []
        for item in items:
            for hook in before:
                hook(item)
            result = self._process_item(process, item, step, counts, hooks)
            if result is _SKIPPED:
                continue
            for hook in after:
                hook(item, result)
            if result is None:
                counts.filters += 1
            else:
                outputs.append(result)
        return outputs

    def _process_item(
        self,
        process: Callable[[Any], Any],
        item: Any,
        step: StepExecution,
        counts: _Counts,
        hooks: StepHooks,
    ) -> Any:
        attempts = 0
        while True:
            try:
                return process(item)
            except Exception as error:
                for hook in hooks.on_process_error:
                    hook(item, error)
                attempts += 1
                # Each handled failure costs Spring a rollback of the chunk; count it the same.
                if self.retry_policy is not None and self.retry_policy.can_retry(error, attempts):
                    counts.rollbacks += 1
                    continue
                skip = self.skip_policy
                if skip is None or not skip.should_skip(error, step.skip_count + counts.skips):
                    raise
                counts.rollbacks += 1
                counts.process_skips += 1
                for hook in hooks.on_skip_in_process:
                    hook(item, error)
                return _SKIPPED

    def _write(
        self,
        writer: ItemWriter[Any],
        outputs: list[Any],
        step: StepExecution,
        counts: _Counts,
        hooks: StepHooks,
        streams: list[ItemStream],
        repository: JobRepository,
    ) -> BatchStatus:
        counts.writing = True
        attempts = 0
        while True:
            written = False
            snapshot = ExecutionSnapshot(step, with_context=bool(streams))
            try:
                with repository.chunk_transaction(step) as tx:
                    if outputs:
                        chunk = Chunk(outputs, tx.connection, step)
                        for hook in hooks.before_write:
                            hook(chunk)
                        writer.write(chunk)
                        for hook in hooks.after_write:
                            hook(chunk)
                    written = True
                    counts.writes = len(outputs)
                    self._commit(step, counts, streams)
                return tx.job_status or BatchStatus.UNKNOWN
            except Exception as error:
                snapshot.restore(step)
                counts.writes = 0
                counts.rollbacks += 1
                if written:
                    raise  # the commit failed, not the writer: nothing to retry or skip
                for hook in hooks.on_write_error:
                    hook(error, Chunk(outputs, None, step))
                attempts += 1
                if self.retry_policy is not None and self.retry_policy.can_retry(error, attempts):
                    continue
                if self.skip_policy is None or not _skippable(self.skip_policy, error):
                    raise
                return self._scan(writer, outputs, step, counts, hooks, streams, repository)

    def _scan(
        self,
        writer: ItemWriter[Any],
        outputs: list[Any],
        step: StepExecution,
        counts: _Counts,
        hooks: StepHooks,
        streams: list[ItemStream],
        repository: JobRepository,
    ) -> BatchStatus:
        """Write the items one by one, each under a savepoint, skipping those that fail."""
        skip = self.skip_policy
        assert skip is not None
        snapshot = ExecutionSnapshot(step, with_context=bool(streams))
        item_failed = False
        try:
            with repository.chunk_transaction(step) as tx:
                connection = tx.connection
                for item in outputs:
                    chunk = Chunk([item], connection, step)
                    savepoint = connection.begin_nested()
                    try:
                        for hook in hooks.before_write:
                            hook(chunk)
                        writer.write(chunk)
                        for hook in hooks.after_write:
                            hook(chunk)
                    except Exception as error:
                        savepoint.rollback()
                        counts.rollbacks += 1
                        for hook in hooks.on_write_error:
                            hook(error, chunk)
                        # If this item fails the step, its rollback is counted already.
                        item_failed = True
                        if not skip.should_skip(error, step.skip_count + counts.skips):
                            raise
                        item_failed = False
                        counts.write_skips += 1
                        for hook in hooks.on_skip_in_write:
                            hook(item, error)
                    else:
                        savepoint.commit()
                        counts.writes += 1
                self._commit(step, counts, streams)
            return tx.job_status or BatchStatus.UNKNOWN
        except Exception:
            snapshot.restore(step)
            counts.writes = 0
            if not item_failed:
                counts.rollbacks += 1
            raise

    @staticmethod
    def _commit(step: StepExecution, counts: _Counts, streams: list[ItemStream]) -> None:
        """Put the chunk's counters and the streams' positions into the step execution,
        inside the transaction, so that the repository commits them with the items."""
        counts.apply_to(step)
        step.commit_count += 1
        for stream in streams:
            stream.update(step.execution_context)


def _skippable(policy: SkipPolicy, error: Exception) -> bool:
    """Whether a failed chunk is worth scanning: only if its error could be skipped."""
    if isinstance(policy, LimitCheckingSkipPolicy):
        return isinstance(error, policy.skippable)
    return True
