"""What the bundled jobs check beyond their declarations. The declaration types their
parameters (`items=6` arrives as the long 6) and the runner fills in the defaults, so the
jobs read plain values; only the smallest value a long may take is left to check here."""

from __future__ import annotations

from collections.abc import Callable

from jobop.domain import InvalidJobParameters, JobParameters


def at_least(**minimums: int) -> Callable[[JobParameters], None]:
    """A job validator refusing a long parameter below its minimum, e.g.
    `at_least(chunkSize=1)`; the declaration has already typed the parameters."""

    def validate(parameters: JobParameters) -> None:
        low = {
            name: value
            for name, minimum in minimums.items()
            if isinstance(value := parameters.value(name), int) and value < minimum
        }
        if low:
            raise InvalidJobParameters(
                "; ".join(
                    f"parameter {name!r} must be at least {minimums[name]}, not {value}"
                    for name, value in low.items()
                ),
                metadata={"invalid": ",".join(low)},
            )

    return validate
