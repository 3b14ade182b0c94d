"""The schedule RPCs through a real gRPC server (and the Python client, sync and async):
create, get, list, update, delete, pause, resume, trigger, fires, preview; bad input with
its status, reason and field; the audit rows of the writes. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from jobop_client import errors
from jobop_client._proto.jobop.v1 import job_operator_pb2 as pb
from jobop_client._proto.jobop.v1 import job_operator_pb2_grpc as pb_grpc
from jobop_client.client import AsyncJobOperatorClient, JobOperatorClient
from jobop_client.parameters import from_proto_map, to_proto_map
from service_support import InProcessServer, rpc_error

YEARLY = "0 0 0 1 1 *"  # far enough away that no fire comes during a test
UTC = dt.UTC


@pytest.fixture
def stub(inprocess_server: InProcessServer) -> Iterator[pb_grpc.JobOperatorServiceStub]:
    with grpc.insecure_channel(inprocess_server.address) as channel:
        yield pb_grpc.JobOperatorServiceStub(channel)


@pytest.fixture
def client(inprocess_server: InProcessServer) -> Iterator[JobOperatorClient]:
    with JobOperatorClient(inprocess_server.address) as client:
        yield client


def times(schedule: pb.Schedule) -> list[dt.datetime]:
    return [moment.ToDatetime(UTC) for moment in schedule.next_fire_times]


def test_create_get_list_update_delete(client: JobOperatorClient) -> None:
    created = client.create_schedule(
        "nightly",
        "countJob",
        "0 30 2 * * *",
        {"items": 3},
        time_zone="Europe/Berlin",
        overlap="queue",
        description="every night",
    )
    assert (created.name, created.job_name, created.cron) == ("nightly", "countJob", "0 30 2 * * *")
    assert (created.time_zone, created.overlap, created.catch_up) == (
        "Europe/Berlin",
        "queue",
        "latest",
    )
    assert (created.max_catch_up, created.paused, created.description) == (
        100,
        False,
        "every night",
    )
    assert from_proto_map(created.parameters)["items"].value == 3
    assert not created.HasField("last_fire")
    fires = times(created)
    assert len(fires) == 5 and fires == sorted(fires) and fires[0] > dt.datetime.now(UTC)
    # 02:30 in Berlin is 00:30 or 01:30 UTC (summer, winter); on the spring-forward day
    # the gap moves it to 03:00 local, 01:00 UTC.
    assert all((moment.hour, moment.minute) in ((0, 30), (1, 30), (1, 0)) for moment in fires), (
        fires
    )
    assert client.get_schedule("nightly") == created
    client.create_schedule("another", "countJob", YEARLY)
    assert [item.name for item in client.list_schedules()] == ["another", "nightly"]

    updated = client.update_schedule("nightly", cron="0 0 * * * *", overlap=None)
    assert (updated.cron, updated.overlap, updated.time_zone) == (
        "0 0 * * * *",
        "skip",
        "Europe/Berlin",
    )
    assert all(moment.minute == 0 for moment in times(updated))
    assert from_proto_map(updated.parameters)["items"].value == 3  # not in the mask: kept

    client.delete_schedule("nightly")
    with pytest.raises(errors.NoSuchScheduleError):
        client.get_schedule("nightly")
    assert [item.name for item in client.list_schedules()] == ["another"]


def test_bad_input_is_refused_naming_the_field(
    stub: pb_grpc.JobOperatorServiceStub, client: JobOperatorClient
) -> None:
    def create(**fields: Any) -> tuple[grpc.StatusCode, str, dict[str, str], str]:
        values = {"name": "s", "job_name": "countJob", "cron": YEARLY, **fields}
        parameters = to_proto_map(values.pop("parameters", None))
        request = pb.CreateScheduleRequest(schedule=pb.Schedule(parameters=parameters, **values))
        return rpc_error(lambda: stub.CreateSchedule(request))

    invalid = grpc.StatusCode.INVALID_ARGUMENT
    for fields, field in (
        ({"cron": "61 * * * * *"}, "cron"),
        ({"cron": "* * *"}, "cron"),
        ({"time_zone": "Mars/Olympus_Mons"}, "timeZone"),
        ({"overlap": "sometimes"}, "overlap"),
        ({"catch_up": "most"}, "catchUp"),
        ({"max_catch_up": -1}, "maxCatchUp"),
        ({"name": ""}, "name"),
        ({"name": "preview"}, "name"),
        ({"parameters": {"schedule.name": "mine"}}, "parameters"),
    ):
        code, reason, metadata, message = create(**fields)
        assert (code, reason, metadata.get("field")) == (invalid, "INVALID_ARGUMENT", field), (
            fields,
            message,
        )
    code, reason, _, message = create(job_name="noSuchJob")
    assert (code, reason) == (grpc.StatusCode.NOT_FOUND, "NO_SUCH_JOB"), message

    client.create_schedule("s", "countJob", YEARLY)
    code, reason, _, _ = create()
    assert (code, reason) == (grpc.StatusCode.ALREADY_EXISTS, "SCHEDULE_EXISTS")
    with pytest.raises(errors.ScheduleExistsError):
        client.create_schedule("s", "countJob", YEARLY)

    for paths, field in ((["name"], "update_mask"), (["nope"], "update_mask"), ([], "update_mask")):
        request = pb.UpdateScheduleRequest(name="s", schedule=pb.Schedule(cron="@daily"))
        request.update_mask.paths.extend(paths)
        code, _, metadata, _ = rpc_error(lambda request=request: stub.UpdateSchedule(request))
        assert (code, metadata.get("field")) == (invalid, field), paths
    with pytest.raises(errors.InvalidArgumentError, match="cron"):
        client.update_schedule("s", cron="not cron")
    assert client.get_schedule("s").cron == YEARLY  # a refused change changes nothing
    for call in (
        lambda: stub.GetSchedule(pb.GetScheduleRequest(name="nope")),
        lambda: stub.DeleteSchedule(pb.DeleteScheduleRequest(name="nope")),
        lambda: stub.TriggerSchedule(pb.TriggerScheduleRequest(name="nope")),
        lambda: stub.ListScheduleFires(pb.ListScheduleFiresRequest(name="nope")),
    ):
        code, reason, _, _ = rpc_error(call)
        assert (code, reason) == (grpc.StatusCode.NOT_FOUND, "NO_SUCH_SCHEDULE")
    request = pb.ListScheduleFiresRequest(name="s", page_token="forged")
    assert rpc_error(lambda: stub.ListScheduleFires(request))[2] == {"field": "page_token"}


def wait_until(condition: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_pause_resume_trigger_and_paged_fires(
    client: JobOperatorClient, inprocess_server: InProcessServer
) -> None:
    client.create_schedule("s", "countJob", YEARLY, {"items": 2}, overlap="allow", paused=True)
    paused = client.get_schedule("s")
    assert paused.paused
    assert client.resume_schedule("s").paused is False
    assert client.pause_schedule("s").paused is True

    fired: list[pb.ScheduleFire] = []
    for _ in range(3):
        fire = client.trigger_schedule("s")
        assert (fire.schedule_name, fire.outcome, fire.triggered) == ("s", "LAUNCHED", True)
        assert fire.execution_id > 0
        fired.append(fire)
        execution = wait_until(
            lambda fire=fire: (
                (found := client.get_job_execution(fire.execution_id)).status
                == pb.BATCH_STATUS_COMPLETED
                and found
            )
        )
        values = from_proto_map(execution.parameters)
        assert values["schedule.name"].value == "s" and values["items"].value == 2
        assert values["schedule.fireTime"].value == fire.fire_time.ToDatetime(UTC)
        assert values["schedule.fireTime"].identifying

    # Newest first, page by page.
    first = client.list_schedule_fires("s", page_size=2)
    assert [fire.execution_id for fire in first.items] == [
        fired[2].execution_id,
        fired[1].execution_id,
    ]
    rest = client.list_schedule_fires("s", page_size=2, page_token=first.next_page_token)
    assert [fire.execution_id for fire in rest.items] == [fired[0].execution_id]
    assert rest.next_page_token == ""
    last = client.get_schedule("s").last_fire
    assert (last.outcome, last.execution_id) == ("LAUNCHED", fired[2].execution_id)


def test_preview_stores_nothing_and_crosses_a_gap(
    stub: pb_grpc.JobOperatorServiceStub, client: JobOperatorClient
) -> None:
    after = dt.datetime(2026, 3, 28, tzinfo=UTC)
    shown = client.preview_schedule("0 30 2 * * *", time_zone="Europe/Berlin", after=after, count=3)
    # 29 March 2026 has no 02:30 in Berlin: that fire comes at 03:00 CEST.
    assert shown == [
        dt.datetime(2026, 3, 28, 1, 30, tzinfo=UTC),
        dt.datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
        dt.datetime(2026, 3, 30, 0, 30, tzinfo=UTC),
    ]
    assert len(client.preview_schedule("@hourly")) == 5
    assert client.list_schedules() == []
    for request, field in (
        (pb.PreviewScheduleRequest(cron="bad"), "cron"),
        (pb.PreviewScheduleRequest(cron="@daily", time_zone="Nowhere/Land"), "timeZone"),
        (pb.PreviewScheduleRequest(cron="@daily", count=101), "count"),
    ):
        code, _, metadata, _ = rpc_error(lambda request=request: stub.PreviewSchedule(request))
        assert (code, metadata.get("field")) == (grpc.StatusCode.INVALID_ARGUMENT, field)


def test_writes_are_audited_with_their_outcome(
    stub: pb_grpc.JobOperatorServiceStub, client: JobOperatorClient
) -> None:
    client.create_schedule("s", "countJob", YEARLY, overlap="allow")
    client.update_schedule("s", description="changed")
    client.pause_schedule("s")
    client.resume_schedule("s")
    launched = client.trigger_schedule("s")
    with pytest.raises(errors.InvalidArgumentError):
        client.create_schedule("t", "countJob", "bad cron")
    client.delete_schedule("s")
    events = client.list_audit_events(page_size=50).items
    actions = [(event.action, event.succeeded) for event in reversed(events)]
    schedule_actions = [action for action in actions if "Schedule" in action[0]]
    assert schedule_actions == [
        ("CreateSchedule", True),
        ("UpdateSchedule", True),
        ("PauseSchedule", True),
        ("ResumeSchedule", True),
        ("TriggerSchedule", True),
        ("CreateSchedule", False),
        ("DeleteSchedule", True),
    ]
    create = next(event for event in reversed(events) if event.action == "CreateSchedule")
    assert create.job_name == "countJob" and '"name": "s"' in create.arguments
    refused = next(event for event in events if event.action == "CreateSchedule")
    assert refused.reason == "INVALID_ARGUMENT"
    # The fire's own Start is audited as the schedule's.
    starts = [event for event in events if event.execution_id == launched.execution_id]
    assert any(event.action == "Start" and event.principal == "schedule:s" for event in starts), (
        starts
    )


def test_the_async_client_reaches_every_schedule_rpc(inprocess_server: InProcessServer) -> None:
    async def scenario() -> None:
        async with AsyncJobOperatorClient(inprocess_server.address) as client:
            created = await client.create_schedule("a", "countJob", YEARLY, paused=True)
            assert created.paused
            assert (await client.get_schedule("a")).name == "a"
            assert [item.name for item in await client.list_schedules()] == ["a"]
            assert (await client.update_schedule("a", time_zone="Asia/Tokyo")).time_zone == (
                "Asia/Tokyo"
            )
            assert not (await client.resume_schedule("a")).paused
            assert (await client.pause_schedule("a")).paused
            fire = await client.trigger_schedule("a")
            assert fire.outcome == "LAUNCHED"
            page = await client.list_schedule_fires("a")
            assert [item.execution_id for item in page.items] == [fire.execution_id]
            assert len(await client.preview_schedule("@daily", count=2)) == 2
            await client.delete_schedule("a")
            assert await client.list_schedules() == []

    asyncio.run(scenario())
