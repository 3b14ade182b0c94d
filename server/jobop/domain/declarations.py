"""What a job declares about its parameters: each one's name, type, whether it identifies
the instance, whether it is required, its default and a description for people.

The catalogue shows a declaration; `ParametersDeclaration.check` decides whether a start's
parameters fit it (and types them as declared), `with_defaults` gives job code the declared
defaults of the parameters not given. Defaults are never stored: the stored parameters,
and so Spring's JOB_KEY, are what the caller gave.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime

from jobop_client import parameters as text_form

from .errors import InvalidJobParameters
from .parameters import JobParameter, JobParameters, ParameterType, ParameterValue

# The PARAMETER_NAME column's width (Spring's schema).
PARAMETER_NAME_LENGTH = 100

_PYTHON_TYPES: dict[ParameterType, tuple[type, ...]] = {
    "STRING": (str,),
    "LONG": (int,),
    "DOUBLE": (float, int),
    "DATE": (datetime,),
    "BOOLEAN": (bool,),
}


@dataclass(frozen=True, slots=True)
class ParameterDeclaration:
    """One parameter a job understands.

    `default` is what the job uses when the parameter is not given; `required` ones have
    none. `identifying` says whether the parameter makes up the job instance.
    """

    name: str
    type: ParameterType = "STRING"
    identifying: bool = True
    required: bool = False
    default: ParameterValue | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if not self.name or len(self.name) > PARAMETER_NAME_LENGTH:
            raise ValueError(
                f"a parameter name needs 1 to {PARAMETER_NAME_LENGTH} characters: {self.name!r}"
            )
        if self.type not in _PYTHON_TYPES:
            raise ValueError(f"parameter {self.name!r}: unknown type {self.type!r}")
        if self.required and self.default is not None:
            raise ValueError(f"parameter {self.name!r} is required: it cannot have a default")
        if self.default is not None and not _is_of_type(self.default, self.type):
            raise ValueError(
                f"parameter {self.name!r}: default {self.default!r} is not a {self.type.lower()}"
            )

    def accept(self, parameter: JobParameter) -> JobParameter:
        """`parameter` as declared: of the declared type (a STRING's text parsed as it, a
        LONG widened to a DOUBLE) and the declared identifying flag; ValueError saying why
        when it is not of that type."""
        if parameter.unreadable_type is not None:
            raise ValueError(f"a stored {parameter.unreadable_type} that cannot be read")
        if parameter.type == self.type:
            if parameter.identifying is self.identifying:
                return parameter  # as declared already (frozen: one object serves)
            return JobParameter(
                parameter.value, parameter.type, self.identifying, java_class=parameter.java_class
            )
        if parameter.type == "STRING":
            return JobParameter(
                _parse(self.type, str(parameter.value)), self.type, self.identifying
            )
        if parameter.type == "LONG" and self.type == "DOUBLE":
            assert isinstance(parameter.value, int)
            return JobParameter(float(parameter.value), "DOUBLE", self.identifying)
        raise ValueError(f"a {parameter.type.lower()} where a {self.type.lower()} is declared")

    def default_parameter(self) -> JobParameter | None:
        """The default as a parameter of the declared type (None: no default)."""
        if self.default is None:
            return None
        value = self.default
        if self.type == "DOUBLE":
            assert isinstance(value, int | float)
            value = float(value)
        return replace(JobParameter.of(value), identifying=self.identifying)


@dataclass(frozen=True, slots=True)
class ParametersDeclaration:
    """Every parameter a job declares; `allow_undeclared` lets others through unchecked."""

    parameters: tuple[ParameterDeclaration, ...] = ()
    allow_undeclared: bool = False

    def __post_init__(self) -> None:
        names = [parameter.name for parameter in self.parameters]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"parameters declared twice: {', '.join(twice)}")

    def get(self, name: str) -> ParameterDeclaration | None:
        return next((p for p in self.parameters if p.name == name), None)

    @property
    def names(self) -> list[str]:
        return [parameter.name for parameter in self.parameters]

    def check(self, parameters: JobParameters, *, accepted: Collection[str] = ()) -> JobParameters:
        """The parameters of a start, typed and flagged as declared; InvalidJobParameters
        naming every misfit (metadata `unknown`, `missing`, `invalid`) when they do not fit.

        A name not declared is refused unless `allow_undeclared` or in `accepted` (an
        incrementer's parameter); it is passed on as given.
        """
        checked: dict[str, JobParameter] = {}
        unknown: list[str] = []
        invalid: dict[str, str] = {}
        for name, parameter in parameters.items():
            declared = self.get(name)
            if declared is None:
                if not (self.allow_undeclared or name in accepted):
                    unknown.append(name)
                checked[name] = parameter
                continue
            try:
                checked[name] = declared.accept(parameter)
            except ValueError as error:
                invalid[name] = str(error)
        missing = sorted(p.name for p in self.parameters if p.required and p.name not in parameters)
        if unknown or missing or invalid:
            # In name order: a map's order (gRPC, JSON) is nobody's to keep.
            raise self._refusal(sorted(unknown), missing, dict(sorted(invalid.items())))
        return JobParameters(checked)

    def with_defaults(self, parameters: JobParameters) -> JobParameters:
        """`parameters` (as `check` returns them) with the default of every declared
        parameter not given: what job code reads. Never stored."""
        defaults = {
            p.name: default
            for p in self.parameters
            if p.name not in parameters and (default := p.default_parameter()) is not None
        }
        return parameters.merged(defaults) if defaults else parameters

    def _refusal(
        self, unknown: list[str], missing: list[str], invalid: dict[str, str]
    ) -> InvalidJobParameters:
        problems = []
        if unknown:
            declared = ", ".join(self.names) or "none"
            problems.append(f"unknown {', '.join(unknown)} (declared: {declared})")
        if missing:
            problems.append(f"missing required {', '.join(missing)}")
        if invalid:
            problems.append(
                "invalid " + ", ".join(f"{name} ({why})" for name, why in invalid.items())
            )
        metadata = {
            key: ",".join(names)
            for key, names in (("unknown", unknown), ("missing", missing), ("invalid", invalid))
            if names
        }
        return InvalidJobParameters(
            "job parameters do not fit the declaration: " + "; ".join(problems),
            metadata=metadata,
        )


def _parse(kind: ParameterType, text: str) -> ParameterValue:
    """`text` read as a `kind`, exactly as the text form `name=text,kind` reads it."""
    written = text_form.format_parameter("p", text_form.ParameterValue(text, "STRING", True))
    try:
        return text_form.parse_parameter(f"{written},{kind.lower()}")[1].value
    except ValueError as error:
        # "job parameter 'p': 'abc' is not a whole number": the reason without the name.
        raise ValueError(str(error).partition(": ")[2] or str(error)) from None


def _is_of_type(value: object, kind: ParameterType) -> bool:
    # bool is an int: only BOOLEAN takes it.
    if isinstance(value, bool):
        return kind == "BOOLEAN"
    return isinstance(value, _PYTHON_TYPES[kind])
