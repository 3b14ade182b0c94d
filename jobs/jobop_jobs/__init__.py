"""jobop's bundled sample jobs (README.md): demoChunkJob, demoTaskletJob, demoExitCodeJob,
demoPartitionedJob.

Registered through the `jobop.jobs` entry point `samples`; `JOBS` lists them.
"""

from __future__ import annotations

from . import demo_chunk, demo_exit_code, demo_partitioned, demo_tasklet

demoChunkJob = demo_chunk.job
demoTaskletJob = demo_tasklet.job
demoExitCodeJob = demo_exit_code.job
demoPartitionedJob = demo_partitioned.job

JOBS = [demoChunkJob, demoTaskletJob, demoExitCodeJob, demoPartitionedJob]

__all__ = [
    "JOBS",
    "demoChunkJob",
    "demoExitCodeJob",
    "demoPartitionedJob",
    "demoTaskletJob",
]
