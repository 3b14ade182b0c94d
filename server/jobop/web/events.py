"""Server-Sent Events fed by the servicer's WatchExecution / WatchExecutions streams.

Each snapshot is an `execution` event whose data is the execution's JSON; on a single
execution's stream its `id:` is the execution's version, so EventSource's automatic
reconnect (`Last-Event-ID`) resumes after it. Heartbeats are SSE comments. A stream that
reached its end sends an `end` event (clients should close rather than reconnect); one
ended by the server (shutdown) sends an `error` event with the error body.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any, Protocol

from aiohttp import web
from jobop_client._proto.jobop.v1 import job_operator_pb2 as pb

from . import representation as rep
from .calls import ApiError

# How long a stream may take to produce its first message before the response's headers
# go out anyway: errors found at once (bad id, unknown execution) still get their status.
_FIRST_MESSAGE_WAIT = 0.5


class _WatchMessage(Protocol):
    heartbeat: bool

    @property
    def execution(self) -> pb.JobExecution: ...


async def execution_events(
    request: web.Request, stream: AsyncIterator[pb.WatchExecutionResponse]
) -> web.StreamResponse:
    return await _relay(request, stream, with_ids=True)


async def executions_events(
    request: web.Request, stream: AsyncIterator[pb.WatchExecutionsResponse]
) -> web.StreamResponse:
    return await _relay(request, stream, with_ids=False)


def _event(name: str, data: object, event_id: int | None = None) -> bytes:
    lines = [f"event: {name}"]
    if event_id is not None:
        lines.insert(0, f"id: {event_id}")
    lines.append("data: " + json.dumps(data, separators=(",", ":"), allow_nan=False))
    return ("\n".join(lines) + "\n\n").encode()


async def _relay(
    request: web.Request, stream: AsyncIterator[Any], *, with_ids: bool
) -> web.StreamResponse:
    iterator = aiter(stream)
    first: asyncio.Task[Any] = asyncio.ensure_future(anext(iterator))
    try:
        await asyncio.wait({first}, timeout=_FIRST_MESSAGE_WAIT)
        if first.done() and not first.cancelled() and isinstance(first.exception(), ApiError):
            error = first.exception()
            assert isinstance(error, ApiError)
            return web.json_response(error.body(), status=error.http_status)
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",  # nginx and friends: do not buffer the stream
            }
        )
        await response.prepare(request)
        await response.write(b": stream open\nretry: 2000\n\n")
        try:
            message: _WatchMessage | None
            try:
                message = await first
            except StopAsyncIteration:
                message = None  # ended at once: nothing newer than the caller has
            while message is not None:
                if message.heartbeat:
                    await response.write(b": heartbeat\n\n")
                else:
                    execution = message.execution
                    await response.write(
                        _event(
                            "execution",
                            rep.execution_json(execution),
                            execution.version if with_ids else None,
                        )
                    )
                message = await anext(iterator, None)
            await response.write(_event("end", {}))
        except ApiError as error:
            await response.write(_event("error", error.body()))
        except ConnectionError:
            pass  # the client went away
        with contextlib.suppress(ConnectionError):
            await response.write_eof()
        return response
    finally:
        if not first.done():
            first.cancel()
        with contextlib.suppress(BaseException):
            await first
        await _close(iterator)


async def _close(iterator: AsyncIterator[Any]) -> None:
    close = getattr(iterator, "aclose", None)
    if close is not None:
        with contextlib.suppress(Exception):
            await close()
