"""The REST routes of schedules (docs/schedules.md): the schedule RPCs in JSON.

As in api.py, each route builds the RPC's request message and awaits the servicer's
method. A schedule's fire times are written with its time zone's offset
(`jsonform.schedule_json`); a preview's with the offset of the zone asked for.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

from aiohttp import web
from jobop_client._proto.jobop.v1 import job_operator_pb2 as pb
from jobop_client.jsonform import schedule_fire_json, schedule_json, zone_text

from jobop.service.errors import InvalidArgument

from . import representation as rep
from .api import RestApi, json_body, json_response, query_int
from .calls import ApiError, call

# A schedule's JSON keys: the Schedule message's field and the JSON type it takes.
_FIELDS: dict[str, tuple[str, type]] = {
    "name": ("name", str),
    "jobName": ("job_name", str),
    "cron": ("cron", str),
    "timeZone": ("time_zone", str),
    "parameters": ("parameters", dict),
    "overlap": ("overlap", str),
    "catchUp": ("catch_up", str),
    "maxCatchUp": ("max_catch_up", int),
    "paused": ("paused", bool),
    "description": ("description", str),
}
_TYPE_WORDS = {str: "a string", dict: "an object", int: "a whole number", bool: "true or false"}
_INT32_MAX = 2**31 - 1


def schedule_from_json(body: dict[str, Any]) -> tuple[pb.Schedule, list[str]]:
    """The Schedule message of a body, and the message's fields the body names (`null`
    names a field and leaves it unset: its default)."""
    message = pb.Schedule()
    named = []
    for key, value in body.items():
        field, kind = _FIELDS[key]
        named.append(field)
        if value is None:
            continue
        if not isinstance(value, kind) or (kind is int and not _int32(value)):
            raise ApiError.of(InvalidArgument(f"{key} must be {_TYPE_WORDS[kind]}", field=key))
        if field == "parameters":
            for name, parameter in rep.parameters_from_json(value).items():
                message.parameters[name].CopyFrom(parameter)
        else:
            setattr(message, field, value)
    return message, named


def _int32(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and abs(value) <= _INT32_MAX


class ScheduleApi(RestApi):
    """The /api/schedules routes (the preview's before `{name}`, which would take it)."""

    def routes(self) -> list[web.RouteDef]:
        s = self
        return [
            web.post("/api/schedules", s.create),
            web.get("/api/schedules", s.list),
            web.get("/api/schedules/preview", s.preview),
            web.get("/api/schedules/{name}", s.get),
            web.put("/api/schedules/{name}", s.update),
            web.delete("/api/schedules/{name}", s.delete),
            web.post("/api/schedules/{name}/pause", s.pause),
            web.post("/api/schedules/{name}/resume", s.resume),
            web.post("/api/schedules/{name}/trigger", s.trigger),
            web.get("/api/schedules/{name}/fires", s.fires),
        ]

    async def create(self, request: web.Request) -> web.Response:
        async def build() -> pb.CreateScheduleRequest:
            schedule, _ = schedule_from_json(await json_body(request, tuple(_FIELDS)))
            return pb.CreateScheduleRequest(schedule=schedule)

        message = await self._message(request, "CreateSchedule", build)
        response = await call(self.servicer.CreateSchedule, message)
        location = f"/api/schedules/{quote(response.schedule.name, safe='')}"
        return json_response(
            schedule_json(response.schedule), status=201, headers={"Location": location}
        )

    async def list(self, request: web.Request) -> web.Response:
        response = await call(self.servicer.ListSchedules, pb.ListSchedulesRequest())
        return json_response({"schedules": [schedule_json(item) for item in response.schedules]})

    async def get(self, request: web.Request) -> web.Response:
        message = pb.GetScheduleRequest(name=request.match_info["name"])
        response = await call(self.servicer.GetSchedule, message)
        return json_response(schedule_json(response.schedule))

    async def update(self, request: web.Request) -> web.Response:
        """The body's fields change (`null` restores a field's default); the others stay."""
        name = request.match_info["name"]

        async def build() -> pb.UpdateScheduleRequest:
            schedule, named = schedule_from_json(await json_body(request, tuple(_FIELDS)))
            if "name" in named:
                if schedule.name != name:
                    text = f"name {schedule.name!r} differs from the path's: names cannot change"
                    raise ApiError.of(InvalidArgument(text, field="name"))
                named.remove("name")
            message = pb.UpdateScheduleRequest(name=name, schedule=schedule)
            message.update_mask.paths.extend(named)
            return message

        message = await self._message(request, "UpdateSchedule", build)
        response = await call(self.servicer.UpdateSchedule, message)
        return json_response(schedule_json(response.schedule))

    async def delete(self, request: web.Request) -> web.Response:
        async def build() -> pb.DeleteScheduleRequest:
            await json_body(request, ())
            return pb.DeleteScheduleRequest(name=request.match_info["name"])

        message = await self._message(request, "DeleteSchedule", build)
        await call(self.servicer.DeleteSchedule, message)
        return web.Response(status=204)

    async def _action(self, request: web.Request, rpc: str) -> Any:
        """Pause, Resume or Trigger: a name in the path, no body."""

        async def build() -> Any:
            await json_body(request, ())
            return getattr(pb, f"{rpc}Request")(name=request.match_info["name"])

        message = await self._message(request, rpc, build)
        return await call(getattr(self.servicer, rpc), message)

    async def pause(self, request: web.Request) -> web.Response:
        response = await self._action(request, "PauseSchedule")
        return json_response(schedule_json(response.schedule))

    async def resume(self, request: web.Request) -> web.Response:
        response = await self._action(request, "ResumeSchedule")
        return json_response(schedule_json(response.schedule))

    async def trigger(self, request: web.Request) -> web.Response:
        """The extra fire: LAUNCHED with its execution, or SKIPPED/REFUSED and why."""
        response = await self._action(request, "TriggerSchedule")
        return json_response(schedule_fire_json(response.fire, await self._zone(request)))

    async def fires(self, request: web.Request) -> web.Response:
        message = pb.ListScheduleFiresRequest(
            name=request.match_info["name"],
            page_size=query_int(request, "pageSize", "page_size"),
            page_token=request.query.get("pageToken", ""),
        )
        response = await call(self.servicer.ListScheduleFires, message)
        zone = await self._zone(request)
        return json_response(
            {
                "fires": [schedule_fire_json(fire, zone) for fire in response.fires],
                "nextPageToken": response.next_page_token,
            }
        )

    async def _zone(self, request: web.Request) -> str:
        """The time zone of the path's schedule: its fires' times are shown in it."""
        message = pb.GetScheduleRequest(name=request.match_info["name"])
        return (await call(self.servicer.GetSchedule, message)).schedule.time_zone

    async def preview(self, request: web.Request) -> web.Response:
        """`cron`, `timeZone`, `from` (RFC 3339; default now), `count` (default 5):
        `{"fireTimes": [...]}` with the zone's offset. Stores nothing."""
        query = request.query
        message = pb.PreviewScheduleRequest(
            cron=query.get("cron", ""),
            time_zone=query.get("timeZone", ""),
            count=query_int(request, "count", "count"),
        )
        start = query.get("from")
        if start is not None:
            message.after.FromDatetime(_rfc3339(start, "from"))
        response = await call(self.servicer.PreviewSchedule, message)
        zone = message.time_zone
        times = [
            zone_text(moment.ToDatetime(tzinfo=dt.UTC), zone) for moment in response.fire_times
        ]
        return json_response({"fireTimes": times})


def _rfc3339(text: str, field: str) -> dt.datetime:
    """An RFC 3339 time with its offset (`Z` too), within the range a Timestamp holds."""
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        message = f"{field} must be an RFC 3339 time with its offset, not {text!r}"
        raise ApiError.of(InvalidArgument(message, field=field))
    try:
        moment.astimezone(dt.UTC)
    except OverflowError:
        raise ApiError.of(
            InvalidArgument(f"{field} {text!r} is out of range", field=field)
        ) from None
    return moment
