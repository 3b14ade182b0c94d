"""The batch engine: job and step definitions, item contracts, listeners and the runners.

Define a job:

    from jobop.batch import ChunkStep, Job, RunIdIncrementer, step_scope

    job = Job("importJob", [ChunkStep("load", reader=..., writer=..., chunk_size=100)],
              incrementer=RunIdIncrementer())

Run it: `JobLauncher(repository).launch(job, parameters)`, or hand an execution created by
`repository.create_job_execution` to `JobRunner(repository).run(job, execution)`.
"""

from __future__ import annotations

from .chunk import ChunkStep
from .item import Chunk, ItemProcessor, ItemReader, ItemStream, ItemWriter
from .job import (
    END,
    FAIL,
    DefaultJobParametersValidator,
    End,
    FlowExecutionError,
    Job,
    JobParametersIncrementer,
    JobParametersValidator,
    RunIdIncrementer,
    end,
    fail,
)
from .listeners import (
    ChunkListener,
    ItemProcessListener,
    ItemReadListener,
    ItemWriteListener,
    JobExecutionListener,
    SkipListener,
    StepExecutionListener,
    listener,
)
from .partition import (
    LocalPartitionHandler,
    Partitioner,
    PartitionFailed,
    PartitionHandler,
    PartitionStep,
    RangePartitioner,
    execute_partition,
)
from .policy import LimitCheckingSkipPolicy, RetryPolicy, SkipLimitExceeded, SkipPolicy
from .registry import JobRegistry
from .runner import JobLauncher, JobRunner, next_parameters
from .step import (
    ChunkContext,
    RepeatStatus,
    Step,
    StepContext,
    StepContribution,
    StepScoped,
    StopSignal,
    Tasklet,
    TaskletStep,
    step_scope,
)

__all__ = [
    "END",
    "FAIL",
    "Chunk",
    "ChunkContext",
    "ChunkListener",
    "ChunkStep",
    "DefaultJobParametersValidator",
    "End",
    "FlowExecutionError",
    "ItemProcessListener",
    "ItemProcessor",
    "ItemReadListener",
    "ItemReader",
    "ItemStream",
    "ItemWriteListener",
    "ItemWriter",
    "Job",
    "JobExecutionListener",
    "JobLauncher",
    "JobParametersIncrementer",
    "JobParametersValidator",
    "JobRegistry",
    "JobRunner",
    "LimitCheckingSkipPolicy",
    "LocalPartitionHandler",
    "PartitionFailed",
    "PartitionHandler",
    "PartitionStep",
    "Partitioner",
    "RangePartitioner",
    "RepeatStatus",
    "RetryPolicy",
    "RunIdIncrementer",
    "SkipLimitExceeded",
    "SkipListener",
    "SkipPolicy",
    "Step",
    "StepContext",
    "StepContribution",
    "StepExecutionListener",
    "StepScoped",
    "StopSignal",
    "Tasklet",
    "TaskletStep",
    "end",
    "execute_partition",
    "fail",
    "listener",
    "next_parameters",
    "step_scope",
]
