"""A small in-memory jobop server on a real socket, for the client and jobctl tests.

It speaks the real protocol (generated servicer, ErrorInfo trailers via
``jobop_client.errors.abort_arguments``) with canned job behaviour: a WatchExecution
"runs" the execution, one chunk of progress per snapshot. The real server has its own
tests; this one lets the client be tested without it.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any, NoReturn

import grpc
from jobop_client import errors, jsonform, parameters
from jobop_client.proto import job_operator_pb2 as pb
from jobop_client.proto import job_operator_pb2_grpc as pb_grpc

JOB_NAMES = ["demoChunkJob", "demoExitCodeJob", "demoTaskletJob"]
RUNNING = {pb.BATCH_STATUS_STARTING, pb.BATCH_STATUS_STARTED, pb.BATCH_STATUS_STOPPING}


def _abort(
    context: grpc.ServicerContext,
    reason: str,
    message: str,
    metadata: dict[str, str] | None = None,
) -> NoReturn:
    code, details, trailers = errors.abort_arguments(reason, message, metadata)
    context.set_trailing_metadata(trailers)
    context.abort(code, details)
    raise AssertionError("abort returns only by raising")


@dataclass
class FakeJobOperator(pb_grpc.JobOperatorServiceServicer):
    """The servicer; tests tweak its failure knobs and read what it saw."""

    executions: dict[int, pb.JobExecution] = field(default_factory=dict)
    instances: dict[tuple[str, str], int] = field(default_factory=dict)
    # Method name -> how many calls to answer UNAVAILABLE before serving.
    unavailable: dict[str, int] = field(default_factory=dict)
    # Abort the first WatchExecution stream with UNAVAILABLE after this many snapshots.
    break_watch_after: int | None = None
    calls: list[tuple[str, Any, dict[str, str]]] = field(default_factory=list)
    # Run-time job settings by job (workload control); a paused job's starts stay STARTING.
    overrides: dict[str, pb.JobSettingsOverride] = field(default_factory=dict)
    # Bulk operations by id: the snapshots a watch replays (the last is the final one).
    operations: dict[int, list[pb.BulkOperation]] = field(default_factory=dict)
    # Abort the first WatchBulkOperation stream with UNAVAILABLE after its first message.
    break_bulk_watch: bool = False
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _enter(self, name: str, request: Any, context: grpc.ServicerContext) -> None:
        metadata = {item.key: item.value for item in context.invocation_metadata()}
        with self._lock:
            self.calls.append((name, request, metadata))
            remaining = self.unavailable.get(name, 0)
            if remaining:
                self.unavailable[name] = remaining - 1
        if remaining:
            context.abort(grpc.StatusCode.UNAVAILABLE, "try again later")

    def requests(self, name: str) -> list[Any]:
        return [request for method, request, _ in self.calls if method == name]

    def _execution(self, execution_id: int, context: grpc.ServicerContext) -> pb.JobExecution:
        execution = self.executions.get(execution_id)
        if execution is None:
            _abort(context, "NO_SUCH_JOB_EXECUTION", f"no job execution with id {execution_id}")
        return execution

    def _launch(
        self,
        job_name: str,
        params: dict[str, pb.JobParameter],
        context: grpc.ServicerContext,
        priority: int = 0,
    ) -> pb.JobExecution:
        if job_name not in JOB_NAMES:
            _abort(context, "NO_SUCH_JOB", f"no job named {job_name!r}")
        values = parameters.from_proto_map(params)
        key = ",".join(
            parameters.format_parameter(name, value)
            for name, value in values.items()
            if value.identifying
        )
        with self._lock:
            if (job_name, key) in self.instances:
                _abort(
                    context,
                    "JOB_INSTANCE_ALREADY_EXISTS",
                    f"a {job_name} instance with parameters [{key}] exists already",
                )
            execution_id = next(self._ids)
            self.instances[(job_name, key)] = execution_id
            execution = pb.JobExecution(
                id=execution_id,
                version=1,
                job_instance_id=execution_id,
                job_name=job_name,
                parameters=params,
                status=pb.BATCH_STATUS_STARTING,
                exit_status=pb.ExitStatus(exit_code="UNKNOWN"),
                priority=priority,
            )
            execution.create_time.GetCurrentTime()
            self.executions[execution_id] = execution
        return execution

    # -- RPCs ---------------------------------------------------------------------------

    def Start(self, request: pb.StartRequest, context: grpc.ServicerContext) -> pb.StartResponse:
        self._enter("Start", request, context)
        if request.parameters.get("items", pb.JobParameter(long_value=1)).long_value < 0:
            _abort(context, "INVALID_JOB_PARAMETERS", "items must not be negative")
        execution = self._launch(
            request.job_name, dict(request.parameters), context, request.priority
        )
        return pb.StartResponse(execution=execution)

    def StartNextInstance(
        self, request: pb.StartNextInstanceRequest, context: grpc.ServicerContext
    ) -> pb.StartNextInstanceResponse:
        self._enter("StartNextInstance", request, context)
        run_id = 1 + sum(1 for e in self.executions.values() if e.job_name == request.job_name)
        params = {"run.id": pb.JobParameter(long_value=run_id)}
        return pb.StartNextInstanceResponse(
            execution=self._launch(request.job_name, params, context, request.priority)
        )

    def Stop(self, request: pb.StopRequest, context: grpc.ServicerContext) -> pb.StopResponse:
        self._enter("Stop", request, context)
        execution = self._execution(request.execution_id, context)
        if execution.status not in (pb.BATCH_STATUS_STARTING, pb.BATCH_STATUS_STARTED):
            _abort(context, "JOB_EXECUTION_NOT_RUNNING", f"execution {execution.id} is not running")
        execution.status = pb.BATCH_STATUS_STOPPING
        execution.version += 1
        return pb.StopResponse(execution=execution)

    def Restart(
        self, request: pb.RestartRequest, context: grpc.ServicerContext
    ) -> pb.RestartResponse:
        self._enter("Restart", request, context)
        old = self._execution(request.execution_id, context)
        if old.status not in (pb.BATCH_STATUS_FAILED, pb.BATCH_STATUS_STOPPED):
            _abort(context, "JOB_INSTANCE_ALREADY_COMPLETE", f"execution {old.id} is complete")
        with self._lock:
            new = pb.JobExecution()
            new.CopyFrom(old)
            new.id = next(self._ids)
            new.version = 1
            new.status = pb.BATCH_STATUS_STARTING
            new.priority = request.priority
            new.exit_status.exit_code = "UNKNOWN"
            del new.step_executions[:]
            self.executions[new.id] = new
        return pb.RestartResponse(execution=new)

    def Abandon(
        self, request: pb.AbandonRequest, context: grpc.ServicerContext
    ) -> pb.AbandonResponse:
        self._enter("Abandon", request, context)
        execution = self._execution(request.execution_id, context)
        if execution.status in RUNNING:
            _abort(
                context,
                "JOB_EXECUTION_ALREADY_RUNNING",
                f"execution {execution.id} is running; stop it first",
            )
        execution.status = pb.BATCH_STATUS_ABANDONED
        execution.version += 1
        return pb.AbandonResponse(execution=execution)

    def Recover(
        self, request: pb.RecoverRequest, context: grpc.ServicerContext
    ) -> pb.RecoverResponse:
        self._enter("Recover", request, context)
        execution = self._execution(request.execution_id, context)
        execution.status = pb.BATCH_STATUS_FAILED
        execution.exit_status.exit_code = "FAILED"
        execution.version += 1
        return pb.RecoverResponse(execution=execution)

    def GetRunningExecutions(
        self, request: pb.GetRunningExecutionsRequest, context: grpc.ServicerContext
    ) -> pb.GetRunningExecutionsResponse:
        self._enter("GetRunningExecutions", request, context)
        if request.job_name not in JOB_NAMES:
            _abort(context, "NO_SUCH_JOB", f"no job named {request.job_name!r}")
        ids = [
            e.id
            for e in self.executions.values()
            if e.job_name == request.job_name and e.status in RUNNING
        ]
        return pb.GetRunningExecutionsResponse(execution_ids=ids)

    def GetSummary(
        self, request: pb.GetSummaryRequest, context: grpc.ServicerContext
    ) -> pb.GetSummaryResponse:
        self._enter("GetSummary", request, context)
        e = self._execution(request.execution_id, context)
        status = pb.BatchStatus.Name(e.status).removeprefix("BATCH_STATUS_")
        summary = f"JobExecution: id={e.id}, version={e.version}, status={status}"
        return pb.GetSummaryResponse(summary=summary)

    def GetStepExecutionSummaries(
        self, request: pb.GetStepExecutionSummariesRequest, context: grpc.ServicerContext
    ) -> pb.GetStepExecutionSummariesResponse:
        self._enter("GetStepExecutionSummaries", request, context)
        e = self._execution(request.execution_id, context)
        summaries = {
            s.id: f"StepExecution: id={s.id}, name={s.step_name}, readCount={s.read_count}"
            for s in e.step_executions
        }
        return pb.GetStepExecutionSummariesResponse(summaries=summaries)

    def GetJobNames(
        self, request: pb.GetJobNamesRequest, context: grpc.ServicerContext
    ) -> pb.GetJobNamesResponse:
        self._enter("GetJobNames", request, context)
        return pb.GetJobNamesResponse(job_names=JOB_NAMES)

    def DescribeJobs(
        self, request: pb.DescribeJobsRequest, context: grpc.ServicerContext
    ) -> pb.DescribeJobsResponse:
        self._enter("DescribeJobs", request, context)
        names = list(request.job_names) or JOB_NAMES
        jobs = [pb.JobDescription(job_name=name, registered=True) for name in names]
        return pb.DescribeJobsResponse(jobs=jobs)

    def GetParameters(
        self, request: pb.GetParametersRequest, context: grpc.ServicerContext
    ) -> pb.GetParametersResponse:
        self._enter("GetParameters", request, context)
        execution = self._execution(request.execution_id, context)
        return pb.GetParametersResponse(parameters=execution.parameters)

    def GetJobExecution(
        self, request: pb.GetJobExecutionRequest, context: grpc.ServicerContext
    ) -> pb.GetJobExecutionResponse:
        self._enter("GetJobExecution", request, context)
        return pb.GetJobExecutionResponse(execution=self._execution(request.execution_id, context))

    def ListJobInstances(
        self, request: pb.ListJobInstancesRequest, context: grpc.ServicerContext
    ) -> pb.ListJobInstancesResponse:
        self._enter("ListJobInstances", request, context)
        found = sorted(
            (
                pb.JobInstance(id=instance_id, version=1, job_name=name, job_key=key)
                for (name, key), instance_id in self.instances.items()
                if name == request.job_name
            ),
            key=lambda instance: -instance.id,
        )
        items, token = _page(found, request.page_size, request.page_token)
        return pb.ListJobInstancesResponse(job_instances=items, next_page_token=token)

    def ListJobExecutions(
        self, request: pb.ListJobExecutionsRequest, context: grpc.ServicerContext
    ) -> pb.ListJobExecutionsResponse:
        self._enter("ListJobExecutions", request, context)
        found = sorted(
            (e for e in self.executions.values() if e.job_name == request.job_name),
            key=lambda e: -e.id,
        )
        items, token = _page(found, request.page_size, request.page_token)
        return pb.ListJobExecutionsResponse(executions=items, next_page_token=token)

    # -- workload control: settings kept in memory, a pause that holds starts ------------

    def _workload(self, job_name: str, context: grpc.ServicerContext) -> pb.JobWorkload:
        if job_name not in JOB_NAMES:
            _abort(context, "NO_SUCH_JOB", f"no job named {job_name!r}")
        override = self.overrides.get(job_name, pb.JobSettingsOverride())
        settings = pb.JobSettings()
        for name in jsonform.SETTING_FIELDS:
            if override.HasField(name):
                setattr(settings, name, getattr(override, name))
        mine = [e for e in self.executions.values() if e.job_name == job_name]
        return pb.JobWorkload(
            job_name=job_name,
            settings=settings,
            declared=pb.JobSettings(),
            override=override,
            running=sum(
                e.status in (pb.BATCH_STATUS_STARTED, pb.BATCH_STATUS_STOPPING) for e in mine
            ),
            queued=sum(e.status == pb.BATCH_STATUS_STARTING for e in mine),
        )

    def GetJobSettings(
        self, request: pb.GetJobSettingsRequest, context: grpc.ServicerContext
    ) -> pb.GetJobSettingsResponse:
        self._enter("GetJobSettings", request, context)
        names = list(request.job_names) or JOB_NAMES
        return pb.GetJobSettingsResponse(jobs=[self._workload(name, context) for name in names])

    def UpdateJobSettings(
        self, request: pb.UpdateJobSettingsRequest, context: grpc.ServicerContext
    ) -> pb.UpdateJobSettingsResponse:
        self._enter("UpdateJobSettings", request, context)
        self._workload(request.job_name, context)
        limit = request.settings.max_concurrent
        if request.settings.HasField("max_concurrent") and limit < 1:
            message = f"maxConcurrent must be between 1 and 1000000, not {limit}"
            _abort(context, "INVALID_ARGUMENT", message, {"field": "maxConcurrent"})
        override = self.overrides.setdefault(request.job_name, pb.JobSettingsOverride())
        for name in request.update_mask.paths:
            if request.settings.HasField(name):
                setattr(override, name, getattr(request.settings, name))
            else:
                override.ClearField(name)
        override.updated_by = "admin-user"
        override.updated.GetCurrentTime()
        return pb.UpdateJobSettingsResponse(job=self._workload(request.job_name, context))

    def PauseJob(
        self, request: pb.PauseJobRequest, context: grpc.ServicerContext
    ) -> pb.PauseJobResponse:
        self._enter("PauseJob", request, context)
        self._workload(request.job_name, context)
        self.overrides.setdefault(request.job_name, pb.JobSettingsOverride()).paused = True
        stopped = []
        if request.stop_running:
            for execution in self.executions.values():
                if execution.job_name == request.job_name and execution.status in RUNNING:
                    execution.status = pb.BATCH_STATUS_STOPPING
                    stopped.append(execution.id)
        job = self._workload(request.job_name, context)
        return pb.PauseJobResponse(job=job, stopped_execution_ids=stopped)

    def ResumeJob(
        self, request: pb.ResumeJobRequest, context: grpc.ServicerContext
    ) -> pb.ResumeJobResponse:
        self._enter("ResumeJob", request, context)
        self._workload(request.job_name, context)
        # Paused is never declared: resuming clears the run-time value.
        self.overrides.setdefault(request.job_name, pb.JobSettingsOverride()).ClearField("paused")
        return pb.ResumeJobResponse(job=self._workload(request.job_name, context))

    def ListQueue(
        self, request: pb.ListQueueRequest, context: grpc.ServicerContext
    ) -> pb.ListQueueResponse:
        self._enter("ListQueue", request, context)
        if request.job_name:
            self._workload(request.job_name, context)
        waiting = sorted(
            (
                e
                for e in self.executions.values()
                if e.status == pb.BATCH_STATUS_STARTING
                and request.job_name in ("", e.job_name)
                and self.overrides.get(e.job_name, pb.JobSettingsOverride()).paused
            ),
            key=lambda e: (-e.priority, e.id),
        )
        entries = [
            pb.QueuedExecution(
                execution_id=e.id,
                job_name=e.job_name,
                priority=e.priority,
                position=position,
                queued_seconds=12.5,
                waiting_for=f"{e.job_name} is paused",
            )
            for position, e in enumerate(waiting, start=1)
        ]
        return pb.ListQueueResponse(
            executions=entries[: request.page_size or 100], total=len(entries)
        )

    def WatchExecution(
        self, request: pb.WatchExecutionRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.WatchExecutionResponse]:
        self._enter("WatchExecution", request, context)
        execution = self._execution(request.execution_id, context)
        sent = 0
        for snapshot in _run(execution):
            self.executions[execution.id] = snapshot
            if snapshot.version <= request.after_version:
                continue
            if self.break_watch_after is not None and sent == self.break_watch_after:
                self.break_watch_after = None
                context.abort(grpc.StatusCode.UNAVAILABLE, "server going away")
            yield pb.WatchExecutionResponse(heartbeat=True)  # must be skipped by clients
            yield pb.WatchExecutionResponse(execution=snapshot)
            sent += 1

    def WatchExecutions(
        self, request: pb.WatchExecutionsRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.WatchExecutionsResponse]:
        self._enter("WatchExecutions", request, context)
        for execution in list(self.executions.values()):
            if not request.job_name or execution.job_name == request.job_name:
                yield pb.WatchExecutionsResponse(execution=execution)
        while context.is_active():  # heartbeats until the client goes away
            yield pb.WatchExecutionsResponse(heartbeat=True)
            time.sleep(0.05)

    # -- bulk operations: acted on at once, the watch replays RUNNING, half-way, the end --

    def _selected(self, selection: pb.ExecutionSelection) -> list[pb.JobExecution]:
        given = selection.HasField("filter")
        chosen = selection.filter
        found = [
            e
            for e in sorted(self.executions.values(), key=lambda e: -e.id)
            if (not selection.execution_ids or e.id in selection.execution_ids)
            and (not chosen.job_names or e.job_name in chosen.job_names)
            and (not chosen.statuses or e.status in chosen.statuses)
        ]
        return found if given or selection.execution_ids else []

    def _bulk(self, name: str, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        self._enter(name, request, context)
        if not request.selection.HasField("filter") and not request.selection.execution_ids:
            _abort(context, "INVALID_ARGUMENT", "select by a filter or ids", {"field": "selection"})
        response = getattr(pb, f"{name}Response")
        chosen = self._selected(request.selection)
        action = getattr(pb, "BULK_ACTION_" + name.removeprefix("Bulk").upper())
        operation = pb.BulkOperation(
            action=action,
            state=pb.BULK_OPERATION_STATE_RUNNING,
            matched=len(chosen),
            principal="anonymous",
            node_id="fake-node",
        )
        operation.create_time.GetCurrentTime()
        if request.dry_run:
            operation.dry_run = True
            operation.state = pb.BULK_OPERATION_STATE_DONE
            operation.execution_ids.extend(e.id for e in chosen[:10])
            yield response(operation=operation)
            return
        operation.id = next(self._ids)
        snapshots = [_copy_operation(operation)]
        for execution in chosen:
            if name == "BulkStop" and execution.status not in RUNNING:
                operation.failed += 1
                operation.errors.add(
                    execution_id=execution.id,
                    reason="JOB_EXECUTION_NOT_RUNNING",
                    message=f"execution {execution.id} is not running",
                )
            else:
                operation.done += 1
                execution.status = pb.BATCH_STATUS_STOPPED
            snapshots.append(_copy_operation(operation))
        operation.state = pb.BULK_OPERATION_STATE_DONE
        operation.end_time.GetCurrentTime()
        snapshots.append(_copy_operation(operation))
        self.operations[operation.id] = snapshots
        yield response(operation=snapshots[0])
        for snapshot in snapshots[1:]:
            yield response(operation=snapshot)

    def BulkStop(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        return self._bulk("BulkStop", request, context)

    def BulkAbandon(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        return self._bulk("BulkAbandon", request, context)

    def BulkRestart(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        return self._bulk("BulkRestart", request, context)

    def BulkRecover(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        return self._bulk("BulkRecover", request, context)

    def _operation(self, operation_id: int, context: grpc.ServicerContext) -> list[Any]:
        snapshots = self.operations.get(operation_id)
        if snapshots is None:
            _abort(context, "NO_SUCH_OPERATION", f"no bulk operation with id {operation_id}")
        return snapshots

    def GetBulkOperation(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._enter("GetBulkOperation", request, context)
        operation = self._operation(request.id, context)[-1]
        return pb.GetBulkOperationResponse(operation=operation)

    def CancelBulkOperation(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._enter("CancelBulkOperation", request, context)
        operation = self._operation(request.id, context)[-1]
        return pb.CancelBulkOperationResponse(operation=operation)

    def WatchBulkOperation(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        self._enter("WatchBulkOperation", request, context)
        for snapshot in self._operation(request.id, context):
            yield pb.WatchBulkOperationResponse(operation=snapshot)
            if self.break_bulk_watch:
                self.break_bulk_watch = False
                context.abort(grpc.StatusCode.UNAVAILABLE, "server going away")
            time.sleep(0.01)


def _copy_operation(operation: pb.BulkOperation) -> pb.BulkOperation:
    copy = pb.BulkOperation()
    copy.CopyFrom(operation)
    return copy


def _page(items: list[Any], size: int, token: str) -> tuple[list[Any], str]:
    start = int(token or 0)
    end = start + (size or 2)  # a small default page, so that paging gets exercised
    return items[start:end], str(end) if end < len(items) else ""


def _run(execution: pb.JobExecution) -> Iterator[pb.JobExecution]:
    """The snapshots of a canned run of ``execution``, from its current state on."""
    snapshot = pb.JobExecution()
    snapshot.CopyFrom(execution)
    yield _copy(snapshot)
    if snapshot.status not in (pb.BATCH_STATUS_STARTING, pb.BATCH_STATUS_STARTED):
        return
    params = parameters.from_proto_map(snapshot.parameters)
    items = int(params["items"].value) if "items" in params else 20
    chunk = int(params["chunkSize"].value) if "chunkSize" in params else 10
    fail = "fail" in params and params["fail"].value is True

    snapshot.status = pb.BATCH_STATUS_STARTED
    snapshot.start_time.GetCurrentTime()
    step = snapshot.step_executions.add(
        id=snapshot.id * 100, version=1, step_name="demoChunkStep", job_execution_id=snapshot.id
    )
    step.status = pb.BATCH_STATUS_STARTED
    step.start_time.CopyFrom(snapshot.start_time)
    snapshot.version += 1
    yield _copy(snapshot)
    done = 0
    while done < items:
        done = min(done + chunk, items)
        time.sleep(0.01)
        step.read_count = step.write_count = done
        step.commit_count += 1
        step.last_updated.GetCurrentTime()
        snapshot.version += 1
        yield _copy(snapshot)
    final = pb.BATCH_STATUS_FAILED if fail else pb.BATCH_STATUS_COMPLETED
    step.status = snapshot.status = final
    step.exit_status.exit_code = "CUSTOM STEP FAILED" if fail else "COMPLETED"
    snapshot.exit_status.exit_code = "CUSTOM FAILED" if fail else "COMPLETED"
    snapshot.exit_status.exit_description = "failed on purpose\nsecond line" if fail else ""
    step.end_time.GetCurrentTime()
    snapshot.end_time.CopyFrom(step.end_time)
    snapshot.version += 1
    yield _copy(snapshot)


def _copy(execution: pb.JobExecution) -> pb.JobExecution:
    copy = pb.JobExecution()
    copy.CopyFrom(execution)
    return copy


@dataclass
class RunningServer:
    target: str
    servicer: FakeJobOperator


def serve() -> tuple[grpc.Server, RunningServer]:
    """Starts a fake server on a free loopback port; the caller stops it."""
    servicer = FakeJobOperator()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    pb_grpc.add_JobOperatorServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, RunningServer(f"127.0.0.1:{port}", servicer)
