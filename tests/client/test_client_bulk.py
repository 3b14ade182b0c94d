"""Bulk operations in the Python client (sync and async) and `jobctl bulk`, against the
in-memory server: what is sent, the operation as accepted, its progress to the end (a
watch resumed after UNAVAILABLE), the typed errors, and jobctl's confirmation, progress
and exit codes."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys

import pytest
from client_fake_server import RunningServer
from jobop_client import AsyncJobOperatorClient, JobOperatorClient, RetryPolicy, errors, jobctl
from jobop_client.jobctl_bulk import BulkProgress
from jobop_client.listing import execution_filter
from jobop_client.proto import job_operator_pb2 as pb

FAST_RETRY = RetryPolicy(initial_backoff=0.01, max_backoff=0.02)
JOB = "demoTaskletJob"


def _executions(server: RunningServer, statuses: list[int]) -> list[int]:
    """Executions of JOB in these statuses (newest last)."""
    ids = []
    with JobOperatorClient(server.target) as client:
        for run, status in enumerate(statuses, start=1):
            execution = client.start(JOB, {"run.id": run})
            server.servicer.executions[execution.id].status = status
            ids.append(execution.id)
    return ids


def test_bulk_stop_is_accepted_then_followed_to_its_end(fake_server: RunningServer) -> None:
    running, finished = _executions(
        fake_server, [pb.BATCH_STATUS_STARTED, pb.BATCH_STATUS_COMPLETED]
    )
    selection = execution_filter(job_names=[JOB])
    with JobOperatorClient(fake_server.target, retry=FAST_RETRY) as client:
        preview = client.bulk_stop(selection, dry_run=True)
        assert (preview.dry_run, preview.id, preview.matched) == (True, 0, 2)
        assert list(preview.execution_ids) == [finished, running]
        assert fake_server.servicer.executions[running].status == pb.BATCH_STATUS_STARTED

        accepted = client.bulk_stop(selection)
        assert accepted.state == pb.BULK_OPERATION_STATE_RUNNING and accepted.matched == 2
        fake_server.servicer.break_bulk_watch = True  # the watch resumes after UNAVAILABLE
        progress = list(client.watch_bulk_operation(accepted.id))
        final = progress[-1]
        assert final.state == pb.BULK_OPERATION_STATE_DONE
        assert (final.done, final.failed) == (1, 1)
        assert [(e.execution_id, e.reason) for e in final.errors] == [
            (finished, "JOB_EXECUTION_NOT_RUNNING")
        ]
        assert client.get_bulk_operation(accepted.id) == final
        assert client.cancel_bulk_operation(accepted.id) == final  # ended: as it is
        with pytest.raises(errors.NoSuchOperationError, match="no bulk operation"):
            client.get_bulk_operation(999)
        # Ids alone go without a filter; recover carries force.
        client.bulk_recover(ids=[running], force=True, dry_run=True)
        with pytest.raises(errors.InvalidArgumentError, match="select by a filter or ids"):
            client.bulk_abandon()
    sent = fake_server.servicer.requests("BulkStop")
    assert [r.dry_run for r in sent] == [True, False]
    assert list(sent[0].selection.filter.job_names) == [JOB]
    recover = fake_server.servicer.requests("BulkRecover")[0]
    assert recover.force and not recover.selection.HasField("filter")
    assert list(recover.selection.execution_ids) == [running]
    assert len(fake_server.servicer.requests("WatchBulkOperation")) == 2


def test_the_async_client_does_the_same(fake_server: RunningServer) -> None:
    (running,) = _executions(fake_server, [pb.BATCH_STATUS_STARTED])

    async def scenario() -> list[pb.BulkOperation]:
        async with AsyncJobOperatorClient(fake_server.target, retry=FAST_RETRY) as client:
            accepted = await client.bulk_stop(ids=[running])
            seen = [accepted]
            seen += [update async for update in client.watch_bulk_operation(accepted.id)]
            seen.append(await client.get_bulk_operation(accepted.id))
            seen.append(await client.cancel_bulk_operation(accepted.id))
            seen.append(await client.bulk_restart(ids=[running], dry_run=True))
            with pytest.raises(errors.NoSuchOperationError):
                await client.get_bulk_operation(12345)
            return seen

    seen = asyncio.run(scenario())
    assert seen[0].state == pb.BULK_OPERATION_STATE_RUNNING
    assert seen[-4].state == pb.BULK_OPERATION_STATE_DONE and seen[-4].done == 1
    assert seen[-3] == seen[-2] == seen[-4]
    assert seen[-1].dry_run and list(seen[-1].execution_ids) == [running]
    assert fake_server.servicer.executions[running].status == pb.BATCH_STATUS_STOPPED


def _jobctl(target: str, *args: str, answer: str | None = None) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "JOBOP_TARGET": target}
    return subprocess.run(
        [sys.executable, "-m", "jobop_client.jobctl", *args],
        capture_output=True,
        text=True,
        env=environment,
        input=answer if answer is not None else "",
        timeout=60,
    )


def test_jobctl_bulk_asks_then_acts_and_exits_by_the_outcome(fake_server: RunningServer) -> None:
    target = fake_server.target
    running, finished = _executions(
        fake_server, [pb.BATCH_STATUS_STARTED, pb.BATCH_STATUS_COMPLETED]
    )
    dry = _jobctl(target, "bulk", "stop", JOB, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout == f"2 executions (first: {finished}, {running})\n"

    declined = _jobctl(target, "bulk", "stop", JOB, "--status", "STARTED", answer="n\n")
    assert declined.returncode == 9
    assert "stop 1 execution" in declined.stderr and "nothing done" in declined.stderr
    no_answer = _jobctl(target, "bulk", "stop", JOB, "--status", "STARTED")
    assert no_answer.returncode == 9
    assert [r.dry_run for r in fake_server.servicer.requests("BulkStop")] == [True] * 3

    done = _jobctl(target, "bulk", "stop", JOB, "--status", "STARTED", answer="y\n")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("bulk operation ") and lines[0].endswith("stop 1 executions")
    assert "1/1  done 1  failed 0  DONE" in lines  # one line per change off a terminal
    assert lines[-1].endswith("DONE: 1 done, 0 failed of 1")
    statuses = list(fake_server.servicer.requests("BulkStop")[-1].selection.filter.statuses)
    assert statuses == [pb.BATCH_STATUS_STARTED]

    # Some refused: exit 8, the refusals printed; --json prints the operation at the end.
    partly = _jobctl(target, "--json", "bulk", "stop", "--id", str(finished), "--yes")
    assert partly.returncode == 8, partly.stderr
    body = json.loads(partly.stdout)
    assert (body["state"], body["failed"], body["action"]) == ("DONE", 1, "STOP")
    assert body["errors"][0] == {
        "executionId": finished,
        "reason": "JOB_EXECUTION_NOT_RUNNING",
        "message": f"execution {finished} is not running",
    }
    shown = _jobctl(target, "bulk", "show", str(body["id"]))
    assert shown.returncode == 0
    assert shown.stdout.startswith(f"bulk operation {body['id']} STOP DONE: 0 done, 1 failed")
    assert _jobctl(target, "bulk", "cancel", "777").returncode == 4  # no such operation


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bulk", "stop"], "bulk stop needs a JOB, a filter or --id"),
        (["bulk", "abandon", "--yes"], "bulk abandon needs a JOB, a filter or --id"),
        (["bulk", "stop", "--id", "0"], "an execution id is a positive number"),
        (["bulk", "restart", "--status", "DONE"], "'DONE' is not a status"),
        (["bulk", "stop", JOB, "--force"], "unrecognized arguments: --force"),
        (["bulk", "recover", "--since", "yesterday"], "expected an ISO-8601 time"),
    ],
)
def test_jobctl_bulk_usage_errors(
    fake_server: RunningServer, args: list[str], message: str
) -> None:
    result = _jobctl(fake_server.target, *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert not [c for c in fake_server.servicer.calls if c[0].startswith("Bulk")]


def test_the_filters_are_the_list_commands_own() -> None:
    parser = jobctl.build_parser()
    words = ["--status", "FAILED,STOPPED", "--since", "2026-03-01T00:00:00Z", "--param", "t=7"]
    listed = parser.parse_args(["list", "a", "b", *words])
    bulked = parser.parse_args(["bulk", "restart", "a", "b", *words])
    from jobop_client import jobctl_filters as filters

    assert filters.filter_from_args(bulked, bulked.job, running=False) == (
        filters.filter_from_args(listed, listed.job, running=False)
    )


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_redraws_one_line_on_a_terminal() -> None:
    out = _Terminal()
    progress = BulkProgress(out, live=True)
    operation = pb.BulkOperation(id=3, matched=4, state=pb.BULK_OPERATION_STATE_RUNNING)
    progress.update(operation)
    operation.done, operation.failed = 1, 1
    progress.update(operation)
    progress.update(operation)  # unchanged: not redrawn
    progress.finish()
    frames = out.getvalue().split("\r\x1b[2K")[1:]
    assert len(frames) == 2 and frames[-1].endswith("\n")
    assert frames[0].startswith("[" + "-" * 10)
    assert "2/4  done 1  failed 1  RUNNING" in frames[1]
    bar = frames[1][1 : frames[1].index("]")]
    assert bar.count("#") * 2 == len(bar)  # half-way
