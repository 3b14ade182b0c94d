"""Execution context formats: what writing and reading one costs, against plain JSON.

    .venv/bin/python -m bench.contexts [--rounds N]

Prints, for a chunk step's typical context (a reader position and a few values) and for a
large one (500 entries, past SHORT_CONTEXT), microseconds per write (`ContextFormat.store`,
what each chunk commit of a changed context does) and per read (`contexts.load`), for the
two Spring formats and for plain `json.dumps`/`json.loads`, the format jobop wrote before,
measured in the same run as the baseline.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

from jobop.domain import ExecutionContext, JavaInteger
from jobop.repository.contexts import ContextFormat, load

SMALL: dict[str, Any] = {
    "numbers.read.count": JavaInteger(1200),
    "batch.version": "5.2.6",
    "csv.offset": 123456,
    "csv.line": 1201,
}
LARGE: dict[str, Any] = {
    f"key{i}": {"seen": i, "ratio": i / 7, "name": f"item {i}", "at": datetime.now(UTC)}
    if i % 2
    else i
    for i in range(500)
}


def best(fn: Callable[[], object], rounds: int) -> float:
    """Best microseconds per call over five batches of `rounds` calls."""
    times = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(rounds):
            fn()
        times.append((time.perf_counter() - start) / rounds * 1e6)
    return min(times)


def plain(values: dict[str, Any]) -> dict[str, Any]:
    """The values as plain JSON holds them (dates as text)."""
    return json.loads(json.dumps(values, default=str))


def row(name: str, fmt: str, write: float, read: float, chars: int) -> None:
    print(f"{name:8} {fmt:8} {write:10.1f} {read:10.1f} {chars:7}")


def measure(name: str, values: dict[str, Any], rounds: int) -> None:
    baseline = plain(values)
    text = json.dumps(baseline, separators=(",", ":"), sort_keys=True)
    write = best(lambda: json.dumps(baseline, separators=(",", ":"), sort_keys=True), rounds)
    read = best(lambda: ExecutionContext(json.loads(text)), rounds)
    row(name, "plain", write, read, len(text))
    context = ExecutionContext(values)
    for fmt in ContextFormat:
        stored = fmt.store(context)
        body = stored.serialized_context or stored.short_context
        write = best(partial(fmt.store, context), rounds)
        read = best(partial(load, stored.short_context, stored.serialized_context), rounds)
        row(name, fmt.value, write, read, len(body))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()
    print(f"{'context':8} {'format':8} {'write µs':>10} {'read µs':>10} {'chars':>7}")
    measure("small", SMALL, args.rounds)
    measure("large", LARGE, max(1, args.rounds // 100))


if __name__ == "__main__":
    main()
