"""A partitioned job run by the operator (its publishing repository, its worker threads),
on both databases: the executions it shows name the node that ran each step (a
partition's row, else the launch's)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from jobop.domain import BatchStatus, JobParameters
from jobop.operator import JobOperator
from jobop.service.mapping import step_to_proto
from jobop_jobs.demo_partitioned import MANAGER_STEP, WORKER_STEP
from service_support import operator_on, wait_operator_ended


@pytest.fixture
def operator(db_url: str) -> Iterator[JobOperator]:
    with operator_on(db_url) as operator:
        yield operator


def wait_ended(operator: JobOperator, execution_id: int) -> BatchStatus:
    return wait_operator_ended(operator, execution_id, 30)


def test_the_operator_runs_partitions_and_shows_where_each_ran(operator: JobOperator) -> None:
    parameters = JobParameters.parse(["items=30", "partitions=3", "chunkSize=5"])
    execution = operator.start("demoPartitionedJob", parameters)
    assert wait_ended(operator, execution.id) is BatchStatus.COMPLETED
    shown = operator.get_job_execution(execution.id)
    names = [s.step_name for s in shown.step_executions]
    assert names == [MANAGER_STEP, *(f"{WORKER_STEP}:partition{i}" for i in range(3))]
    # The launch was claimed by this node; the partitions by the node that ran them here.
    nodes = {s.step_name: s.node_id for s in shown.step_executions}
    assert nodes[MANAGER_STEP] == operator.node_id
    assert set(nodes.values()) == {operator.node_id}
    assert {step_to_proto(s).node_id for s in shown.step_executions} == {operator.node_id}
    rows = operator.repository.get_partitions(execution.id)
    assert [r.ended is not None for r in rows] == [True, True, True]
