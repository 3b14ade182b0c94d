"""Reading the sample jobs' parameters leniently: `items=6` arrives as the string "6"
unless typed (`items=6,long`), and both should work."""

from __future__ import annotations

from jobop.domain import InvalidJobParameters, JobParameters


def long_parameter(parameters: JobParameters, name: str, default: int, *, minimum: int = 0) -> int:
    parameter = parameters.get(name)
    if parameter is None:
        return default
    value = parameter.value
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidJobParameters(f"parameter {name!r} must be a whole number, not {value!r}")
    try:
        number = int(value)
    except ValueError:
        raise InvalidJobParameters(
            f"parameter {name!r} must be a whole number, not {value!r}"
        ) from None
    if number < minimum:
        raise InvalidJobParameters(f"parameter {name!r} must be at least {minimum}, not {number}")
    return number


def boolean_parameter(parameters: JobParameters, name: str, default: bool) -> bool:
    parameter = parameters.get(name)
    if parameter is None:
        return default
    value = parameter.value
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise InvalidJobParameters(f"parameter {name!r} must be true or false, not {value!r}")
