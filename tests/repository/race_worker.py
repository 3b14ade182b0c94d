"""A second process for the cross-process race tests (run by test_races.py, not collected).

    python race_worker.py launch|launch-new|init URL THREADS

Connects, prints "ready", waits for a line on stdin (so that every process starts at the
same moment), then makes THREADS simultaneous attempts and prints their outcomes as JSON:
"created <id>", "ok", or the name of the domain error raised (tracebacks of anything else
go to stderr).
"""

from __future__ import annotations

import json
import sys
import threading
import traceback

from jobop.domain import JobopError, JobParameters
from jobop.repository import JobRepository, create_engine, init_schema

RACE_JOB = "raceJob"
RACE_PARAMETERS = ["run.id=7,long", "chunkSize=3,long,false"]


def main() -> None:
    mode, url, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    engine = create_engine(url, pool_size=threads, max_overflow=0)
    repository = JobRepository(engine)
    parameters = JobParameters.parse(RACE_PARAMETERS)
    if mode != "init":
        # Open the pool's connections now, so that the race is not one of connecting.
        connections = [engine.connect() for _ in range(threads)]
        for connection in connections:
            connection.close()
    barrier = threading.Barrier(threads)
    outcomes: list[str] = []

    def attempt() -> None:
        barrier.wait()
        try:
            if mode == "init":
                init_schema(engine)
                outcomes.append("ok")
            else:
                execution = repository.create_job_execution(
                    RACE_JOB, parameters, new_instance_only=mode == "launch-new"
                )
                outcomes.append(f"created {execution.id}")
        except JobopError as error:
            outcomes.append(type(error).__name__)
        except Exception as error:  # reported, so the test shows what leaked
            traceback.print_exc()
            outcomes.append(f"unexpected {type(error).__name__}: {error}")

    workers = [threading.Thread(target=attempt) for _ in range(threads)]
    print("ready", flush=True)
    sys.stdin.readline()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    engine.dispose()
    print(json.dumps(outcomes), flush=True)


if __name__ == "__main__":
    main()
