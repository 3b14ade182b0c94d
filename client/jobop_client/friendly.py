"""``Client`` and ``AsyncClient``: jobop for people, with executions as Python objects.

::

    from jobop_client import Client

    with Client() as jobop:  # JOBOP_TARGET, else 127.0.0.1:50051
        execution = jobop.run("demoChunkJob", items=20)
        print(execution.summary)

Parameters are keyword arguments (their Python type gives the job parameter's type; wrap
one in ``Parameter(value, identifying=False)`` to make it non-identifying) or a
``parameters`` mapping for names that are not Python identifiers (``run.id``). Calls
return ``jobop_client.model`` objects; errors are the typed errors of
``jobop_client.errors``. ``client.api`` is the underlying ``JobOperatorClient`` (or
``AsyncJobOperatorClient``), which speaks protobuf.

Workload control: ``settings(job)``, ``limit(job, 2, key="tenant")`` (``limit(job, None)``
clears the run-time limit and key), ``update_settings(job, paused=..., ...)``,
``pause(job)``, ``resume(job)``, ``queue(job)``, and ``priority=`` on the launches.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from types import TracebackType
from typing import Any, Generic, TypeVar

import grpc

from jobop_client import credentials as creds
from jobop_client.client import (
    DEFAULT_TARGET,
    DEFAULT_TIMEOUT,
    AsyncJobOperatorClient,
    ChannelOptions,
    JobOperatorClient,
    Metadata,
    RetryPolicy,
)
from jobop_client.model import JobExecution, JobInstance, JobWorkload, QueuedExecution
from jobop_client.parameters import ParameterInput

__all__ = ["AsyncClient", "AsyncRun", "Client", "Run"]

#: Executions listed when no ``limit`` is given, and the most one call lists (the server's
#: page size limit; ``client.api``'s list calls page further).
DEFAULT_LIMIT, MAX_LIMIT = 20, 1000


def _merged(
    parameters: Mapping[str, ParameterInput] | None, params: Mapping[str, ParameterInput]
) -> dict[str, ParameterInput]:
    given = dict(parameters or {})
    twice = sorted(set(given) & set(params))
    if twice:
        raise ValueError(f"job parameters given twice: {', '.join(twice)}")
    return {**given, **params}


def _connection(
    target: str | None,
    token: str | None,
    credentials: grpc.ChannelCredentials | None,
    metadata: Metadata,
) -> tuple[str, grpc.ChannelCredentials | None, Metadata]:
    """Target, credentials and metadata, with jobctl's environment variables as defaults:
    JOBOP_TARGET, JOBOP_TOKEN, and JOBOP_CA / JOBOP_CERT / JOBOP_KEY for TLS."""
    target = target or os.environ.get("JOBOP_TARGET") or DEFAULT_TARGET
    token = token or os.environ.get(creds.ENV_TOKEN) or None
    if credentials is None:
        ca, cert, key = (
            os.environ.get(name) or None for name in (creds.ENV_CA, creds.ENV_CERT, creds.ENV_KEY)
        )
        if ca or cert or key:
            credentials = creds.tls_credentials(ca, cert, key)
    return target, credentials, (*metadata, *creds.token_metadata(token))


def _limit_change(max_concurrent: int | None, key: str | None) -> dict[str, object | None]:
    """``limit``'s change: a limit (and the key, when given), or None clearing both."""
    if max_concurrent is None:
        if key is not None:
            raise ValueError("a concurrency key needs a limit (max_concurrent)")
        return {"max_concurrent": None, "concurrency_key": None}
    change: dict[str, object | None] = {"max_concurrent": max_concurrent}
    if key is not None:
        change["concurrency_key"] = key
    return change


def _page_size(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be 1 to {MAX_LIMIT}, not {limit}")
    return limit


ApiT = TypeVar("ApiT", JobOperatorClient, AsyncJobOperatorClient)


class _Connected(Generic[ApiT]):
    """The connection both clients make: ``api`` is the protobuf client underneath."""

    _api_class: Callable[..., Any]

    def __init__(
        self,
        target: str | None = None,
        *,
        token: str | None = None,
        credentials: grpc.ChannelCredentials | None = None,
        metadata: Metadata = (),
        timeout: float | None = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        options: ChannelOptions = (),
    ) -> None:
        target, credentials, metadata = _connection(target, token, credentials, metadata)
        self.api: ApiT = self._api_class(
            target,
            credentials=credentials,
            metadata=metadata,
            timeout=timeout,
            retry=retry,
            options=options,
        )

    @property
    def target(self) -> str:
        return self.api.target


class Run:
    """A launched execution: ``execution`` as it was at launch, ``wait()`` for its end."""

    def __init__(self, client: Client, execution: JobExecution) -> None:
        self._client = client
        self.execution = execution

    @property
    def id(self) -> int:
        return self.execution.id

    def watch(self, timeout: float | None = None) -> Iterator[JobExecution]:
        """Snapshots as the execution changes, to its end (see ``Client.watch``)."""
        return self._client.watch(self.id, timeout=timeout)

    def wait(self, timeout: float | None = None) -> JobExecution:
        """Follows the execution to its end and returns it, final. ``timeout`` (seconds,
        default none) bounds the wait: DeadlineExceededError past it; the job runs on."""
        last = None
        for snapshot in self.watch(timeout):
            last = snapshot
        # The stream sends nothing when the execution had ended already: read it.
        return last if last is not None else self._client.get_execution(self.id)

    def stop(self) -> JobExecution:
        return self._client.stop(self.id)

    def __repr__(self) -> str:
        return f"Run({self.execution.job_name!r}, id={self.id})"


class Client(_Connected[JobOperatorClient]):
    """Blocking client of a jobop server that returns ``jobop_client.model`` objects.

    ``target`` defaults to ``$JOBOP_TARGET`` or 127.0.0.1:50051, ``token`` to
    ``$JOBOP_TOKEN``; TLS: ``credentials`` (e.g. ``credentials.tls_credentials(ca=...)``),
    by default from ``$JOBOP_CA``, ``$JOBOP_CERT``, ``$JOBOP_KEY`` when one is set.
    """

    _api_class = JobOperatorClient

    def close(self) -> None:
        self.api.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- launching --------------------------------------------------------------------

    def start(
        self,
        job: str,
        /,
        parameters: Mapping[str, ParameterInput] | None = None,
        *,
        request_id: str | None = None,
        priority: int = 0,
        **params: ParameterInput,
    ) -> Run:
        """Starts a new instance of ``job``; ``.wait()`` on the result follows it to its
        end. With a ``request_id`` the start is safe to retry. ``priority`` (-1000 to
        1000): a higher one runs first when the job's starts wait in its queue."""
        message = self.api.start(job, _merged(parameters, params), request_id, priority=priority)
        return Run(self, JobExecution.from_proto(message))

    def run(
        self,
        job: str,
        /,
        parameters: Mapping[str, ParameterInput] | None = None,
        *,
        request_id: str | None = None,
        priority: int = 0,
        **params: ParameterInput,
    ) -> JobExecution:
        """Starts ``job`` and waits for its end: the final execution (whatever its status)."""
        return self.start(
            job, parameters, request_id=request_id, priority=priority, **params
        ).wait()

    def start_next(self, job: str, /, *, request_id: str | None = None, priority: int = 0) -> Run:
        """Starts the next instance of ``job`` through its incrementer (``run.id``)."""
        message = self.api.start_next_instance(job, request_id, priority=priority)
        return Run(self, JobExecution.from_proto(message))

    def restart(
        self, execution_id: int, *, request_id: str | None = None, priority: int = 0
    ) -> Run:
        """Runs the instance of a FAILED or STOPPED execution again, as a new execution."""
        message = self.api.restart(execution_id, request_id, priority=priority)
        return Run(self, JobExecution.from_proto(message))

    # -- controlling ------------------------------------------------------------------

    def stop(self, execution_id: int) -> JobExecution:
        """Asks a running execution to stop; returns it (STOPPING until its step notices)."""
        return JobExecution.from_proto(self.api.stop(execution_id))

    def abandon(self, execution_id: int) -> JobExecution:
        return JobExecution.from_proto(self.api.abandon(execution_id))

    def recover(self, execution_id: int, *, force: bool = False) -> JobExecution:
        """FAILED, so that it can be restarted: an execution whose owner died. ``force``
        for one no jobop node owns (a Spring Batch application's) whose owner you know
        is dead."""
        return JobExecution.from_proto(self.api.recover(execution_id, force=force))

    # -- workload control -------------------------------------------------------------

    def settings(self, job: str) -> JobWorkload:
        """The job's settings in force, declared and set at run time, with its executions
        holding a slot and waiting."""
        return JobWorkload.from_proto(self.api.get_job_settings([job])[0])

    def update_settings(self, job: str, /, **changes: object | None) -> JobWorkload:
        """Sets run-time settings (admin role): ``max_concurrent``, ``concurrency_key``,
        ``paused``, ``max_duration_seconds``, ``stop_when_overdue``; None clears one (the
        declared value holds again)."""
        return JobWorkload.from_proto(self.api.update_job_settings(job, changes))

    def limit(self, job: str, max_concurrent: int | None, *, key: str | None = None) -> JobWorkload:
        """At most ``max_concurrent`` executions of ``job`` at once across the cluster
        (per value of the job parameter ``key`` when given); None clears the run-time
        limit and key."""
        return self.update_settings(job, **_limit_change(max_concurrent, key))

    def pause(self, job: str, *, stop_running: bool = False) -> JobWorkload:
        """Holds the job's new and waiting starts until ``resume``; ``stop_running``
        stops its running executions too."""
        return JobWorkload.from_proto(self.api.pause_job(job, stop_running=stop_running).job)

    def resume(self, job: str) -> JobWorkload:
        return JobWorkload.from_proto(self.api.resume_job(job))

    def queue(self, job: str = "", *, limit: int = 100) -> list[QueuedExecution]:
        """The first ``limit`` starts waiting (of ``job``; empty: of every job), in the
        order they will run."""
        response = self.api.list_queue(job, page_size=_page_size(limit))
        return [QueuedExecution.from_proto(entry) for entry in response.executions]

    # -- reading ----------------------------------------------------------------------

    def job_names(self) -> list[str]:
        return self.api.get_job_names()

    def get_execution(self, execution_id: int) -> JobExecution:
        return JobExecution.from_proto(self.api.get_job_execution(execution_id))

    def list_executions(
        self, job: str = "", *, instance_id: int = 0, limit: int = DEFAULT_LIMIT
    ) -> list[JobExecution]:
        """The newest ``limit`` executions (at most MAX_LIMIT) of ``job`` (empty: of every
        job) or of one instance."""
        page = self.api.list_job_executions(
            job, job_instance_id=instance_id, page_size=_page_size(limit)
        )
        return [JobExecution.from_proto(message) for message in page.items]

    def list_instances(self, job: str, *, limit: int = DEFAULT_LIMIT) -> list[JobInstance]:
        """The newest ``limit`` instances (at most MAX_LIMIT) of ``job``."""
        page = self.api.list_job_instances(job, page_size=_page_size(limit))
        return [JobInstance.from_proto(message) for message in page.items]

    def running(self, job: str) -> list[JobExecution]:
        """The running executions of ``job``."""
        return [self.get_execution(i) for i in self.api.get_running_executions(job)]

    def watch(self, execution_id: int, *, timeout: float | None = None) -> Iterator[JobExecution]:
        """Snapshots of one execution as it changes, starting with its current state and
        ending after it has finished; resumes by itself when the connection drops."""
        for message in self.api.watch_execution(execution_id, timeout=timeout):
            yield JobExecution.from_proto(message)

    def watch_all(self, job: str = "", *, timeout: float | None = None) -> Iterator[JobExecution]:
        """Snapshots of every execution of ``job`` (empty: of all jobs) as they change;
        never ends by itself."""
        for message in self.api.watch_executions(job, timeout=timeout):
            yield JobExecution.from_proto(message)


class AsyncRun:
    """``Run`` for asyncio: ``await run.wait()``."""

    def __init__(self, client: AsyncClient, execution: JobExecution) -> None:
        self._client = client
        self.execution = execution

    @property
    def id(self) -> int:
        return self.execution.id

    def watch(self, timeout: float | None = None) -> AsyncIterator[JobExecution]:
        return self._client.watch(self.id, timeout=timeout)

    async def wait(self, timeout: float | None = None) -> JobExecution:
        """See ``Run.wait``."""
        last = None
        async for snapshot in self.watch(timeout):
            last = snapshot
        return last if last is not None else await self._client.get_execution(self.id)

    async def stop(self) -> JobExecution:
        return await self._client.stop(self.id)

    def __repr__(self) -> str:
        return f"AsyncRun({self.execution.job_name!r}, id={self.id})"


class AsyncClient(_Connected[AsyncJobOperatorClient]):
    """``Client`` for asyncio (grpc.aio): the same methods, awaited; ``watch`` and
    ``watch_all`` are async iterators. Create it inside a running event loop."""

    _api_class = AsyncJobOperatorClient

    async def close(self) -> None:
        await self.api.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(
        self,
        job: str,
        /,
        parameters: Mapping[str, ParameterInput] | None = None,
        *,
        request_id: str | None = None,
        priority: int = 0,
        **params: ParameterInput,
    ) -> AsyncRun:
        message = await self.api.start(
            job, _merged(parameters, params), request_id, priority=priority
        )
        return AsyncRun(self, JobExecution.from_proto(message))

    async def run(
        self,
        job: str,
        /,
        parameters: Mapping[str, ParameterInput] | None = None,
        *,
        request_id: str | None = None,
        priority: int = 0,
        **params: ParameterInput,
    ) -> JobExecution:
        launched = await self.start(
            job, parameters, request_id=request_id, priority=priority, **params
        )
        return await launched.wait()

    async def start_next(
        self, job: str, /, *, request_id: str | None = None, priority: int = 0
    ) -> AsyncRun:
        message = await self.api.start_next_instance(job, request_id, priority=priority)
        return AsyncRun(self, JobExecution.from_proto(message))

    async def restart(
        self, execution_id: int, *, request_id: str | None = None, priority: int = 0
    ) -> AsyncRun:
        message = await self.api.restart(execution_id, request_id, priority=priority)
        return AsyncRun(self, JobExecution.from_proto(message))

    async def stop(self, execution_id: int) -> JobExecution:
        return JobExecution.from_proto(await self.api.stop(execution_id))

    async def abandon(self, execution_id: int) -> JobExecution:
        return JobExecution.from_proto(await self.api.abandon(execution_id))

    async def recover(self, execution_id: int, *, force: bool = False) -> JobExecution:
        return JobExecution.from_proto(await self.api.recover(execution_id, force=force))

    async def settings(self, job: str) -> JobWorkload:
        return JobWorkload.from_proto((await self.api.get_job_settings([job]))[0])

    async def update_settings(self, job: str, /, **changes: object | None) -> JobWorkload:
        return JobWorkload.from_proto(await self.api.update_job_settings(job, changes))

    async def limit(
        self, job: str, max_concurrent: int | None, *, key: str | None = None
    ) -> JobWorkload:
        return await self.update_settings(job, **_limit_change(max_concurrent, key))

    async def pause(self, job: str, *, stop_running: bool = False) -> JobWorkload:
        response = await self.api.pause_job(job, stop_running=stop_running)
        return JobWorkload.from_proto(response.job)

    async def resume(self, job: str) -> JobWorkload:
        return JobWorkload.from_proto(await self.api.resume_job(job))

    async def queue(self, job: str = "", *, limit: int = 100) -> list[QueuedExecution]:
        response = await self.api.list_queue(job, page_size=_page_size(limit))
        return [QueuedExecution.from_proto(entry) for entry in response.executions]

    async def job_names(self) -> list[str]:
        return await self.api.get_job_names()

    async def get_execution(self, execution_id: int) -> JobExecution:
        return JobExecution.from_proto(await self.api.get_job_execution(execution_id))

    async def list_executions(
        self, job: str = "", *, instance_id: int = 0, limit: int = DEFAULT_LIMIT
    ) -> list[JobExecution]:
        page = await self.api.list_job_executions(
            job, job_instance_id=instance_id, page_size=_page_size(limit)
        )
        return [JobExecution.from_proto(message) for message in page.items]

    async def list_instances(self, job: str, *, limit: int = DEFAULT_LIMIT) -> list[JobInstance]:
        page = await self.api.list_job_instances(job, page_size=_page_size(limit))
        return [JobInstance.from_proto(message) for message in page.items]

    async def running(self, job: str) -> list[JobExecution]:
        return [await self.get_execution(i) for i in await self.api.get_running_executions(job)]

    async def watch(
        self, execution_id: int, *, timeout: float | None = None
    ) -> AsyncIterator[JobExecution]:
        async for message in self.api.watch_execution(execution_id, timeout=timeout):
            yield JobExecution.from_proto(message)

    async def watch_all(
        self, job: str = "", *, timeout: float | None = None
    ) -> AsyncIterator[JobExecution]:
        async for message in self.api.watch_executions(job, timeout=timeout):
            yield JobExecution.from_proto(message)
