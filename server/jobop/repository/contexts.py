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

from jobop.domain import ExecutionContext, UnreadableContext

from . import jackson_json, java_serialization
from .schema import SHORT_CONTEXT_LENGTH

__all__ = [
    "ContextFormat",
    "StoredContext",
    "UnreadableContext",
    "decode",
    "format_of",
    "load",
]

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
        to SHORT_CONTEXT. UnstorableContext if a value is one no Java type holds."""
        text = self.serialize(context.storable_values())
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


def format_of(text: str | None) -> ContextFormat | None:
    """The Spring format a stored context is in; None for none (no text, or jobop's
    earlier plain JSON)."""
    stripped = (text or "").lstrip()
    if not stripped:
        return None
    if not stripped.startswith("{"):
        return ContextFormat.JAVA
    try:
        document = json.loads(stripped)
    except json.JSONDecodeError:
        return None
    return ContextFormat.JACKSON if jackson_json.is_typed(document) else None


def load(
    short_context: str | None, serialized_context: str | None, owner: str = "an execution"
) -> ExecutionContext:
    """The context of a row (or of no row: an empty context); UnreadableContext, naming
    `owner`, if it is in no format jobop reads."""
    text = serialized_context or short_context
    try:
        return ExecutionContext(decode(text) if text else {})
    except UnreadableContext as error:
        raise UnreadableContext(
            f"the execution context of {owner} cannot be read: {error}"
        ) from None
    except (ValueError, TypeError, KeyError, IndexError) as error:  # malformed typed JSON
        raise UnreadableContext(
            f"the execution context of {owner} cannot be read: {type(error).__name__}: {error}"
        ) from None


def load_for_display(
    short_context: str | None, serialized_context: str | None, owner: str
) -> ExecutionContext:
    """As `load`, but an unreadable context becomes one that says so when it is used, so
    that the execution still shows in lists and status."""
    try:
        return load(short_context, serialized_context, owner)
    except UnreadableContext as error:
        return ExecutionContext.unreadable(error)
