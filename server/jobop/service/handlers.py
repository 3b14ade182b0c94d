"""The JobOperatorService's method handlers, built from the proto's service descriptor.

Built here rather than by the generated `add_…_to_server`, so that a request whose bytes do
not decode (not protobuf, a string that is not UTF-8) is answered INVALID_ARGUMENT by every
method, with one rate-limited WARNING line, instead of grpc's UNKNOWN and a traceback.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.message import DecodeError, Message
from jobop_client._proto.jobop.v1 import job_operator_pb2 as pb

from .errors import INVALID_ARGUMENT, abort, error_status

log = logging.getLogger(__name__)

SERVICE = pb.DESCRIPTOR.services_by_name["JobOperatorService"]


@dataclass(frozen=True, slots=True)
class UndecodableRequest:
    """What the deserializer hands on in place of a request it could not decode."""

    method: str
    size: int
    error: str


class RateLimitedLog:
    """At most `burst` lines per `window` seconds; the lines held back are counted in the
    next line that passes."""

    def __init__(self, logger: logging.Logger, *, burst: int = 5, window: float = 10.0) -> None:
        self._logger = logger
        self._burst = burst
        self._window = window
        self._lock = threading.Lock()
        self._window_start = 0.0
        self._in_window = 0
        self._held_back = 0

    def warning(self, message: str, *args: object) -> None:
        with self._lock:
            now = time.monotonic()
            if now - self._window_start >= self._window:
                self._window_start, self._in_window = now, 0
            if self._in_window >= self._burst:
                self._held_back += 1
                return
            self._in_window += 1
            held_back, self._held_back = self._held_back, 0
        if held_back:
            message += " (%d similar lines held back)"
            args = (*args, held_back)
        self._logger.warning(message, *args)


_undecodable_log = RateLimitedLog(log)


def _deserializer(method: str, message_class: type[Message]) -> Callable[[bytes], object]:
    def deserialize(data: bytes) -> object:
        try:
            return message_class.FromString(data)
        except (DecodeError, RuntimeError, ValueError) as error:
            return UndecodableRequest(method, len(data), str(error) or type(error).__name__)

    return deserialize


async def _reject(context: grpc.aio.ServicerContext[Any, Any], request: UndecodableRequest) -> None:
    peer = context.peer() if hasattr(context, "peer") else "?"
    _undecodable_log.warning(
        "undecodable %s request of %d bytes from %s: %s",
        request.method,
        request.size,
        peer,
        request.error,
    )
    await abort(
        context,
        error_status(
            grpc.StatusCode.INVALID_ARGUMENT,
            INVALID_ARGUMENT,
            f"the request is not a valid {request.method} message: {request.error}",
        ),
    )


def _unary(
    method: Callable[[Any, Any], Awaitable[Any]],
) -> Callable[[Any, Any], Awaitable[Any]]:
    async def handle(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        if isinstance(request, UndecodableRequest):
            await _reject(context, request)
        return await method(request, context)

    return handle


def _stream(
    method: Callable[[Any, Any], AsyncIterator[Any]],
) -> Callable[[Any, Any], AsyncIterator[Any]]:
    async def handle(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        if isinstance(request, UndecodableRequest):
            await _reject(context, request)
        async for response in method(request, context):
            yield response

    return handle


def add_job_operator_service(servicer: object, server: grpc.aio.Server) -> None:
    """Register every RPC of the service descriptor, each served by the servicer's method
    of the same name."""
    handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}
    for method in SERVICE.methods:
        request_class = getattr(pb, method.input_type.name)
        response_class = getattr(pb, method.output_type.name)
        implementation = getattr(servicer, method.name)
        deserializer = _deserializer(method.name, request_class)
        if method.server_streaming:
            handlers[method.name] = grpc.unary_stream_rpc_method_handler(
                _stream(implementation),
                request_deserializer=deserializer,
                response_serializer=response_class.SerializeToString,
            )
        else:
            handlers[method.name] = grpc.unary_unary_rpc_method_handler(
                _unary(implementation),
                request_deserializer=deserializer,
                response_serializer=response_class.SerializeToString,
            )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(SERVICE.full_name, handlers),)
    )
    server.add_registered_method_handlers(SERVICE.full_name, handlers)  # type: ignore[attr-defined]
