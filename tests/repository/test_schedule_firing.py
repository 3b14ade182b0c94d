"""Schedules on the operator and repository layers, on SQLite and PostgreSQL: the API with
its validation and audit rows, and the firing loop (several JobOperators on one
PostgreSQL database race as nodes do): exactly once, overlap, catch-up, pause, trigger."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from jobop.batch import JobRegistry, RepeatStatus
from jobop.batch.job import Job
from jobop.batch.step import TaskletStep
from jobop.domain import JobParameters, NoSuchJob
from jobop.domain.declarations import ParameterDeclaration
from jobop.domain.schedules import (
    FIRE_TIME_PARAMETER,
    NAME_PARAMETER,
    InvalidSchedule,
    NoSuchSchedule,
    ScheduleExists,
    ScheduleFire,
    ScheduleSpec,
)
from jobop.operator import JobOperator
from jobop.operator.scheduler import ScheduleObserver
from jobop.repository import (
    SCHEMA_VERSION,
    AuditEvent,
    AuditTrail,
    JobRepository,
    create_engine,
)
from jobop.repository.audit import auditing
from jobop.repository.schedules import ScheduleRepository


def _finish(contribution: Any, context: Any) -> RepeatStatus:
    return RepeatStatus.FINISHED


# Executions of blockingJob run until the gate opens.
GATE = threading.Event()


def _wait_for_gate(contribution: Any, context: Any) -> RepeatStatus:
    GATE.wait(60)
    return RepeatStatus.FINISHED


QUICK = Job("scheduledQuick", [TaskletStep("work", _finish)])
BLOCKING = Job("scheduledBlocking", [TaskletStep("wait", _wait_for_gate)])
DECLARED = Job(
    "scheduledDeclared",
    [TaskletStep("work", _finish)],
    parameters=[ParameterDeclaration("region", "STRING", required=True)],
)


class Counted(ScheduleObserver):
    def __init__(self) -> None:
        self.fires: list[tuple[ScheduleFire, float | None]] = []

    def recorded(self, fire: ScheduleFire, lateness: float | None) -> None:
        self.fires.append((fire, lateness))


@pytest.fixture
def nodes(db_url: str) -> Iterator[Callable[..., JobOperator]]:
    """Starts JobOperators (nodes) on the test's database; all shut down at the end."""
    started: list[tuple[JobOperator, Any]] = []
    GATE.clear()

    def start(role: str = "all") -> JobOperator:
        engine = create_engine(db_url)
        operator = JobOperator(
            JobRepository(engine),
            JobRegistry([QUICK, BLOCKING, DECLARED]),
            role=role,
        )
        started.append((operator, engine))
        return operator

    yield start
    GATE.set()
    for operator, engine in started:
        operator.shutdown(5.0)
        engine.dispose()


def _wait(condition: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _sleep_until(instant: datetime) -> None:
    time.sleep(max(0.0, (instant - datetime.now(UTC)).total_seconds()))


def _fires(operator: JobOperator, name: str) -> list[ScheduleFire]:
    return sorted(operator.list_schedule_fires(name, 1000), key=lambda f: f.fire_time)


def _events(operator: JobOperator) -> list[AuditEvent]:
    return AuditTrail(operator.repository.engine).list_events(limit=1000)


def _as(principal: str, action: str) -> Any:
    return auditing(AuditEvent(principal, "operator", action, "{}", node="test"))


# -- the API ----------------------------------------------------------------------------


def test_create_read_change_delete_with_audit_rows(nodes: Callable[..., JobOperator]) -> None:
    operator = nodes("api")  # no firing loop: the cursor stays as created
    spec = ScheduleSpec(
        "nightly",
        "scheduledQuick",
        "0 30 2 * * *",
        time_zone="Europe/Berlin",
        parameters=JobParameters.of(region="eu"),
        description="the nightly run",
    )
    with _as("alice", "CreateSchedule"):
        created = operator.create_schedule(spec)
    assert created.schedule.spec == spec
    assert created.schedule.updated_by == "alice"
    times = created.next_fire_times
    assert len(times) == 5 and times == sorted(times)
    assert all(t.astimezone(ZONE_BERLIN).strftime("%H:%M:%S") == "02:30:00" for t in times)
    assert created.schedule.next_fire_time == times[0]
    assert created.last_fire is None

    with pytest.raises(ScheduleExists) as exists:
        operator.create_schedule(spec)
    assert exists.value.reason == "SCHEDULE_EXISTS"

    with _as("bob", "UpdateSchedule"):
        changed = operator.update_schedule("nightly", {"cron": "0 0 * * * *", "overlap": "allow"})
    assert changed.schedule.spec.overlap == "allow"
    assert changed.schedule.updated_by == "bob"
    assert changed.next_fire_times[1] - changed.next_fire_times[0] == timedelta(hours=1)
    with _as("bob", "PauseSchedule"):
        paused = operator.pause_schedule("nightly")
    assert paused.schedule.spec.paused and paused.next_fire_times == []
    with _as("bob", "ResumeSchedule"):
        assert not operator.resume_schedule("nightly").schedule.spec.paused
    assert [v.schedule.spec.name for v in operator.list_schedules()] == ["nightly"]
    assert operator.get_schedule("nightly").schedule.spec.cron == "0 0 * * * *"

    with _as("carol", "DeleteSchedule"):
        operator.delete_schedule("nightly")
    for call in (
        lambda: operator.get_schedule("nightly"),
        lambda: operator.delete_schedule("nightly"),
        lambda: operator.pause_schedule("nightly"),
        lambda: operator.trigger_schedule("nightly"),
        lambda: operator.list_schedule_fires("nightly", 10),
    ):
        with pytest.raises(NoSuchSchedule) as missing:
            call()
        assert missing.value.reason == "NO_SUCH_SCHEDULE"

    rows = [(e.principal, e.action, e.job_name) for e in reversed(_events(operator))]
    assert rows == [
        ("alice", "CreateSchedule", "scheduledQuick"),
        ("bob", "UpdateSchedule", "scheduledQuick"),
        ("bob", "PauseSchedule", "scheduledQuick"),
        ("bob", "ResumeSchedule", "scheduledQuick"),
        ("carol", "DeleteSchedule", "scheduledQuick"),
    ]


ZONE_BERLIN = __import__("zoneinfo").ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": "bad name"}, "name"),
        ({"name": ""}, "name"),
        ({"name": "preview"}, "name"),
        ({"cron": "61 * * * * *"}, "cron"),
        ({"cron": ""}, "cron"),
        ({"time_zone": "Mars/Olympus"}, "timeZone"),
        ({"overlap": "sometimes"}, "overlap"),
        ({"catch_up": "every"}, "catchUp"),
        ({"max_catch_up": 0}, "maxCatchUp"),
        ({"parameters": JobParameters.of(**{NAME_PARAMETER: "x"})}, "parameters"),
        ({"job_name": "scheduledDeclared"}, "parameters"),  # region is required
        ({"description": "x" * 1001}, "description"),
    ],
)
def test_invalid_schedules_name_the_field(
    nodes: Callable[..., JobOperator], change: dict[str, Any], field: str
) -> None:
    operator = nodes("api")
    spec = ScheduleSpec("s", "scheduledQuick", "*/2 * * * * *")
    values = {**spec.__dict__, **change}
    with pytest.raises(InvalidSchedule) as refused:
        operator.create_schedule(ScheduleSpec(**values))
    assert refused.value.field == field
    assert refused.value.reason == "INVALID_ARGUMENT"
    assert operator.list_schedules() == []


def test_unknown_job_and_unknown_change_are_refused(nodes: Callable[..., JobOperator]) -> None:
    operator = nodes("api")
    with pytest.raises(NoSuchJob):
        operator.create_schedule(ScheduleSpec("s", "noSuchJob", "* * * * * *"))
    operator.create_schedule(
        ScheduleSpec("s", "scheduledDeclared", "@daily", parameters=JobParameters.of(region="eu"))
    )
    with pytest.raises(InvalidSchedule) as unknown:
        operator.update_schedule("s", {"colour": "red"})
    assert "colour" in str(unknown.value)
    with pytest.raises(InvalidSchedule) as renamed:
        operator.update_schedule("s", {"name": "t"})
    assert renamed.value.field == "name"
    with pytest.raises(InvalidSchedule) as emptied:
        operator.update_schedule("s", {"parameters": JobParameters()})
    assert emptied.value.field == "parameters"
    assert operator.get_schedule("s").schedule.spec.parameters == JobParameters.of(region="eu")


# -- firing ----------------------------------------------------------------------------


def test_fires_run_each_once_as_their_own_instance(nodes: Callable[..., JobOperator]) -> None:
    operator = nodes()
    counted = Counted()
    operator.scheduler.add_observer(counted)
    view = operator.create_schedule(
        ScheduleSpec("every-second", "scheduledQuick", "* * * * * *", overlap="allow")
    )
    first = view.next_fire_times[0]
    _wait(lambda: len(_launched(operator, "every-second")) >= 3, "three fires")
    operator.pause_schedule("every-second")

    def settled() -> tuple[list[ScheduleFire], list[AuditEvent]] | None:
        # A fire claimed before the pause may still be starting (long on a busy machine):
        # read once every Start has its LAUNCHED fire and every fire was told, and back.
        fires = _launched(operator, "every-second")
        starts = [e for e in _events(operator) if e.action == "Start"]
        told = [(f.fire_time, f.outcome) for f, lateness in counted.fires if lateness is not None]
        if sorted(e.execution_id for e in starts) != sorted(f.execution_id for f in fires):
            return None
        return (fires, starts) if told == [(f.fire_time, "LAUNCHED") for f in fires] else None

    fires, starts = _wait(settled, "each Start to have its LAUNCHED fire, told")
    assert [f.fire_time for f in fires] == [first + timedelta(seconds=i) for i in range(len(fires))]
    for fire in fires:
        assert fire.execution_id is not None and not fire.triggered
        parameters = operator.get_job_execution(fire.execution_id).job_parameters
        assert parameters[NAME_PARAMETER].value == "every-second"
        assert parameters[FIRE_TIME_PARAMETER].value == fire.fire_time
        assert parameters[FIRE_TIME_PARAMETER].identifying
    assert {e.principal for e in starts} == {"schedule:every-second"}


def _launched(operator: JobOperator, name: str) -> list[ScheduleFire]:
    return [f for f in _fires(operator, name) if f.outcome == "LAUNCHED"]


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_three_nodes_fire_each_once_with_no_gap(nodes: Callable[..., JobOperator]) -> None:
    operators = [nodes() for _ in range(3)]
    counters = [Counted() for _ in operators]
    for operator, counted in zip(operators, counters, strict=True):
        operator.scheduler.add_observer(counted)
    view = operators[0].create_schedule(
        ScheduleSpec("raced", "scheduledQuick", "* * * * * *", overlap="allow")
    )
    first = view.next_fire_times[0]
    _wait(lambda: len(_launched(operators[1], "raced")) >= 5, "five fires")
    operators[2].pause_schedule("raced")

    def settled() -> list[ScheduleFire] | None:
        # A fire claimed before the pause may still be starting (long on a busy machine):
        # read once every fire is LAUNCHED and was told.
        fires = _fires(operators[0], "raced")
        told = sorted(f.fire_time for counted in counters for f, _ in counted.fires)
        launched = all(f.outcome == "LAUNCHED" for f in fires)
        return fires if launched and told == [f.fire_time for f in fires] else None

    fires = _wait(settled, "every fire LAUNCHED and told")
    assert [f.fire_time for f in fires] == [first + timedelta(seconds=i) for i in range(len(fires))]
    executions = [f.execution_id for f in fires]
    assert len(set(executions)) == len(executions)
    instances = operators[0].explorer.get_job_instance_count("scheduledQuick")
    assert instances == len(fires)
    # Each fire was counted by one node only.
    told = [f.fire_time for counted in counters for f, _ in counted.fires]
    assert len(told) == len(set(told)) == len(fires)


def test_skip_never_runs_two_executions_at_once(
    nodes: Callable[..., JobOperator], db_url: str
) -> None:
    operators = [nodes() for _ in range(3 if "postgresql" in db_url else 1)]
    operators[0].create_schedule(ScheduleSpec("skipping", "scheduledBlocking", "* * * * * *"))
    fires = _wait(
        lambda: (f := _fires(operators[0], "skipping")) and len(f) >= 4 and f,
        "a launched fire and three skipped",
    )
    assert fires[0].outcome == "LAUNCHED"
    assert {f.outcome for f in fires[1:]} == {"SKIPPED"}
    assert "overlap skip" in fires[1].reason
    assert len(operators[0].get_running_executions("scheduledBlocking")) == 1
    GATE.set()
    second = _wait(
        lambda: [f for f in _launched(operators[0], "skipping") if f != fires[0]],
        "a launch once the first ended",
    )
    first_execution = operators[0].get_job_execution(fires[0].execution_id or 0)
    assert first_execution.status.value == "COMPLETED"
    assert second[0].fire_time > fires[-1].fire_time


def test_queue_keeps_one_fire_waiting(nodes: Callable[..., JobOperator]) -> None:
    operator = nodes()
    operator.create_schedule(
        ScheduleSpec("queued", "scheduledBlocking", "* * * * * *", overlap="queue")
    )
    fires = _wait(lambda: (f := _fires(operator, "queued")) and len(f) >= 4 and f, "fires")
    assert [f.outcome for f in fires[:3]] == ["LAUNCHED", "PENDING", "SKIPPED"]
    assert "waits" in fires[1].reason
    operator.pause_schedule("queued")
    GATE.set()
    waited = _wait(
        lambda: (
            (f := operator.list_schedule_fires("queued", 1000))
            and [x for x in f if x.fire_time == fires[1].fire_time and x.outcome == "LAUNCHED"]
        ),
        "the waiting fire launched",
    )[0]
    started = operator.get_job_execution(waited.execution_id or 0)
    ended = operator.get_job_execution(fires[0].execution_id or 0)
    assert ended.end_time is not None and started.create_time >= ended.end_time


@pytest.mark.parametrize(
    ("catch_up", "outcomes"),
    [
        ("none", ["MISSED", "MISSED", "MISSED"]),
        ("latest", ["MISSED", "MISSED", "LAUNCHED"]),
        ("all", ["LAUNCHED", "LAUNCHED", "LAUNCHED"]),
    ],
)
def test_catch_up_after_downtime(
    nodes: Callable[..., JobOperator], catch_up: str, outcomes: list[str]
) -> None:
    # An api node runs no firing loop: while it alone is up, the cluster fires nothing.
    api = nodes("api")
    view = api.create_schedule(
        ScheduleSpec("caught", "scheduledQuick", "*/2 * * * * *", catch_up=catch_up)
    )
    missed = view.next_fire_times[:3]
    _sleep_until(missed[-1] + timedelta(seconds=1.2))  # past the misfire threshold (1 s)
    worker = nodes()

    def settled() -> list[ScheduleFire]:
        fires = [f for f in _fires(worker, "caught") if f.fire_time <= missed[-1]]
        return fires if len(fires) == 3 and all(f.outcome != "PENDING" for f in fires) else []

    fires = _wait(settled, "the missed fires settled")
    assert [f.fire_time for f in fires] == missed
    assert [f.outcome for f in fires] == outcomes
    executions = [f.execution_id for f in fires if f.outcome == "LAUNCHED"]
    assert executions == sorted(executions)  # in order
    for fire in fires:
        if fire.outcome == "MISSED":
            assert f"catch-up {catch_up}" in fire.reason or "maxCatchUp" in fire.reason


def test_paused_schedule_does_not_fire_and_resumes_from_now(
    nodes: Callable[..., JobOperator],
) -> None:
    operator = nodes()
    view = operator.create_schedule(
        ScheduleSpec("paused", "scheduledQuick", "* * * * * *", paused=True)
    )
    assert view.next_fire_times == []
    created = view.schedule.next_fire_time
    assert created is not None
    _sleep_until(created + timedelta(seconds=1.5))
    assert operator.list_schedule_fires("paused", 10) == []
    resumed = operator.resume_schedule("paused")
    assert resumed.schedule.next_fire_time is not None
    assert resumed.schedule.next_fire_time > created + timedelta(seconds=1)
    assert resumed.next_fire_times[0] == resumed.schedule.next_fire_time
    fire = _wait(lambda: _launched(operator, "paused"), "a fire after resume")[0]
    assert fire.fire_time == resumed.schedule.next_fire_time


def test_trigger_fires_now_under_the_overlap_policy(nodes: Callable[..., JobOperator]) -> None:
    operator = nodes()
    operator.create_schedule(ScheduleSpec("manual", "scheduledBlocking", "@yearly"))
    with _as("dave", "TriggerSchedule"):
        fire = operator.trigger_schedule("manual")
    assert fire.outcome == "LAUNCHED" and fire.triggered and fire.execution_id is not None
    assert abs(datetime.now(UTC) - fire.fire_time) < timedelta(minutes=1)
    again = operator.trigger_schedule("manual")
    assert again.outcome == "SKIPPED" and again.triggered  # the first still runs
    assert operator.get_schedule("manual").last_fire == again
    actions = [(e.principal, e.action, e.execution_id) for e in reversed(_events(operator))]
    assert actions[:2] == [
        ("dave", "TriggerSchedule", None),
        ("schedule:manual", "Start", fire.execution_id),
    ]


def test_a_fire_started_twice_makes_one_instance(nodes: Callable[..., JobOperator]) -> None:
    # Two nodes starting one pending fire (its claimer presumed dead) collide on the
    # instance: the second records the first's execution.
    first, second = nodes("api"), nodes("api")
    first.create_schedule(ScheduleSpec("twice", "scheduledQuick", "@yearly", overlap="allow"))
    fire = first.trigger_schedule("twice")
    store = ScheduleRepository(second.repository.engine)
    schedule = store.get("twice")
    assert schedule is not None
    second.scheduler._launch(schedule, fire)
    assert _fires(second, "twice") == [fire]
    assert second.explorer.get_job_instance_count("scheduledQuick") == 1


def test_old_fire_records_are_purged(nodes: Callable[..., JobOperator]) -> None:
    operator = nodes("api")
    operator.create_schedule(ScheduleSpec("purged", "scheduledQuick", "@yearly"))
    fire = operator.trigger_schedule("purged")
    store = ScheduleRepository(operator.repository.engine)
    assert store.purge_fires(fire.recorded) == 0
    assert store.purge_fires(fire.recorded + timedelta(seconds=1)) == 1
    assert operator.list_schedule_fires("purged", 10) == []


def test_a_version_6_database_gets_the_schedule_tables(blank_db_url: str) -> None:
    from jobop.repository import upgrade_schema
    from jobop.repository.engine import write_transaction
    from jobop.repository.migrations import MIGRATIONS, _apply
    from jobop.repository.settings import RepositorySettings
    from sqlalchemy import inspect

    engine = create_engine(blank_db_url)
    try:
        with write_transaction(engine) as connection:
            _apply(connection, list(MIGRATIONS[:6]), RepositorySettings())
        assert "jobop_schedule" not in inspect(engine).get_table_names()
        assert upgrade_schema(engine) == SCHEMA_VERSION
        assert {"jobop_schedule", "jobop_schedule_fire"} <= set(inspect(engine).get_table_names())
        assert ScheduleRepository(engine).list_schedules() == []
    finally:
        engine.dispose()


def test_triggers_within_one_second_are_fires_of_their_own(
    nodes: Callable[..., JobOperator],
) -> None:
    # JOB_KEY spells a date to the second: each trigger takes a second of its own, and
    # never one the cron expression fires at.
    operator = nodes()
    operator.create_schedule(
        ScheduleSpec("quick", "scheduledQuick", "*/2 * * * * *", overlap="allow", paused=True)
    )
    fires = [operator.trigger_schedule("quick") for _ in range(3)]
    assert [f.outcome for f in fires] == ["LAUNCHED"] * 3
    assert len({f.execution_id for f in fires}) == 3
    assert all(f.fire_time.microsecond == 0 for f in fires)
    assert len({f.fire_time for f in fires}) == 3
    assert fires[0].fire_time.second % 2 == 1  # not a second the cron expression fires at
    assert operator.explorer.get_job_instance_count("scheduledQuick") == 3


def test_a_trigger_of_a_schedule_firing_every_second_stands_for_that_seconds_fire(
    nodes: Callable[..., JobOperator],
) -> None:
    operator = nodes()
    operator.create_schedule(ScheduleSpec("busy", "scheduledQuick", "* * * * * *", overlap="allow"))
    fire = operator.trigger_schedule("busy")
    assert fire.outcome == "LAUNCHED"
    _wait(lambda: any(f.fire_time > fire.fire_time for f in _launched(operator, "busy")), "more")
    operator.pause_schedule("busy")
    times = [f.fire_time for f in _fires(operator, "busy")]
    assert len(times) == len(set(times))  # the trigger's second was recorded once
    assert [f.triggered for f in _fires(operator, "busy") if f.fire_time == fire.fire_time] == [
        True
    ]


def test_a_fire_whose_claimer_died_before_starting_it_is_started_by_another_node(
    nodes: Callable[..., JobOperator],
) -> None:
    from jobop.domain.schedules import PENDING, PlannedFire

    api = nodes("api")
    view = api.create_schedule(ScheduleSpec("orphan", "scheduledQuick", "@yearly"))
    store = ScheduleRepository(api.repository.engine)
    now = datetime.now(UTC).replace(microsecond=0)
    fire_time = now - timedelta(seconds=30)
    # A node claims a fire and dies before its Start: the fire stays pending.
    claimed = store.claim(
        "orphan",
        view.schedule.next_fire_time,
        view.schedule.next_fire_time,
        lambda busy: [PlannedFire(fire_time, PENDING)],
        "dead-node",
        now,
    )
    assert claimed is not None and claimed[0].outcome == PENDING
    survivor = nodes()
    fire = _wait(lambda: _launched(survivor, "orphan"), "the orphan fire launched")[0]
    assert (fire.fire_time, fire.node_id) == (fire_time, survivor.node_id)
    assert fire.recorded == now  # when it was claimed, not when it was taken over
    parameters = survivor.get_job_execution(fire.execution_id or 0).job_parameters
    assert parameters[FIRE_TIME_PARAMETER].value == fire_time


# -- the pure rules ----------------------------------------------------------------------


def test_a_long_downtime_walks_only_the_newest_fire_times() -> None:
    from jobop.domain.cron import CronExpression, time_zone
    from jobop.operator.scheduler import _due_times

    cron, zone = CronExpression.parse("* * * * * *"), time_zone("UTC")
    now = datetime(2026, 3, 1, 12, 0, 0, 500_000, tzinfo=UTC)
    cursor = now - timedelta(days=7)  # 604,800 fires behind
    due, following = _due_times(cron, zone, cursor.replace(microsecond=0), now, 1000)
    assert len(due) == 1000
    assert due[-1] == now.replace(microsecond=0) and following == due[-1] + timedelta(seconds=1)
    assert due == [due[0] + timedelta(seconds=i) for i in range(1000)]
    # Close behind: every fire from the cursor on.
    weekdays = CronExpression.parse("0 0 9 * * MON-FRI")
    start = datetime(2026, 2, 2, 9, tzinfo=UTC)  # a Monday
    due, following = _due_times(weekdays, zone, start, now, 1000)
    assert len(due) == 20 and due[0] == start and following == datetime(2026, 3, 2, 9, tzinfo=UTC)
    due, _ = _due_times(weekdays, zone, start, now, 3)  # far behind for three
    assert due == [datetime(2026, 2, d, 9, tzinfo=UTC) for d in (25, 26, 27)]


def test_fire_plans_follow_the_misfire_threshold_catch_up_and_overlap() -> None:
    from jobop.domain.schedules import Busy, plan_fires

    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    two = [t0 + timedelta(seconds=2 * i) for i in range(4)]
    now = two[-1] + timedelta(seconds=0.5)  # the last is on time, the others missed
    spec = ScheduleSpec("p", "j", "*/2 * * * * *")
    idle, running = Busy(0, 0), Busy(1, 0)

    def outcomes(spec: ScheduleSpec, busy: Busy = idle) -> list[str]:
        return [f.outcome for f in plan_fires(spec, two, two[-1] + timedelta(seconds=2), now, busy)]

    assert outcomes(spec) == ["MISSED", "MISSED", "PENDING", "PENDING"]  # latest
    assert outcomes(replace(spec, catch_up="none")) == ["MISSED", "MISSED", "MISSED", "PENDING"]
    assert outcomes(replace(spec, catch_up="all")) == ["PENDING"] * 4
    assert outcomes(replace(spec, catch_up="all", max_catch_up=2)) == [
        "MISSED",
        "PENDING",
        "PENDING",
        "PENDING",
    ]
    assert outcomes(spec, running) == ["MISSED", "MISSED", "SKIPPED", "SKIPPED"]
    assert outcomes(replace(spec, overlap="queue"), running) == [
        "MISSED",
        "MISSED",
        "PENDING",
        "SKIPPED",
    ]
    assert outcomes(replace(spec, overlap="queue"), Busy(1, 1))[2:] == ["SKIPPED", "SKIPPED"]
    assert outcomes(replace(spec, overlap="allow"), running)[2:] == ["PENDING", "PENDING"]
    hourly = [t0]
    late = plan_fires(spec, hourly, t0 + timedelta(hours=1), t0 + timedelta(seconds=59), idle)
    assert late[0].outcome == "PENDING"  # within a minute: on time
    later = plan_fires(spec, hourly, t0 + timedelta(hours=1), t0 + timedelta(seconds=61), idle)
    assert later[0].outcome == "PENDING" and "missed" not in later[0].reason  # latest runs it
    none = replace(spec, catch_up="none")
    assert (
        plan_fires(none, hourly, t0 + timedelta(hours=1), t0 + timedelta(seconds=61), idle)[
            0
        ].outcome
        == "MISSED"
    )
