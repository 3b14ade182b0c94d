"""How an ExecutionContext is stored: SHORT_CONTEXT and, when it is long, SERIALIZED_CONTEXT."""

from __future__ import annotations

from dataclasses import dataclass

from jobop.domain import ExecutionContext

from .schema import SHORT_CONTEXT_LENGTH

# Spring Batch ends a truncated SHORT_CONTEXT with this marker.
_ELLIPSIS = " ..."


@dataclass(frozen=True, slots=True)
class StoredContext:
    short_context: str
    serialized_context: str | None

    def values(self) -> dict[str, str | None]:
        return {"short_context": self.short_context, "serialized_context": self.serialized_context}


def store(context: ExecutionContext) -> StoredContext:
    """Split as Spring does: short JSON fits SHORT_CONTEXT alone; longer JSON goes whole to
    SERIALIZED_CONTEXT and a truncated prefix (for people browsing the table) to SHORT_CONTEXT.
    """
    text = context.to_json()
    if len(text) <= SHORT_CONTEXT_LENGTH:
        return StoredContext(text, None)
    return StoredContext(text[: SHORT_CONTEXT_LENGTH - len(_ELLIPSIS)] + _ELLIPSIS, text)


def load(short_context: str | None, serialized_context: str | None) -> ExecutionContext:
    """The context of a row (or of no row: an empty context)."""
    return ExecutionContext.from_json(serialized_context or short_context)
