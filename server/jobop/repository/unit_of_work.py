"""The statement economy of a job's run: which of the runner's writes wait for the next.

The runner makes Spring Batch's plain calls, in Spring's order: update the job execution
(STARTED), add a step execution, update it (its end), ..., update the job execution (its
end). Written one by one, a one-step job costs four transactions after its launch. The
unit of work saves the same rows in the same order, but holds two writes back and saves
each with the write that follows it, where nothing can tell the difference:

1. **STARTED waits for the first step.** The job's STARTED and its first step execution
   go in one transaction (one statement on PostgreSQL). If that write merges a stop
   requested meanwhile (the execution reads STOPPING), no step is added and
   `add_step_execution` raises JobInterrupted: Spring's runner would have stopped there.
   If the job ends without a step (invalid parameters, a stop before it started), STARTED
   is saved alone, then the end: the states stay STARTING -> STARTED -> end.
2. **The last step's end waits for the job's.** When the flow ends after a step whatever
   its outcome (the last step of a sequential job), the step's end and the job's go in
   one transaction (one statement on PostgreSQL). If that merged write fails, the two are
   retried as the separate writes Spring makes: the step's (a step whose end cannot be
   saved is UNKNOWN and fails its job, Spring's rule), then the job's.

3. **A step's last commit waits for its end when it carried only the step's row.** A
   tasklet that finished without using its transaction wrote nothing of its own: its
   commit would only save the step's counters and context, which the step's end saves
   again a moment later (in the same row). Held, it is written by the end. Should the
   process die in between, the step reads STARTED either way and a restart runs the
   tasklet again, as it would after a crash just after that commit. (A step listener is
   handed the StepExecution as it is; one that reads the repository in `after_chunk` or
   `after_step` instead sees that last commit not yet saved.)

What is held is written, alone, by `flush()`: the runner calls it before code that may
look at the repository runs between those writes (job listeners). A conflict is the
repository's, raised by whichever call wrote the row: ExecutionEndedElsewhere when the
execution was ended elsewhere (stopped while STARTING, abandoned, recovered), else
ConcurrentModification.

The unit of work writes through a `MergingStore`: the JobRepository, or the operator's
publishing wrapper around it, which announces each committed write once.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol

from jobop.batch.step import STOP_BEFORE_START, exit_status_for, mark_unknown
from jobop.batch.store import JobStore
from jobop.domain import (
    BatchStatus,
    ExecutionEndedElsewhere,
    ExitStatus,
    JobExecution,
    JobInterrupted,
    StepExecution,
    storable_exit_status,
)

if TYPE_CHECKING:
    from datetime import datetime

    from jobop.batch.job import Job

log = logging.getLogger(__name__)


class MergingStore(JobStore, Protocol):
    """A job store with the two merged writes that the unit of work uses."""

    def start_job_and_step(self, execution: JobExecution, step: StepExecution) -> bool: ...

    def finish_step_and_job(self, step: StepExecution, execution: JobExecution) -> None: ...


class ExecutionUnitOfWork:
    """One run of `execution` of `job`, written through `store` (see the module's rules)."""

    __slots__ = (
        "_execution",
        "_held_end",
        "_held_start",
        "_job",
        "_may_hold_start",
        "_store",
    )

    def __init__(self, store: MergingStore, execution: JobExecution, job: Job) -> None:
        self._store = store
        self._execution = execution
        self._job = job
        # Rule 1 applies to the first write only.
        self._may_hold_start = True
        # The held STARTED: the status, exit status and end time it wrote.
        self._held_start: tuple[BatchStatus, ExitStatus, datetime | None] | None = None
        # A step write held for the next one (rule 2: a last step's end; rule 3: a
        # step's last commit).
        self._held_end: StepExecution | None = None

    def update_job_execution(self, execution: JobExecution) -> None:
        if self._held_start is not None:
            if execution.status.is_running:
                return  # (a changed context, say) written with the held STARTED
            self._write_held_start()
        elif self._may_hold_start and execution.status is BatchStatus.STARTED:
            self._may_hold_start = False
            self._held_start = (execution.status, execution.exit_status, execution.end_time)
            return
        self._may_hold_start = False
        step, self._held_end = self._held_end, None
        if step is None or not self._finish_with_step(step, execution):
            self._store.update_job_execution(execution)

    def add_step_execution(self, step: StepExecution) -> None:
        self._may_hold_start = False
        self._write_held_end()
        if self._held_start is not None:
            self._held_start = None
            if not self._store.start_job_and_step(self._execution, step):
                raise JobInterrupted(STOP_BEFORE_START)
            return  # (start_job_and_step appended it)
        self._store.add_step_execution(step)
        self._execution.step_executions.append(step)

    def update_step_execution(self, step: StepExecution) -> BatchStatus:
        if self._held_end is step:
            self._held_end = None  # rule 3: this write saves the whole row again
        else:
            self._write_held_end()
        job = self._job
        if job.ends_after(job.step(step.step_name)):
            self._held_end = step  # rule 2
            return self._execution.status
        return self._store.update_step_execution(step)

    def save_last_commit(self, step: StepExecution) -> BatchStatus:
        self._write_held_end()
        self._held_end = step  # rule 3
        return self._execution.status

    def flush(self) -> None:
        self._may_hold_start = False
        if self._held_start is not None:
            self._write_held_start()
        self._write_held_end()

    # -- the held writes, written alone ---------------------------------------------

    def _write_held_start(self) -> None:
        """STARTED as it was handed over; an execution that has ended meanwhile here is
        then put back at its end (a stop the write merged changes nothing: it ends)."""
        execution = self._execution
        held, self._held_start = self._held_start, None
        if held is None or execution.status.is_running:
            self._store.update_job_execution(execution)
            return
        # (Saved as STARTED first, so that the states read STARTING -> STARTED -> end.)
        outcome = execution.status, execution.exit_status, execution.end_time
        execution.status, execution.exit_status, execution.end_time = held
        try:
            self._store.update_job_execution(execution)
        finally:
            execution.status, execution.exit_status, execution.end_time = outcome

    def _write_held_end(self) -> None:
        step, self._held_end = self._held_end, None
        if step is not None:
            self._write_step_end(step, self._execution)

    def _finish_with_step(self, step: StepExecution, execution: JobExecution) -> bool:
        """Rule 2: the step's end and the job's in one transaction; if that fails, the
        step's alone and False (the caller writes the job's)."""
        try:
            self._store.finish_step_and_job(step, execution)
            return True
        except Exception:
            log.debug("Saving step %s with the job failed", step.step_name, exc_info=True)
        self._write_step_end(step, execution)
        return False

    def _write_step_end(self, step: StepExecution, execution: JobExecution) -> None:
        """Spring's rule: a step whose end cannot be saved is UNKNOWN, and fails its job."""
        try:
            self._store.update_step_execution(step)
        except ExecutionEndedElsewhere:
            raise
        except Exception as error:
            mark_unknown(step)
            log.error("Could not save the end of step %s", step.step_name, exc_info=True)
            execution.status = BatchStatus.FAILED
            execution.exit_status = storable_exit_status(
                execution.exit_status.and_(exit_status_for(error))
            )
