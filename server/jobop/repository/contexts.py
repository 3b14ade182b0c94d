"""How an ExecutionContext is stored: SHORT_CONTEXT and, when it is long, SERIALIZED_CONTEXT.

Three formats are read, whichever a row holds: Jackson's typed JSON (Spring's
`Jackson2ExecutionContextStringSerializer`), Base64 of Java serialization (Spring's
default `DefaultExecutionContextSerializer`) and the plain JSON earlier versions of jobop
wrote. One of the first two is written: the repository's recorded `ContextFormat`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from jobop.domain import ExecutionContext

from . import jackson_json, java_serialization
from .java_serialization import UnreadableContext
from .schema import SHORT_CONTEXT_LENGTH

__all__ = ["ContextFormat", "StoredContext", "UnreadableContext", "decode", "load"]

# Spring Batch ends a truncated SHORT_CONTEXT with this marker, cutting 8 characters
# before the limit (JdbcExecutionContextDao: "overestimate length of ellipsis").
_ELLIPSIS = " ..."
_CUT = 8


class ContextFormat(StrEnum):
    """What `jobop db init --context-format` records for the repository."""

    JACKSON = "jackson"
    JAVA = "java"

    def serialize(self, values: dict[str, Any]) -> str:
        if self is ContextFormat.JAVA:
            return java_serialization.encode(values)
        return jackson_json.encode(values)

    def store(self, context: ExecutionContext) -> StoredContext:
        """Split as Spring does: a short text fits SHORT_CONTEXT alone; a longer one goes
        whole to SERIALIZED_CONTEXT and a truncated prefix (for people browsing the table)
        to SHORT_CONTEXT."""
        text = self.serialize(dict(context))
        if len(text) <= SHORT_CONTEXT_LENGTH:
            return StoredContext(text, None)
        return StoredContext(text[: SHORT_CONTEXT_LENGTH - _CUT] + _ELLIPSIS, text)


@dataclass(frozen=True, slots=True)
class StoredContext:
    short_context: str
    serialized_context: str | None

    def values(self) -> dict[str, str | None]:
        return {"short_context": self.short_context, "serialized_context": self.serialized_context}


def decode(text: str) -> dict[str, Any]:
    """The values of a stored context in any of the three formats."""
    stripped = text.lstrip()
    if not stripped.startswith("{"):
        return java_serialization.decode(stripped)
    try:
        document = json.loads(stripped)
    except json.JSONDecodeError as error:
        raise UnreadableContext(f"neither JSON nor Base64: {error}") from None
    if not isinstance(document, dict):
        raise UnreadableContext("a JSON context must be an object")
    if jackson_json.is_typed(document):
        return jackson_json.decode(document)
    return document  # jobop's earlier plain JSON: ints are Longs, as it always meant


def load(short_context: str | None, serialized_context: str | None) -> ExecutionContext:
    """The context of a row (or of no row: an empty context)."""
    text = serialized_context or short_context
    return ExecutionContext(decode(text) if text else {})
