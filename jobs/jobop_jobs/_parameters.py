"""What the bundled jobs check beyond their declarations. The declaration types their
parameters (`items=6` arrives as the long 6) and the runner fills in the defaults, so the
jobs read plain values; only the smallest value a long may take is left to check here."""

from __future__ import annotations

from collections.abc import Callable

from jobop.domain import InvalidJobParameters, JobParameters


def at_least(
    maximums: dict[str, int] | None = None, **minimums: int
) -> Callable[[JobParameters], None]:
    """A job validator refusing a long parameter below its minimum, e.g.
    `at_least(chunkSize=1)`, or above its maximum in `maximums`; the declaration has
    already typed the parameters."""
    most = maximums or {}

    def validate(parameters: JobParameters) -> None:
        wrong: dict[str, str] = {}
        for name, minimum in minimums.items():
            value = parameters.value(name)
            if isinstance(value, int) and value < minimum:
                wrong[name] = f"parameter {name!r} must be at least {minimum}, not {value}"
        for name, maximum in most.items():
            value = parameters.value(name)
            if isinstance(value, int) and value > maximum:
                wrong[name] = f"parameter {name!r} must be at most {maximum}, not {value}"
        if wrong:
            raise InvalidJobParameters(
                "; ".join(wrong.values()), metadata={"invalid": ",".join(wrong)}
            )

    return validate
