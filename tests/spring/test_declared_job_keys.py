"""Declared parameters keep Spring's JOB_KEY: a start that left parameters to their defaults
and gave text for typed ones is found by a Spring Batch application (a real JVM running
Spring's DAO statements and key generator) from the typed parameters alone, on SQLite and
PostgreSQL. Defaults are for job code; they are never stored, so never in the key."""

from __future__ import annotations

import pytest
from jobop.batch import Job, JobLauncher, RepeatStatus, TaskletStep
from jobop.domain import BatchStatus, JobParameters, ParameterDeclaration
from jobop.repository import ContextFormat, JobRepository, create_engine, init_schema
from spring_oracle import Oracle, describe, java_parameters

JOB = Job(
    "declaredJob",
    [TaskletStep("work", lambda contribution, context: RepeatStatus.FINISHED)],
    parameters=[
        ParameterDeclaration("items", "LONG", default=100),
        ParameterDeclaration("when", "DATE"),
        ParameterDeclaration("ratio", "DOUBLE", default=1.5),
        ParameterDeclaration("region", default="eu"),  # identifying, left to its default
        ParameterDeclaration("chunkSize", "LONG", identifying=False, default=10),
        ParameterDeclaration("dryRun", "BOOLEAN", identifying=False, default=False),
    ],
)


@pytest.mark.parametrize("spring", [5, 6])
def test_spring_finds_the_instance_of_a_start_that_relied_on_defaults_and_conversion(
    oracle: Oracle, blank_db_url: str, spring: int
) -> None:
    fmt = ContextFormat.JACKSON
    engine = create_engine(blank_db_url)
    try:
        init_schema(engine, context_format=fmt, spring_schema=spring)
        repository = JobRepository(engine)
        # As `jobctl start declaredJob items=6 when=2024-03-15 ratio=2 dryRun=true` sends it.
        given = JobParameters.parse(["items=6", "when=2024-03-15", "ratio=2", "dryRun=true"])
        execution = JobLauncher(repository).launch(JOB, given)
        assert execution.status is BatchStatus.COMPLETED
        key = execution.job_instance.job_key
    finally:
        engine.dispose()

    # What a Spring application launches with the same values, typed.
    typed = JobParameters.parse(
        ["items=6,long", "when=2024-03-15,date", "ratio=2.0,double", "dryRun=true,boolean,false"]
    )
    assert JOB.parameters is not None
    with_defaults = JOB.parameters.with_defaults(typed)
    found, not_found, read = oracle.dao(
        blank_db_url,
        spring,
        fmt,
        {"do": "find-instance", "job": JOB.name, "parameters": java_parameters(typed)},
        {"do": "find-instance", "job": JOB.name, "parameters": java_parameters(with_defaults)},
        {"do": "read", "execution": execution.id},
    )
    assert found["instance"] == execution.job_instance_id
    # The defaults were not recorded: with them, Spring names another instance.
    assert not_found["instance"] is None
    # Spring reads back the typed values, with the declared identifying flags, and no more.
    assert read["key"] == key
    assert read["parameters"] == {
        name: {"value": describe(p.value), "identifying": p.identifying}
        for name, p in typed.items()
    }
    (computed,) = oracle.ask(
        [{"op": "job-key", "spring": spring, "zone": "UTC", "parameters": java_parameters(typed)}]
    )
    assert computed["key"] == key
