"""What a job declares about its parameters: each one's name, type, whether it identifies
the instance, whether it is required, its default and a description for people.

A declaration is data only here: the catalogue shows it, and `ParametersDeclaration`'s
rules (in this module) decide whether a start's parameters fit it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .parameters import ParameterType, ParameterValue

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


def _is_of_type(value: object, kind: ParameterType) -> bool:
    # bool is an int: only BOOLEAN takes it.
    if isinstance(value, bool):
        return kind == "BOOLEAN"
    return isinstance(value, _PYTHON_TYPES[kind])
