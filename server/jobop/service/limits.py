"""Per-caller and per-server limits: open streams and the rate of launches.

Framework-neutral like auth.py: the gRPC interceptor applies them now, the HTTP middleware
can apply the same objects. A refusal is `LimitExceeded` (RESOURCE_EXHAUSTED, HTTP 429).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from .auth import CONTROL_ACTIONS

# Documented defaults (README "Security"): generous for people and pipelines, small
# enough that one runaway script cannot take the server's memory or the database.
DEFAULT_MAX_STREAMS = 4000
DEFAULT_MAX_STREAMS_PER_CALLER = 1000
DEFAULT_START_RATE = 1000.0  # launches per second and caller, sustained
DEFAULT_START_BURST = 1000

# Every control action takes from its caller's one bucket, refused or not, before it is
# authorized: a caller refused over and over (a viewer trying Abandon) is slowed down like
# one that launches too fast.
RATE_LIMITED = CONTROL_ACTIONS

# Buckets of callers not seen for a while are dropped beyond this many.
_MAX_TRACKED_CALLERS = 10_000


class LimitExceeded(Exception):
    def __init__(self, message: str, limit: str) -> None:
        super().__init__(message)
        self.limit = limit


@dataclass
class Limits:
    max_streams: int = DEFAULT_MAX_STREAMS
    max_streams_per_caller: int = DEFAULT_MAX_STREAMS_PER_CALLER
    start_rate: float = DEFAULT_START_RATE
    start_burst: int = DEFAULT_START_BURST


class StreamSlots:
    """Counts open streams, in all and per caller."""

    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        self._lock = threading.Lock()
        self.total = 0
        self._per_caller: dict[str, int] = {}

    def acquire(self, caller: str) -> None:
        """Count one more open stream of `caller`, or LimitExceeded; `release` it after."""
        with self._lock:
            if self.total >= self._limits.max_streams:
                raise LimitExceeded(
                    f"the server has {self.total} open streams, its limit "
                    f"(--max-streams {self._limits.max_streams})",
                    "max_streams",
                )
            mine = self._per_caller.get(caller, 0)
            if mine >= self._limits.max_streams_per_caller:
                raise LimitExceeded(
                    f"{caller} has {mine} open streams, the limit per caller "
                    f"(--max-streams-per-caller {self._limits.max_streams_per_caller})",
                    "max_streams_per_caller",
                )
            self.total += 1
            self._per_caller[caller] = mine + 1

    def release(self, caller: str) -> None:
        with self._lock:
            self.total -= 1
            left = self._per_caller[caller] - 1
            if left:
                self._per_caller[caller] = left
            else:
                del self._per_caller[caller]


class StartRate:
    """A token bucket per caller: `start_burst` control actions at once, refilled at
    `start_rate` per second (named after the launches it first limited)."""

    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        self._lock = threading.Lock()
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, caller: str) -> None:
        rate, burst = self._limits.start_rate, float(self._limits.start_burst)
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.pop(caller, (burst, now))
            tokens = min(burst, tokens + (now - last) * rate)
            if tokens < 1.0:
                self._buckets[caller] = (tokens, now)
                wait = (1.0 - tokens) / rate if rate > 0 else float("inf")
                raise LimitExceeded(
                    f"{caller} makes control actions faster than {rate:g} per second "
                    f"(burst {burst:g}): "
                    f"try again in {wait:.1f} s",
                    "start_rate",
                )
            self._buckets[caller] = (tokens - 1.0, now)
            while len(self._buckets) > _MAX_TRACKED_CALLERS:
                self._buckets.popitem(last=False)
