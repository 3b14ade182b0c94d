"""The workload control RPCs through a real gRPC server with bearer tokens, on SQLite and
PostgreSQL: GetJobSettings, UpdateJobSettings, PauseJob, ResumeJob and ListQueue, the
roles that may call them, their audit rows, `priority` on the launches, and the statuses
and reasons of malformed requests (which change nothing)."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest
from bearer_tokens import ROLE_TOKENS
from google.protobuf.field_mask_pb2 import FieldMask
from jobop_client._proto.jobop.v1 import job_operator_pb2 as pb
from jobop_client._proto.jobop.v1 import job_operator_pb2_grpc as pb_grpc
from jobop_client.parameters import to_proto_map
from service_support import InProcessServer, rpc_error
from sqlalchemy import text

JOB = "demoTaskletJob"
RUNNING = (pb.BATCH_STATUS_STARTING, pb.BATCH_STATUS_STARTED, pb.BATCH_STATUS_STOPPING)


class Api:
    """The server's stub, each call made as one of ROLE_TOKENS' roles."""

    def __init__(self, stub: pb_grpc.JobOperatorServiceStub) -> None:
        self.stub = stub

    def __call__(self, method: str, request: Any, role: str = "admin") -> Any:
        metadata = [("authorization", f"Bearer {ROLE_TOKENS[role]}")]
        return getattr(self.stub, method)(request, metadata=metadata, timeout=30)

    def execution(self, execution_id: int) -> pb.JobExecution:
        request = pb.GetJobExecutionRequest(execution_id=execution_id)
        return self("GetJobExecution", request, "viewer").execution

    def wait(
        self, execution_id: int, done: Callable[[pb.JobExecution], bool], what: str
    ) -> pb.JobExecution:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            execution = self.execution(execution_id)
            if done(execution):
                return execution
            time.sleep(0.02)
        raise AssertionError(f"execution {execution_id} not {what}: {execution}")

    def start(self, priority: int = 0, duration_ms: int = 1, **values: Any) -> pb.JobExecution:
        parameters = to_proto_map({"durationMs": duration_ms, "run.id": time.time_ns(), **values})
        request = pb.StartRequest(job_name=JOB, parameters=parameters, priority=priority)
        return self("Start", request, "operator").execution

    def settings(self, job: str = JOB, role: str = "viewer") -> pb.JobWorkload:
        request = pb.GetJobSettingsRequest(job_names=[job])
        jobs = self("GetJobSettings", request, role).jobs
        assert [workload.job_name for workload in jobs] == [job]
        return jobs[0]

    def update(
        self, paths: list[str], role: str = "admin", job: str = JOB, **values: Any
    ) -> pb.JobWorkload:
        request = pb.UpdateJobSettingsRequest(
            job_name=job,
            settings=pb.JobSettingsOverride(**values),
            update_mask=FieldMask(paths=paths),
        )
        return self("UpdateJobSettings", request, role).job

    def queue(self, job: str = "", page_size: int = 0) -> pb.ListQueueResponse:
        request = pb.ListQueueRequest(job_name=job, page_size=page_size)
        response: pb.ListQueueResponse = self("ListQueue", request, "viewer")
        return response


@pytest.fixture
def api(roles_server: InProcessServer) -> Iterator[Api]:
    with grpc.insecure_channel(roles_server.address) as channel:
        yield Api(pb_grpc.JobOperatorServiceStub(channel))


def _is(*statuses: int) -> Callable[[pb.JobExecution], bool]:
    return lambda execution: execution.status in statuses


def _audit_rows(server: InProcessServer, since: int = 0) -> list[Any]:
    with server.operator.repository.engine.connect() as connection:
        return list(
            connection.execute(
                text("SELECT * FROM jobop_audit WHERE audit_id > :since ORDER BY audit_id"),
                {"since": since},
            )
        )


def _execution_count(server: InProcessServer) -> int:
    with server.operator.repository.engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM batch_job_execution")).scalar())


# -- settings ---------------------------------------------------------------------------


def test_settings_are_read_set_and_cleared(api: Api) -> None:
    before = api.settings()
    assert not before.settings.HasField("max_concurrent")
    assert not before.override.HasField("max_concurrent")
    assert not before.settings.paused
    assert (before.running, before.queued) == (0, 0)

    changed = api.update(
        ["max_concurrent", "concurrency_key", "max_duration_seconds"],
        max_concurrent=2,
        concurrency_key="tenant",
        max_duration_seconds=600.5,
    )
    assert changed.settings.max_concurrent == 2
    assert changed.settings.concurrency_key == "tenant"
    assert changed.settings.max_duration_seconds == 600.5
    assert changed.override.max_concurrent == 2
    assert changed.override.updated_by == "admin-user"
    assert changed.override.HasField("updated")
    assert not changed.declared.HasField("max_concurrent")
    assert not changed.override.HasField("paused")  # not named in the mask: left as it was
    assert api.settings() == changed

    # Every job, sorted, this one among them with the change.
    every = api("GetJobSettings", pb.GetJobSettingsRequest(), "viewer").jobs
    names = [workload.job_name for workload in every]
    assert names == sorted(names) and JOB in names and "countJob" in names
    assert every[names.index(JOB)].settings.max_concurrent == 2

    # A masked field left unset is cleared; the others stay.
    cleared = api.update(["max_concurrent", "concurrency_key"])
    assert not cleared.settings.HasField("max_concurrent")
    assert not cleared.override.HasField("concurrency_key")
    assert cleared.settings.max_duration_seconds == 600.5
    # An empty mask names what `settings` sets; "*" names all five (unset: cleared).
    assert api.update([], max_concurrent=3).settings.max_concurrent == 3
    everything = api.update(["*"])
    for name in ("max_concurrent", "concurrency_key", "max_duration_seconds", "paused"):
        assert not everything.override.HasField(name), name


def test_pause_holds_starts_in_the_queue_in_priority_order_and_resume_runs_them(
    api: Api,
) -> None:
    paused = api("PauseJob", pb.PauseJobRequest(job_name=JOB), "operator")
    assert paused.job.settings.paused and list(paused.stopped_execution_ids) == []
    low = api.start(priority=-5)
    high = api.start(priority=7)
    middle = api.start()
    assert (high.priority, low.priority) == (7, -5)

    queue = api.queue(JOB)
    assert queue.total == 3
    assert [entry.execution_id for entry in queue.executions] == [high.id, middle.id, low.id]
    assert [entry.position for entry in queue.executions] == [1, 2, 3]
    assert [entry.priority for entry in queue.executions] == [7, 0, -5]
    assert {entry.waiting_for for entry in queue.executions} == {f"{JOB} is paused"}
    assert all(entry.job_name == JOB and entry.queued_seconds >= 0 for entry in queue.executions)
    # The head of the queue, with the total beyond it; every job's queue holds the same.
    head = api.queue(JOB, page_size=1)
    assert ([e.execution_id for e in head.executions], head.total) == ([high.id], 3)
    assert [e.execution_id for e in api.queue().executions] == [high.id, middle.id, low.id]
    assert api.queue("countJob").total == 0
    workload = api.settings()
    assert (workload.queued, workload.running) == (3, 0)
    assert api.execution(high.id).status == pb.BATCH_STATUS_STARTING
    assert api.execution(high.id).priority == 7

    resumed = api("ResumeJob", pb.ResumeJobRequest(job_name=JOB), "operator")
    assert not resumed.job.settings.paused
    for execution in (high, middle, low):
        ended = api.wait(execution.id, _is(pb.BATCH_STATUS_COMPLETED), "completed")
        assert ended.priority == execution.priority
    assert api.queue(JOB).total == 0


def test_a_start_over_the_limit_waits_saying_why(api: Api) -> None:
    api.update(["max_concurrent"], max_concurrent=1)
    first = api.start(duration_ms=60_000)
    api.wait(first.id, _is(pb.BATCH_STATUS_STARTED), "started")
    second = api.start(duration_ms=1)
    queue = api.queue(JOB)
    assert [(e.execution_id, e.waiting_for) for e in queue.executions] == [
        (second.id, f"limit 1 of {JOB} reached (1 running)")
    ]
    assert api.settings().running == 1
    # Stopping the one running frees its slot: the waiting one runs.
    api("Stop", pb.StopRequest(execution_id=first.id), "operator")
    api.wait(first.id, _is(pb.BATCH_STATUS_STOPPED), "stopped")
    api.wait(second.id, _is(pb.BATCH_STATUS_COMPLETED), "completed")


def test_pause_with_stop_running_stops_the_running_executions(api: Api) -> None:
    running = api.start(duration_ms=60_000)
    api.wait(running.id, _is(pb.BATCH_STATUS_STARTED), "started")
    request = pb.PauseJobRequest(job_name=JOB, stop_running=True)
    paused = api("PauseJob", request, "operator")
    assert list(paused.stopped_execution_ids) == [running.id]
    api.wait(running.id, _is(pb.BATCH_STATUS_STOPPED), "stopped")
    assert api.settings().settings.paused


# -- roles and audit --------------------------------------------------------------------


def test_roles_viewer_reads_operator_pauses_admin_changes_settings(api: Api) -> None:
    pause = pb.PauseJobRequest(job_name=JOB)
    resume = pb.ResumeJobRequest(job_name=JOB)
    for role in ("viewer", "operator", "admin"):
        assert api.settings(role=role).job_name == JOB
        assert api("ListQueue", pb.ListQueueRequest(), role).total == 0
    for call in (
        lambda: api("PauseJob", pause, "viewer"),
        lambda: api("ResumeJob", resume, "viewer"),
        lambda: api.update(["max_concurrent"], "viewer", max_concurrent=1),
        lambda: api.update(["max_concurrent"], "operator", max_concurrent=1),
        lambda: api.update(["paused"], "operator", paused=True),
    ):
        code, reason, _, _ = rpc_error(call)
        assert (code, reason) == (grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED")
    assert not api.settings().override.HasField("max_concurrent")
    assert api("PauseJob", pause, "operator").job.settings.paused
    assert not api("ResumeJob", resume, "admin").job.settings.paused
    assert api.update(["max_concurrent"], max_concurrent=4).settings.max_concurrent == 4


def test_the_three_writes_are_audited_with_their_outcome(
    api: Api, roles_server: InProcessServer
) -> None:
    api.update(["max_concurrent", "concurrency_key"], max_concurrent=2, concurrency_key="tenant")
    api("PauseJob", pb.PauseJobRequest(job_name=JOB, stop_running=True), "operator")
    api("ResumeJob", pb.ResumeJobRequest(job_name=JOB), "admin")
    rpc_error(lambda: api.update(["max_concurrent"], "operator", max_concurrent=1))
    rpc_error(lambda: api.update(["max_concurrent"], max_concurrent=0))
    rpc_error(lambda: api("PauseJob", pb.PauseJobRequest(job_name="noSuchJob"), "operator"))

    rows = _audit_rows(roles_server)
    seen = [(r.action, r.principal, r.role, r.succeeded, r.job_name, r.reason) for r in rows]
    assert seen == [
        ("UpdateJobSettings", "admin-user", "admin", "Y", JOB, None),
        ("PauseJob", "operator-user", "operator", "Y", JOB, None),
        ("ResumeJob", "admin-user", "admin", "Y", JOB, None),
        ("UpdateJobSettings", "operator-user", "operator", "N", JOB, "PERMISSION_DENIED"),
        ("UpdateJobSettings", "admin-user", "admin", "N", JOB, "INVALID_ARGUMENT"),
        ("PauseJob", "operator-user", "operator", "N", "noSuchJob", "NO_SUCH_JOB"),
    ]
    assert all(r.job_execution_id is None and r.peer.startswith("ipv4:127.0.0.1:") for r in rows)
    assert json.loads(rows[0].arguments) == {
        "jobName": JOB,
        "settings": {"maxConcurrent": 2, "concurrencyKey": "tenant"},
        "updateMask": {"paths": ["max_concurrent", "concurrency_key"]},
    }
    assert json.loads(rows[1].arguments) == {"jobName": JOB, "stopRunning": True}
    assert "maxConcurrent" in rows[4].message


# -- malformed requests -----------------------------------------------------------------


def _refused(call: Callable[[], Any]) -> tuple[grpc.StatusCode, str, str, str]:
    """(code, reason, field, message) of a call that must fail."""
    code, reason, metadata, message = rpc_error(call)
    return code, reason, metadata.get("field", ""), message


INVALID = grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize(
    ("paths", "values", "field", "words"),
    [
        (["max_concurent"], {"max_concurrent": 2}, "update_mask", "'max_concurent'"),
        (["updated_by"], {}, "update_mask", "'updated_by', which is not a setting"),
        (["*", "paused"], {}, "update_mask", "'*'"),
        ([], {}, "update_mask", "nothing to change"),
        (["max_concurrent"], {"max_concurrent": 0}, "maxConcurrent", "between 1 and"),
        (["max_concurrent"], {"max_concurrent": -3}, "maxConcurrent", "not -3"),
        (["max_duration_seconds"], {"max_duration_seconds": -1.0}, "maxDurationSeconds", ""),
        (
            ["max_duration_seconds"],
            {"max_duration_seconds": float("nan")},
            "maxDurationSeconds",
            "",
        ),
        (["concurrency_key"], {"concurrency_key": ""}, "concurrencyKey", ""),
        (["concurrency_key"], {"concurrency_key": "a\x00b"}, "concurrencyKey", "NUL"),
        (["concurrency_key"], {"concurrency_key": "k" * 101}, "concurrencyKey", ""),
    ],
)
def test_malformed_settings_are_invalid_argument_naming_the_field(
    api: Api, paths: list[str], values: dict[str, Any], field: str, words: str
) -> None:
    before = api.settings()
    code, reason, named, message = _refused(lambda: api.update(paths, **values))
    assert (code, reason, named) == (INVALID, "INVALID_ARGUMENT", field)
    assert words in message
    assert api.settings() == before


@pytest.mark.parametrize("priority", [1001, -1001, 2**31 - 1])
def test_a_priority_out_of_range_is_refused_before_anything_is_written(
    api: Api, roles_server: InProcessServer, priority: int
) -> None:
    done = api.start()
    api.wait(done.id, _is(pb.BATCH_STATUS_COMPLETED), "completed")
    stopped = api.start(duration_ms=60_000)
    api.wait(stopped.id, _is(pb.BATCH_STATUS_STARTED), "started")
    api("Stop", pb.StopRequest(execution_id=stopped.id), "operator")
    api.wait(stopped.id, _is(pb.BATCH_STATUS_STOPPED), "stopped")
    before = _execution_count(roles_server)
    for call in (
        lambda: api.start(priority=priority),
        lambda: api(
            "StartNextInstance",
            pb.StartNextInstanceRequest(job_name=JOB, priority=priority),
            "operator",
        ),
        lambda: api(
            "Restart", pb.RestartRequest(execution_id=stopped.id, priority=priority), "operator"
        ),
    ):
        code, reason, field, message = _refused(call)
        assert (code, reason, field) == (INVALID, "INVALID_ARGUMENT", "priority")
        assert "between -1000 and 1000" in message
    assert _execution_count(roles_server) == before
    # The bounds themselves are fine.
    assert api.start(priority=1000).priority == 1000
    assert api.start(priority=-1000).priority == -1000


def test_unknown_jobs_and_malformed_names_are_refused(api: Api) -> None:
    calls: dict[str, Callable[[str], Any]] = {
        "GetJobSettings": lambda name: api.settings(name),
        "UpdateJobSettings": lambda name: api.update(["paused"], job=name, paused=True),
        "PauseJob": lambda name: api("PauseJob", pb.PauseJobRequest(job_name=name), "operator"),
        "ResumeJob": lambda name: api("ResumeJob", pb.ResumeJobRequest(job_name=name), "operator"),
        "ListQueue": lambda name: api.queue(name),
    }
    for method, call in calls.items():
        code, reason, _, message = _refused(functools.partial(call, "noSuchJob"))
        assert (code, reason) == (grpc.StatusCode.NOT_FOUND, "NO_SUCH_JOB"), method
        assert "noSuchJob" in message, method
    for method, call in calls.items():
        if method == "ListQueue":
            continue  # an empty name is every job's queue
        code, reason, field, _ = _refused(functools.partial(call, " "))
        assert (code, reason) == (INVALID, "INVALID_ARGUMENT"), method
        assert field in ("job_name", "job_names"), method
    code, reason, field, _ = _refused(lambda: api.queue(JOB, page_size=-1))
    assert (code, reason, field) == (INVALID, "INVALID_ARGUMENT", "page_size")
    # The unknown job got no settings row on the way.
    every = api("GetJobSettings", pb.GetJobSettingsRequest(), "viewer").jobs
    assert "noSuchJob" not in [workload.job_name for workload in every]


def test_executions_carry_their_priority_and_overdue_mark_on_every_read(
    api: Api, roles_server: InProcessServer
) -> None:
    execution = api.start(priority=-12)
    api.wait(execution.id, _is(pb.BATCH_STATUS_COMPLETED), "completed")
    unmarked = api.execution(execution.id)
    assert (unmarked.priority, unmarked.overdue) == (-12, False)
    with roles_server.operator.repository.engine.begin() as connection:
        # As the node running it marks it (once) when it runs past the job's maxDuration.
        connection.execute(
            text("UPDATE jobop_launch_request SET overdue = created WHERE job_execution_id = :id"),
            {"id": execution.id},
        )
    marked = api.execution(execution.id)
    assert (marked.priority, marked.overdue) == (-12, True)
    listed = api("ListJobExecutions", pb.ListJobExecutionsRequest(job_name=JOB), "viewer")
    assert [(e.id, e.priority, e.overdue) for e in listed.executions] == [(execution.id, -12, True)]
