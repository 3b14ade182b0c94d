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

Skip listeners are called as Spring calls them: just before the chunk commits, inside its
transaction (read and process skips are collected as they happen, in `Chunk.skips`), so a
listener that records skipped items on `ChunkContext.connection` commits them together with
the reader position that moved past them, and a chunk that rolls back records none.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from jobop.domain import BatchStatus, JobInterrupted, StepExecution

from .item import (
    Chunk,
    FunctionReader,
    FunctionWriter,
    ItemProcessor,
    ItemReader,
    ItemStream,
    ItemWriter,
    item_function,
)
from .listeners import StepHooks
from .policy import LimitCheckingSkipPolicy, RetryPolicy, SkipPolicy
from .readers import ItemCountingReader
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
    from sqlalchemy import Connection

    from .store import JobStore

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
        "skipped",
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
        # The chunk's skipped items, in order: (None, error) for a read skip, (item, error)
        # for a process skip, then (item, error) for the write skips of a scan.
        self.skipped: list[tuple[Any, BaseException]] = []

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
    read it from a job parameter). Reader, processor and writer are objects (with `read()`,
    `process(item)`, `write(chunk)`), plain functions of the same arguments, or
    `step_scope(factory)`s building either (a processor factory may return None: no
    processing). One that cannot work is refused here (or, built by a factory, fails the
    step) with a TypeError naming the step. Any of them that is an ItemStream is opened
    with the step's execution context, updated before every commit and closed at the end.

    Fault tolerance: `skippable` error types may be skipped up to `skip_limit` items in the
    step (an int, or a function of the StepContext like `chunk_size`; or pass your own
    `skip_policy`); `retryable` error types are tried `retry_limit` times in all before they
    count as failures. Skip listeners are called inside the chunk's transaction, just before
    it commits (see `SkipListener`).
    """

    def __init__(
        self,
        name: str,
        *,
        reader: ItemReader[Any]
        | Callable[[], Any]
        | StepScoped[ItemReader[Any] | Callable[[], Any]],
        writer: (
            ItemWriter[Any]
            | Callable[[Chunk[Any]], None]
            | StepScoped[ItemWriter[Any] | Callable[[Chunk[Any]], None]]
        ),
        processor: (
            ItemProcessor[Any, Any]
            | Callable[[Any], Any]
            | StepScoped[ItemProcessor[Any, Any] | Callable[[Any], Any] | None]
            | None
        ) = None,
        chunk_size: int | Callable[[StepContext], int] = 10,
        skippable: Sequence[type[Exception]] = (),
        skip_limit: int | Callable[[StepContext], int] = 10,
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
        for role, component in (("reader", reader), ("processor", processor), ("writer", writer)):
            if component is not None and not isinstance(component, StepScoped):
                item_function(name, role, component)
        self.reader = reader
        self.processor = processor
        self.writer = writer
        self.chunk_size = chunk_size
        self.skippable = tuple(skippable)
        self.skip_limit = skip_limit
        self.skip_policy: SkipPolicy | None = skip_policy
        if skip_policy is None and skippable and isinstance(skip_limit, int):
            self.skip_policy = LimitCheckingSkipPolicy(skip_limit, skippable)
        self.retry_policy = RetryPolicy(retry_limit, retryable) if retryable else None

    def components(self, context: StepContext) -> list[object]:
        processor = self.processor
        if isinstance(processor, StepScoped):
            processor = processor.factory(context)
        if processor is not None:
            item_function(self.name, "processor", processor)
        reader = resolve(self.reader, context)
        writer = resolve(self.writer, context)
        # A function is wrapped in the object the loop calls; an object is used as it is.
        if item_function(self.name, "reader", reader) is reader:
            reader = FunctionReader(reader)
        if item_function(self.name, "writer", writer) is writer:
            writer = FunctionWriter(writer)
        return [reader, processor, writer]

    def _chunk_size(self, context: StepContext) -> int:
        size = self.chunk_size if isinstance(self.chunk_size, int) else self.chunk_size(context)
        if size < 1:
            raise ValueError(f"chunk size must be at least 1, not {size}")
        return size

    def _skip_policy(self, context: StepContext) -> SkipPolicy | None:
        """The step execution's skip policy (a skip limit function is resolved per execution)."""
        if self.skip_policy is not None or not self.skippable or isinstance(self.skip_limit, int):
            return self.skip_policy
        return LimitCheckingSkipPolicy(self.skip_limit(context), self.skippable)

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
        skip = self._skip_policy(context)
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
                items, exhausted = self._read(reader, size, step_execution, counts, hooks, skip)
                outputs = (
                    items
                    if processor is None
                    else self._process(processor, items, step_execution, counts, hooks, skip)
                )
                job_status = self._write(
                    writer,
                    outputs,
                    step_execution,
                    counts,
                    hooks,
                    streams,
                    run.repository,
                    skip,
                    chunk_context,
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
        skip: SkipPolicy | None,
    ) -> tuple[list[Any], bool]:
        before, after, on_error = hooks.before_read, hooks.after_read, hooks.on_read_error
        lean = skip is None and not before and not after and not on_error
        if lean and isinstance(reader, ItemCountingReader):
            # Nothing to do per item: a counting reader reads the whole chunk in one call.
            items = reader.read_chunk(size)
            counts.reads = len(items)
            return items, len(items) < size
        read = reader.read
        items = []
        append = items.append
        if lean:
            # The other common case, kept lean too: no per-item work besides the read.
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
                counts.skipped.append((None, error))
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
        skip: SkipPolicy | None,
    ) -> list[Any]:
        # A plain function is a processor too: the pleasant way to write a small one.
        process: Callable[[Any], Any] = (
            processor.process if hasattr(processor, "process") else processor
        )
        before, after = hooks.before_process, hooks.after_process
        if (
            skip is None
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
            result = self._process_item(process, item, step, counts, hooks, skip)
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
        skip: SkipPolicy | None,
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
                if skip is None or not skip.should_skip(error, step.skip_count + counts.skips):
                    raise
                counts.rollbacks += 1
                counts.process_skips += 1
                counts.skipped.append((item, error))
                return _SKIPPED

    def _write(
        self,
        writer: ItemWriter[Any],
        outputs: list[Any],
        step: StepExecution,
        counts: _Counts,
        hooks: StepHooks,
        streams: list[ItemStream],
        repository: JobStore,
        skip: SkipPolicy | None,
        chunk_context: ChunkContext,
    ) -> BatchStatus:
        counts.writing = True
        skipped = counts.skipped
        attempts = 0
        while True:
            written = False
            snapshot = ExecutionSnapshot(step, with_context=bool(streams))
            try:
                with repository.chunk_transaction(step) as tx:
                    chunk_context.connect = _returning(tx.connection)
                    try:
                        if outputs:
                            chunk = Chunk(outputs, tx.connection, step, skips=skipped)
                            for hook in hooks.before_write:
                                hook(chunk)
                            writer.write(chunk)
                            for hook in hooks.after_write:
                                hook(chunk)
                        written = True
                        if skipped:
                            # Only in the attempt that commits: a failed one never gets here.
                            _call_skip_listeners(hooks, skipped, len(skipped))
                        counts.writes = len(outputs)
                        self._commit(step, counts, streams)
                    finally:
                        chunk_context.connect = None
                return tx.job_status or BatchStatus.UNKNOWN
            except Exception as error:
                snapshot.restore(step)
                counts.writes = 0
                counts.rollbacks += 1
                if written:
                    # A skip listener or the commit failed, not the writer: nothing to retry
                    # or skip.
                    raise
                for hook in hooks.on_write_error:
                    hook(error, Chunk(outputs, None, step, skips=skipped))
                attempts += 1
                if self.retry_policy is not None and self.retry_policy.can_retry(error, attempts):
                    continue
                if skip is None or not _skippable(skip, error):
                    raise
                return self._scan(
                    writer, outputs, step, counts, hooks, streams, repository, skip, chunk_context
                )

    def _scan(
        self,
        writer: ItemWriter[Any],
        outputs: list[Any],
        step: StepExecution,
        counts: _Counts,
        hooks: StepHooks,
        streams: list[ItemStream],
        repository: JobStore,
        skip: SkipPolicy,
        chunk_context: ChunkContext,
    ) -> BatchStatus:
        """Write the items one by one, each under a savepoint, skipping those that fail.

        The skip listeners are called once the scan is through, inside its transaction:
        a scan that fails the step (and rolls back) calls none."""
        snapshot = ExecutionSnapshot(step, with_context=bool(streams))
        skipped = counts.skipped
        first_write_skip = len(skipped)
        item_failed = False
        try:
            with repository.chunk_transaction(step) as tx:
                connection = tx.connection
                chunk_context.connect = _returning(connection)
                try:
                    for item in outputs:
                        chunk = Chunk([item], connection, step, skips=skipped)
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
                            skipped.append((item, error))
                        else:
                            savepoint.commit()
                            counts.writes += 1
                    if skipped:
                        _call_skip_listeners(hooks, skipped, first_write_skip)
                    self._commit(step, counts, streams)
                finally:
                    chunk_context.connect = None
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


def _call_skip_listeners(
    hooks: StepHooks,
    skipped: list[tuple[Any, BaseException]],
    first_write_skip: int,
) -> None:
    """Tell the skip listeners about the chunk's skips, inside its transaction (called just
    before the commit): read and process skips in the order they happened, then the write
    skips, `skipped[first_write_skip:]`."""
    on_read, on_process, on_write = (
        hooks.on_skip_in_read,
        hooks.on_skip_in_process,
        hooks.on_skip_in_write,
    )
    if not (on_read or on_process or on_write):
        return
    for index, (item, error) in enumerate(skipped):
        if index >= first_write_skip:
            for hook in on_write:
                hook(item, error)
        elif item is None:
            for hook in on_read:
                hook(error)
        else:
            for hook in on_process:
                hook(item, error)


def _returning(connection: Connection) -> Callable[[], Connection]:
    return lambda: connection


def _skippable(policy: SkipPolicy, error: Exception) -> bool:
    """Whether a failed chunk is worth scanning: only if its error could be skipped."""
    if isinstance(policy, LimitCheckingSkipPolicy):
        return isinstance(error, policy.skippable)
    return True
