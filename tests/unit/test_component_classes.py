"""What the step learns about its components (stream? listener? tasklet signature?) is
kept per class, since step-scoped components are made anew for every execution; an
instance that carries such attributes of its own is still asked each time."""

from __future__ import annotations

from typing import Any

from jobop.batch.item import accepts, is_stream
from jobop.batch.listeners import is_listener


class Plain:
    def __init__(self) -> None:
        self.size = 1


class Stream(Plain):
    def open(self, context: Any) -> None: ...

    def update(self, context: Any) -> None: ...

    def close(self) -> None: ...


class Hooked(Plain):
    def after_step(self, step_execution: Any) -> None: ...


class Made:
    """Makes any attribute up: only the instance can tell."""

    def __getattr__(self, name: str) -> Any:
        return lambda *arguments: None


def test_streams_and_listeners_are_known_by_class() -> None:
    for _ in range(2):  # the second time from what was kept
        assert is_stream(Stream()) and not is_stream(Plain())
        assert is_listener(Hooked()) and not is_listener(Plain())


def test_an_instance_with_attributes_of_its_own_is_asked_itself() -> None:
    assert not is_listener(Plain())
    own = Plain()
    own.after_step = lambda step_execution: None  # type: ignore[attr-defined]
    assert is_listener(own)
    streaming = Plain()
    streaming.open = streaming.update = lambda context: None  # type: ignore[attr-defined]
    streaming.close = lambda: None  # type: ignore[attr-defined]
    assert is_stream(streaming) and not is_stream(Plain())
    assert is_stream(Made()) and is_stream(Made())


class TwoArguments:
    def __call__(self, contribution: Any, chunk_context: Any) -> None: ...


class OneArgument:
    def __call__(self, contribution: Any) -> None: ...


def test_a_callable_objects_signature_is_its_classs() -> None:
    for _ in range(2):
        assert accepts(TwoArguments(), ("contribution", "chunk_context"))
        assert not accepts(OneArgument(), ("contribution", "chunk_context"))
