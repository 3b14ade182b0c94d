"""The gRPC servicer: JobOperatorService on grpc.aio over a JobOperator.

Unary calls run their whole body (checks, the operator call, the proto conversion) on a
bounded thread pool, so the event loop never blocks on the database. Errors become statuses
in exactly one place (`errors.status_for`). Streams are async generators that wait on the
operator's in-process events and re-read the execution when it changed.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import grpc
from jobop_client._proto.jobop.v1 import job_operator_pb2 as pb
from jobop_client._proto.jobop.v1 import job_operator_pb2_grpc as pb_grpc

from jobop.batch.owner import current_owner
from jobop.domain import JobExecution, JobInstance, NoSuchJobExecution
from jobop.domain.bulk import BulkAction, BulkOperation
from jobop.domain.cron import CronExpression, time_zone
from jobop.operator import JobOperator, LaunchHold, StartEntry
from jobop.operator.events import Subscription
from jobop.repository import AuditTrail, PendingAudit

from . import listing
from . import validation as check
from .audit import AuditRecorder
from .auth import ANONYMOUS, Caller, current_caller
from .errors import (
    SHUTTING_DOWN,
    InvalidArgument,
    abort,
    bounded_error,
    error_status,
    status_for,
)
from .listing import bulk_selection
from .mapping import (
    SCHEDULE_FIELDS,
    audit_event_to_proto,
    bulk_operation_to_proto,
    description_to_proto,
    execution_for_caller,
    execution_to_proto,
    instance_to_proto,
    parameters_to_proto_for_caller,
    queued_execution_to_proto,
    schedule_fire_to_proto,
    schedule_for_caller,
    schedule_spec_from_proto,
    schedule_value,
    summary_for_caller,
    workload_to_proto,
)
from .watch import ChangePoll, Fingerprint, SnapshotReader, fingerprint, is_terminal

logger = logging.getLogger(__name__)

SERVICE_NAME = "jobop.v1.JobOperatorService"

# Envoy's default stream idle timeout is 5 min; docs/api.md promises at most 30 s.
DEFAULT_HEARTBEAT_INTERVAL = 15.0
# Poll the running executions this often (once for all the streams of the process), so
# that changes made by other processes on the same database (another replica, `jobop run
# --stop`) show while they are not announced as events (SQLite; PostgreSQL while LISTEN
# is down).
DEFAULT_POLL_INTERVAL = 2.0
# While other nodes' changes arrive by NOTIFY, a safety poll this seldom.
_LISTENING_POLL_INTERVAL = 30.0

# A bulk operation's stream reads its row this often (progress at most this often).
BULK_POLL_INTERVAL = 0.2

# The longest a Start's execution waits for its response to be sent before it runs anyway.
_HOLD_BACKSTOP = 0.05

RequestT = TypeVar("RequestT")
ResponseT = TypeVar("ResponseT")


class JobOperatorServicer(pb_grpc.JobOperatorServiceServicer):
    def __init__(
        self,
        operator: JobOperator,
        executor: Executor,
        *,
        heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
    ) -> None:
        self._operator = operator
        self._executor = executor
        self._heartbeat_interval = heartbeat_interval
        self._poll_interval = poll_interval
        self._reader = SnapshotReader(self._load_snapshot, operator.events, executor)
        self._poll = ChangePoll(
            self._running_and_followed, operator.events, executor, self._current_poll_interval
        )
        # Changes published in this process carry their snapshot: no read per event.
        operator.events.snapshotter = execution_to_proto
        self._subscriptions: set[Subscription] = set()
        self._closing = False
        self.active_streams = 0
        owner = current_owner()
        node = f"{owner['host']}:{owner['pid']}"
        self.audit = AuditRecorder(AuditTrail(operator.repository.engine), executor, node)

    # -- lifecycle -----------------------------------------------------------------------

    def close_streams(self) -> None:
        """End every open stream (with UNAVAILABLE) at its next wake-up; call on the loop."""
        self._closing = True
        for subscription in list(self._subscriptions):
            subscription.interrupt()

    @property
    def cached_snapshots(self) -> int:
        return self._reader.cached_executions

    @property
    def polls(self) -> int:
        """The shared poll's repository reads so far."""
        return self._poll.polls

    def _current_poll_interval(self) -> float:
        if self._operator.events.cross_process:
            return max(self._poll_interval, _LISTENING_POLL_INTERVAL)
        return self._poll_interval

    # -- plumbing ------------------------------------------------------------------------

    async def _unary(
        self,
        context: grpc.aio.ServicerContext[Any, Any],
        body: Callable[[RequestT], ResponseT],
        request: RequestT,
    ) -> ResponseT:
        loop = asyncio.get_running_loop()
        try:
            # The call's context variables (a trace's current span) follow it to the thread.
            context_run = contextvars.copy_context().run
            return await loop.run_in_executor(self._executor, context_run, body, request)
        except Exception as error:  # CancelledError is a BaseException and passes through
            status = status_for(error)
            if status.code is grpc.StatusCode.INTERNAL:
                logger.exception("internal error in %s", getattr(body, "__name__", body))
        await abort(context, status)

    async def _launching(
        self,
        context: grpc.aio.ServicerContext[Any, Any],
        body: Callable[[RequestT, LaunchHold], ResponseT],
        request: RequestT,
    ) -> ResponseT:
        """`_unary` for calls that launch executions: the launcher gets them once the call
        has ended (response sent), so that a job starting at once does not slow the
        response down (see LaunchHold)."""
        hold = self._operator.new_hold()
        # grpc-stubs declare a class where grpc takes any callable.
        context.add_done_callback(lambda _context: hold.release())  # type: ignore[arg-type]

        def launching(request: RequestT) -> ResponseT:
            return body(request, hold)

        launching.__name__ = body.__name__  # for _unary's error log
        try:
            return await self._unary(context, launching, request)
        finally:
            # Should the done callback never come, the executions still run.
            asyncio.get_running_loop().call_later(_HOLD_BACKSTOP, hold.release)

    async def _blocking(self, body: Callable[[], ResponseT]) -> ResponseT:
        return await asyncio.get_running_loop().run_in_executor(self._executor, body)

    def _load_snapshot(self, execution_id: int) -> pb.JobExecution:
        return execution_to_proto(self._operator.get_job_execution(execution_id))

    # -- launching -----------------------------------------------------------------------

    async def Start(
        self, request: pb.StartRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.StartResponse:
        body = self.audit.audited("Start", self._start)
        return await self._launching(context, body, request)

    def _start(self, request: pb.StartRequest, hold: LaunchHold) -> pb.StartResponse:
        check.request_size(request)
        name = check.job_name(request.job_name)
        request_id = check.request_id(request.request_id)
        parameters = check.parameters(request.parameters)
        priority = check.priority(request.priority)
        execution = self._operator.start(name, parameters, request_id, hold=hold, priority=priority)
        return pb.StartResponse(execution=execution_for_caller(execution))

    async def StartNextInstance(
        self, request: pb.StartNextInstanceRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.StartNextInstanceResponse:
        return await self._launching(
            context, self.audit.audited("StartNextInstance", self._start_next_instance), request
        )

    def _start_next_instance(
        self, request: pb.StartNextInstanceRequest, hold: LaunchHold
    ) -> pb.StartNextInstanceResponse:
        check.request_size(request)
        name = check.job_name(request.job_name)
        request_id = check.request_id(request.request_id)
        priority = check.priority(request.priority)
        execution = self._operator.start_next_instance(
            name, request_id, hold=hold, priority=priority
        )
        return pb.StartNextInstanceResponse(execution=execution_for_caller(execution))

    async def Restart(
        self, request: pb.RestartRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.RestartResponse:
        body = self.audit.audited("Restart", self._restart)
        return await self._launching(context, body, request)

    def _restart(self, request: pb.RestartRequest, hold: LaunchHold) -> pb.RestartResponse:
        check.request_size(request)
        execution_id = check.execution_id(request.execution_id)
        request_id = check.request_id(request.request_id)
        priority = check.priority(request.priority)
        execution = self._operator.restart(execution_id, request_id, hold=hold, priority=priority)
        return pb.RestartResponse(execution=execution_for_caller(execution))

    # -- controlling ---------------------------------------------------------------------

    async def Stop(
        self, request: pb.StopRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.StopResponse:
        body = self.audit.audited("Stop", self._stop)
        return await self._unary(context, body, request)

    def _stop(self, request: pb.StopRequest) -> pb.StopResponse:
        execution = self._operator.stop(check.execution_id(request.execution_id))
        return pb.StopResponse(execution=execution_for_caller(execution))

    async def Abandon(
        self, request: pb.AbandonRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.AbandonResponse:
        body = self.audit.audited("Abandon", self._abandon)
        return await self._unary(context, body, request)

    def _abandon(self, request: pb.AbandonRequest) -> pb.AbandonResponse:
        execution = self._operator.abandon(check.execution_id(request.execution_id))
        return pb.AbandonResponse(execution=execution_for_caller(execution))

    async def Recover(
        self, request: pb.RecoverRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.RecoverResponse:
        body = self.audit.audited("Recover", self._recover)
        return await self._unary(context, body, request)

    def _recover(self, request: pb.RecoverRequest) -> pb.RecoverResponse:
        execution_id = check.execution_id(request.execution_id)
        execution = self._operator.recover(execution_id, force=request.force)
        return pb.RecoverResponse(execution=execution_for_caller(execution))

    # -- reading -------------------------------------------------------------------------

    async def GetRunningExecutions(
        self, request: pb.GetRunningExecutionsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.GetRunningExecutionsResponse:
        return await self._unary(context, self._get_running_executions, request)

    def _get_running_executions(
        self, request: pb.GetRunningExecutionsRequest
    ) -> pb.GetRunningExecutionsResponse:
        # Empty: every job's (a console of a Spring application's database lists them).
        name = check.job_name(request.job_name) if request.job_name else None
        ids = self._operator.get_running_executions(name)
        return pb.GetRunningExecutionsResponse(execution_ids=ids)

    async def GetSummary(
        self, request: pb.GetSummaryRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.GetSummaryResponse:
        return await self._unary(context, self._get_summary, request)

    def _get_summary(self, request: pb.GetSummaryRequest) -> pb.GetSummaryResponse:
        execution = self._operator.get_job_execution(check.execution_id(request.execution_id))
        return pb.GetSummaryResponse(summary=summary_for_caller(execution))

    async def GetStepExecutionSummaries(
        self,
        request: pb.GetStepExecutionSummariesRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> pb.GetStepExecutionSummariesResponse:
        return await self._unary(context, self._get_step_execution_summaries, request)

    def _get_step_execution_summaries(
        self, request: pb.GetStepExecutionSummariesRequest
    ) -> pb.GetStepExecutionSummariesResponse:
        summaries = self._operator.get_step_execution_summaries(
            check.execution_id(request.execution_id)
        )
        return pb.GetStepExecutionSummariesResponse(summaries=summaries)

    async def GetJobNames(
        self, request: pb.GetJobNamesRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.GetJobNamesResponse:
        return await self._unary(context, self._get_job_names, request)

    def _get_job_names(self, request: pb.GetJobNamesRequest) -> pb.GetJobNamesResponse:
        return pb.GetJobNamesResponse(job_names=self._operator.get_job_names())

    async def DescribeJobs(
        self, request: pb.DescribeJobsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.DescribeJobsResponse:
        return await self._unary(context, self._describe_jobs, request)

    def _describe_jobs(self, request: pb.DescribeJobsRequest) -> pb.DescribeJobsResponse:
        check.request_size(request)
        jobs = self._operator.describe_jobs(check.job_names(request.job_names))
        return pb.DescribeJobsResponse(jobs=[description_to_proto(job) for job in jobs])

    # -- workload control (docs/workload.md) ---------------------------------------------

    async def GetJobSettings(
        self, request: pb.GetJobSettingsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.GetJobSettingsResponse:
        return await self._unary(context, self._get_job_settings, request)

    def _get_job_settings(self, request: pb.GetJobSettingsRequest) -> pb.GetJobSettingsResponse:
        check.request_size(request)
        workloads = self._operator.get_job_workloads(check.job_names(request.job_names))
        return pb.GetJobSettingsResponse(jobs=[workload_to_proto(job) for job in workloads])

    async def UpdateJobSettings(
        self, request: pb.UpdateJobSettingsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.UpdateJobSettingsResponse:
        body = self.audit.audited("UpdateJobSettings", self._update_job_settings)
        return await self._unary(context, body, request)

    def _update_job_settings(
        self, request: pb.UpdateJobSettingsRequest
    ) -> pb.UpdateJobSettingsResponse:
        check.request_size(request)
        name = check.job_name(request.job_name)
        change = check.settings_change(request.settings, request.update_mask)
        workload = self._operator.update_job_settings(name, change)
        return pb.UpdateJobSettingsResponse(job=workload_to_proto(workload))

    async def PauseJob(
        self, request: pb.PauseJobRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.PauseJobResponse:
        body = self.audit.audited("PauseJob", self._pause_job)
        return await self._unary(context, body, request)

    def _pause_job(self, request: pb.PauseJobRequest) -> pb.PauseJobResponse:
        name = check.job_name(request.job_name)
        workload, stopped = self._operator.pause_job(name, stop_running=request.stop_running)
        return pb.PauseJobResponse(job=workload_to_proto(workload), stopped_execution_ids=stopped)

    async def ResumeJob(
        self, request: pb.ResumeJobRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ResumeJobResponse:
        body = self.audit.audited("ResumeJob", self._resume_job)
        return await self._unary(context, body, request)

    def _resume_job(self, request: pb.ResumeJobRequest) -> pb.ResumeJobResponse:
        workload = self._operator.resume_job(check.job_name(request.job_name))
        return pb.ResumeJobResponse(job=workload_to_proto(workload))

    async def ListQueue(
        self, request: pb.ListQueueRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ListQueueResponse:
        return await self._unary(context, self._list_queue, request)

    def _list_queue(self, request: pb.ListQueueRequest) -> pb.ListQueueResponse:
        # Empty: every job's waiting starts.
        name = check.job_name(request.job_name) if request.job_name else None
        size = check.page_size(request.page_size, default=check.DEFAULT_QUEUE_PAGE_SIZE)
        entries, total = self._operator.list_queue(name, size)
        return pb.ListQueueResponse(
            executions=[queued_execution_to_proto(entry) for entry in entries], total=total
        )

    async def GetParameters(
        self, request: pb.GetParametersRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.GetParametersResponse:
        return await self._unary(context, self._get_parameters, request)

    def _get_parameters(self, request: pb.GetParametersRequest) -> pb.GetParametersResponse:
        parameters = self._operator.get_parameters(check.execution_id(request.execution_id))
        return pb.GetParametersResponse(parameters=parameters_to_proto_for_caller(parameters))

    async def GetJobExecution(
        self, request: pb.GetJobExecutionRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.GetJobExecutionResponse:
        return await self._unary(context, self._get_job_execution, request)

    def _get_job_execution(self, request: pb.GetJobExecutionRequest) -> pb.GetJobExecutionResponse:
        execution = self._operator.get_job_execution(check.execution_id(request.execution_id))
        return pb.GetJobExecutionResponse(execution=execution_for_caller(execution))

    async def ListJobInstances(
        self, request: pb.ListJobInstancesRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ListJobInstancesResponse:
        return await self._unary(context, self._list_job_instances, request)

    def _list_job_instances(
        self, request: pb.ListJobInstancesRequest
    ) -> pb.ListJobInstancesResponse:
        # Empty: every job's instances.
        name = check.job_name(request.job_name) if request.job_name else None
        size = check.page_size(request.page_size)
        query = f"instances {name!r}"
        token = check.decode_page_token(request.page_token, query, ("offset", "before"))
        # Offset paging over newest-first instances: instances created since the previous
        # page push older ones down, so skip those at or above the previous page's last id.
        page: list[JobInstance] = []
        position = token["offset"] if token else 0
        before = token["before"] if token else None
        consumed = position
        more = False
        while not more:
            batch = self._operator.list_job_instances(name, position, size + 1)
            for index, instance in enumerate(batch):
                if before is not None and instance.id >= before:
                    continue
                if len(page) == size:
                    more = True
                    break
                page.append(instance)
                consumed = position + index + 1
            if len(batch) < size + 1:
                break
            position += len(batch)
        next_token = ""
        if more:
            next_token = check.encode_page_token(query, {"offset": consumed, "before": page[-1].id})
        return pb.ListJobInstancesResponse(
            job_instances=[instance_to_proto(instance) for instance in page],
            next_page_token=next_token,
        )

    async def ListJobExecutions(
        self, request: pb.ListJobExecutionsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ListJobExecutionsResponse:
        return await self._unary(context, self._list_job_executions, request)

    def _list_job_executions(
        self, request: pb.ListJobExecutionsRequest
    ) -> pb.ListJobExecutionsResponse:
        # Neither job_name nor job_instance_id nor a filter: every job's executions.
        selection = listing.execution_filter(
            request.job_name, request.job_instance_id, request.filter
        )
        size = check.page_size(request.page_size)
        oldest_first = request.oldest_first
        query = listing.page_query(selection, oldest_first=oldest_first)
        key = "after" if oldest_first else "before"
        token = check.decode_page_token(request.page_token, query, (key,))
        # Keyset paging: ids only grow, so "past the last id shown" is stable.
        executions = self._operator.list_job_executions(
            selection,
            job_name=request.job_name or None,
            after_id=token[key] if token else None,
            oldest_first=oldest_first,
            limit=size + 1,
        )
        next_token = ""
        if len(executions) > size:
            executions = executions[:size]
            next_token = check.encode_page_token(query, {key: executions[-1].id})
        return pb.ListJobExecutionsResponse(
            executions=[execution_for_caller(execution) for execution in executions],
            next_page_token=next_token,
        )

    async def CountJobExecutions(
        self, request: pb.CountJobExecutionsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.CountJobExecutionsResponse:
        return await self._unary(context, self._count_job_executions, request)

    def _count_job_executions(
        self, request: pb.CountJobExecutionsRequest
    ) -> pb.CountJobExecutionsResponse:
        selection = listing.execution_filter(
            request.job_name, request.job_instance_id, request.filter
        )
        count = self._operator.count_job_executions(selection, job_name=request.job_name or None)
        return pb.CountJobExecutionsResponse(count=count)

    async def ListAuditEvents(
        self, request: pb.ListAuditEventsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ListAuditEventsResponse:
        return await self._unary(context, self._list_audit_events, request)

    def _list_audit_events(self, request: pb.ListAuditEventsRequest) -> pb.ListAuditEventsResponse:
        name = check.job_name(request.job_name) if request.job_name else None
        since = check.timestamp(request.since, "since") if request.HasField("since") else None
        size = check.page_size(request.page_size)
        query = f"audit {name!r} {since.isoformat() if since else ''}"
        token = check.decode_page_token(request.page_token, query, ("before",))
        events = self.audit.trail.list_events(
            job_name=name, since=since, before_id=token["before"] if token else None, limit=size + 1
        )
        next_token = ""
        if len(events) > size:
            events = events[:size]
            next_token = check.encode_page_token(query, {"before": events[-1].id or 0})
        return pb.ListAuditEventsResponse(
            events=[audit_event_to_proto(event) for event in events], next_page_token=next_token
        )

    # -- streams -------------------------------------------------------------------------

    async def WatchExecution(
        self, request: pb.WatchExecutionRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[pb.WatchExecutionResponse]:
        try:
            execution_id = check.execution_id(request.execution_id)
            if request.after_version < 0:
                raise InvalidArgument("after_version must not be negative", field="after_version")
        except InvalidArgument as error:
            await abort(context, status_for(error))
        after_version = request.after_version
        events = self._operator.events
        # Subscribe before the first read, so that no change falls between the two.
        subscription = events.subscribe(execution_id=execution_id)
        self._subscriptions.add(subscription)
        self.active_streams += 1
        try:
            with self._reader.interest(execution_id), self._poll.following():
                epoch = events.feed_epoch
                snapshot = await self._reader.read(execution_id, events.last_sequence)
                last = fingerprint(snapshot)
                last_sent = time.monotonic()
                if snapshot.version > after_version:
                    yield pb.WatchExecutionResponse(execution=execution_for_caller(snapshot))
                while not is_terminal(snapshot):
                    changes = []
                    if not self._closing:
                        # Other processes' changes come as events too (see ChangePoll).
                        deadline = last_sent + self._heartbeat_interval
                        changes = await subscription.wait(max(0.0, deadline - time.monotonic()))
                    epoch = self._feed_changed(epoch)
                    if changes:
                        latest = max(changes, key=lambda change: change.sequence)
                        snapshot = await self._reader.read(
                            execution_id, latest.sequence, published=latest.snapshot
                        )
                    elif self._closing:
                        # The last read before closing must be fresh.
                        snapshot = await self._reader.read(
                            execution_id, events.last_sequence, not_before=time.monotonic()
                        )
                    current = fingerprint(snapshot)
                    if current != last and snapshot.version > after_version:
                        last = current
                        last_sent = time.monotonic()
                        yield pb.WatchExecutionResponse(execution=execution_for_caller(snapshot))
                    elif time.monotonic() - last_sent >= self._heartbeat_interval:
                        last_sent = time.monotonic()
                        yield pb.WatchExecutionResponse(heartbeat=True)
                    if self._closing and not is_terminal(snapshot):
                        # Followed elsewhere: the client resumes on another server with
                        # after_version.
                        await abort(context, _shutting_down())
        except (grpc.aio.AbortError, asyncio.CancelledError):
            raise
        except Exception as error:
            await abort(context, self._stream_error(error))
        finally:
            self.active_streams -= 1
            self._subscriptions.discard(subscription)
            subscription.close()

    async def WatchExecutions(
        self, request: pb.WatchExecutionsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[pb.WatchExecutionsResponse]:
        job_name: str | None = None
        try:
            if request.job_name:
                job_name = check.job_name(request.job_name)
                await self._blocking(functools.partial(self._operator.check_job_known, job_name))
        except Exception as error:
            await abort(context, self._stream_error(error))
        events = self._operator.events
        subscription = events.subscribe(job_name=job_name)
        self._subscriptions.add(subscription)
        self.active_streams += 1
        sent: dict[int, Fingerprint] = {}  # last snapshot sent per execution still running
        try:
            with self._poll.following():
                async for response in self._watch_executions(job_name, subscription, sent):
                    yield response
                await abort(context, _shutting_down())
        except (grpc.aio.AbortError, asyncio.CancelledError):
            raise
        except Exception as error:
            await abort(context, self._stream_error(error))
        finally:
            self.active_streams -= 1
            self._subscriptions.discard(subscription)
            subscription.close()

    async def _watch_executions(
        self, job_name: str | None, subscription: Subscription, sent: dict[int, Fingerprint]
    ) -> AsyncIterator[pb.WatchExecutionsResponse]:
        """WatchExecutions' messages until the server closes its streams."""
        events = self._operator.events
        last_sent = time.monotonic()
        epoch = events.feed_epoch
        snapshots = await self._blocking(functools.partial(self._running_snapshots, job_name))
        while True:
            for snapshot in snapshots:
                if job_name is not None and snapshot.job_name != job_name:
                    continue  # announced by another node, which names no job
                current = fingerprint(snapshot)
                if sent.get(snapshot.id) == current:
                    continue
                if is_terminal(snapshot):
                    sent.pop(snapshot.id, None)
                else:
                    sent[snapshot.id] = current
                last_sent = time.monotonic()
                yield pb.WatchExecutionsResponse(execution=execution_for_caller(snapshot))
            if self._closing:
                return
            if time.monotonic() - last_sent >= self._heartbeat_interval:
                last_sent = time.monotonic()
                yield pb.WatchExecutionsResponse(heartbeat=True)
            # Other processes' changes come as events too (see ChangePoll).
            deadline = last_sent + self._heartbeat_interval
            changes = await subscription.wait(max(0.0, deadline - time.monotonic()))
            epoch = self._feed_changed(epoch)
            snapshots = []
            for change in changes:
                with self._reader.interest(change.execution_id):
                    snapshots.append(
                        await self._reader.read(
                            change.execution_id, change.sequence, published=change.snapshot
                        )
                    )
            if self._closing:
                # The ends of the executions followed, as the last messages.
                snapshots = await self._blocking(
                    functools.partial(self._running_snapshots, job_name, list(sent))
                )

    @staticmethod
    def _stream_error(error: Exception) -> grpc.Status:
        status = status_for(error)
        if status.code is grpc.StatusCode.INTERNAL:
            logger.error("internal error in a stream", exc_info=error)
        return status

    def _feed_changed(self, epoch: int) -> int:
        """The feed epoch; when LISTEN went down or came back, the shared poll reads
        what may have been missed at once."""
        current = self._operator.events.feed_epoch
        if current != epoch:
            self._poll.wake()
        return current

    def _running_snapshots(
        self, job_name: str | None, followed: list[int] | None = None
    ) -> list[pb.JobExecution]:
        """The running executions, plus the followed ones that are no longer running."""
        running = self._running_executions(job_name, followed or [])
        return [execution_to_proto(execution) for execution in running]

    def _running_and_followed(self, followed: list[int]) -> list[JobExecution]:
        return self._running_executions(None, followed)

    def _running_executions(self, job_name: str | None, followed: list[int]) -> list[JobExecution]:
        running = self._operator.find_running_executions(job_name)
        seen = {execution.id for execution in running}
        for execution_id in followed:
            if execution_id not in seen:
                try:
                    running.append(self._operator.get_job_execution(execution_id))
                except NoSuchJobExecution:
                    continue
        return running

    # -- schedules (docs/schedules.md) ---------------------------------------------------

    async def CreateSchedule(
        self, request: pb.CreateScheduleRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.CreateScheduleResponse:
        body = self.audit.audited("CreateSchedule", self._create_schedule)
        return await self._unary(context, body, request)

    def _create_schedule(self, request: pb.CreateScheduleRequest) -> pb.CreateScheduleResponse:
        check.request_size(request)
        check.schedule_name(request.schedule.name, new=True)
        parameters = check.parameters(request.schedule.parameters)
        view = self._operator.create_schedule(
            schedule_spec_from_proto(request.schedule, parameters)
        )
        return pb.CreateScheduleResponse(schedule=schedule_for_caller(view))

    async def GetSchedule(
        self, request: pb.GetScheduleRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.GetScheduleResponse:
        return await self._unary(context, self._get_schedule, request)

    def _get_schedule(self, request: pb.GetScheduleRequest) -> pb.GetScheduleResponse:
        view = self._operator.get_schedule(check.schedule_name(request.name))
        return pb.GetScheduleResponse(schedule=schedule_for_caller(view))

    async def ListSchedules(
        self, request: pb.ListSchedulesRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ListSchedulesResponse:
        return await self._unary(context, self._list_schedules, request)

    def _list_schedules(self, request: pb.ListSchedulesRequest) -> pb.ListSchedulesResponse:
        views = self._operator.list_schedules()
        return pb.ListSchedulesResponse(schedules=[schedule_for_caller(view) for view in views])

    async def UpdateSchedule(
        self, request: pb.UpdateScheduleRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.UpdateScheduleResponse:
        body = self.audit.audited("UpdateSchedule", self._update_schedule)
        return await self._unary(context, body, request)

    def _update_schedule(self, request: pb.UpdateScheduleRequest) -> pb.UpdateScheduleResponse:
        check.request_size(request)
        name = check.schedule_name(request.name)
        paths = list(request.update_mask.paths)
        if not paths:
            raise InvalidArgument("update_mask names no field to change", field="update_mask")
        for path in paths:
            if path not in SCHEDULE_FIELDS:
                raise InvalidArgument(
                    f"update_mask names {path!r}, which is not one of "
                    + ", ".join(SCHEDULE_FIELDS)
                    + (" (a schedule's name cannot change)" if path == "name" else ""),
                    field="update_mask",
                )
        parameters = check.parameters(request.schedule.parameters)
        change = {path: schedule_value(request.schedule, path, parameters) for path in paths}
        view = self._operator.update_schedule(name, change)
        return pb.UpdateScheduleResponse(schedule=schedule_for_caller(view))

    async def DeleteSchedule(
        self, request: pb.DeleteScheduleRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.DeleteScheduleResponse:
        body = self.audit.audited("DeleteSchedule", self._delete_schedule)
        return await self._unary(context, body, request)

    def _delete_schedule(self, request: pb.DeleteScheduleRequest) -> pb.DeleteScheduleResponse:
        self._operator.delete_schedule(check.schedule_name(request.name))
        return pb.DeleteScheduleResponse()

    async def PauseSchedule(
        self, request: pb.PauseScheduleRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.PauseScheduleResponse:
        body = self.audit.audited("PauseSchedule", self._pause_schedule)
        return await self._unary(context, body, request)

    def _pause_schedule(self, request: pb.PauseScheduleRequest) -> pb.PauseScheduleResponse:
        view = self._operator.pause_schedule(check.schedule_name(request.name))
        return pb.PauseScheduleResponse(schedule=schedule_for_caller(view))

    async def ResumeSchedule(
        self, request: pb.ResumeScheduleRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ResumeScheduleResponse:
        body = self.audit.audited("ResumeSchedule", self._resume_schedule)
        return await self._unary(context, body, request)

    def _resume_schedule(self, request: pb.ResumeScheduleRequest) -> pb.ResumeScheduleResponse:
        view = self._operator.resume_schedule(check.schedule_name(request.name))
        return pb.ResumeScheduleResponse(schedule=schedule_for_caller(view))

    async def TriggerSchedule(
        self, request: pb.TriggerScheduleRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.TriggerScheduleResponse:
        body = self.audit.audited("TriggerSchedule", self._trigger_schedule)
        return await self._unary(context, body, request)

    def _trigger_schedule(self, request: pb.TriggerScheduleRequest) -> pb.TriggerScheduleResponse:
        fire = self._operator.trigger_schedule(check.schedule_name(request.name))
        return pb.TriggerScheduleResponse(fire=schedule_fire_to_proto(fire))

    async def ListScheduleFires(
        self, request: pb.ListScheduleFiresRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ListScheduleFiresResponse:
        return await self._unary(context, self._list_schedule_fires, request)

    def _list_schedule_fires(
        self, request: pb.ListScheduleFiresRequest
    ) -> pb.ListScheduleFiresResponse:
        name = check.schedule_name(request.name)
        size = check.page_size(request.page_size)
        query = f"fires {name!r}"
        token = check.decode_page_token(request.page_token, query, ("before",))
        # Keyset paging on the nominal fire time, unique per schedule (the fire row's key).
        before = _from_micros(token["before"]) if token else None
        fires = self._operator.list_schedule_fires(name, size + 1, before)
        next_token = ""
        if len(fires) > size:
            fires = fires[:size]
            next_token = check.encode_page_token(query, {"before": _micros(fires[-1].fire_time)})
        return pb.ListScheduleFiresResponse(
            fires=[schedule_fire_to_proto(fire) for fire in fires], next_page_token=next_token
        )

    async def PreviewSchedule(
        self, request: pb.PreviewScheduleRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.PreviewScheduleResponse:
        return await self._unary(context, self._preview_schedule, request)

    def _preview_schedule(self, request: pb.PreviewScheduleRequest) -> pb.PreviewScheduleResponse:
        check.request_size(request)
        count = check.preview_count(request.count)
        expression = CronExpression.parse(request.cron)
        zone = time_zone(request.time_zone or "UTC")
        after = (
            check.timestamp(request.after, "after")
            if request.HasField("after")
            else datetime.now(UTC)
        )
        response = pb.PreviewScheduleResponse()
        for fire_time in expression.fire_times(after, zone, count):
            response.fire_times.add().FromDatetime(fire_time)
        return response

    # -- batched starts ------------------------------------------------------------------

    async def StartJobs(
        self, request: pb.StartJobsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.StartJobsResponse:
        body = functools.partial(self._start_jobs, current_caller.get())
        body.__name__ = "_start_jobs"  # type: ignore[attr-defined]
        return await self._launching(context, body, request)

    def _start_jobs(
        self, caller: Caller | None, request: pb.StartJobsRequest, hold: LaunchHold
    ) -> pb.StartJobsResponse:
        """Each entry as a Start of it alone: checked, launched (together, see
        JobOperator.start_many), audited and answered on its own. Only a call that is
        malformed as a whole (too big, too many entries) or that comes while the server
        shuts down fails as a whole."""
        check.request_size(request)
        check.starts_count(len(request.starts))
        events = self.audit.start_events(caller, request.starts)
        pending = [PendingAudit(event) for event in events]
        outcomes: list[JobExecution | Exception | None] = [None] * len(request.starts)
        entries: list[StartEntry] = []
        positions: list[int] = []
        for position, start in enumerate(request.starts):
            try:
                entry = StartEntry(
                    check.job_name(start.job_name),
                    check.parameters(start.parameters),
                    check.request_id(start.request_id),
                    check.priority(start.priority),
                    pending[position],
                )
            except Exception as error:
                outcomes[position] = error
                continue
            entries.append(entry)
            positions.append(position)
        started = self._operator.start_many(entries, hold=hold)
        for position, started_outcome in zip(positions, started, strict=True):
            outcomes[position] = started_outcome
        response = pb.StartJobsResponse()
        for position, outcome in enumerate(outcomes):
            result = response.results.add()
            if isinstance(outcome, JobExecution):
                self.audit.succeeded(pending[position], outcome.id, outcome.job_name)
                result.execution.CopyFrom(execution_for_caller(outcome))
                continue
            assert outcome is not None
            code, reason, message, metadata = bounded_error(outcome)
            if code is grpc.StatusCode.INTERNAL:
                logger.error("internal error in StartJobs", exc_info=outcome)
            self.audit.failed(events[position], outcome)
            result.error.code = code.value[0]
            result.error.reason = reason
            result.error.message = message
            result.error.metadata.update(metadata)
        return response

    # -- bulk operations (docs/operations.md) --------------------------------------------

    async def BulkStop(
        self, request: pb.BulkStopRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[pb.BulkStopResponse]:
        async for operation in self._bulk(BulkAction.STOP, request, context):
            yield pb.BulkStopResponse(operation=operation)

    async def BulkAbandon(
        self, request: pb.BulkAbandonRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[pb.BulkAbandonResponse]:
        async for operation in self._bulk(BulkAction.ABANDON, request, context):
            yield pb.BulkAbandonResponse(operation=operation)

    async def BulkRestart(
        self, request: pb.BulkRestartRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[pb.BulkRestartResponse]:
        async for operation in self._bulk(BulkAction.RESTART, request, context):
            yield pb.BulkRestartResponse(operation=operation)

    async def BulkRecover(
        self, request: pb.BulkRecoverRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[pb.BulkRecoverResponse]:
        async for operation in self._bulk(BulkAction.RECOVER, request, context):
            yield pb.BulkRecoverResponse(operation=operation)

    def start_bulk(self, action: BulkAction, request: BulkRequest) -> BulkOperation:
        """Check a bulk request and accept it (or answer its dry run); audited by the
        caller as the action's bulk RPC. REST calls this too."""
        check.request_size(request)
        selection = bulk_selection(request.selection, force=getattr(request, "force", False))
        caller = current_caller.get()
        principal = caller.principal.name if caller is not None else ANONYMOUS.name
        return self._operator.start_bulk(
            action, selection, principal=principal, dry_run=request.dry_run
        )

    async def _bulk(
        self,
        action: BulkAction,
        request: BulkRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> AsyncIterator[pb.BulkOperation]:
        """The operation as accepted, then its progress until it ends (a dry run: one
        message). The client going away ends the stream, not the operation."""

        def accept(request: BulkRequest) -> BulkOperation:
            return self.start_bulk(action, request)

        accept.__name__ = action.rpc
        body = self.audit.audited(action.rpc, accept)
        operation = await self._unary(context, body, request)
        yield bulk_operation_to_proto(operation)
        if operation.running and operation.id is not None:
            async for message in self._follow_bulk(operation, context):
                yield message

    async def _follow_bulk(
        self, operation: BulkOperation, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[pb.BulkOperation]:
        """Each change of the operation's progress (its row read every BULK_POLL_INTERVAL
        seconds, on any node), until it is no longer RUNNING; unchanged, the operation is
        sent again every heartbeat interval."""
        assert operation.id is not None
        get = functools.partial(self._operator.get_bulk_operation, operation.id)
        last = operation.progress()
        last_sent = time.monotonic()
        self.active_streams += 1
        try:
            while operation.running:
                if self._closing:
                    await abort(context, _shutting_down())
                await asyncio.sleep(BULK_POLL_INTERVAL)
                operation = await self._blocking(get)
                changed = operation.progress() != last
                if changed or time.monotonic() - last_sent >= self._heartbeat_interval:
                    last = operation.progress()
                    last_sent = time.monotonic()
                    yield bulk_operation_to_proto(operation)
        except (grpc.aio.AbortError, asyncio.CancelledError):
            raise
        except Exception as error:
            await abort(context, self._stream_error(error))
        finally:
            self.active_streams -= 1

    async def GetBulkOperation(
        self, request: pb.GetBulkOperationRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.GetBulkOperationResponse:
        return await self._unary(context, self._get_bulk_operation, request)

    def _get_bulk_operation(
        self, request: pb.GetBulkOperationRequest
    ) -> pb.GetBulkOperationResponse:
        operation = self._operator.get_bulk_operation(check.execution_id(request.id, field="id"))
        return pb.GetBulkOperationResponse(operation=bulk_operation_to_proto(operation))

    async def WatchBulkOperation(
        self, request: pb.WatchBulkOperationRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[pb.WatchBulkOperationResponse]:
        try:
            operation_id = check.execution_id(request.id, field="id")
            operation = await self._blocking(
                functools.partial(self._operator.get_bulk_operation, operation_id)
            )
        except Exception as error:
            await abort(context, self._stream_error(error))
        yield pb.WatchBulkOperationResponse(operation=bulk_operation_to_proto(operation))
        async for message in self._follow_bulk(operation, context):
            yield pb.WatchBulkOperationResponse(operation=message)

    async def CancelBulkOperation(
        self, request: pb.CancelBulkOperationRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.CancelBulkOperationResponse:
        body = self.audit.audited("CancelBulkOperation", self._cancel_bulk_operation)
        return await self._unary(context, body, request)

    def _cancel_bulk_operation(
        self, request: pb.CancelBulkOperationRequest
    ) -> pb.CancelBulkOperationResponse:
        operation_id = check.execution_id(request.id, field="id")
        caller = current_caller.get()
        principal = caller.principal.name if caller is not None else ANONYMOUS.name
        operation = self._operator.cancel_bulk_operation(operation_id, principal=principal)
        return pb.CancelBulkOperationResponse(operation=bulk_operation_to_proto(operation))


BulkRequest = (
    pb.BulkStopRequest | pb.BulkAbandonRequest | pb.BulkRestartRequest | pb.BulkRecoverRequest
)


def _shutting_down() -> grpc.Status:
    return error_status(grpc.StatusCode.UNAVAILABLE, SHUTTING_DOWN, "the server is shutting down")


def _micros(moment: datetime) -> int:
    """A fire time in a page token: microseconds since the epoch."""
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _from_micros(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
