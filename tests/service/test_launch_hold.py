"""LaunchHold: a Start's execution reaches the launcher when the call has ended, and never
gets lost on the way (the gRPC service releases holds when the response is sent)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from jobop.domain import BatchStatus, JobParameters
from jobop.operator import JobOperator
from service_support import operator_on, wait_operator_ended

NO_OP = JobParameters.of(durationMs=0)


@pytest.fixture
def operator(db_url: str) -> Iterator[JobOperator]:
    with operator_on(db_url) as operator:
        yield operator


def wait_ended(operator: JobOperator, execution_id: int) -> BatchStatus:
    return wait_operator_ended(operator, execution_id, 10)


def test_a_held_execution_runs_once_released(operator: JobOperator) -> None:
    hold = operator.new_hold()
    execution = operator.start("demoTaskletJob", NO_OP, hold=hold)
    time.sleep(0.3)
    assert operator.get_job_execution(execution.id).status is BatchStatus.STARTING
    assert operator.running_execution_ids == []
    hold.release()
    hold.release()  # idempotent
    assert wait_ended(operator, execution.id) is BatchStatus.COMPLETED


def test_an_execution_held_after_release_runs_at_once(operator: JobOperator) -> None:
    hold = operator.new_hold()
    hold.release()
    execution = operator.start("demoTaskletJob", NO_OP, hold=hold)
    assert wait_ended(operator, execution.id) is BatchStatus.COMPLETED


def test_shutdown_releases_held_executions_and_stops_them(operator: JobOperator) -> None:
    hold = operator.new_hold()
    execution = operator.start("demoTaskletJob", JobParameters.of(durationMs=60_000), hold=hold)
    assert operator.shutdown(5.0)
    # Queued by the release, drained by the shutdown: never ran, STOPPED and restartable.
    assert operator.get_job_execution(execution.id).status is BatchStatus.STOPPED
    hold.release()  # the service's late callback changes nothing
    # The stoppable tasklet's stop poller ended with the shutdown, not 5 s later.
    assert operator._runner._stop_poller._thread is None


def test_a_hold_released_after_shutdown_stops_its_execution(operator: JobOperator) -> None:
    hold = operator.new_hold()
    execution = operator.start("demoTaskletJob", NO_OP, hold=hold)
    operator._holds.discard(hold)  # as if the hold had been made while shutting down
    operator.shutdown(5.0)
    hold.release()  # the launcher is closed now
    assert operator.get_job_execution(execution.id).status is BatchStatus.STOPPED
