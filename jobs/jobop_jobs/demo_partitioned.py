"""demoPartitionedJob: demoChunkJob's work (the integers 1..items as rows of DEMO_ITEMS,
written in each chunk's transaction) split into partitions, each a worker step execution
of its own (`demoWorkerStep:partition0`, ...) run on this node's threads or, on a
PostgreSQL cluster, by whichever nodes have free workers.

The manager step `demoPartitionStep` splits 1..items with a RangePartitioner into
`partitions` ranges; each worker reads its range from its step context (minValue,
maxValue). The processor can burn `cpuWorkUs` of pure-Python CPU per item (work that holds
the interpreter, as real parsing and validation do), which is what spreading partitions
over processes speeds up.

Parameters (declared: others are refused): `items` (identifying, default 1000),
`partitions` (default 4; a restart keeps the first execution's), `chunkSize` (default 10),
`itemDelayMs` (a sleep per item read, default 0), `cpuWorkUs` (CPU work per item, default
0), `failAtItem` (the processor raises on that item in the instance's first execution
only, failing its partition and then the job; a restart runs only the unfinished
partitions and gets past it; default 0 = never).
"""

from __future__ import annotations

import time

from jobop.batch import (
    ChunkStep,
    Job,
    PartitionStep,
    RangePartitioner,
    RunIdIncrementer,
    StepContext,
    step_scope,
)
from jobop.domain import ParameterDeclaration

from ._parameters import at_least
from .demo_chunk import (
    CHUNK_SIZE,
    FAIL_AT_ITEM,
    ITEM_DELAY_MS,
    DemoFailure,
    DemoItemsWriter,
    NumberReader,
    RememberFirstExecution,
)

JOB_NAME = "demoPartitionedJob"
MANAGER_STEP = "demoPartitionStep"
WORKER_STEP = "demoWorkerStep"
# The job context remembers the instance's first execution (contexts carry over restarts).
FIRST_EXECUTION_KEY = "demoPartitionedJob.firstExecutionId"


def _calibrate() -> float:
    """Iterations of `_spin` per microsecond on this machine (best of a few short runs),
    so that cpuWorkUs is a fixed amount of work, not a wall-clock wait."""
    rounds = 20_000
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        _spin(rounds)
        best = min(best, time.perf_counter() - started)
    return rounds / max(best * 1_000_000, 1e-3)


def _spin(rounds: int) -> int:
    total = 0
    for value in range(rounds):
        total = (total + value * value) % 1_000_003
    return total


_ROUNDS_PER_US: float | None = None


def rounds_per_us() -> float:
    global _ROUNDS_PER_US
    if _ROUNDS_PER_US is None:
        _ROUNDS_PER_US = _calibrate()
    return _ROUNDS_PER_US


class DemoProcessor:
    """Burns `cpu_work_us` of CPU per item (measured once per process), and raises on
    `fail_at` (0: never)."""

    def __init__(self, cpu_work_us: int, fail_at: int) -> None:
        self.rounds = round(cpu_work_us * rounds_per_us()) if cpu_work_us else 0
        self.fail_at = fail_at

    def process(self, item: int) -> int:
        if self.rounds:
            _spin(self.rounds)
        if item == self.fail_at:
            raise DemoFailure(f"failAtItem={item}: failing as asked (first execution only)")
        return item


PARAMETERS = [
    ParameterDeclaration(
        "items", "LONG", default=1000, description="How many integers to write (1..items)."
    ),
    ParameterDeclaration(
        "partitions",
        "LONG",
        identifying=False,
        default=4,
        description="How many partitions to split 1..items into (at least 1; a restart "
        "keeps the first execution's).",
    ),
    CHUNK_SIZE,
    ITEM_DELAY_MS,
    ParameterDeclaration(
        "cpuWorkUs",
        "LONG",
        identifying=False,
        default=0,
        description="Microseconds of pure-Python CPU work per item in the processor.",
    ),
    FAIL_AT_ITEM,
]

# Partitions beyond this many are refused: each is a step execution and a thread or worker.
MAX_PARTITIONS = 1000


def _reader(context: StepContext) -> NumberReader:
    partition = context.execution_context
    return NumberReader(
        int(partition["maxValue"]),
        context.job_parameters.long("itemDelayMs"),
        first=int(partition["minValue"]),
    )


def _processor(context: StepContext) -> DemoProcessor | None:
    parameters = context.job_parameters
    fail_at = parameters.long("failAtItem")
    first = context.job_execution_context.get(FIRST_EXECUTION_KEY) == context.job_execution.id
    cpu = parameters.long("cpuWorkUs")
    fail_at = fail_at if first else 0
    return DemoProcessor(cpu, fail_at) if cpu or fail_at else None


def _chunk_size(context: StepContext) -> int:
    return context.job_parameters.long("chunkSize")


def _partitioner(context: StepContext) -> RangePartitioner:
    return RangePartitioner(1, context.job_parameters.long("items"))


def _grid_size(context: StepContext) -> int:
    return context.job_parameters.long("partitions")


worker = ChunkStep(
    WORKER_STEP,
    reader=step_scope(_reader),
    processor=step_scope(_processor),
    writer=step_scope(lambda context: DemoItemsWriter(context.job_execution.id)),
    chunk_size=_chunk_size,
)

job = Job(
    JOB_NAME,
    [
        PartitionStep(
            MANAGER_STEP,
            step=worker,
            partitioner=step_scope(_partitioner),
            grid_size=_grid_size,
        )
    ],
    validator=at_least(
        {"partitions": MAX_PARTITIONS},
        items=0,
        partitions=1,
        chunkSize=1,
        itemDelayMs=0,
        cpuWorkUs=0,
        failAtItem=0,
    ),
    incrementer=RunIdIncrementer(),
    listeners=[RememberFirstExecution(FIRST_EXECUTION_KEY)],
    description="Writes the integers 1..items into DEMO_ITEMS in partitions, each a worker "
    "step of its own, one chunk per transaction.",
    parameters=PARAMETERS,
)
