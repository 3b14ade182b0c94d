"""bulk_stop: stopping 1,000 queued executions with one BulkStop, against 1,000 Stop RPCs.

Starts a throwaway PostgreSQL cluster (tests/pgcluster.py; or `--db sqlite`) and a real
`jobop serve` on it (`--bulk-rate` as given), pauses `demoTaskletJob` so that its starts
wait in the queue (STARTING), then in the same run:

1. **baseline**: starts `--executions` and stops them with one Stop RPC each, one after
   the other as a script looping over ids would (`--stop-concurrency` for more in flight);
   time from the first Stop to the last answer (a queued execution is STOPPED at once);
2. **bulk**: starts as many again and stops them with one BulkStop whose filter selects
   the job's STARTING executions; time from the request until the stream ends DONE, and
   until every one reads STOPPED (checked with CountJobExecutions);

for each `--bulk-rate` given (each on a server of its own, same database). Prints one
table with the target (all STOPPED within 10 s).

    .venv/bin/python -m bench.bulk_stop
    .venv/bin/python -m bench.bulk_stop --db sqlite --bulk-rate 200 --bulk-rate 0
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import grpc.aio
from jobop_client.proto import job_operator_pb2 as pb
from jobop_client.proto import job_operator_pb2_grpc as pb_grpc

from bench.grpc_start import database, jobop_serve

JOB = "demoTaskletJob"
TARGET_SECONDS = 10.0


async def _start_queued(stub: pb_grpc.JobOperatorServiceStub, count: int, tag: str) -> list[int]:
    """`count` starts of the paused job (they wait, STARTING), 32 in flight."""
    ids: list[int] = []
    gate = asyncio.Semaphore(32)

    async def one(run: int) -> None:
        request = pb.StartRequest(job_name=JOB)
        request.parameters["run"].string_value = f"{tag}-{run}"
        request.parameters["durationMs"].long_value = 0
        async with gate:
            response = await stub.Start(request, timeout=60)
        ids.append(response.execution.id)

    await asyncio.gather(*(one(run) for run in range(count)))
    return sorted(ids)


async def _count(stub: pb_grpc.JobOperatorServiceStub, status: int) -> int:
    request = pb.CountJobExecutionsRequest(
        filter=pb.ExecutionFilter(job_names=[JOB], statuses=[status])
    )
    return int((await stub.CountJobExecutions(request, timeout=60)).count)


async def _baseline(
    stub: pb_grpc.JobOperatorServiceStub, ids: list[int], concurrency: int
) -> float:
    gate = asyncio.Semaphore(concurrency)

    async def one(execution_id: int) -> None:
        async with gate:
            await stub.Stop(pb.StopRequest(execution_id=execution_id), timeout=60)

    began = time.perf_counter()
    if concurrency == 1:
        for execution_id in ids:
            await one(execution_id)
    else:
        await asyncio.gather(*(one(execution_id) for execution_id in ids))
    return time.perf_counter() - began


async def _bulk(stub: pb_grpc.JobOperatorServiceStub, expected: int) -> tuple[float, float, int]:
    """(seconds until the stream ended DONE, until all read STOPPED, progress messages)."""
    selection = pb.ExecutionSelection(
        filter=pb.ExecutionFilter(job_names=[JOB], statuses=[pb.BATCH_STATUS_STARTING])
    )
    began = time.perf_counter()
    messages = 0
    final = None
    async for response in stub.BulkStop(pb.BulkStopRequest(selection=selection), timeout=600):
        messages += 1
        final = response.operation
    ended = time.perf_counter() - began
    assert final is not None and final.state == pb.BULK_OPERATION_STATE_DONE, final
    assert final.matched == expected and final.done == expected, final
    while await _count(stub, pb.BATCH_STATUS_STARTING):
        await asyncio.sleep(0.01)
    return ended, time.perf_counter() - began, messages


async def _round(
    target: str, executions: int, baseline: bool, concurrency: int, tag: str
) -> dict[str, float]:
    async with grpc.aio.insecure_channel(target) as channel:
        stub = pb_grpc.JobOperatorServiceStub(channel)
        await stub.PauseJob(pb.PauseJobRequest(job_name=JOB), timeout=60)
        found: dict[str, float] = {}
        if baseline:
            ids = await _start_queued(stub, executions, f"{tag}-single")
            found["single"] = await _baseline(stub, ids, concurrency)
        stopped_before = await _count(stub, pb.BATCH_STATUS_STOPPED)
        await _start_queued(stub, executions, f"{tag}-bulk")
        found["bulk_done"], found["bulk_stopped"], messages = await _bulk(stub, executions)
        found["messages"] = messages
        stopped = await _count(stub, pb.BATCH_STATUS_STOPPED) - stopped_before
        assert stopped == executions, (stopped, executions)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--pg-url", help="a superuser URL of a server to use instead")
    parser.add_argument("--executions", type=int, default=1000)
    parser.add_argument(
        "--bulk-rate",
        action="append",
        type=float,
        help="the server's --bulk-rate (repeatable: one server each; default 200)",
    )
    parser.add_argument("--stop-concurrency", type=int, default=1)
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args()
    rates = args.bulk_rate or [200.0]
    rows: list[tuple[str, float, str]] = []
    with tempfile.TemporaryDirectory(prefix="jobop-bulk-bench-") as folder_name:
        folder = Path(folder_name)
        with database(args.db, args.pg_url, folder) as db:
            for index, rate in enumerate(rates):
                options = ["--bulk-rate", f"{rate:g}"]
                with jobop_serve(db, 4, folder, args.log_level, f"serve-{index}", options) as srv:
                    found = asyncio.run(
                        _round(
                            srv.target,
                            args.executions,
                            index == 0,
                            args.stop_concurrency,
                            f"r{index}-{time.time_ns()}",
                        )
                    )
                if "single" in found:
                    rows.append(
                        (
                            f"{args.executions} Stop RPCs ({args.stop_concurrency} in flight)",
                            found["single"],
                            f"{args.executions / found['single']:.0f}/s",
                        )
                    )
                limit = "no limit" if rate == 0 else f"{rate:g}/s"
                rows.append(
                    (
                        f"BulkStop, --bulk-rate {limit}: stream DONE",
                        found["bulk_done"],
                        f"{int(found['messages'])} messages",
                    )
                )
                verdict = "ok" if found["bulk_stopped"] <= TARGET_SECONDS else "MISSED"
                rows.append(
                    (
                        f"BulkStop, --bulk-rate {limit}: all STOPPED",
                        found["bulk_stopped"],
                        f"target <= {TARGET_SECONDS:g} s: {verdict}",
                    )
                )
    print(f"\nbulk_stop on {args.db}: {args.executions} queued executions of {JOB}\n")
    width = max(len(row[0]) for row in rows)
    print(f"{'what':<{width}}  {'seconds':>8}  note")
    for what, seconds, note in rows:
        print(f"{what:<{width}}  {seconds:>8.2f}  {note}")


if __name__ == "__main__":
    main()
