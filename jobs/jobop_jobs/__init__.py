"""jobop's bundled sample jobs (README.md): demoChunkJob, demoTaskletJob, demoExitCodeJob.

Registered through the `jobop.jobs` entry point `samples`; `JOBS` lists them.
"""

from __future__ import annotations

from . import demo_chunk, demo_exit_code, demo_tasklet

demoChunkJob = demo_chunk.job
demoTaskletJob = demo_tasklet.job
demoExitCodeJob = demo_exit_code.job

JOBS = [demoChunkJob, demoTaskletJob, demoExitCodeJob]

__all__ = ["JOBS", "demoChunkJob", "demoExitCodeJob", "demoTaskletJob"]
