"""Job definitions: steps, the flow between them, parameters validation and incrementing.

A job runs its steps in order; a step that does not complete ends the job with its status
(Spring's SimpleJob). Conditional flows route on a step's exit code instead:

    Job("importJob", [load, report, cleanup],
        transitions={"load": {"FAILED": "cleanup", "*": "report"},
                     "cleanup": {"*": FAIL}})

Patterns use `*` (any characters) and `?` (one character); the most specific match wins.
A target is another step's name, END (the job COMPLETES), FAIL (the job FAILS), or
`end("CODE")` / `fail("CODE")` for a custom exit code.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from jobop.domain import (
    LONG_MAX,
    BatchStatus,
    ExitStatus,
    InvalidJobParameters,
    InvalidSettings,
    JobParameter,
    JobParameters,
    JobSettings,
    ParameterDeclaration,
    ParametersDeclaration,
    StepExecution,
)
from jobop.domain.schedules import FIRE_PARAMETERS

from .listeners import JOB_HOOKS, check_listeners
from .step import NAME_LENGTH, Step


@dataclass(frozen=True, slots=True)
class End:
    """A flow's end: the job's final status and exit code."""

    status: BatchStatus
    exit_code: str

    def __str__(self) -> str:
        return f"End({self.status.value}, {self.exit_code!r})"


END = End(BatchStatus.COMPLETED, "COMPLETED")
FAIL = End(BatchStatus.FAILED, "FAILED")


def end(exit_code: str = "COMPLETED") -> End:
    """End the job COMPLETED with this exit code."""
    return End(BatchStatus.COMPLETED, exit_code)


def fail(exit_code: str = "FAILED") -> End:
    """End the job FAILED with this exit code."""
    return End(BatchStatus.FAILED, exit_code)


Target = str | End


class FlowExecutionError(Exception):
    """No transition of the flow matches a step's exit code."""


@dataclass(frozen=True, slots=True)
class Transition:
    pattern: str
    target: Target
    regex: re.Pattern[str]

    @classmethod
    def of(cls, pattern: str, target: Target) -> Transition:
        if not pattern:
            raise ValueError("a transition pattern must not be empty")
        regex = "".join(
            ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern
        )
        return cls(pattern, target, re.compile(regex, re.DOTALL))

    @property
    def specificity(self) -> tuple[int, int, int]:
        # Spring's order: fewer `*`, then fewer `?`, then longer patterns first.
        return (self.pattern.count("*"), self.pattern.count("?"), -len(self.pattern))

    def matches(self, exit_code: str) -> bool:
        return self.regex.fullmatch(exit_code) is not None


class JobParametersValidator(Protocol):
    def validate(self, parameters: JobParameters) -> None:
        """Raise InvalidJobParameters if the parameters cannot run the job."""


class DefaultJobParametersValidator:
    """Spring's default: required names must be present; if optional names are given,
    no other names are allowed."""

    def __init__(self, required: Iterable[str] = (), optional: Iterable[str] = ()) -> None:
        self.required = frozenset(required)
        self.optional = frozenset(optional)
        both = self.required & self.optional
        if both:
            raise ValueError(f"parameters both required and optional: {sorted(both)}")

    def validate(self, parameters: JobParameters) -> None:
        missing = sorted(self.required - set(parameters))
        if missing:
            raise InvalidJobParameters(
                f"missing required parameters: {', '.join(missing)}",
                metadata={"missing": ",".join(missing)},
            )
        if self.optional:
            unknown = sorted(set(parameters) - self.required - self.optional)
            if unknown:
                raise InvalidJobParameters(
                    f"unknown parameters: {', '.join(unknown)}",
                    metadata={"unknown": ",".join(unknown)},
                )


class JobParametersIncrementer(Protocol):
    def get_next(self, parameters: JobParameters | None) -> JobParameters:
        """The parameters of the next instance, from the last instance's (None: first)."""


class RunIdIncrementer:
    """Adds (or increments) a long identifying parameter, `run.id` by default."""

    def __init__(self, key: str = "run.id") -> None:
        self.key = key

    def get_next(self, parameters: JobParameters | None) -> JobParameters:
        parameters = parameters or JobParameters()
        current = parameters.get(self.key)
        run_id = 1
        if current is not None:
            try:
                run_id = int(current.value_text()) + 1
            except ValueError as error:
                raise InvalidJobParameters(
                    f"parameter {self.key!r} is not a number: {current.value_text()!r}"
                ) from error
        if run_id > LONG_MAX:
            last = run_id - 1
            raise InvalidJobParameters(
                f"parameter {self.key!r} of the last instance is {last}: the next would not "
                f"fit in a long; start an instance with a smaller {self.key}"
            )
        return parameters.merged({self.key: JobParameter(run_id, "LONG", True)})


ParametersCheck = JobParametersValidator | Callable[[JobParameters], None]


class Job:
    """A named, ordered set of steps with optional conditional transitions.

    `restartable=False` refuses any second execution of an instance. `validator` is an
    object with `validate(parameters)` or a plain function; either raises
    InvalidJobParameters. `incrementer` makes `--next` / StartNextInstance work.
    `listeners` get `before_job(execution)` and `after_job(execution)`.
    `restart_on_owner_lost=N`: when the node running an execution dies and a survivor marks
    it FAILED ("owner lost"), the survivor restarts it, up to N times per instance.
    `parameters` declares the parameters the job understands (`ParameterDeclaration`s, or
    a `ParametersDeclaration` to allow undeclared ones too); None declares nothing. A start
    is checked against it before the `validator` (`check_parameters`); the incrementer's
    parameter (its `key`: `run.id`) and a schedule's fire parameters (`schedule.name`,
    `schedule.fireTime`) are accepted undeclared. Job code reads the parameters
    with the declared defaults filled in (`parameters_for_code`).
    Workload (see docs/workload.md): `max_concurrent=N` lets at most N executions of the
    job run at once across the cluster (per distinct value of the parameter named by
    `concurrency_key`, when given); further starts wait in the queue. `max_duration` (a
    timedelta or seconds): an execution running longer is marked overdue, and stopped too
    with `stop_when_overdue=True`. Run-time settings override these until cleared.
    """

    def __init__(
        self,
        name: str,
        steps: Sequence[Step],
        *,
        transitions: Mapping[str, Mapping[str, Target]] | None = None,
        restartable: bool = True,
        validator: ParametersCheck | None = None,
        incrementer: JobParametersIncrementer | None = None,
        listeners: Sequence[object] = (),
        description: str = "",
        restart_on_owner_lost: int = 0,
        parameters: ParametersDeclaration | Sequence[ParameterDeclaration] | None = None,
        max_concurrent: int | None = None,
        concurrency_key: str | None = None,
        max_duration: timedelta | float | None = None,
        stop_when_overdue: bool = False,
    ) -> None:
        if not name or len(name) > NAME_LENGTH:
            raise ValueError(f"a job name needs 1 to {NAME_LENGTH} characters: {name!r}")
        if not steps:
            raise ValueError(f"job {name!r} has no steps")
        self.name = name
        self.steps = tuple(steps)
        self._steps = {step.name: step for step in self.steps}
        if len(self._steps) != len(self.steps):
            raise ValueError(f"job {name!r} has two steps of the same name")
        self.restartable = restartable
        if restart_on_owner_lost < 0:
            raise ValueError(f"job {name!r}: restart_on_owner_lost must not be negative")
        if restart_on_owner_lost and not restartable:
            raise ValueError(f"job {name!r}: restart_on_owner_lost needs a restartable job")
        self.restart_on_owner_lost = restart_on_owner_lost
        self.validator = validator
        self.incrementer = incrementer
        self.listeners = tuple(listeners)
        check_listeners(f"job {name!r}", self.listeners, JOB_HOOKS)
        self.description = description
        if parameters is not None and not isinstance(parameters, ParametersDeclaration):
            parameters = ParametersDeclaration(tuple(parameters))
        self.parameters: ParametersDeclaration | None = parameters
        if isinstance(max_duration, timedelta):
            max_duration = max_duration.total_seconds()
        try:
            # What the job declares; JOBOP_JOB_SETTINGS may override it at run time.
            self.settings = JobSettings(
                max_concurrent=max_concurrent,
                concurrency_key=concurrency_key,
                max_duration_seconds=max_duration,
                stop_when_overdue=stop_when_overdue,
            )
        except InvalidSettings as error:
            raise ValueError(f"job {name!r}: {error}") from None
        self._transitions: dict[str, list[Transition]] = {}
        for step_name, routes in (transitions or {}).items():
            if step_name not in self._steps:
                raise ValueError(f"job {name!r}: transitions from unknown step {step_name!r}")
            parsed = []
            for pattern, target in routes.items():
                if isinstance(target, str) and target not in self._steps:
                    raise ValueError(
                        f"job {name!r}: step {step_name!r} goes to unknown step {target!r}"
                    )
                if not isinstance(target, str | End):
                    raise TypeError(f"a transition target is a step name or an End: {target!r}")
                parsed.append(Transition.of(pattern, target))
            self._transitions[step_name] = sorted(parsed, key=lambda t: t.specificity)

    def __repr__(self) -> str:
        return f"Job({self.name!r}, steps={[step.name for step in self.steps]})"

    def step(self, name: str) -> Step:
        return self._steps[name]

    @property
    def step_names(self) -> list[str]:
        return [step.name for step in self.steps]

    def validate(self, parameters: JobParameters) -> None:
        """Raise InvalidJobParameters if these parameters cannot run this job."""
        self.check_parameters(parameters)

    def check_parameters(self, parameters: JobParameters) -> JobParameters:
        """The parameters to store for a start: checked against the declaration (typed and
        flagged as declared), then by the `validator`, which sees them typed; raises
        InvalidJobParameters naming what does not fit."""
        checked = parameters
        if self.parameters is not None:
            try:
                checked = self.parameters.check(
                    parameters, accepted=(*self._incrementer_keys, *FIRE_PARAMETERS)
                )
            except InvalidJobParameters as error:
                raise InvalidJobParameters(
                    f"job {self.name!r}: {error}", metadata=error.metadata
                ) from None
        if self.validator is None:
            return checked
        try:
            if callable(self.validator):
                self.validator(checked)
            else:
                self.validator.validate(checked)
        except InvalidJobParameters:
            raise
        except (TypeError, ValueError) as error:
            raise InvalidJobParameters(str(error)) from error
        return checked

    def parameters_for_code(self, parameters: JobParameters) -> JobParameters:
        """What the job's code (steps, listeners) reads: the checked parameters with the
        declared defaults of those not given. Never stored."""
        checked = self.check_parameters(parameters)
        if self.parameters is None:
            return checked
        return self.parameters.with_defaults(checked)

    @property
    def _incrementer_keys(self) -> tuple[str, ...]:
        # The parameter an incrementer sets (RunIdIncrementer's `key`) needs no declaring.
        key = getattr(self.incrementer, "key", None)
        return (key,) if isinstance(key, str) else ()

    def ends_after(self, step: Step) -> bool:
        """Whether the flow ends after `step` whatever its outcome (the last step of a
        sequential flow)."""
        return step.name not in self._transitions and self.steps[-1] is step

    def next_target(self, step: Step, status: BatchStatus, exit_code: str) -> Target:
        """Where the flow goes after `step` ended with this status and exit code."""
        transitions = self._transitions.get(step.name)
        if transitions is None:
            # Sequential: on to the next step while they complete.
            if status is not BatchStatus.COMPLETED:
                return End(status, exit_code)
            index = self.steps.index(step)
            if index + 1 < len(self.steps):
                return self.steps[index + 1].name
            return End(BatchStatus.COMPLETED, exit_code)
        for transition in transitions:
            if transition.matches(exit_code):
                return transition.target
        raise FlowExecutionError(
            f"no transition from step {step.name!r} for exit code {exit_code!r} "
            f"in job {self.name!r}"
        )


def final_exit_status(target: End, last: StepExecution) -> ExitStatus:
    """The job's exit status at `target`, keeping the last step's description."""
    return ExitStatus(target.exit_code, last.exit_status.exit_description)
