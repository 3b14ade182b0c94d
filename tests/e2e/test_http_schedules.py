"""The /api/schedules routes on a real `jobop serve`, on SQLite and PostgreSQL: create (201,
Location), get, list, update, delete, pause, resume, trigger, paged fires, a preview that
stores nothing, fire times with the zone's offset, bad input, roles and the audit rows."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import grpc
import pytest
from e2e_support import ServerFactory, ServerProcess
from jobop_client._proto.jobop.v1 import job_operator_pb2 as pb
from rest_support import error_of as rest_error
from rest_support import request, wait_for
from test_auth import TOKENS, tokens_file
from test_metrics import Samples, scrape_until, value

YEARLY = "0 0 0 1 1 *"


def create(base: str, name: str, /, **fields: Any) -> Any:
    body = {"name": name, "jobName": "demoTaskletJob", "cron": YEARLY, **fields}
    return request(base, "POST", "/api/schedules", body)


def test_create_get_list_update_delete(jobop_server: ServerProcess) -> None:
    base = jobop_server.http_url
    body = {
        "name": "nightly",
        "jobName": "demoTaskletJob",
        "cron": "0 30 2 * * *",
        "timeZone": "Europe/Berlin",
        "parameters": {"durationMs": 1, "note": {"string": "x", "identifying": False}},
        "overlap": "queue",
        "catchUp": "all",
        "maxCatchUp": 7,
        "paused": False,
        "description": "every night",
    }
    created = request(base, "POST", "/api/schedules", body)
    assert created.status == 201, created
    assert created.headers["Location"] == "/api/schedules/nightly"
    shown = created.body
    for key, given in body.items():
        if key != "parameters":
            assert shown[key] == given, key
    assert shown["parameters"]["durationMs"]["long"] == 1
    assert shown["parameters"]["note"] == {"string": "x", "identifying": False}
    assert shown["lastFire"] is None and shown["updatedBy"]
    fires = [dt.datetime.fromisoformat(text) for text in shown["nextFireTimes"]]
    assert len(fires) == 5 and fires == sorted(fires)
    # RFC 3339 with Berlin's offset, at 02:30 local (03:00 on a spring-forward day).
    for text, moment in zip(shown["nextFireTimes"], fires, strict=True):
        assert text.endswith(("+01:00", "+02:00")), text
        assert (moment.hour, moment.minute) in ((2, 30), (3, 0)), text
    assert request(base, "GET", "/api/schedules/nightly").body == shown
    assert create(base, "other").status == 201
    listed = request(base, "GET", "/api/schedules").body["schedules"]
    assert [item["name"] for item in listed] == ["nightly", "other"]
    assert listed[1]["nextFireTimes"][0].endswith("-01-01T00:00:00Z")

    changed = request(
        base, "PUT", "/api/schedules/nightly", {"cron": "0 15 * * * *", "overlap": None}
    )
    assert changed.status == 200, changed
    assert (changed.body["cron"], changed.body["overlap"]) == ("0 15 * * * *", "skip")
    assert changed.body["catchUp"] == "all" and changed.body["description"] == "every night"
    renamed = request(base, "PUT", "/api/schedules/nightly", {"name": "daily"})
    assert rest_error(renamed)[:2] == (400, "INVALID_ARGUMENT")

    deleted = request(base, "DELETE", "/api/schedules/nightly")
    assert deleted.status == 204 and deleted.body is None
    status, _, reason, _ = rest_error(request(base, "GET", "/api/schedules/nightly"))
    assert (status, reason) == (404, "NO_SUCH_SCHEDULE")
    assert [item["name"] for item in request(base, "GET", "/api/schedules").body["schedules"]] == [
        "other"
    ]


def test_bad_input_names_the_field(jobop_server: ServerProcess) -> None:
    base = jobop_server.http_url
    for fields, field in (
        ({"cron": "0 0 25 * * *"}, "cron"),
        ({"timeZone": "Atlantis/Capital"}, "timeZone"),
        ({"overlap": "never"}, "overlap"),
        ({"catchUp": "everything"}, "catchUp"),
        ({"maxCatchUp": "ten"}, "maxCatchUp"),
        ({"paused": "yes"}, "paused"),
        ({"name": "preview"}, "name"),
        ({"parameters": {"schedule.fireTime": {"date": "2024-01-01"}}}, "parameters"),
        ({"color": "red"}, "color"),
    ):
        status, code, reason, metadata = rest_error(create(base, "s", **fields))
        assert (status, code, metadata.get("field")) == (400, "INVALID_ARGUMENT", field), fields
    status, _, reason, _ = rest_error(create(base, "s", jobName="noSuchJob"))
    assert (status, reason) == (404, "NO_SUCH_JOB")
    assert create(base, "s").status == 201
    status, code, reason, _ = rest_error(create(base, "s"))
    assert (status, code, reason) == (409, "ALREADY_EXISTS", "SCHEDULE_EXISTS")
    raw = request(
        base, "POST", "/api/schedules", raw=b"{", headers={"Content-Type": "application/json"}
    )
    assert rest_error(raw)[:2] == (400, "INVALID_ARGUMENT")
    status, _, reason, _ = rest_error(request(base, "POST", "/api/schedules/none/trigger"))
    assert (status, reason) == (404, "NO_SUCH_SCHEDULE")
    bad_page = request(base, "GET", "/api/schedules/s/fires?pageSize=-1")
    assert rest_error(bad_page)[:2] == (400, "INVALID_ARGUMENT")


def test_pause_resume_trigger_and_paged_fires(jobop_server: ServerProcess) -> None:
    base = jobop_server.http_url
    fields = {"overlap": "allow", "paused": True, "parameters": {"durationMs": 1}}
    assert create(base, "s", timeZone="Asia/Kolkata", **fields).status == 201
    resumed = request(base, "POST", "/api/schedules/s/resume")
    assert resumed.status == 200 and resumed.body["paused"] is False
    assert resumed.body["nextFireTimes"][0].endswith("+05:30")
    paused = request(base, "POST", "/api/schedules/s/pause")
    assert paused.status == 200 and paused.body["paused"] is True

    launched: list[int] = []
    for _ in range(3):
        fire = request(base, "POST", "/api/schedules/s/trigger")
        assert fire.status == 200, fire
        assert (fire.body["outcome"], fire.body["triggered"]) == ("LAUNCHED", True)
        execution = wait_for(base, fire.body["executionId"], lambda e: e["status"] == "COMPLETED")
        assert execution["parameters"]["schedule.name"] == {"string": "s", "identifying": True}
        fire_time = execution["parameters"]["schedule.fireTime"]["date"]
        assert dt.datetime.fromisoformat(fire_time) == dt.datetime.fromisoformat(
            fire.body["fireTime"]
        )
        launched.append(fire.body["executionId"])

    page = request(base, "GET", "/api/schedules/s/fires?pageSize=2").body
    assert [fire["executionId"] for fire in page["fires"]] == launched[:0:-1]
    assert all(fire["fireTime"].endswith("+05:30") for fire in page["fires"])
    rest = request(
        base, "GET", f"/api/schedules/s/fires?pageSize=2&pageToken={page['nextPageToken']}"
    )
    assert [fire["executionId"] for fire in rest.body["fires"]] == launched[:1]
    assert rest.body["nextPageToken"] == ""
    latest = request(base, "GET", "/api/schedules/s").body["lastFire"]
    assert (latest["outcome"], latest["executionId"]) == ("LAUNCHED", launched[-1])


def test_preview_answers_with_the_zones_offset_and_stores_nothing(
    jobop_server: ServerProcess,
) -> None:
    base = jobop_server.http_url
    query = "cron=0+30+2+*+*+*&timeZone=Europe/Berlin&from=2026-03-28T00:00:00Z&count=3"
    reply = request(base, "GET", f"/api/schedules/preview?{query}")
    assert reply.status == 200, reply
    assert reply.body == {
        "fireTimes": [
            "2026-03-28T02:30:00+01:00",
            "2026-03-29T03:00:00+02:00",  # 02:30 does not exist that night
            "2026-03-30T02:30:00+02:00",
        ]
    }
    five = request(base, "GET", "/api/schedules/preview?cron=@daily").body["fireTimes"]
    assert len(five) == 5 and all(text.endswith("T00:00:00Z") for text in five)
    assert request(base, "GET", "/api/schedules").body == {"schedules": []}
    for query, field in (
        ("cron=nonsense", "cron"),
        ("cron=@daily&timeZone=Nowhere", "timeZone"),
        ("cron=@daily&from=yesterday", "from"),
        ("cron=@daily&count=1000", "count"),
    ):
        status, _, _, metadata = rest_error(request(base, "GET", f"/api/schedules/preview?{query}"))
        assert (status, metadata.get("field")) == (400, field), query


def test_roles_and_the_audit_trail(start_server: ServerFactory, tmp_path: Path) -> None:
    server = start_server("--tokens-file", str(tokens_file(tmp_path)))
    base = server.http_url

    def call(method: str, path: str, role: str, body: object = None) -> Any:
        headers = {"Authorization": f"Bearer {TOKENS[role]}"}
        return request(base, method, path, body, headers=headers)

    body = {"name": "s", "jobName": "demoTaskletJob", "cron": YEARLY}
    status, _, reason, _ = rest_error(call("POST", "/api/schedules", "viewer", body))
    assert (status, reason) == (403, "PERMISSION_DENIED")
    assert call("POST", "/api/schedules", "operator", body).status == 201
    assert call("GET", "/api/schedules", "viewer").status == 200
    assert call("GET", "/api/schedules/s", "viewer").status == 200
    assert call("GET", "/api/schedules/s/fires", "viewer").status == 200
    assert call("GET", "/api/schedules/preview?cron=@daily", "viewer").status == 200
    for method, path in (
        ("PUT", "/api/schedules/s"),
        ("POST", "/api/schedules/s/pause"),
        ("POST", "/api/schedules/s/resume"),
        ("POST", "/api/schedules/s/trigger"),
        ("DELETE", "/api/schedules/s"),
    ):
        refused = call(method, path, "viewer", {"description": "x"} if method == "PUT" else None)
        assert rest_error(refused)[:3] == (403, "PERMISSION_DENIED", "PERMISSION_DENIED"), path
    # gRPC: the same table.
    viewer = [("authorization", f"Bearer {TOKENS['viewer']}")]
    assert (
        server.stub.GetSchedule(pb.GetScheduleRequest(name="s"), metadata=viewer).schedule.name
        == "s"
    )
    with pytest.raises(grpc.RpcError) as denied_call:
        server.stub.PauseSchedule(pb.PauseScheduleRequest(name="s"), metadata=viewer)
    assert denied_call.value.code() is grpc.StatusCode.PERMISSION_DENIED
    assert call("PUT", "/api/schedules/s", "operator", {"description": "x"}).status == 200
    assert call("POST", "/api/schedules/s/pause", "operator").status == 200
    assert call("DELETE", "/api/schedules/s", "operator").status == 204

    deadline = time.monotonic() + 30
    while True:
        events = call("GET", "/api/audit?pageSize=100", "admin").body["events"]
        rows = [
            (event["action"], event["principal"], event["succeeded"])
            for event in reversed(events)
            if "Schedule" in event["action"]
        ]
        if len(rows) >= 11 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert rows == [
        ("CreateSchedule", "viewer-user", False),
        ("CreateSchedule", "operator-user", True),
        ("UpdateSchedule", "viewer-user", False),
        ("PauseSchedule", "viewer-user", False),
        ("ResumeSchedule", "viewer-user", False),
        ("TriggerSchedule", "viewer-user", False),
        ("DeleteSchedule", "viewer-user", False),
        ("PauseSchedule", "viewer-user", False),  # over gRPC
        ("UpdateSchedule", "operator-user", True),
        ("PauseSchedule", "operator-user", True),
        ("DeleteSchedule", "operator-user", True),
    ]
    refused = next(event for event in events if event["action"] == "PauseSchedule")
    assert refused["principal"] == "operator-user"  # newest first
    denied = next(e for e in events if e["action"] == "TriggerSchedule")
    assert denied["reason"] == "PERMISSION_DENIED" and '"name": "s"' in denied["arguments"]


def test_fires_are_counted_by_outcome_and_their_lateness_observed(
    jobop_server: ServerProcess,
) -> None:
    base = jobop_server.http_url
    every_second = {"cron": "* * * * * *", "parameters": {"durationMs": 1500}}
    assert create(base, "often", **every_second).status == 201
    # Runs of 1.5 s on a one-second schedule: launched fires, and skipped ones between.
    deadline = time.monotonic() + 60
    outcomes: dict[str, int] = {}
    while time.monotonic() < deadline and not (
        outcomes.get("LAUNCHED", 0) >= 2 and outcomes.get("SKIPPED", 0) >= 1
    ):
        time.sleep(0.2)
        fires = request(base, "GET", "/api/schedules/often/fires?pageSize=1000").body["fires"]
        outcomes = {}
        for fire in fires:
            outcomes[fire["outcome"]] = outcomes.get(fire["outcome"], 0) + 1
    assert request(base, "POST", "/api/schedules/often/pause").status == 200
    assert outcomes.get("LAUNCHED", 0) >= 2 and outcomes.get("SKIPPED", 0) >= 1, outcomes

    def recorded() -> dict[str, int]:
        fires = request(base, "GET", "/api/schedules/often/fires?pageSize=1000").body["fires"]
        counts: dict[str, int] = {}
        for fire in fires:
            if fire["outcome"] != "PENDING":
                counts[fire["outcome"]] = counts.get(fire["outcome"], 0) + 1
        return counts

    def counted(samples: Samples) -> dict[str, int]:
        return {
            dict(labels)["outcome"]: int(number)
            for (name, labels), number in samples.items()
            if name == "jobop_schedule_fires_total" and dict(labels)["schedule"] == "often"
        }

    def observed(samples: Samples) -> float:
        return value(samples, "jobop_schedule_lateness_seconds_count", schedule="often")

    # Lateness is observed as each launched fire's execution begins to run.
    samples = scrape_until(
        jobop_server,
        lambda samples: (
            counted(samples) == recorded() and observed(samples) == recorded().get("LAUNCHED", 0)
        ),
    )
    expected = recorded()
    assert counted(samples) == expected
    launched = value(samples, "jobop_schedule_lateness_seconds_count", schedule="often")
    assert launched == expected["LAUNCHED"]
    assert value(samples, "jobop_schedule_lateness_seconds_sum", schedule="often") >= 0
