"""JobRepository: every write to the BATCH_ tables, race-free and with few statements.

Statement budget (see tests/repository/test_statement_counts.py): a first launch is four
statements (instance, execution, parameters, context); a chunk is at most two (the step's
UPDATE, which also returns the job's status, and the step context if it changed). On
PostgreSQL a chunk's metadata is one statement, and a new instance's launch, a job's start
with its first step, a tasklet's commit and the last step's end with the job's are one
statement each (`pg_writes`): a one-step tasklet job costs four statements in all. Which
of the runner's writes are merged is decided in one place: `unit_of_work`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, NoReturn

from sqlalchemy import (
    Connection,
    Engine,
    String,
    bindparam,
    case,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from jobop.batch.store import ChunkTransaction, PartitionRecord
from jobop.domain import (
    BatchStatus,
    ConcurrentModification,
    ExecutionContext,
    ExecutionEndedElsewhere,
    ExitStatus,
    InvalidJobParameters,
    JobExecution,
    JobExecutionAlreadyRunning,
    JobExecutionNotRunning,
    JobInstance,
    JobInstanceAlreadyComplete,
    JobInstanceAlreadyExists,
    JobParameters,
    JobRestartNotAllowed,
    NoSuchJobExecution,
    StepExecution,
    storable_exit_message,
    storable_exit_status,
    utcnow,
)

from . import audit, contexts, partitions, pg_writes, recovery, rows
from .engine import (
    create_engine,
    is_postgresql,
    read_connection,
    write_lock,
    write_transaction,
)
from .explorer import JobExplorer, load_last_step_execution
from .launch_batch import PG_LAUNCH_BATCH, Launch, LaunchBatch, batch_parameters
from .migrations import init_schema
from .nodes import insert_launch_request
from .schema import (
    NAME_LENGTH,
    PARAMETER_VALUE_LENGTH,
    RUNNING_STATUSES,
    UtcDateTime,
    job_execution,
    job_execution_context,
    job_execution_params,
    job_instance,
    set_time_zone,
    step_execution,
    step_execution_context,
    time_zone_of,
    to_column,
)
from .settings import RepositorySettings, load_settings
from .unit_of_work import ExecutionUnitOfWork

if TYPE_CHECKING:
    from jobop.batch.job import Job

_e, _i, _jc = job_execution, job_instance, job_execution_context
_s, _sc, _p = step_execution, step_execution_context, job_execution_params

RECOVERED_MESSAGE = "recovered: owner lost"

# Statements built once: SQLAlchemy caches their compiled form, the chunk path stays cheap.
# Bind names carry a b_ prefix where they would clash with the column keys of SET clauses.

# The optimistic-lock update of a job execution, merging a concurrent stop request: a row
# whose version moved on while its status is STOPPING is still ours to update, and a
# STARTING/STARTED status we write becomes STOPPING (b_merged_status) so the stop sticks.
_UPDATE_JOB_EXECUTION = (
    update(_e)
    .where(
        _e.c.job_execution_id == bindparam("b_id"),
        or_(_e.c.version == bindparam("b_version"), _e.c.status == BatchStatus.STOPPING.value),
    )
    .values(
        version=_e.c.version + 1,
        status=case(
            (_e.c.version == bindparam("b_version"), bindparam("b_status", type_=String)),
            else_=bindparam("b_merged_status", type_=String),
        ),
    )
    .returning(_e.c.version, _e.c.status)
)

# The optimistic-lock update of a step execution, returning its job's current status in
# the same round trip so that the runner notices a stop request at every chunk.
_UPDATE_STEP_EXECUTION = (
    update(_s)
    .where(
        _s.c.step_execution_id == bindparam("b_id"),
        _s.c.version == bindparam("b_version"),
    )
    .values(version=_s.c.version + 1)
    .returning(
        _s.c.version,
        select(_e.c.status)
        .where(_e.c.job_execution_id == bindparam("b_job_execution_id"))
        .scalar_subquery()
        .label("job_status"),
    )
)

_INSERT_JOB_EXECUTION = insert(_e).returning(_e.c.job_execution_id)
_INSERT_STEP_EXECUTION = insert(_s).returning(_s.c.step_execution_id)
# Executed with a list of rows: one executemany (batched into multi-row INSERTs).
# RETURNING makes SQLAlchemy batch the rows into one multi-row INSERT ("insertmanyvalues")
# on both databases, instead of one statement per parameter in psycopg's executemany.
_INSERT_PARAMETERS = insert(_p).returning(_p.c.job_execution_id)
_INSERT_JOB_CONTEXT = insert(_jc)
_INSERT_STEP_CONTEXT = insert(_sc)
_UPDATE_JOB_CONTEXT = update(_jc).where(_jc.c.job_execution_id == bindparam("b_id"))
_UPDATE_STEP_CONTEXT = update(_sc).where(_sc.c.step_execution_id == bindparam("b_id"))


def _now_literal(now: datetime) -> Any:
    # Typed, so the naive-UTC conversion applies inside CASE/COALESCE expressions too.
    return literal(now, UtcDateTime())


def _check_name(kind: str, name: str) -> None:
    if not name:
        raise ValueError(f"a {kind} name must not be empty")
    if len(name) > NAME_LENGTH:
        raise ValueError(f"{kind} name longer than {NAME_LENGTH} characters: {name[:40]}…")


def _check_parameters(parameters: JobParameters) -> None:
    parameters.check_storable()
    for name, parameter in parameters.items():
        if len(parameter.value_text()) > PARAMETER_VALUE_LENGTH:
            raise InvalidJobParameters(
                f"value of parameter {name!r} is longer than {PARAMETER_VALUE_LENGTH} characters"
            )


def _describe(job_name: str, parameters: JobParameters) -> str:
    """`job (a=1,long b=x)`: the job and the identifying parameters, in the text form."""
    identifying = parameters.identifying().to_text()
    return f"{job_name} ({' '.join(identifying)})" if identifying else job_name


def _instance_exists(
    connection: Connection, job_name: str, job_key: str, parameters: JobParameters
) -> JobInstanceAlreadyExists:
    """The error for a start of an existing instance, naming its last execution, which is
    what a caller restarts (or why it cannot)."""
    last = connection.execute(
        select(_i.c.job_instance_id, _e.c.job_execution_id, _e.c.status)
        .select_from(_i.outerjoin(_e, _e.c.job_instance_id == _i.c.job_instance_id))
        .where(_i.c.job_name == job_name, _i.c.job_key == job_key)
        .order_by(_e.c.job_execution_id.desc())
        .limit(1)
    ).first()
    what = f"a job instance of {_describe(job_name, parameters)} already exists"
    if last is None or last.job_execution_id is None:
        return JobInstanceAlreadyExists(what)
    return JobInstanceAlreadyExists(
        f"{what} (instance {last.job_instance_id}; its last execution {last.job_execution_id} "
        f"is {last.status})",
        metadata={
            "job_instance_id": str(last.job_instance_id),
            "job_execution_id": str(last.job_execution_id),
            "status": str(last.status),
        },
    )


def _check_can_launch(
    job_name: str,
    parameters: JobParameters,
    history: Sequence[Any],
    restartable: bool,
) -> None:
    """JobLauncher.run's rules over the instance's executions (newest first)."""
    what = _describe(job_name, parameters)
    for row in history:
        if BatchStatus.parse(row.status or "UNKNOWN").is_running:
            raise JobExecutionAlreadyRunning(
                f"job {what} is already running as execution {row.job_execution_id}"
            )
    for row in history:
        status = BatchStatus.parse(row.status or "UNKNOWN")
        if status is BatchStatus.UNKNOWN:
            raise JobRestartNotAllowed(
                f"job {what} cannot be restarted: execution {row.job_execution_id} ended in "
                "status UNKNOWN (its outcome is not known; abandon it or fix it by hand)"
            )
        if status in (BatchStatus.COMPLETED, BatchStatus.ABANDONED):
            raise JobInstanceAlreadyComplete(
                f"job {what} is already complete: execution {row.job_execution_id} is "
                f"{status.value}; use new identifying parameters to run it again"
            )
    if history and not restartable:
        raise JobRestartNotAllowed(
            f"job {job_name} is not restartable and its instance {what} already ran as "
            f"execution {history[0].job_execution_id}"
        )


@dataclass(frozen=True, slots=True)
class NewInstance:
    """One launch of `JobRepository.launch_new_instances`: a new instance's first
    execution (the options as `launch`'s), and the action to audit with it."""

    job_name: str
    parameters: JobParameters
    context: Mapping[str, Any] | None = None
    request_launch: bool = False
    claimed_by: str | None = None
    priority: int = 0
    governed: bool = False
    announced: audit.PendingAudit | None = None


class JobRepository:
    """Persists job instances and executions; thread-safe, one per process."""

    def __init__(self, engine: Engine, settings: RepositorySettings | None = None) -> None:
        self.engine = engine
        # What the repository records (JOBOP_SETTING): the format every node writes.
        self.settings = load_settings(engine) if settings is None else settings
        self._contexts = self.settings.context_format
        set_time_zone(engine.dialect, self.settings.zone)
        self.explorer = JobExplorer(engine)
        self._postgresql = is_postgresql(engine)
        # Concurrent launches of new instances share a statement (PostgreSQL).
        self.launches = LaunchBatch(self._write_launches)
        dialect = postgresql if self._postgresql else sqlite
        # Both dialects spell it INSERT ... ON CONFLICT (JOB_NAME, JOB_KEY) DO NOTHING.
        self._insert_instance = (
            dialect.insert(_i)
            .on_conflict_do_nothing(index_elements=[_i.c.job_name, _i.c.job_key])
            .returning(_i.c.job_instance_id)
        )

    @classmethod
    def from_url(cls, url: str, *, create_schema: bool = True) -> JobRepository:
        engine = create_engine(url)
        return cls(engine, init_schema(engine) if create_schema else None)

    # -- launching --------------------------------------------------------------------

    def create_job_execution(
        self, job_name: str, parameters: JobParameters, **options: Any
    ) -> JobExecution:
        """A new STARTING execution of the instance that the identifying parameters name
        (`launch`, the claim's outcome left out)."""
        return self.launch(job_name, parameters, **options)[0]

    def launch(
        self,
        job_name: str,
        parameters: JobParameters,
        *,
        restartable: bool = True,
        new_instance_only: bool = False,
        context: Mapping[str, Any] | None = None,
        request_launch: bool = False,
        claimed_by: str | None = None,
        priority: int = 0,
        governed: bool = False,
    ) -> tuple[JobExecution, bool]:
        """A new STARTING execution of the instance that the identifying parameters name,
        and whether `claimed_by` claimed its launch request.

        `context`: entries to put in the new execution's job context (over the context
        carried over from the last execution, if any), saved with it.

        `request_launch`: also write its launch request (JOBOP_LAUNCH_REQUEST), claimed by
        node `claimed_by` (which runs it itself), or, with None, waiting for any node to
        claim it (announced by NOTIFY on PostgreSQL). A governed job's start (`governed`:
        it declares a limit; or its run-time settings in JOBOP_JOB_SETTINGS hold a limit or
        a pause) is never claimed here, nor announced when `claimed_by` is given: the
        caller claims it if admission lets it run (NodeRepository.claim_start).
        `priority`: stored with the launch request.

        Race-free: the instance row is inserted (ON CONFLICT DO NOTHING) or else locked
        (FOR UPDATE; on SQLite the transaction holds the write lock) before its executions
        are checked, so simultaneous launches of one instance queue on that row and all
        but one see the winner's execution.
        """
        _check_name("job", job_name)
        _check_parameters(parameters)
        job_key = parameters.job_key(self.settings.spring_schema, self.settings.zone)
        now = utcnow()
        entries = context or {}
        context = ExecutionContext()
        for key, value in entries.items():
            context[key] = value
        if new_instance_only and self._postgresql:
            return self._launch_new_instance(
                job_name,
                job_key,
                parameters,
                now,
                context,
                request_launch=request_launch,
                claimed_by=claimed_by,
                priority=priority,
                governed=governed,
            )
        claimed = False
        with write_transaction(self.engine) as connection:
            instance_id = connection.execute(
                self._insert_instance, {"version": 0, "job_name": job_name, "job_key": job_key}
            ).scalar()
            instance_version = 0
            first_of_instance = instance_id is not None
            if instance_id is None:
                if new_instance_only:
                    raise _instance_exists(connection, job_name, job_key, parameters)
                instance = connection.execute(
                    select(_i.c.job_instance_id, _i.c.version)
                    .where(_i.c.job_name == job_name, _i.c.job_key == job_key)
                    .with_for_update()
                ).one()
                instance_id, instance_version = instance.job_instance_id, instance.version or 0
                history = connection.execute(
                    select(_e.c.job_execution_id, _e.c.status)
                    .where(_e.c.job_instance_id == instance_id)
                    .order_by(_e.c.job_execution_id.desc())
                ).all()
                _check_can_launch(job_name, parameters, history, restartable)
                if history:
                    # Spring carries the job's context over from the last execution.
                    saved = connection.execute(
                        select(_jc.c.short_context, _jc.c.serialized_context).where(
                            _jc.c.job_execution_id == history[0].job_execution_id
                        )
                    ).first()
                    if saved is not None:
                        context = contexts.load(
                            saved.short_context,
                            saved.serialized_context,
                            f"job execution {history[0].job_execution_id}",
                        )
                        for key, value in entries.items():
                            context[key] = value
            execution_id = connection.execute(
                _INSERT_JOB_EXECUTION,
                {
                    "version": 0,
                    "job_instance_id": instance_id,
                    "create_time": now,
                    "status": BatchStatus.STARTING.value,
                    "exit_code": ExitStatus.UNKNOWN.exit_code,
                    "exit_message": "",
                    "last_updated": now,
                },
            ).scalar_one()
            if parameters:
                connection.execute(
                    _INSERT_PARAMETERS, rows.parameter_rows(execution_id, parameters)
                )
            connection.execute(
                _INSERT_JOB_CONTEXT,
                {"job_execution_id": execution_id, **self._contexts.store(context).values()},
            )
            if request_launch:
                claimed = insert_launch_request(
                    connection, execution_id, job_name, now, claimed_by, priority, governed
                )
            audit.record_in(connection, execution_id)
        context.dirty = False
        execution = JobExecution(
            job_instance=JobInstance(instance_id, job_name, job_key, instance_version),
            job_parameters=parameters,
            id=execution_id,
            version=0,
            status=BatchStatus.STARTING,
            exit_status=ExitStatus.UNKNOWN,
            create_time=now,
            last_updated=now,
            execution_context=context,
            first_of_instance=first_of_instance,
            priority=priority,
        )
        return execution, claimed

    def _launch_new_instance(
        self,
        job_name: str,
        job_key: str,
        parameters: JobParameters,
        now: datetime,
        context: ExecutionContext,
        *,
        request_launch: bool,
        claimed_by: str | None,
        priority: int,
        governed: bool,
    ) -> tuple[JobExecution, bool]:
        """launch(new_instance_only=True) on PostgreSQL: one statement,
        shared with the launches that wait beside it (see launch_batch)."""
        # An audited launch writes its audit row in the same statement.
        audit_values = audit.pending_values("")
        launch = self._new_launch(
            job_name,
            job_key,
            parameters,
            now,
            context,
            request_launch=request_launch,
            claimed_by=claimed_by,
            priority=priority,
            governed=governed,
            audit_values=audit_values,
        )
        self.launches.launch(launch)
        context.dirty = False
        execution = self._launched(launch, parameters, now, context)
        if audit_values is not None:
            audit.mark_written()
        return execution, launch.claimed

    def launch_new_instances(
        self, launches: Sequence[NewInstance]
    ) -> list[tuple[JobExecution, bool] | Exception]:
        """Each launch as `launch(new_instance_only=True)` would make it, answered on its
        own: (execution, claimed) or the error (JobInstanceAlreadyExists, ...). On
        PostgreSQL they are written together by the group commit (see launch_batch), each
        with its audit row (`announced`); on SQLite one transaction each."""
        results: list[tuple[JobExecution, bool] | Exception | None] = [None] * len(launches)
        if not self._postgresql:
            for position, item in enumerate(launches):
                try:
                    with audit.announced(item.announced):
                        results[position] = self.launch(
                            item.job_name,
                            item.parameters,
                            restartable=True,
                            new_instance_only=True,
                            context=item.context,
                            request_launch=item.request_launch,
                            claimed_by=item.claimed_by,
                            priority=item.priority,
                            governed=item.governed,
                        )
                except Exception as error:
                    results[position] = error
            return [result for result in results if result is not None]
        prepared: list[tuple[int, Launch, NewInstance, datetime, ExecutionContext]] = []
        # The launches of a call mostly share one context mapping (this node's owner):
        # checked and serialized once, by the identity of the mapping.
        stored: dict[int, tuple[Mapping[str, Any], ExecutionContext, contexts.StoredContext]] = {}
        for position, item in enumerate(launches):
            try:
                _check_name("job", item.job_name)
                _check_parameters(item.parameters)
                job_key = item.parameters.job_key(self.settings.spring_schema, self.settings.zone)
                context, stored_context = self._new_context(item.context or {}, stored)
                now = utcnow()
                launch = self._new_launch(
                    item.job_name,
                    job_key,
                    item.parameters,
                    now,
                    context,
                    request_launch=item.request_launch,
                    claimed_by=item.claimed_by,
                    priority=item.priority,
                    governed=item.governed,
                    audit_values=audit.announced_values(item.announced, ""),
                    stored=stored_context,
                )
            except Exception as error:
                results[position] = error
                continue
            prepared.append((position, launch, item, now, context))
        self.launches.launch_many([launch for _, launch, _, _, _ in prepared])
        for position, launch, item, now, context in prepared:
            try:
                if launch.error is not None:
                    raise launch.error
                execution = self._launched(launch, item.parameters, now, context)
            except Exception as error:
                results[position] = error
                continue
            if item.announced is not None and launch.audit is not None:
                item.announced.written = True
            results[position] = (execution, launch.claimed)
        return [result for result in results if result is not None]

    def _new_context(
        self,
        values: Mapping[str, Any],
        stored: dict[int, tuple[Mapping[str, Any], ExecutionContext, contexts.StoredContext]],
    ) -> tuple[ExecutionContext, contexts.StoredContext]:
        """A launch's context of `values`, as saved (not dirty), and its stored form: a
        copy of the context `stored` holds for this very mapping, else made (and kept)."""
        known = stored.get(id(values))
        if known is None or known[0] is not values:
            template = ExecutionContext()
            for key, value in values.items():  # each value checked as it is put
                template[key] = value
            stored_context = self._contexts.store(template)
            template.dirty = False
            known = stored[id(values)] = (values, template, stored_context)
        return known[1].copy(), known[2]

    def _new_launch(
        self,
        job_name: str,
        job_key: str,
        parameters: JobParameters,
        now: datetime,
        context: ExecutionContext,
        *,
        request_launch: bool,
        claimed_by: str | None,
        priority: int,
        governed: bool,
        audit_values: dict[str, object] | None,
        stored: contexts.StoredContext | None = None,
    ) -> Launch:
        """`stored`: the context's stored form when the caller has it already."""
        if stored is None:
            stored = self._contexts.store(context)
        return Launch(
            values={
                "job_name": job_name,
                "job_key": job_key,
                "now": to_column(now, time_zone_of(self.engine.dialect)),
                "short_context": stored.short_context,
                "serialized_context": stored.serialized_context,
                "request_launch": request_launch,
                "claimed_by": claimed_by,
                "priority": priority,
                "governed": governed,
            },
            parameters=rows.parameter_rows(0, parameters),
            audit=audit_values,
        )

    def _launched(
        self, launch: Launch, parameters: JobParameters, now: datetime, context: ExecutionContext
    ) -> JobExecution:
        """The execution a written launch created (its context marked saved by the caller);
        JobInstanceAlreadyExists if its instance existed (nothing was written)."""
        job_name, job_key = launch.key
        if launch.ids is None:
            with read_connection(self.engine) as connection:
                raise _instance_exists(connection, job_name, job_key, parameters)
        instance_id, execution_id = launch.ids
        return JobExecution(
            job_instance=JobInstance(instance_id, job_name, job_key, 0),
            job_parameters=parameters,
            id=execution_id,
            version=0,
            status=BatchStatus.STARTING,
            exit_status=ExitStatus.UNKNOWN,
            create_time=now,
            last_updated=now,
            execution_context=context,
            first_of_instance=True,
            priority=launch.values["priority"],
        )

    def _write_launches(self, batch: list[Launch]) -> dict[int, tuple[int, int]]:
        constants = {
            "status": BatchStatus.STARTING.value,
            "exit_code": ExitStatus.UNKNOWN.exit_code,
        }
        with self._autocommit() as connection:
            written = connection.exec_driver_sql(
                PG_LAUNCH_BATCH, batch_parameters(batch, constants)
            ).all()
        for row in written:
            batch[row.ord].claimed = row.claimed_by is not None
        return {row.ord: (row.job_instance_id, row.job_execution_id) for row in written}

    # -- job executions ---------------------------------------------------------------

    def update_job_execution(self, execution: JobExecution) -> None:
        """Save the execution's times, status and exit status (and its context if dirty).

        Optimistic lock on VERSION. A conflict caused by a stop request is merged (see
        _UPDATE_JOB_EXECUTION): `execution.status` then reads STOPPING unless it had already
        moved past STARTED. Any other conflict raises ConcurrentModification.
        """
        now = utcnow()
        with write_transaction(self.engine) as connection:
            row = self._write_job_execution(connection, execution, now)
        self._job_execution_saved(execution, row, now)

    def unit_of_work(self, execution: JobExecution, job: Job) -> ExecutionUnitOfWork:
        """Where the runner writes a run of `execution`: saves its writes in the fewest
        statements (see unit_of_work), with the two merged writes below."""
        return ExecutionUnitOfWork(self, execution, job)

    def start_job_and_step(self, execution: JobExecution, step: StepExecution) -> bool:
        """The unit of work's `update_job_execution(execution)` and, unless that merged a
        stop request (the execution now reads STOPPING), `add_step_execution(step)`, in
        one transaction.

        Returns whether the step was added; if so, it is appended to
        `execution.step_executions`."""
        _check_name("step", step.step_name)
        now = utcnow()
        if self._postgresql:
            return self._pg_start_job_and_step(execution, step, now)
        try:
            with write_transaction(self.engine) as connection:
                row = self._write_job_execution(connection, execution, now)
                added = BatchStatus.parse(row.status) is execution.status
                if added:
                    self._insert_step(connection, step, now)
        except IntegrityError as error:
            raise NoSuchJobExecution(
                f"no job execution with id {step.job_execution_id} for step {step.step_name!r}"
            ) from error
        self._job_execution_saved(execution, row, now)
        if added:
            self._step_added(step, now)
            execution.step_executions.append(step)
        return added

    def _pg_start_job_and_step(
        self, execution: JobExecution, step: StepExecution, now: datetime
    ) -> bool:
        with self._autocommit() as connection:
            row = pg_writes.start_job_and_step(
                pg_writes.DriverStatements(connection), self._contexts, execution, step, now
            )
            if row is None:
                self._raise_job_execution_conflict(connection, execution)
        self._job_execution_saved(execution, row, now)
        if row.step_execution_id is None:
            return False
        step.id = row.step_execution_id
        self._step_added(step, now)
        execution.step_executions.append(step)
        return True

    def finish_step_and_job(self, step: StepExecution, execution: JobExecution) -> None:
        """The unit of work's `update_step_execution(step)` then
        `update_job_execution(execution)`, in one transaction: the end of a job's last
        step and of the job."""
        now = utcnow()
        if self._postgresql:
            with self._autocommit() as connection:
                row = pg_writes.finish_step_and_job(
                    pg_writes.DriverStatements(connection), self._contexts, step, execution, now
                )
                if row is None:
                    self._raise_step_conflict(connection, step)
                # The step's end is saved; a job conflict is then what it would be had
                # the two been written one after the other, as Spring Batch does.
                self._step_saved(step, row.step_version, now)
                if row.version is None:
                    self._raise_job_execution_conflict(connection, execution)
            self._job_execution_saved(execution, row, now)
            return
        with write_transaction(self.engine) as connection:
            version, _ = self._write_step(connection, step, now)
            row = self._write_job_execution(connection, execution, now)
        self._step_saved(step, version, now)
        self._job_execution_saved(execution, row, now)

    def _write_job_execution(
        self, connection: Connection, execution: JobExecution, now: datetime
    ) -> Any:
        status = execution.status.value
        in_flight = execution.status in (BatchStatus.STARTING, BatchStatus.STARTED)
        merged = BatchStatus.STOPPING.value if in_flight else status
        exit_status = storable_exit_status(execution.exit_status)
        row = connection.execute(
            _UPDATE_JOB_EXECUTION,
            {
                "b_id": execution.id,
                "b_version": execution.version,
                "b_status": status,
                "b_merged_status": merged,
                "start_time": execution.start_time,
                "end_time": execution.end_time,
                "exit_code": exit_status.exit_code,
                "exit_message": exit_status.exit_description,
                "create_time": execution.create_time,
                "last_updated": now,
            },
        ).first()
        if row is None:
            self._raise_job_execution_conflict(connection, execution)
        if execution.execution_context.dirty:
            self._write_context(
                connection, _UPDATE_JOB_CONTEXT, _jc, execution.id, execution.execution_context
            )
        return row

    @staticmethod
    def _job_execution_saved(execution: JobExecution, row: Any, now: datetime) -> None:
        execution.version = row.version
        execution.status = BatchStatus.parse(row.status)
        execution.last_updated = now
        execution.execution_context.dirty = False

    def _raise_job_execution_conflict(
        self, connection: Connection, execution: JobExecution
    ) -> NoReturn:
        current = connection.execute(
            select(_e.c.version, _e.c.status).where(_e.c.job_execution_id == execution.id)
        ).first()
        if current is None:
            raise NoSuchJobExecution(f"no job execution with id {execution.id}")
        _raise_if_ended(execution.id, current.status)
        raise ConcurrentModification(
            f"job execution {execution.id} was updated elsewhere: version {current.version} "
            f"({current.status}) in the repository, version {execution.version} here"
        )

    def get_job_status(self, execution_id: int) -> BatchStatus:
        """The execution's current status (a cheap poll)."""
        with read_connection(self.engine) as connection:
            status = connection.execute(
                select(_e.c.status).where(_e.c.job_execution_id == execution_id)
            ).first()
        if status is None:
            raise NoSuchJobExecution(f"no job execution with id {execution_id}")
        return BatchStatus.parse(status.status or "UNKNOWN")

    def get_job_statuses(self, execution_ids: Sequence[int]) -> dict[int, BatchStatus]:
        """The current status of each of these executions that exists (one query)."""
        if not execution_ids:
            return {}
        with read_connection(self.engine) as connection:
            found = connection.execute(
                select(_e.c.job_execution_id, _e.c.status).where(
                    _e.c.job_execution_id.in_(list(execution_ids))
                )
            ).all()
        return {row.job_execution_id: BatchStatus.parse(row.status or "UNKNOWN") for row in found}

    # -- step executions --------------------------------------------------------------

    def add_step_execution(self, step: StepExecution) -> None:
        """Insert the step execution and its context; sets `step.id` and `step.version`."""
        _check_name("step", step.step_name)
        now = utcnow()
        try:
            with write_transaction(self.engine) as connection:
                self._insert_step(connection, step, now)
        except IntegrityError as error:
            # The only constraint a well-formed step can break is its job execution's FK.
            raise NoSuchJobExecution(
                f"no job execution with id {step.job_execution_id} for step {step.step_name!r}"
            ) from error
        self._step_added(step, now)

    def _insert_step(self, connection: Connection, step: StepExecution, now: datetime) -> None:
        step.id = connection.execute(
            _INSERT_STEP_EXECUTION,
            {
                "version": 0,
                "step_name": step.step_name,
                "job_execution_id": step.job_execution_id,
                "create_time": step.create_time,
                **rows.step_values(step, now),
            },
        ).scalar_one()
        connection.execute(
            _INSERT_STEP_CONTEXT,
            {"step_execution_id": step.id, **self._contexts.store(step.execution_context).values()},
        )

    @staticmethod
    def _step_added(step: StepExecution, now: datetime) -> None:
        step.version = 0
        step.last_updated = now
        step.execution_context.dirty = False

    def update_step_execution(self, step: StepExecution) -> BatchStatus:
        """Save the step (optimistic lock; context only if dirty) and return its job's
        current status, read by the same UPDATE statement."""
        now = utcnow()
        # One statement on PostgreSQL: no transaction needed around it.
        begin = self._autocommit if self._postgresql else self._write_transaction
        with begin() as connection:
            version, job_status = self._write_step(connection, step, now)
        self._step_saved(step, version, now)
        return job_status

    def _write_transaction(self) -> AbstractContextManager[Connection]:
        return write_transaction(self.engine)

    @contextmanager
    def _autocommit(self) -> Iterator[Connection]:
        """A PostgreSQL connection without a transaction: each statement commits itself.
        (Set on psycopg's connection, not as SQLAlchemy's isolation level: switching that
        there and back costs more CPU than the one statement these writes are.)"""
        with (
            self.engine.connect() as connection,
            pg_writes.DriverStatements(connection).autocommit(),
        ):
            yield connection

    @contextmanager
    def chunk_transaction(self, step: StepExecution) -> Iterator[ChunkTransaction]:
        """One chunk: the caller's writes on `tx.connection`, then the step's row and (if
        dirty) context, all in one commit. At most two metadata statements (one on
        PostgreSQL). On an exception everything rolls back and the exception propagates;
        the step object is unchanged apart from what the caller did to it."""
        with write_lock(self.engine), self.engine.connect() as connection:
            chunk = ChunkTransaction(connection)
            with connection.begin():
                yield chunk
                now = utcnow()
                version, job_status = self._write_step(connection, step, now)
            self._step_saved(step, version, now)
            chunk.job_status = job_status

    def _write_step(
        self, connection: Connection, step: StepExecution, now: datetime
    ) -> tuple[int, BatchStatus]:
        if self._postgresql:
            # The row and, if it changed, the context in one statement.
            row = pg_writes.update_step(
                pg_writes.DriverStatements(connection), self._contexts, step, now
            )
        else:
            row = connection.execute(
                _UPDATE_STEP_EXECUTION,
                {
                    "b_id": step.id,
                    "b_version": step.version,
                    "b_job_execution_id": step.job_execution_id,
                    **rows.step_values(step, now),
                },
            ).first()
        if row is None:
            self._raise_step_conflict(connection, step)
        if step.execution_context.dirty and not self._postgresql:
            self._write_context(
                connection, _UPDATE_STEP_CONTEXT, _sc, step.id, step.execution_context
            )
        return row.version, BatchStatus.parse(row.job_status or "UNKNOWN")

    @staticmethod
    def _raise_step_conflict(connection: Connection, step: StepExecution) -> NoReturn:
        current = connection.execute(
            select(_s.c.version, _s.c.status).where(_s.c.step_execution_id == step.id)
        ).first()
        if current is None:
            raise ConcurrentModification(
                f"step execution {step.id} ({step.step_name}) is not in the repository"
            )
        job_status = connection.execute(
            select(_e.c.status).where(_e.c.job_execution_id == step.job_execution_id)
        ).scalar()
        _raise_if_ended(step.job_execution_id, job_status)
        raise ConcurrentModification(
            f"step execution {step.id} ({step.step_name}) was updated elsewhere: version "
            f"{current.version} ({current.status}) in the repository, {step.version} here"
        )

    @staticmethod
    def _step_saved(step: StepExecution, version: int, now: datetime) -> None:
        step.version = version
        step.last_updated = now
        step.execution_context.dirty = False

    def _write_context(
        self,
        connection: Connection,
        update_statement: Any,
        table: Any,
        execution_id: int,
        context: ExecutionContext,
    ) -> None:
        stored = self._contexts.store(context).values()
        result = connection.execute(update_statement, {"b_id": execution_id, **stored})
        if result.rowcount == 0:
            # A row that Spring's DDL-era tooling never wrote: create it.
            key = table.primary_key.columns.values()[0].name
            connection.execute(insert(table), {key: execution_id, **stored})

    def get_last_step_execution(self, job_instance_id: int, step_name: str) -> StepExecution | None:
        """The latest execution of that step in any execution of the instance, with context."""
        with read_connection(self.engine) as connection:
            return load_last_step_execution(connection, job_instance_id, step_name)

    def count_step_executions(self, job_instance_id: int, step_name: str) -> int:
        """How many times the step ran in the instance (for start_limit)."""
        with read_connection(self.engine) as connection:
            count = connection.execute(
                select(func.count())
                .select_from(_s.join(_e, _e.c.job_execution_id == _s.c.job_execution_id))
                .where(_e.c.job_instance_id == job_instance_id, _s.c.step_name == step_name)
            ).scalar_one()
        return int(count)

    # -- partitions (JOBOP_PARTITION, see partitions.py) -------------------------------

    def add_partitions(
        self,
        manager: StepExecution,
        workers: Sequence[StepExecution],
        *,
        node_id: str | None,
        attempt: int = 1,
    ) -> None:
        """Insert the worker step executions of the partition step execution `manager`,
        their contexts and a JOBOP_PARTITION row each, in one transaction (claimed by
        `node_id`, or waiting and announced when it is None); sets their ids."""
        if not manager.id:
            raise ValueError(f"step execution {manager.step_name!r} has not been added yet")
        for worker in workers:
            _check_name("step", worker.step_name)
        now = utcnow()
        try:
            with write_transaction(self.engine) as connection:
                for worker in workers:
                    self._insert_step(connection, worker, now)
                partitions.insert_partitions(
                    connection, manager, workers, node_id=node_id, attempt=attempt, now=now
                )
        except IntegrityError as error:
            for worker in workers:
                worker.id = 0
            raise NoSuchJobExecution(
                f"no job execution with id {manager.job_execution_id} for the partitions of "
                f"step {manager.step_name!r}"
            ) from error
        for worker in workers:
            self._step_added(worker, now)
            worker.node_id = node_id

    def end_partition(self, worker: StepExecution) -> None:
        """ENDED = now for the worker's partition row (NOTIFY `pe` on PostgreSQL)."""
        with write_transaction(self.engine) as connection:
            partitions.end_partition(connection, worker, utcnow())

    def get_partitions(self, job_execution_id: int) -> list[PartitionRecord]:
        with read_connection(self.engine) as connection:
            return partitions.get_partitions(connection, job_execution_id)

    # -- operator primitives (compare-and-set in one UPDATE each) -----------------------

    def request_stop(self, execution_id: int, *, as_spring: bool = False) -> JobExecution:
        """STARTED -> STOPPING (the steps stop at their next chunk); STARTING, never picked
        up by a worker -> STOPPED at once. Anything else: JobExecutionNotRunning.

        `as_spring` (an execution jobop did not launch: a Spring Batch application's):
        STARTING -> STOPPING too, as Spring's SimpleJobOperator.stop writes it, since its
        own launcher is about to run it and ends it STOPPED when it sees the status."""
        now = _now_literal(utcnow())
        never_started = false() if as_spring else _e.c.status == BatchStatus.STARTING.value
        with write_transaction(self.engine) as connection:
            stopped = connection.execute(
                update(_e)
                .where(
                    _e.c.job_execution_id == execution_id,
                    _e.c.status.in_((BatchStatus.STARTING.value, BatchStatus.STARTED.value)),
                )
                .values(
                    status=case(
                        (never_started, BatchStatus.STOPPED.value),
                        else_=BatchStatus.STOPPING.value,
                    ),
                    exit_code=case(
                        (never_started, ExitStatus.STOPPED.exit_code), else_=_e.c.exit_code
                    ),
                    end_time=case((never_started, now), else_=_e.c.end_time),
                    version=_e.c.version + 1,
                    last_updated=now,
                )
                .returning(_e.c.job_execution_id)
            ).first()
            if stopped is None:
                status = self._current_status(connection, execution_id)
                raise JobExecutionNotRunning(
                    f"job execution {execution_id} is {status.value}: only a STARTING or "
                    "STARTED execution can be stopped"
                )
            audit.record_in(connection, execution_id)
        return self._reload(execution_id)

    def abandon(self, execution_id: int) -> JobExecution:
        """STOPPING, STOPPED, FAILED or UNKNOWN -> ABANDONED with an end time, and its
        unfinished steps too, so that the instance is never restarted. Abandoning an
        ABANDONED execution changes nothing."""
        now = _now_literal(utcnow())
        abandonable = (
            BatchStatus.STOPPING.value,
            BatchStatus.STOPPED.value,
            BatchStatus.FAILED.value,
            BatchStatus.UNKNOWN.value,
        )
        with write_transaction(self.engine) as connection:
            abandoned = connection.execute(
                update(_e)
                .where(_e.c.job_execution_id == execution_id, _e.c.status.in_(abandonable))
                .values(
                    status=BatchStatus.ABANDONED.value,
                    exit_code=_unfinished_exit_code(_e.c.exit_code, "ABANDONED"),
                    end_time=func.coalesce(_e.c.end_time, now),
                    version=_e.c.version + 1,
                    last_updated=now,
                )
                .returning(_e.c.job_execution_id)
            ).first()
            if abandoned is None:
                status = self._current_status(connection, execution_id)
                if status in (BatchStatus.STARTING, BatchStatus.STARTED):
                    raise JobExecutionAlreadyRunning(
                        f"job execution {execution_id} is {status.value}: stop it before "
                        "abandoning it"
                    )
                if status is BatchStatus.COMPLETED:
                    raise JobInstanceAlreadyComplete(
                        f"job execution {execution_id} is COMPLETED and cannot be abandoned"
                    )
            else:
                connection.execute(
                    update(_s)
                    .where(
                        _s.c.job_execution_id == execution_id,
                        _s.c.status.in_((*RUNNING_STATUSES, BatchStatus.UNKNOWN.value)),
                    )
                    .values(
                        status=BatchStatus.ABANDONED.value,
                        exit_code=_unfinished_exit_code(_s.c.exit_code, "ABANDONED"),
                        end_time=func.coalesce(_s.c.end_time, now),
                        version=_s.c.version + 1,
                        last_updated=now,
                    )
                )
                audit.record_in(connection, execution_id)
        return self._reload(execution_id)

    def recover(self, execution_id: int, message: str | None = None) -> JobExecution:
        """A running execution whose owner died -> FAILED (it and its running steps), so it
        can be restarted, with exit message `message` (default RECOVERED_MESSAGE). The
        caller checks that the owner is really gone."""
        with write_transaction(self.engine) as connection:
            if not _fail_running(connection, execution_id, message or RECOVERED_MESSAGE):
                status = self._current_status(connection, execution_id)
                raise JobExecutionNotRunning(
                    f"job execution {execution_id} is {status.value}, not running: "
                    "there is nothing to recover"
                )
            audit.record_in(connection, execution_id)
        return self._reload(execution_id)

    def recover_unowned(self, execution_id: int) -> JobExecution:
        """Spring Batch 6's SimpleJobOperator.recover, for a running execution no jobop
        node owns (see recovery.recover_as_spring); JobExecutionNotRunning otherwise."""
        with write_transaction(self.engine) as connection:
            if not recovery.recover_as_spring(connection, execution_id, self._contexts):
                status = self._current_status(connection, execution_id)
                raise JobExecutionNotRunning(
                    f"job execution {execution_id} is {status.value}, not running: "
                    "there is nothing to recover"
                )
            audit.record_in(connection, execution_id)
        return self._reload(execution_id)

    def fail_running(self, execution_id: int, message: str) -> JobExecution:
        """The end that a run could not save, written anew in a transaction of its own:
        the execution, if it still runs, and its steps that still run, FAILED with exit
        message `message` (made storable)."""
        with write_transaction(self.engine) as connection:
            _fail_running(connection, execution_id, message)
        return self._reload(execution_id)

    def _current_status(self, connection: Connection, execution_id: int) -> BatchStatus:
        row = connection.execute(
            select(_e.c.status).where(_e.c.job_execution_id == execution_id)
        ).first()
        if row is None:
            raise NoSuchJobExecution(f"no job execution with id {execution_id}")
        return BatchStatus.parse(row.status or "UNKNOWN")

    def _reload(self, execution_id: int) -> JobExecution:
        # For the caller's answer, which holds no context.
        execution = self.explorer.get_job_execution(execution_id, contexts=False)
        if execution is None:
            raise NoSuchJobExecution(f"no job execution with id {execution_id}")
        return execution


def _fail_running(connection: Connection, execution_id: int, message: str) -> bool:
    """The execution (if running) and its running steps -> FAILED with `message`; whether
    the execution was running."""
    now = _now_literal(utcnow())
    failed: dict[str, Any] = {
        "status": BatchStatus.FAILED.value,
        "exit_code": ExitStatus.FAILED.exit_code,
        "exit_message": storable_exit_message(message),
        "last_updated": now,
    }
    ended = connection.execute(
        update(_e)
        .where(_e.c.job_execution_id == execution_id, _e.c.status.in_(RUNNING_STATUSES))
        .values(**failed, end_time=func.coalesce(_e.c.end_time, now), version=_e.c.version + 1)
        .returning(_e.c.job_execution_id)
    ).first()
    connection.execute(
        update(_s)
        .where(_s.c.job_execution_id == execution_id, _s.c.status.in_(RUNNING_STATUSES))
        .values(**failed, end_time=func.coalesce(_s.c.end_time, now), version=_s.c.version + 1)
    )
    return ended is not None


def _raise_if_ended(execution_id: int, status: str | None) -> None:
    """ExecutionEndedElsewhere when a conflict's cause is that the execution has ended."""
    if status is not None and not BatchStatus.parse(status).is_running:
        raise ExecutionEndedElsewhere(
            f"job execution {execution_id} was ended elsewhere meanwhile: it is {status}",
            execution_id=execution_id,
            status=status,
        )


def _unfinished_exit_code(column: Any, code: str) -> Any:
    """`code` where the exit code still says the execution never finished, else as it is."""
    return case((or_(column.is_(None), column.in_(("UNKNOWN", "EXECUTING"))), code), else_=column)
