"""The job catalogue: what a job is, told from its definition (or only its name, for a job
the repository knows but this process does not run).

Plain data: the operator hands descriptions to every surface (gRPC, REST, the dashboard),
each of which writes them in its own form.
"""

from __future__ import annotations

from dataclasses import dataclass

from jobop.domain import ParameterDeclaration

from .chunk import ChunkStep
from .job import Job
from .partition import PartitionStep
from .step import Step, TaskletStep


@dataclass(frozen=True, slots=True)
class StepDescription:
    name: str
    # "tasklet", "chunk", "partition", or the step's class name for any other kind.
    kind: str


@dataclass(frozen=True, slots=True)
class JobDescription:
    """One job of the catalogue. `registered` False: only the repository knows the job;
    its definition is not here, so the other fields are empty."""

    name: str
    registered: bool
    description: str = ""
    parameters: tuple[ParameterDeclaration, ...] = ()
    allow_undeclared_parameters: bool = True
    restartable: bool = False
    incrementer: str = ""
    steps: tuple[StepDescription, ...] = ()


def describe_job(job: Job) -> JobDescription:
    declaration = job.parameters
    return JobDescription(
        name=job.name,
        registered=True,
        description=job.description,
        parameters=declaration.parameters if declaration is not None else (),
        # A job that declares nothing takes any parameters.
        allow_undeclared_parameters=declaration is None or declaration.allow_undeclared,
        restartable=job.restartable,
        incrementer=incrementer_text(job.incrementer),
        steps=tuple(StepDescription(step.name, step_kind(step)) for step in job.steps),
    )


def describe_unregistered(name: str) -> JobDescription:
    """A job known only from the repository: its name is all there is to tell."""
    return JobDescription(name=name, registered=False, allow_undeclared_parameters=False)


def step_kind(step: Step) -> str:
    if isinstance(step, ChunkStep):
        return "chunk"
    if isinstance(step, TaskletStep):
        return "tasklet"
    if isinstance(step, PartitionStep):
        return "partition"
    return type(step).__name__


def incrementer_text(incrementer: object) -> str:
    """`RunIdIncrementer(run.id)`: the class and, when it has one, the key it increments."""
    if incrementer is None:
        return ""
    kind = type(incrementer).__name__
    key = getattr(incrementer, "key", None)
    return f"{kind}({key})" if isinstance(key, str) else kind
