"""Jobs of bench/partitions.py only, loaded by `jobop serve --jobs bench.partition_jobs`.

`benchPlainChunkJob`: demoPartitionedJob's work without partitions, the baseline of the
partition step's overhead: one ChunkStep with the same reader (1..items), the same
processor (`cpuWorkUs` of pure-Python CPU per item) and the same writer (DEMO_ITEMS in
each chunk's transaction), the same chunk size. Parameters as demoPartitionedJob's
(`partitions` is taken and ignored, so both take the same starts).

Loaded into every `jobop serve` of the bench, this module also fixes demoPartitionedJob's
CPU work per item to the bench's one calibration (BENCH_ROUNDS_PER_US).
"""

from __future__ import annotations

import os

import jobop_jobs.demo_partitioned as demo
from jobop.batch import ChunkStep, Job, RunIdIncrementer, StepContext, step_scope
from jobop_jobs.demo_chunk import DemoItemsWriter, NumberReader
from jobop_jobs.demo_partitioned import PARAMETERS, DemoProcessor

JOB_NAME = "benchPlainChunkJob"
# The bench measures cpuWorkUs once and gives every process the same figure, so that each
# does the same work per item: a process calibrating alone while the machine is busy
# would do less work per microsecond asked than one calibrating on a quiet moment.
ROUNDS_PER_US = "BENCH_ROUNDS_PER_US"
if os.environ.get(ROUNDS_PER_US):
    demo._ROUNDS_PER_US = float(os.environ[ROUNDS_PER_US])


def _reader(context: StepContext) -> NumberReader:
    parameters = context.job_parameters
    return NumberReader(parameters.long("items"), parameters.long("itemDelayMs"))


def _processor(context: StepContext) -> DemoProcessor | None:
    cpu = context.job_parameters.long("cpuWorkUs")
    return DemoProcessor(cpu, 0) if cpu else None


job = Job(
    JOB_NAME,
    [
        ChunkStep(
            "benchPlainStep",
            reader=step_scope(_reader),
            processor=step_scope(_processor),
            writer=step_scope(lambda context: DemoItemsWriter(context.job_execution.id)),
            chunk_size=lambda context: context.job_parameters.long("chunkSize"),
        )
    ],
    incrementer=RunIdIncrementer(),
    description="demoPartitionedJob's reader, processor and writer in one chunk step.",
    parameters=PARAMETERS,
)
