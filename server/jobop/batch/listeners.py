"""Listener interfaces for jobs, steps, chunks and items, and how a step collects them.

A listener is any object with one or more of the hook methods below; subclassing a base
class is optional and only saves writing the hooks you do not need. Plain functions become
a listener with `listener(after_step=function, ...)`. Readers, processors, writers and
tasklets that have hook methods are registered as listeners of their step automatically,
as Spring Batch does.
"""

from __future__ import annotations

import inspect
import logging
import weakref
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from jobop.domain import ExitStatus

from .item import accepts, call_text, per_class

if TYPE_CHECKING:
    from jobop.domain import JobExecution, StepExecution

    from .item import Chunk
    from .step import ChunkContext

log = logging.getLogger(__name__)


class JobExecutionListener:
    def before_job(self, job_execution: JobExecution) -> None:
        """Called after the execution is marked STARTED, before the first step."""

    def after_job(self, job_execution: JobExecution) -> None:
        """Called once the execution's final status is known, before it is saved.

        May replace `job_execution.exit_status`, e.g. with a custom exit code.
        """


class StepExecutionListener:
    def before_step(self, step_execution: StepExecution) -> None:
        """Called before the step opens its streams."""

    def after_step(self, step_execution: StepExecution) -> ExitStatus | None:
        """Called when the step's status is known; a returned ExitStatus is combined
        (`and_`) with the step's, so a custom code replaces a standard one."""
        return None


class ChunkListener:
    def before_chunk(self, context: ChunkContext) -> None:
        """Called before the chunk's items are read (or the tasklet is called)."""

    def after_chunk(self, context: ChunkContext) -> None:
        """Called after the chunk's transaction committed."""

    def after_chunk_error(self, context: ChunkContext, error: BaseException) -> None:
        """Called after the chunk's transaction rolled back."""


class ItemReadListener:
    def before_read(self) -> None: ...

    def after_read(self, item: Any) -> None: ...

    def on_read_error(self, error: Exception) -> None: ...


class ItemProcessListener:
    def before_process(self, item: Any) -> None: ...

    def after_process(self, item: Any, result: Any) -> None:
        """`result` is None when the processor filtered the item out."""

    def on_process_error(self, item: Any, error: Exception) -> None: ...


class ItemWriteListener:
    def before_write(self, chunk: Chunk[Any]) -> None: ...

    def after_write(self, chunk: Chunk[Any]) -> None: ...

    def on_write_error(self, error: Exception, chunk: Chunk[Any]) -> None: ...


class SkipListener:
    """Told about each skipped item once, as Spring Batch does: just before the chunk that
    skipped it commits, inside the chunk's transaction, so that what a listener writes on
    the chunk's connection commits together with the reader position that moved past the
    item (and rolls back with it). The connection is `ChunkContext.connection` (keep the
    ChunkContext that `before_chunk` gets: it is the same for every chunk of the step).

    The hooks are called in the order the items failed, read and process skips first, then
    the write skips of a scan; a chunk that rolls back (it fails the step) calls none, and
    a chunk retried or scanned calls them only in the attempt that commits. A hook that
    raises fails the step.
    """

    def on_skip_in_read(self, error: Exception) -> None:
        """An item could not be read (`error`) and was skipped; called in the chunk's
        transaction, before it commits."""

    def on_skip_in_process(self, item: Any, error: Exception) -> None:
        """`item` failed in the processor and was skipped; called in the chunk's
        transaction, before it commits."""

    def on_skip_in_write(self, item: Any, error: Exception) -> None:
        """`item` failed in the writer during a scan and was skipped; called in the chunk's
        transaction, before it commits."""


_BASES: dict[str, type] = {
    "before_job": JobExecutionListener,
    "after_job": JobExecutionListener,
    "before_step": StepExecutionListener,
    "after_step": StepExecutionListener,
    "before_chunk": ChunkListener,
    "after_chunk": ChunkListener,
    "after_chunk_error": ChunkListener,
    "before_read": ItemReadListener,
    "after_read": ItemReadListener,
    "on_read_error": ItemReadListener,
    "before_process": ItemProcessListener,
    "after_process": ItemProcessListener,
    "on_process_error": ItemProcessListener,
    "before_write": ItemWriteListener,
    "after_write": ItemWriteListener,
    "on_write_error": ItemWriteListener,
    "on_skip_in_read": SkipListener,
    "on_skip_in_process": SkipListener,
    "on_skip_in_write": SkipListener,
}


JOB_HOOKS = ("before_job", "after_job")
STEP_HOOKS = tuple(name for name in _BASES if name not in JOB_HOOKS)


def _arguments(name: str) -> tuple[str, ...]:
    """The arguments a hook is called with, as its base class declares them."""
    parameters = list(inspect.signature(getattr(_BASES[name], name)).parameters)
    return tuple(parameters[1:])  # without self


class _FunctionListener:
    """Hooks given as functions, one attribute per hook."""

    def __init__(self, functions: dict[str, Callable[..., Any]]) -> None:
        self.__dict__.update(functions)

    def __repr__(self) -> str:
        hooks_ = ", ".join(f"{name}={function!r}" for name, function in vars(self).items())
        return f"listener({hooks_})"


def listener(**functions: Callable[..., Any]) -> object:
    """A listener made of plain functions, one per hook: e.g.
    `listener(before_step=announce, after_step=check)`; the names are those of the hook
    methods above (`before_job`, `after_step`, `on_skip_in_process`, ...)."""
    unknown = sorted(set(functions) - set(_BASES))
    if unknown:
        raise ValueError(
            f"no such listener hook: {', '.join(unknown)} (the hooks: {', '.join(_BASES)})"
        )
    if not functions:
        raise ValueError("listener() needs at least one hook, e.g. listener(after_step=f)")
    for name, function in functions.items():
        if not callable(function):
            raise TypeError(f"listener hook {name}={function!r} is not callable")
    return _FunctionListener(functions)


def check_listeners(owner: str, listeners: Iterable[object], names: tuple[str, ...]) -> None:
    """Refuse, naming `owner` (e.g. "step 'load'"), a listener that implements none of the
    hooks `names` that `owner` calls, or whose hook cannot take the hook's arguments."""
    for candidate in listeners:
        found = [name for name in names if hooks([candidate], name)]
        if not found:
            if callable(candidate) and not isinstance(candidate, type):
                raise TypeError(
                    f"{owner}: listener {candidate!r} is a function, which names no hook: "
                    f"pass listener({names[1]}=function) or another hook ({', '.join(names)})"
                )
            raise TypeError(
                f"{owner}: listener {candidate!r} has none of the hook methods {', '.join(names)}"
            )
        for name in found:
            arguments = _arguments(name)
            if not accepts(getattr(candidate, name), arguments):
                raise TypeError(
                    f"{owner}: listener {candidate!r}: its {name} cannot be called as "
                    f"{call_text(name, arguments)}"
                )


def hooks(listeners: Iterable[object], name: str) -> list[Callable[..., Any]]:
    """The bound `name` methods of the listeners that implement it (base no-ops left out,
    so an unused hook costs nothing per item)."""
    base_method = getattr(_BASES[name], name)
    found: list[Callable[..., Any]] = []
    for listener in listeners:
        method = getattr(listener, name, None)
        if method is None or not callable(method):
            continue
        if getattr(type(listener), name, None) is base_method:
            continue
        found.append(method)
    return found


def _has_hooks(component: object) -> bool:
    return any(hooks([component], name) for name in _BASES)


_LISTENERS: weakref.WeakKeyDictionary[type, bool | None] = weakref.WeakKeyDictionary()
_HOOK_NAMES = frozenset(_BASES)


def is_listener(component: object) -> bool:
    return per_class(_LISTENERS, component, _HOOK_NAMES, _has_hooks)


class StepHooks:
    """A step's listeners, sorted by hook once per step execution."""

    __slots__ = tuple(name for name in _BASES if name not in ("before_job", "after_job"))

    before_step: list[Callable[..., Any]]
    after_step: list[Callable[..., Any]]
    before_chunk: list[Callable[..., Any]]
    after_chunk: list[Callable[..., Any]]
    after_chunk_error: list[Callable[..., Any]]
    before_read: list[Callable[..., Any]]
    after_read: list[Callable[..., Any]]
    on_read_error: list[Callable[..., Any]]
    before_process: list[Callable[..., Any]]
    after_process: list[Callable[..., Any]]
    on_process_error: list[Callable[..., Any]]
    before_write: list[Callable[..., Any]]
    after_write: list[Callable[..., Any]]
    on_write_error: list[Callable[..., Any]]
    on_skip_in_read: list[Callable[..., Any]]
    on_skip_in_process: list[Callable[..., Any]]
    on_skip_in_write: list[Callable[..., Any]]

    def __init__(self, listeners: Iterable[object]) -> None:
        listeners = list(listeners)
        for name in self.__slots__:
            setattr(self, name, hooks(listeners, name))


def call_after_step(hooks_: list[Callable[..., Any]], step_execution: StepExecution) -> ExitStatus:
    """Run the after_step hooks in reverse order, combining their exit statuses."""
    exit_status = step_execution.exit_status
    for hook in reversed(hooks_):
        try:
            returned = hook(step_execution)
        except Exception:
            log.exception("after_step listener %r failed", hook)
            continue
        if isinstance(returned, ExitStatus):
            exit_status = exit_status.and_(returned)
            step_execution.exit_status = exit_status
    return exit_status
