"""Workload settings: what a job declares, run-time values over it, and their bounds."""

from __future__ import annotations

import pytest
from jobop.batch.job import Job
from jobop.batch.step import TaskletStep
from jobop.domain import (
    CLEAR,
    InvalidSettings,
    JobSettings,
    SettingsOverride,
    check_priority,
)
from jobop.domain.workload import apply_change


def _noop(contribution: object, chunk_context: object) -> None:
    return None


def test_run_time_values_win_over_the_declared_ones_until_cleared() -> None:
    declared = JobSettings(max_concurrent=2, concurrency_key="tenant", max_duration_seconds=60)
    override = SettingsOverride(max_concurrent=5, paused=True)
    assert override.over(declared) == JobSettings(
        max_concurrent=5, concurrency_key="tenant", paused=True, max_duration_seconds=60
    )
    cleared = apply_change(override, {"max_concurrent": CLEAR, "paused": False})
    assert cleared.over(declared) == declared
    assert not cleared.empty  # paused=False is a run-time value of its own
    assert apply_change(cleared, {"paused": CLEAR}).empty


def test_a_job_declares_its_settings() -> None:
    job = Job(
        "limited",
        [TaskletStep("s", _noop)],
        max_concurrent=2,
        concurrency_key="tenant",
        max_duration=90,
        stop_when_overdue=True,
    )
    assert job.settings == JobSettings(2, "tenant", False, 90, True)
    assert job.settings.governed
    assert not Job("free", [TaskletStep("s", _noop)]).settings.governed
    with pytest.raises(ValueError, match="concurrencyKey needs maxConcurrent"):
        Job("keyed", [TaskletStep("s", _noop)], concurrency_key="tenant")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"max_concurrent": 0}, "maxConcurrent"),
        ({"max_concurrent": True}, "maxConcurrent"),
        ({"max_concurrent": "2"}, "maxConcurrent"),
        ({"concurrency_key": ""}, "concurrencyKey"),
        ({"concurrency_key": "k" * 101}, "concurrencyKey"),
        ({"max_duration_seconds": 0}, "maxDurationSeconds"),
        ({"max_duration_seconds": float("nan")}, "maxDurationSeconds"),
    ],
)
def test_settings_out_of_range_are_refused_naming_the_field(
    change: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidSettings) as refused:
        apply_change(SettingsOverride(), change)
    assert refused.value.field == field
    assert refused.value.reason == "INVALID_ARGUMENT"


def test_an_unknown_setting_is_refused() -> None:
    with pytest.raises(InvalidSettings, match="unknown settings: colour"):
        apply_change(SettingsOverride(), {"colour": "red"})


def test_priority_bounds() -> None:
    assert check_priority(-1000) == -1000
    assert check_priority(1000) == 1000
    for bad in (1001, -1001, True, 1.5):
        with pytest.raises(InvalidSettings, match="priority"):
            check_priority(bad)  # type: ignore[arg-type]
