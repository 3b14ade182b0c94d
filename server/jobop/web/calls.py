"""REST calls made as in-process calls of the gRPC servicer's methods.

The REST API transcodes, as Envoy's gRPC-JSON transcoder would: a route builds the RPC's
request message and awaits the servicer's own method, so that validation, the operator
call, error mapping and the watch streams are the gRPC API's, written once. A failed
call arrives as the grpc.Status the servicer aborts with; `ApiError` reads its code and
the google.rpc.ErrorInfo from its `grpc-status-details-bin` trailer.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeVar, cast

import grpc
from google.rpc import error_details_pb2, status_pb2  # type: ignore[import-untyped]

from jobop.service.errors import status_for

RequestT = TypeVar("RequestT")
ResponseT = TypeVar("ResponseT")

_DETAILS_KEY = "grpc-status-details-bin"

# What each gRPC code is in HTTP (google.rpc.Code's documented mapping, except
# FAILED_PRECONDITION, which is 412 Precondition Failed here: the request was right,
# the execution's state refused it).
HTTP_STATUS: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.FAILED_PRECONDITION: 412,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}


class ApiError(grpc.aio.AbortError):
    """A failed call: its gRPC code name, HTTP status and ErrorInfo reason and metadata.

    An AbortError, as grpc.aio raises from `context.abort`: the servicer's streams let
    that pass as the end of the call rather than report it as their own failure.
    """

    def __init__(
        self,
        code: str,
        http_status: int,
        message: str,
        reason: str,
        metadata: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.http_status = http_status
        self.message = message
        self.reason = reason
        self.metadata = metadata or {}

    def body(self) -> dict[str, Any]:
        """`{"error": {"code", "reason", "message", "metadata"}}`; code is the gRPC name."""
        return {
            "error": {
                "code": self.code,
                "reason": self.reason,
                "message": self.message,
                "metadata": self.metadata,
            }
        }

    @classmethod
    def http(cls, http_status: int, reason: str, message: str) -> ApiError:
        """An error of the HTTP layer itself (no such route, method not allowed)."""
        return cls(reason, http_status, message, reason)

    @classmethod
    def from_status(
        cls, code: grpc.StatusCode, details: str, trailing_metadata: Sequence[tuple[str, Any]]
    ) -> ApiError:
        reason = code.name
        metadata: dict[str, str] = {}
        for key, value in trailing_metadata:
            if key != _DETAILS_KEY:
                continue
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                info = error_details_pb2.ErrorInfo()
                if detail.Unpack(info):
                    reason = info.reason
                    metadata = dict(info.metadata)
        return cls(code.name, HTTP_STATUS.get(code, 500), details, reason, metadata)

    @classmethod
    def of(cls, error: BaseException) -> ApiError:
        """The error a request check of the web layer raised, mapped as gRPC maps it."""
        status = status_for(error)
        return cls.from_status(status.code, status.details, status.trailing_metadata)


@dataclass
class CallContext:
    """What the servicer uses of a grpc.aio.ServicerContext: abort and done callbacks."""

    _callbacks: list[Callable[[Any], None]] = field(default_factory=list)

    def add_done_callback(self, callback: Callable[[Any], None]) -> None:
        self._callbacks.append(callback)

    async def abort(
        self,
        code: grpc.StatusCode,
        details: str = "",
        trailing_metadata: Sequence[tuple[str, Any]] = (),
    ) -> NoReturn:
        raise ApiError.from_status(code, details, trailing_metadata)

    def done(self) -> None:
        """The call has ended (its response was sent): run the done callbacks once."""
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback(self)

    def as_grpc(self) -> grpc.aio.ServicerContext[Any, Any]:
        return cast("grpc.aio.ServicerContext[Any, Any]", self)


UnaryMethod = Callable[[RequestT, grpc.aio.ServicerContext[Any, Any]], Awaitable[ResponseT]]
StreamMethod = Callable[[RequestT, grpc.aio.ServicerContext[Any, Any]], AsyncIterator[ResponseT]]


async def call(
    method: UnaryMethod[RequestT, ResponseT], request: RequestT, context: CallContext | None = None
) -> ResponseT:
    """Await a unary servicer method; raises ApiError when it aborts.

    Pass a `context` to run its done callbacks yourself once the HTTP response is sent
    (launching calls hand their executions to the workers then); without one they run
    when the call returns.
    """
    own = context is None
    context = context or CallContext()
    try:
        return await method(request, context.as_grpc())
    finally:
        if own:
            context.done()


async def first(method: StreamMethod[RequestT, ResponseT], request: RequestT) -> ResponseT:
    """The first message of a server-streaming servicer method, the stream then closed (as
    a client that goes away closes it); raises ApiError when it aborts."""
    context = CallContext()
    stream = method(request, context.as_grpc())
    if inspect.isawaitable(stream):  # a method that only aborts (not served here)
        await stream
    try:
        async for response in stream:
            return response
    finally:
        await cast(Any, stream).aclose()
        context.done()
    raise ApiError("INTERNAL", 500, "the call's stream ended without a message", "INTERNAL")
