"""`jobop db rekey`: JOB_KEY recomputed by Spring Batch's rules for instances stored with
another key (by earlier jobop versions, which hashed Python's spelling of dates and doubles).

An instance's key comes from the identifying parameters of its first execution. Instances
with a parameter type jobop does not know (a `java.util.UUID`, ...) or a stored value it
cannot read keep their key. A recomputed key that another instance of the same job
already has (or gets) is a collision: nothing is changed, and the collisions are reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine, func, select, update

from jobop.domain import JobParameter, JobParameters
from jobop.domain.parameters import SPRING_TYPES

from .engine import write_transaction
from .migrations import lock_schema
from .schema import job_execution, job_execution_params, job_instance
from .settings import RepositoryConfigurationError, read_settings

_e, _i, _p = job_execution, job_instance, job_execution_params


class JobKeyCollision(RepositoryConfigurationError):
    """Recomputed keys would make two instances of a job one: nothing was changed."""


@dataclass
class RekeyReport:
    changed: list[tuple[int, str, str]] = field(default_factory=list)  # (id, old, new)
    unchanged: int = 0
    skipped: list[int] = field(default_factory=list)  # parameter types jobop does not know


def rekey(engine: Engine, *, dry_run: bool = False) -> RekeyReport:
    """Recompute every instance's JOB_KEY (in one transaction); see the module docstring."""
    report = RekeyReport()
    with write_transaction(engine) as connection:
        lock_schema(connection)
        spring = read_settings(connection).spring_schema
        first = (
            select(_e.c.job_instance_id, func.min(_e.c.job_execution_id).label("first_id"))
            .group_by(_e.c.job_instance_id)
            .subquery()
        )
        instances = connection.execute(
            select(_i.c.job_instance_id, _i.c.job_name, _i.c.job_key, first.c.first_id)
            .select_from(_i.outerjoin(first, first.c.job_instance_id == _i.c.job_instance_id))
            .order_by(_i.c.job_instance_id)
        ).all()
        parameters: dict[int, list[tuple[str, str, str]]] = {}
        for row in connection.execute(
            select(
                _p.c.job_execution_id,
                _p.c.parameter_name,
                _p.c.parameter_type,
                _p.c.parameter_value,
            )
            .where(_p.c.identifying == "Y")
            .where(_p.c.job_execution_id.in_(select(first.c.first_id)))
        ):
            parameters.setdefault(row.job_execution_id, []).append(
                (row.parameter_name, row.parameter_type, row.parameter_value or "")
            )
        keys: dict[int, tuple[str, str]] = {}  # instance id -> (job name, key it will have)
        for instance in instances:
            given = parameters.get(instance.first_id, []) if instance.first_id else None
            new_key = None if given is None else _spring_key(given, spring)
            if new_key is None:
                if instance.first_id is not None:
                    report.skipped.append(instance.job_instance_id)
                new_key = instance.job_key
            keys[instance.job_instance_id] = (instance.job_name, new_key)
            if new_key == instance.job_key:
                report.unchanged += 1
            else:
                report.changed.append((instance.job_instance_id, instance.job_key, new_key))
        owners: dict[tuple[str, str], list[int]] = {}
        for instance_id, name_and_key in keys.items():
            owners.setdefault(name_and_key, []).append(instance_id)
        collisions = {k: ids for k, ids in owners.items() if len(ids) > 1}
        if collisions:
            described = "; ".join(
                f"{name} instances {', '.join(map(str, ids))} would all have key {key}"
                for (name, key), ids in collisions.items()
            )
            raise JobKeyCollision(f"recomputed job keys collide, nothing changed: {described}")
        if dry_run or not report.changed:
            return report
        # Through a key no instance has, so that swapped keys never meet the unique index.
        for instance_id, _, _ in report.changed:
            connection.execute(
                update(_i)
                .where(_i.c.job_instance_id == instance_id)
                .values(job_key=f"rekey{instance_id}"[:32])
            )
        for instance_id, _, new_key in report.changed:
            connection.execute(
                update(_i).where(_i.c.job_instance_id == instance_id).values(job_key=new_key)
            )
    return report


def _spring_key(given: list[tuple[str, str, str]], spring: int) -> str | None:
    if any(java_type not in SPRING_TYPES for _, java_type, _ in given):
        return None
    parameters = {
        name: JobParameter.from_column(java_type, text, True) for name, java_type, text in given
    }
    if any(p.unreadable_type is not None for p in parameters.values()):
        return None  # a malformed stored value: its key cannot be Spring's either
    return JobParameters(parameters).job_key(spring)
