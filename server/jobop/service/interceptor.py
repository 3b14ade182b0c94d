"""The one place where every JobOperatorService call is authenticated, authorized and
held to the per-caller limits, before its handler runs.

Health and reflection pass untouched (probes). The principal is handed to the handler in
`auth.current_caller`, for the audit trail.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import grpc

from .auth import (
    CONTROL_ACTIONS,
    OPEN_SERVICES,
    Authenticator,
    Caller,
    Credentials,
    PermissionDenied,
    Principal,
    Unauthenticated,
    authorize,
    current_caller,
    limit_key,
)
from .errors import (
    INVALID_ARGUMENT,
    PERMISSION_DENIED,
    RESOURCE_EXHAUSTED,
    UNAUTHENTICATED,
    abort,
    error_status,
)
from .handlers import RateLimitedLog, UndecodableRequest
from .limits import RATE_LIMITED, LimitExceeded, Limits, StartRate, StreamSlots

log = logging.getLogger(__name__)
_refusal_log = RateLimitedLog(log, burst=10, window=10.0)

# Called for a control action refused here (not authorized, over a limit, undecodable),
# to audit it: (caller, action, request, reason[, message of a malformed request]).
RefusalHook = Callable[..., Awaitable[None]]


def _certificate(context: grpc.aio.ServicerContext[Any, Any]) -> bytes | None:
    """The client's verified certificate (PEM), named by `certificates.certificate_identity`
    like the HTTP surface's: never gRPC's own x509_common_name, which holds one CN of many."""
    properties = context.auth_context()
    if list(properties.get("transport_security_type") or ()) != [b"ssl"]:
        return None
    pem = list(properties.get("x509_pem_cert") or ())
    return pem[0] if pem else None  # None: TLS without a client certificate


def _metadata(context: grpc.aio.ServicerContext[Any, Any], key: str) -> str | None:
    for name, value in context.invocation_metadata() or ():
        if name == key and isinstance(value, str):
            return value
    return None


# What an interceptor does around one call: entered before the handler, exited after it
# (with the handler's exception, if any).
CallGuard = Callable[[Any, "grpc.aio.ServicerContext[Any, Any]"], AbstractAsyncContextManager[Any]]


def guarded(behaviour: Callable[..., Any], guard: CallGuard) -> Callable[..., Any]:
    """`behaviour` (a method handler's function) run inside `guard`, in the handler's shape.

    grpc.aio serves a response stream in two shapes: an async generator that yields, or a
    coroutine that writes with `context.write` (grpcio-health-checking's Watch). The
    wrapper keeps the shape, since grpc tells the two apart by the function's kind."""
    if inspect.isasyncgenfunction(behaviour):

        async def generate(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            async with guard(request, context):
                async for response in behaviour(request, context):
                    yield response

        return generate

    async def call(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        async with guard(request, context):
            return await behaviour(request, context)

    return call


class SecurityInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[type-arg]
    def __init__(
        self,
        service: str,
        authenticator: Authenticator,
        limits: Limits,
        on_refused: RefusalHook | None = None,
    ) -> None:
        self._prefix = f"/{service}/"
        self.authenticator = authenticator
        self.streams = StreamSlots(limits)
        self.start_rate = StartRate(limits)
        self.on_refused = on_refused
        self._wrapped: dict[
            str, tuple[grpc.RpcMethodHandler[Any, Any], grpc.RpcMethodHandler[Any, Any]]
        ] = {}

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any]]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any]:
        handler = await continuation(handler_call_details)
        method: str = handler_call_details.method
        service = method[1:].partition("/")[0]
        if handler is None or service in OPEN_SERVICES:
            return handler
        # The wrapper depends only on the method: built once, not per call.
        wrapped = self._wrapped.get(method)
        if wrapped is None or wrapped[0] is not handler:
            wrapped = (handler, self._wrap(method, handler))
            self._wrapped[method] = wrapped
        return wrapped[1]

    def _wrap(
        self, method: str, handler: grpc.RpcMethodHandler[Any, Any]
    ) -> grpc.RpcMethodHandler[Any, Any]:
        rpc = method.removeprefix(self._prefix) if method.startswith(self._prefix) else method
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._unary(rpc, handler.unary_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                guarded(handler.unary_stream, functools.partial(self._stream_slot, rpc)),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        # No method of ours streams requests; refuse anything else rather than pass it.
        return grpc.unary_unary_rpc_method_handler(self._refuse_unknown(rpc))

    def _refuse_unknown(self, rpc: str) -> Callable[[Any, Any], Awaitable[Any]]:
        async def refuse(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            await abort(
                context,
                error_status(
                    grpc.StatusCode.PERMISSION_DENIED,
                    PERMISSION_DENIED,
                    f"{rpc} is not in the policy table",
                ),
            )

        return refuse

    async def _admit(
        self, rpc: str, request: Any, context: grpc.aio.ServicerContext[Any, Any]
    ) -> Principal:
        """The principal, authenticated and authorized, or the call aborted."""
        authenticator = self.authenticator
        # Only what a configured source reads: the auth context costs a dict per call.
        credentials = (
            Credentials(
                authorization=_metadata(context, "authorization"),
                certificate=_certificate(context) if authenticator.client_certificates else None,
                forwarded_client_cert=_metadata(context, "x-forwarded-client-cert")
                if authenticator.trust_forwarded_identity
                else None,
            )
            if authenticator.enabled
            else Credentials()
        )
        try:
            principal = authenticator.authenticate(credentials)
        except Unauthenticated as error:
            _refusal_log.warning("%s from %s refused: %s", rpc, _peer(context), error)
            await abort(
                context,
                error_status(grpc.StatusCode.UNAUTHENTICATED, UNAUTHENTICATED, str(error)),
            )
        try:
            if rpc in RATE_LIMITED:  # before authorizing: refused actions count too
                self.start_rate.take(_limit_key(principal, context))
            authorize(principal, rpc)
        except PermissionDenied as error:
            _refusal_log.warning("%s from %s refused: %s", rpc, _peer(context), error)
            await self._refused(principal, context, rpc, request, PERMISSION_DENIED)
            await abort(
                context,
                error_status(grpc.StatusCode.PERMISSION_DENIED, PERMISSION_DENIED, str(error)),
            )
        except LimitExceeded as error:
            await self._refused(principal, context, rpc, request, RESOURCE_EXHAUSTED)
            await abort(context, _exhausted(error))
        return principal

    async def _refused(
        self,
        principal: Principal,
        context: grpc.aio.ServicerContext[Any, Any],
        rpc: str,
        request: Any,
        reason: str,
        *message: str,
    ) -> None:
        if self.on_refused is not None and rpc in CONTROL_ACTIONS:
            await self.on_refused(Caller(principal, _peer(context)), rpc, request, reason, *message)

    def _unary(
        self, rpc: str, behaviour: Callable[[Any, Any], Awaitable[Any]]
    ) -> Callable[[Any, Any], Awaitable[Any]]:
        async def handle(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            principal = await self._admit(rpc, request, context)
            if isinstance(request, UndecodableRequest) and rpc in CONTROL_ACTIONS:
                # Refused by the handler before the servicer (and its audit) sees it.
                message = f"the request is not a valid {rpc} message: {request.error}"
                await self._refused(principal, context, rpc, request, INVALID_ARGUMENT, message)
            # Every handler knows its caller: the audit names it, reads mask what its role
            # may not see.
            token = current_caller.set(Caller(principal, _peer(context)))
            try:
                return await behaviour(request, context)
            finally:
                current_caller.reset(token)

        return handle

    @asynccontextmanager
    async def _stream_slot(
        self, rpc: str, request: Any, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[None]:
        """An admitted caller's stream, counted against the stream limits while it lasts."""
        principal = await self._admit(rpc, request, context)
        key = _limit_key(principal, context)
        try:
            self.streams.acquire(key)
        except LimitExceeded as error:
            await abort(context, _exhausted(error))
        # The call's own task runs the stream: the caller's context ends with the call.
        current_caller.set(Caller(principal, _peer(context)))
        try:
            yield
        finally:
            self.streams.release(key)


def _peer(context: grpc.aio.ServicerContext[Any, Any]) -> str:
    return context.peer() or "?"


def _limit_key(principal: Principal, context: grpc.aio.ServicerContext[Any, Any]) -> str:
    # The peer is read only for anonymous callers: most calls are reads.
    return limit_key(principal, _peer(context) if principal.method == "none" else "")


def _exhausted(error: LimitExceeded) -> grpc.Status:
    return error_status(
        grpc.StatusCode.RESOURCE_EXHAUSTED, RESOURCE_EXHAUSTED, str(error), {"limit": error.limit}
    )
