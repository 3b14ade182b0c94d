"""JobExplorer: the read side of the job repository.

Loading any number of job executions costs three statements (executions with their
instance and context, then all their parameters, then all their steps with contexts), so a
page of executions does not cost a query per row. Contexts can be large (megabytes) and
only some reads return them: `contexts=False` leaves them out of the statements (the
executions then hold empty contexts).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Engine, Select, bindparam, exists, func, null, select

from jobop.domain import (
    BatchStatus,
    ExecutionFilter,
    JobExecution,
    JobInstance,
    JobParameters,
    NoSuchJobExecution,
    StepExecution,
)

from . import listing, rows
from .engine import read_connection
from .schema import (
    RUNNING_STATUSES,
    job_execution,
    job_execution_context,
    job_execution_params,
    job_instance,
    launch_request,
    partition,
    step_execution,
    step_execution_context,
)

_e, _i, _jc = job_execution, job_instance, job_execution_context
_s, _sc, _p = step_execution, step_execution_context, job_execution_params
_l, _pt = launch_request, partition


def _context_columns(context: Any, contexts: bool) -> tuple[Any, Any]:
    if contexts:
        return context.c.short_context, context.c.serialized_context
    return null().label("short_context"), null().label("serialized_context")


def execution_query(*, contexts: bool = True) -> Select[Any]:
    """Job executions joined with their instance and (unless not wanted) job execution
    context."""
    executions = _e.join(_i, _i.c.job_instance_id == _e.c.job_instance_id).outerjoin(
        _l, _l.c.job_execution_id == _e.c.job_execution_id
    )
    if contexts:
        executions = executions.outerjoin(_jc, _jc.c.job_execution_id == _e.c.job_execution_id)
    return select(
        _e.c.job_execution_id,
        _e.c.version,
        _e.c.job_instance_id,
        _e.c.create_time,
        _e.c.start_time,
        _e.c.end_time,
        _e.c.status,
        _e.c.exit_code,
        _e.c.exit_message,
        _e.c.last_updated,
        _i.c.job_name,
        _i.c.job_key,
        _i.c.version.label("instance_version"),
        # The launch request's (none for an execution jobop did not launch).
        _l.c.priority,
        _l.c.overdue,
        *_context_columns(_jc, contexts),
    ).select_from(executions)


# The node that ran a step execution: its partition row's (the node that claimed it),
# else the node that claimed its job execution's launch (none for a job jobop did not
# launch on a node).
_NODE_ID = func.coalesce(_pt.c.node_id, _l.c.node_id).label("node_id")


def step_query(*, contexts: bool = True) -> Select[Any]:
    """Step executions joined with (unless not wanted) their step execution context, and
    with the node that ran them."""
    steps = _s.outerjoin(_pt, _pt.c.step_execution_id == _s.c.step_execution_id).outerjoin(
        _l, _l.c.job_execution_id == _s.c.job_execution_id
    )
    if contexts:
        steps = steps.outerjoin(_sc, _sc.c.step_execution_id == _s.c.step_execution_id)
    return select(_s, _NODE_ID, *_context_columns(_sc, contexts)).select_from(steps)


# Built once: building a statement per call cost more than the rest of SQLAlchemy's work
# for it. One execution (GetJobExecution, the most polled read) is read by equality, which
# psycopg prepares; an expanding IN, for several, is rendered again at each call. Keyed by
# whether contexts are loaded.
_EXECUTION_BY_ID = {
    contexts: execution_query(contexts=contexts).where(
        _e.c.job_execution_id == bindparam("execution_id")
    )
    for contexts in (True, False)
}
_PARAMETERS = select(_p)
_OF_ONE: dict[bool, tuple[Select[Any], Select[Any]]] = {}
_OF_SEVERAL: dict[bool, tuple[Select[Any], Select[Any]]] = {}
for _contexts in (True, False):
    _steps = step_query(contexts=_contexts).order_by(_s.c.step_execution_id)
    _OF_ONE[_contexts] = (
        _PARAMETERS.where(_p.c.job_execution_id == bindparam("execution_id")),
        _steps.where(_s.c.job_execution_id == bindparam("execution_id")),
    )
    _OF_SEVERAL[_contexts] = (
        _PARAMETERS.where(_p.c.job_execution_id.in_(bindparam("ids", expanding=True))),
        _steps.where(_s.c.job_execution_id.in_(bindparam("ids", expanding=True))),
    )


_earlier = _e.alias("earlier")
# Claimed starts that are still STARTING, each with whether it is its instance's first
# execution: then it has no earlier steps to restart from, and its runner need not ask.
_STARTING_BY_ID = (
    execution_query()
    .add_columns(
        ~exists()
        .where(
            _earlier.c.job_instance_id == _e.c.job_instance_id,
            _earlier.c.job_execution_id < _e.c.job_execution_id,
        )
        .label("first_of_instance")
    )
    .where(
        _e.c.job_execution_id.in_(bindparam("ids", expanding=True)),
        _e.c.status == BatchStatus.STARTING.value,
    )
    .order_by(_e.c.job_execution_id)
)


def load_starting_executions(connection: Connection, ids: Sequence[int]) -> list[JobExecution]:
    """Those of these executions still STARTING, ascending by id, loaded whole and marked
    `first_of_instance` when no earlier execution of their instance exists."""
    return load_job_executions(connection, _STARTING_BY_ID, {"ids": list(ids)})


def load_job_executions(
    connection: Connection,
    query: Select[Any],
    bound: dict[str, Any] | None = None,
    *,
    contexts: bool = True,
) -> list[JobExecution]:
    """Run an `execution_query(contexts=contexts)` (with `bound` values for its bind
    parameters) and attach each execution's parameters and steps."""
    execution_rows = connection.execute(query, bound).all()
    if not execution_rows:
        return []
    ids = [row.job_execution_id for row in execution_rows]
    if len(ids) == 1:
        (parameters_query, steps_query), of = _OF_ONE[contexts], {"execution_id": ids[0]}
    else:
        (parameters_query, steps_query), of = _OF_SEVERAL[contexts], {"ids": ids}
    parameters = rows.group_by(connection.execute(parameters_query, of), "job_execution_id")
    steps = rows.group_by(connection.execute(steps_query, of), "job_execution_id")
    executions = []
    for row in execution_rows:
        execution_id = row.job_execution_id
        params = JobParameters(dict(map(rows.parameter, parameters.get(execution_id, ()))))
        execution = rows.job_execution(row, params)
        execution.step_executions = [rows.step_execution(s) for s in steps.get(execution_id, ())]
        executions.append(execution)
    return executions


def load_last_step_execution(
    connection: Connection, job_instance_id: int, step_name: str
) -> StepExecution | None:
    row = connection.execute(
        step_query()
        .join(_e, _e.c.job_execution_id == _s.c.job_execution_id)
        .where(_e.c.job_instance_id == job_instance_id, _s.c.step_name == step_name)
        .order_by(_s.c.create_time.desc(), _s.c.step_execution_id.desc())
        .limit(1)
    ).first()
    return None if row is None else rows.step_execution(row)


def _instance_id(instance: JobInstance | int) -> int:
    return instance.id if isinstance(instance, JobInstance) else instance


class JobExplorer:
    """Read-only queries over job instances and executions; thread-safe."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _executions(
        self, query: Select[Any], bound: dict[str, Any] | None = None, *, contexts: bool = True
    ) -> list[JobExecution]:
        with read_connection(self.engine) as connection:
            return load_job_executions(connection, query, bound, contexts=contexts)

    def _instances(self, query: Select[Any]) -> list[JobInstance]:
        with read_connection(self.engine) as connection:
            return [rows.job_instance(row) for row in connection.execute(query)]

    def get_job_names(self, among: Sequence[str] | None = None) -> list[str]:
        """The names of the jobs with instances, sorted (only those `among` these names
        when given). Cheap: read from the (JOB_NAME, JOB_KEY) unique index."""
        query = select(_i.c.job_name).distinct().order_by(_i.c.job_name)
        if among is not None:
            query = query.where(_i.c.job_name.in_(list(among)))
        with read_connection(self.engine) as connection:
            return list(connection.execute(query).scalars().all())

    def get_job_instance(self, instance_id: int) -> JobInstance | None:
        found = self._instances(select(_i).where(_i.c.job_instance_id == instance_id))
        return found[0] if found else None

    def get_job_instances(
        self, job_name: str | None, start: int = 0, count: int = 20
    ) -> list[JobInstance]:
        """The job's instances (None: every job's), newest first, `count` of them from
        position `start`."""
        query = select(_i)
        if job_name is not None:
            query = query.where(_i.c.job_name == job_name)
        return self._instances(
            query.order_by(_i.c.job_instance_id.desc()).offset(start).limit(count)
        )

    def get_last_job_instance(self, job_name: str) -> JobInstance | None:
        found = self.get_job_instances(job_name, 0, 1)
        return found[0] if found else None

    def get_job_instance_count(self, job_name: str) -> int:
        with read_connection(self.engine) as connection:
            count = connection.execute(
                select(func.count()).select_from(_i).where(_i.c.job_name == job_name)
            ).scalar_one()
            return int(count)

    def get_job_executions(self, instance: JobInstance | int) -> list[JobExecution]:
        """The instance's executions, newest first, with their steps."""
        return self._executions(
            execution_query()
            .where(_e.c.job_instance_id == _instance_id(instance))
            .order_by(_e.c.job_execution_id.desc())
        )

    def get_last_job_execution(self, instance: JobInstance | int) -> JobExecution | None:
        found = self._executions(
            execution_query()
            .where(_e.c.job_instance_id == _instance_id(instance))
            .order_by(_e.c.job_execution_id.desc())
            .limit(1)
        )
        return found[0] if found else None

    def get_job_execution(self, execution_id: int, *, contexts: bool = True) -> JobExecution | None:
        """The execution with its parameters, steps and (unless not wanted) contexts; None
        if there is none."""
        found = self._executions(
            _EXECUTION_BY_ID[contexts], {"execution_id": execution_id}, contexts=contexts
        )
        return found[0] if found else None

    def find_running_job_executions(
        self, job_name: str | None = None, *, contexts: bool = True
    ) -> list[JobExecution]:
        """Running executions (STARTING, STARTED, STOPPING) of one job or all, newest first."""
        query = execution_query(contexts=contexts).where(_e.c.status.in_(RUNNING_STATUSES))
        if job_name is not None:
            query = query.where(_i.c.job_name == job_name)
        return self._executions(query.order_by(_e.c.job_execution_id.desc()), contexts=contexts)

    def find_running_job_execution_ids(self, job_name: str | None = None) -> list[int]:
        """Ids of the running executions (STARTING, STARTED, STOPPING), ascending: one
        statement, no rows loaded."""
        query = select(_e.c.job_execution_id).where(_e.c.status.in_(RUNNING_STATUSES))
        if job_name is not None:
            query = query.join(_i, _i.c.job_instance_id == _e.c.job_instance_id).where(
                _i.c.job_name == job_name
            )
        with read_connection(self.engine) as connection:
            return list(connection.execute(query.order_by(_e.c.job_execution_id)).scalars().all())

    def get_step_execution(
        self, job_execution_id: int, step_execution_id: int
    ) -> StepExecution | None:
        with read_connection(self.engine) as connection:
            row = connection.execute(
                step_query().where(
                    _s.c.step_execution_id == step_execution_id,
                    _s.c.job_execution_id == job_execution_id,
                )
            ).first()
            return None if row is None else rows.step_execution(row)

    def get_parameters(self, execution_id: int) -> JobParameters:
        """The execution's parameters; NoSuchJobExecution if there is no such execution."""
        with read_connection(self.engine) as connection:
            found = connection.execute(
                select(
                    _e.c.job_execution_id,
                    _p.c.parameter_name,
                    _p.c.parameter_type,
                    _p.c.parameter_value,
                    _p.c.identifying,
                )
                .select_from(_e.outerjoin(_p, _p.c.job_execution_id == _e.c.job_execution_id))
                .where(_e.c.job_execution_id == execution_id)
            ).all()
        if not found:
            raise NoSuchJobExecution(f"no job execution with id {execution_id}")
        return JobParameters(
            dict(rows.parameter(row) for row in found if row.parameter_name is not None)
        )

    def list_job_executions(
        self,
        job_name: str | None = None,
        job_instance_id: int | None = None,
        after_id: int | None = None,
        limit: int = 20,
        *,
        contexts: bool = True,
    ) -> list[JobExecution]:
        """Executions newest first, filtered by job and/or instance; keyset paging:
        pass the last id of one page as `after_id` to get the next."""
        selection = ExecutionFilter(
            job_names=() if job_name is None else (job_name,), job_instance_id=job_instance_id
        )
        return self.find_job_executions(
            selection, after_id=after_id, limit=limit, contexts=contexts
        )

    def find_job_executions(
        self,
        selection: ExecutionFilter,
        *,
        after_id: int | None = None,
        oldest_first: bool = False,
        limit: int = 20,
        contexts: bool = True,
    ) -> list[JobExecution]:
        """The executions `selection` selects, newest first (or oldest first), `limit` of
        them after execution `after_id` in that order: three statements, read through
        indexes (repository/listing.py)."""
        query = execution_query(contexts=contexts).where(
            *listing.conditions(selection),
            *listing.keyset(after=after_id, oldest_first=oldest_first),
        )
        order = _e.c.job_execution_id.asc() if oldest_first else _e.c.job_execution_id.desc()
        with read_connection(self.engine) as connection, listing.planned_for_values(connection):
            return load_job_executions(
                connection, query.order_by(order).limit(limit), contexts=contexts
            )

    def count_job_executions(self, selection: ExecutionFilter) -> int:
        """How many executions `selection` selects: one statement (it reads every match)."""
        executions: Any = _e
        if selection.job_names:
            executions = executions.join(_i, _i.c.job_instance_id == _e.c.job_instance_id)
        if listing.needs_launch_request(selection):
            executions = executions.outerjoin(_l, _l.c.job_execution_id == _e.c.job_execution_id)
        query = select(func.count()).select_from(executions).where(*listing.conditions(selection))
        with read_connection(self.engine) as connection, listing.planned_for_values(connection):
            return int(connection.execute(query).scalar_one())
