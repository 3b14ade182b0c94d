"""Pure parts of the batch engine: registry, policies, stop signal, owner checks, logging."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import types
from importlib.metadata import EntryPoint
from typing import Any

import pytest
from jobop.batch import (
    Job,
    JobRegistry,
    LimitCheckingSkipPolicy,
    RepeatStatus,
    RetryPolicy,
    SkipLimitExceeded,
    StopSignal,
    TaskletStep,
)
from jobop.batch import registry as registry_module
from jobop.batch.logcontext import (
    BatchContextFilter,
    BatchFormatter,
    job_context,
    step_context,
)
from jobop.batch.owner import (
    OwnerUnknown,
    current_owner,
    is_alive,
    process_start_ticks,
)
from jobop.batch.registry import JobModuleError
from jobop.domain import (
    NoSuchJob,
)


def make_job(name: str) -> Job:
    return Job(name, [TaskletStep("s", lambda c, k: RepeatStatus.FINISHED)])


def module(name: str, **attributes: Any) -> types.ModuleType:
    created = types.ModuleType(name)
    for key, value in attributes.items():
        setattr(created, key, value)
    sys.modules[name] = created
    return created


# -- registry ------------------------------------------------------------------------------


def test_registry_get_names_and_errors() -> None:
    a, b = make_job("a"), make_job("b")
    registry = JobRegistry([b, a])
    assert registry.names() == ["a", "b"]
    assert [job.name for job in registry] == ["a", "b"]
    assert registry.get("a") is a
    assert "a" in registry and "z" not in registry
    assert len(registry) == 2
    registry.register(a)  # the same object again: fine
    with pytest.raises(ValueError, match="two different jobs"):
        registry.register(make_job("a"))
    with pytest.raises(NoSuchJob, match="'z'"):
        registry.get("z")
    with pytest.raises(TypeError):
        registry.register("a")  # type: ignore[arg-type]


def test_a_module_exposes_top_level_jobs_or_a_jobs_list() -> None:
    a, b = make_job("modA"), make_job("modB")
    top = module("jobs_top_level", a=a, also_a=a, b=b, other=42)
    listed = module("jobs_listed", JOBS=[b], hidden=make_job("hidden"))
    registry = JobRegistry()
    assert registry.load_module(top) == [a, b]
    assert registry.load_module("jobs_listed") == [b]
    assert "hidden" not in registry
    assert [b] == listed.JOBS
    module("jobs_none", x=1)
    with pytest.raises(JobModuleError, match="defines no Job"):
        registry.load_module("jobs_none")
    module("jobs_bad_list", JOBS=[1])
    with pytest.raises(JobModuleError, match="non-Job"):
        registry.load_module("jobs_bad_list")
    with pytest.raises(JobModuleError, match="no module named 'no_such_module_anywhere'"):
        registry.load_module("no_such_module_anywhere")


def test_entry_points_load_modules_jobs_and_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    single, first, second = make_job("epSingle"), make_job("epFirst"), make_job("epSecond")
    module("ep_module", JOBS=[first])
    module("ep_objects", single=single, pair=[second])
    points = [
        EntryPoint("mod", "ep_module", "jobop.jobs"),
        EntryPoint("one", "ep_objects:single", "jobop.jobs"),
        EntryPoint("list", "ep_objects:pair", "jobop.jobs"),
        EntryPoint("broken", "no_such_module_anywhere", "jobop.jobs"),
        EntryPoint("samples", "jobop_jobs", "jobop.jobs"),
    ]
    monkeypatch.setattr(registry_module, "entry_points", lambda group: points)
    registry = JobRegistry.default(samples=False)
    assert registry.names() == ["epFirst", "epSecond", "epSingle"]
    with_samples = JobRegistry.default(["ep_objects"])
    assert "demoChunkJob" in with_samples and "epSingle" in with_samples


def test_default_registry_loads_samples_without_entry_points() -> None:
    registry = JobRegistry.default(entry_points=False)
    assert registry.names() == [
        "demoChunkJob",
        "demoExitCodeJob",
        "demoPartitionedJob",
        "demoTaskletJob",
    ]
    assert JobRegistry.default(entry_points=False, samples=False).names() == []


# -- policies ------------------------------------------------------------------------------


def test_limit_checking_skip_policy() -> None:
    policy = LimitCheckingSkipPolicy(2, [ValueError])
    assert policy.should_skip(ValueError("x"), 0)
    assert policy.should_skip(ValueError("x"), 1)
    assert not policy.should_skip(KeyError("x"), 0)
    with pytest.raises(SkipLimitExceeded, match="skip limit of 2 exceeded: ValueError: x"):
        policy.should_skip(ValueError("x"), 2)
    with pytest.raises(ValueError):
        LimitCheckingSkipPolicy(-1, [ValueError])


def test_retry_policy_counts_attempts() -> None:
    policy = RetryPolicy(3, [TimeoutError])
    assert policy.can_retry(TimeoutError(), 1)
    assert policy.can_retry(TimeoutError(), 2)
    assert not policy.can_retry(TimeoutError(), 3)
    assert not policy.can_retry(ValueError(), 1)
    with pytest.raises(ValueError):
        RetryPolicy(0, [TimeoutError])


# -- stop signal ---------------------------------------------------------------------------


def test_stop_signal_calls_callbacks_once_and_late_subscribers_at_once() -> None:
    signal = StopSignal()
    calls: list[str] = []
    unsubscribe = signal.on_set(lambda: calls.append("first"))
    gone = signal.on_set(lambda: calls.append("gone"))
    gone()

    def broken() -> None:
        raise RuntimeError("callback broke")

    signal.on_set(broken)
    assert not signal.is_set()
    signal.set()
    signal.set()
    assert signal.is_set() and signal.wait(0)
    assert calls == ["first"]
    signal.on_set(lambda: calls.append("late"))
    assert calls == ["first", "late"]
    unsubscribe()


# -- owner ---------------------------------------------------------------------------------


def test_this_process_is_alive() -> None:
    owner = current_owner()
    assert owner["pid"] == os.getpid() and owner["host"] == socket.gethostname()
    assert is_alive(owner)


def test_a_dead_or_reused_pid_is_not_alive() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not is_alive({"host": socket.gethostname(), "pid": child.pid, "started": 1})
    me = current_owner()
    assert not is_alive({**me, "started": (me["started"] or 0) + 1})  # pid reused
    assert not is_alive({"host": socket.gethostname(), "pid": "x"})
    assert is_alive({"host": socket.gethostname(), "pid": os.getpid(), "started": None})


def test_a_killed_but_unreaped_child_is_not_alive() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        owner = {
            "host": socket.gethostname(),
            "pid": child.pid,
            "started": process_start_ticks(child.pid),
        }
        assert is_alive(owner)
        child.kill()
        import time

        deadline = time.monotonic() + 5
        while is_alive(owner):  # a zombie until reaped
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        child.wait()


def test_another_hosts_owner_cannot_be_checked() -> None:
    with pytest.raises(OwnerUnknown, match="elsewhere"):
        is_alive({"host": "elsewhere", "pid": 1})


# -- logging -------------------------------------------------------------------------------


def test_formatter_shows_the_context_only_inside_a_job() -> None:
    formatter = BatchFormatter("%(batch_context)s%(message)s")
    context_filter = BatchContextFilter()

    def render() -> str:
        record = logging.LogRecord("x", logging.INFO, "f", 1, "hello", (), None)
        for name in ("job_name", "job_execution_id", "step_name"):
            record.__dict__.pop(name, None)
        context_filter.filter(record)
        return formatter.format(record)

    assert render() == "hello"
    with job_context("importJob", 7):
        assert render() == "[importJob #7] hello"
        with step_context("load"):
            assert render() == "[importJob #7 load] hello"
        assert render() == "[importJob #7] hello"
    assert render() == "hello"
