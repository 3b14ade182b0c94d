"""Helpers of the REST and SSE tests: JSON calls and a Server-Sent Events reader."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

TERMINAL = {"COMPLETED", "STOPPED", "FAILED", "ABANDONED", "UNKNOWN"}


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any


def request(
    base: str,
    method: str,
    path: str,
    body: object = None,
    *,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> Reply:
    """One HTTP call; the JSON body of the answer (None when empty), whatever its status."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    call = urllib.request.Request(base + path, data=data, method=method, headers=headers or {})
    if data is not None and raw is None:
        call.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(call, timeout=timeout) as response:
            content = response.read()
            status, reply_headers = response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        content = error.read()
        status, reply_headers = error.code, dict(error.headers)
    return Reply(status, reply_headers, json.loads(content) if content else None)


def error_of(reply: Reply) -> tuple[int, str, str, dict[str, str]]:
    """HTTP status, gRPC code name, reason and metadata of an error reply."""
    assert reply.body is not None and set(reply.body) == {"error"}, reply
    error = reply.body["error"]
    assert set(error) == {"code", "reason", "message", "metadata"}, error
    assert error["message"], error
    return reply.status, error["code"], error["reason"], error["metadata"]


def wait_for(
    base: str, execution_id: int, predicate: Callable[[dict[str, Any]], bool], timeout: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        reply = request(base, "GET", f"/api/executions/{execution_id}")
        assert reply.status == 200, reply
        if predicate(reply.body):
            return dict(reply.body)
        if time.monotonic() > deadline:
            raise AssertionError(f"execution {execution_id} never matched: {reply.body}")
        time.sleep(0.05)


def wait_terminal(base: str, execution_id: int, timeout: float = 60) -> dict[str, Any]:
    return wait_for(base, execution_id, lambda e: e["status"] in TERMINAL, timeout)


@dataclass
class Event:
    name: str
    data: Any
    id: str | None = None


@dataclass
class EventStream:
    """A Server-Sent Events response read line by line (comments kept for heartbeats)."""

    status: int
    headers: dict[str, str]
    response: Any
    comments: list[str] = field(default_factory=list)

    def events(self) -> Iterator[Event]:
        name, data, event_id = "message", [], None
        for raw in self.response:
            line = raw.decode().rstrip("\n").rstrip("\r")
            if not line:
                if data:
                    yield Event(name, json.loads("\n".join(data)), event_id)
                name, data, event_id = "message", [], None
                continue
            if line.startswith(":"):
                self.comments.append(line[1:].strip())
                continue
            key, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if key == "event":
                name = value
            elif key == "data":
                data.append(value)
            elif key == "id":
                event_id = value

    def close(self) -> None:
        self.response.close()


def open_events(
    base: str, path: str, headers: dict[str, str] | None = None, timeout: float = 30.0
) -> EventStream:
    call = urllib.request.Request(
        base + path, headers={"Accept": "text/event-stream", **(headers or {})}
    )
    try:
        response = urllib.request.urlopen(call, timeout=timeout)
    except urllib.error.HTTPError as error:
        return EventStream(error.code, dict(error.headers), error)
    return EventStream(response.status, dict(response.headers), response)
