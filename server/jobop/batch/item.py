"""The item-oriented contracts of a chunk step: readers, processors, writers, streams."""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, runtime_checkable

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from jobop.domain import ExecutionContext, StepExecution

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
T_contra = TypeVar("T_contra", contravariant=True)
I_contra = TypeVar("I_contra", contravariant=True)
O_co = TypeVar("O_co", covariant=True)


@runtime_checkable
class ItemStream(Protocol):
    """Something that keeps its position in the step's ExecutionContext across restarts.

    `open` is called once before the first chunk with the step's saved context (empty on a
    first run); `update` before every chunk commit, to write the current position; `close`
    once at the end of the step, whatever its outcome.
    """

    def open(self, context: ExecutionContext) -> None: ...

    def update(self, context: ExecutionContext) -> None: ...

    def close(self) -> None: ...


class ItemReader(Protocol[T_co]):
    """Returns the next item, or None at the end of the input."""

    def read(self) -> T_co | None: ...


class ItemProcessor(Protocol[I_contra, O_co]):
    """Transforms an item; returning None filters it out (counted in FILTER_COUNT)."""

    def process(self, item: I_contra) -> O_co | None: ...


# Chunk is invariant (it holds a list), but a writer of T only ever reads the items.
class ItemWriter(Protocol[T_contra]):  # type: ignore[misc]
    """Writes one chunk of items inside the chunk's transaction."""

    def write(self, chunk: Chunk[T_contra]) -> None: ...


@dataclass(slots=True)
class Chunk(Generic[T]):
    """The items of one chunk and the transaction they commit in.

    `connection` is the chunk's own connection to the repository database: a writer that
    writes there commits together with the step's counters and context, so a crash at any
    instant neither loses nor repeats an item on restart. Writers to other systems are
    at-least-once.

    `skips` are the chunk's skipped items so far, as (item, error) pairs in the order they
    failed (Spring's `Chunk.getSkips()`): `(None, error)` for an item that could not be
    read, `(item, error)` for one skipped in processing or (during a scan) in writing.
    """

    items: list[T]
    connection: Connection | None = None
    step_execution: StepExecution | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    skips: list[tuple[Any, BaseException]] = field(default_factory=list)

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


# What each role of a chunk step calls, and what a function in that role must accept.
_ROLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "reader": ("read", ()),
    "processor": ("process", ("item",)),
    "writer": ("write", ("chunk",)),
}


# What `accepts` found for plain functions and for methods (by their function: a bound
# method is made anew at each attribute access); it is asked for every execution's
# listeners and tasklet, and reading a signature costs tens of microseconds.
_FUNCTIONS: weakref.WeakKeyDictionary[Any, dict[tuple[str, ...], bool]] = (
    weakref.WeakKeyDictionary()
)
_METHODS: weakref.WeakKeyDictionary[Any, dict[tuple[str, ...], bool]] = weakref.WeakKeyDictionary()


def accepts(function: Callable[..., Any], arguments: tuple[str, ...]) -> bool:
    """Whether `function` can be called with these positional arguments (True when its
    signature cannot be read, as for some built-ins)."""
    if inspect.ismethod(function):
        known, key = _METHODS, function.__func__
    elif inspect.isfunction(function):
        known, key = _FUNCTIONS, function
    elif inspect.isfunction(call := vars(type(function)).get("__call__")):
        # An instance of a class with a Python __call__ (a step-scoped tasklet, made anew
        # for each run): its signature is its class's.
        known, key = _METHODS, call
    else:
        return _accepts(function, arguments)  # a partial, a built-in: not kept
    try:
        found = known.setdefault(key, {})
    except TypeError:  # not weakly referable
        return _accepts(function, arguments)
    if arguments not in found:
        found[arguments] = _accepts(function, arguments)
    return found[arguments]


def per_class(
    known: weakref.WeakKeyDictionary[type, bool | None],
    component: object,
    names: frozenset[str],
    answer: Callable[[object], bool],
) -> bool:
    """`answer(component)`, kept in `known` for its class when the class alone decides it:
    `names` are the attributes `answer` looks for, and the instance holds none of its own
    (components are made anew for each execution; classes stay)."""
    own = getattr(component, "__dict__", None)
    if own is None or not names.isdisjoint(own):
        return answer(component)  # (slots, or attributes of its own: not kept)
    kind = type(component)
    if kind not in known:
        # A class that makes attributes up (__getattr__) is asked each time.
        known[kind] = None if hasattr(kind, "__getattr__") else answer(component)
    found = known[kind]
    return answer(component) if found is None else found


def _is_stream(component: object) -> bool:
    return isinstance(component, ItemStream)


_STREAMS: weakref.WeakKeyDictionary[type, bool | None] = weakref.WeakKeyDictionary()
_STREAM_METHODS = frozenset({"open", "update", "close"})


def is_stream(component: object) -> bool:
    """isinstance(component, ItemStream), which is slow for a runtime protocol, by class."""
    return per_class(_STREAMS, component, _STREAM_METHODS, _is_stream)


def _accepts(function: Callable[..., Any], arguments: tuple[str, ...]) -> bool:
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return True
    try:
        signature.bind(*arguments)
    except TypeError:
        return False
    return True


def call_text(name: str, arguments: tuple[str, ...]) -> str:
    return f"{name}({', '.join(arguments)})"


def item_function(step: str, role: str, component: object) -> Callable[..., Any]:
    """What the chunk step calls for this reader, processor or writer: its method, or the
    component itself when it is a function. TypeError, naming the step and the component,
    for one that cannot work (no such method and not callable, a class given instead of
    an instance, a function that cannot take the arguments)."""
    method_name, arguments = _ROLES[role]
    wanted = call_text(method_name, arguments)
    if inspect.isclass(component) and callable(getattr(component, method_name, None)):
        raise TypeError(
            f"step {step!r}: {role} {component!r} is a class: pass an instance of it, or "
            f"step_scope(lambda context: {component.__name__}(...))"
        )
    method: Callable[..., Any] | None = getattr(component, method_name, None)
    if method is not None and callable(method):
        if not accepts(method, arguments):
            raise TypeError(
                f"step {step!r}: {role} {component!r}: its {method_name} method cannot be "
                f"called as {wanted}"
            )
        return method
    if not callable(component):
        raise TypeError(
            f"step {step!r}: {role} {component!r} has no {wanted} method and is not callable"
        )
    if not accepts(component, arguments):
        raise TypeError(
            f"step {step!r}: {role} function {component!r} cannot be called as "
            f"{call_text(getattr(component, '__name__', role), arguments)}: a {role} function "
            f"takes {' and '.join(arguments) or 'no arguments'}"
        )
    return component


class FunctionReader:
    """A function returning the next item (None at the end) used as an ItemReader."""

    __slots__ = ("read",)

    def __init__(self, read: Callable[[], Any]) -> None:
        self.read = read


class FunctionWriter:
    """A function of the chunk used as an ItemWriter."""

    __slots__ = ("write",)

    def __init__(self, write: Callable[[Chunk[Any]], None]) -> None:
        self.write = write
