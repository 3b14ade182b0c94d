"""BatchStatus and ExitStatus follow Spring Batch's ordering and combination rules."""

from __future__ import annotations

import itertools

import pytest
from jobop.domain import BatchStatus, ExitStatus

ORDER = [
    BatchStatus.COMPLETED,
    BatchStatus.STARTING,
    BatchStatus.STARTED,
    BatchStatus.STOPPING,
    BatchStatus.STOPPED,
    BatchStatus.FAILED,
    BatchStatus.ABANDONED,
    BatchStatus.UNKNOWN,
]


def test_batch_status_order_is_springs() -> None:
    assert sorted(BatchStatus, key=lambda s: s.rank) == ORDER
    for lower, higher in itertools.combinations(ORDER, 2):
        assert lower < higher and higher > lower
        assert lower <= higher and not lower >= higher
    assert max(BatchStatus.FAILED, BatchStatus.STOPPED) is BatchStatus.FAILED


def test_running_statuses() -> None:
    assert {s for s in BatchStatus if s.is_running} == {
        BatchStatus.STARTING,
        BatchStatus.STARTED,
        BatchStatus.STOPPING,
    }
    assert {s for s in BatchStatus if s.is_unsuccessful} == {
        BatchStatus.FAILED,
        BatchStatus.ABANDONED,
        BatchStatus.UNKNOWN,
    }


def spring_upgrade_to(this: BatchStatus, other: BatchStatus) -> BatchStatus:
    """BatchStatus.upgradeTo as Spring Batch 5 writes it, to compare against."""
    if this.rank > BatchStatus.STARTED.rank or other.rank > BatchStatus.STARTED.rank:
        return this if this.rank >= other.rank else other
    if BatchStatus.COMPLETED in (this, other):
        return BatchStatus.COMPLETED
    return this if this.rank >= other.rank else other


@pytest.mark.parametrize(("this", "other"), list(itertools.product(ORDER, ORDER)))
def test_upgrade_to_matches_spring(this: BatchStatus, other: BatchStatus) -> None:
    assert this.upgrade_to(other) is spring_upgrade_to(this, other)


def test_upgrade_to_examples() -> None:
    # A finished step moves a started job forward; worse than STARTED always wins.
    assert BatchStatus.STARTED.upgrade_to(BatchStatus.COMPLETED) is BatchStatus.COMPLETED
    assert BatchStatus.STARTING.upgrade_to(BatchStatus.STARTED) is BatchStatus.STARTED
    assert BatchStatus.COMPLETED.upgrade_to(BatchStatus.FAILED) is BatchStatus.FAILED
    assert BatchStatus.STOPPED.upgrade_to(BatchStatus.COMPLETED) is BatchStatus.STOPPED
    assert BatchStatus.ABANDONED.upgrade_to(BatchStatus.UNKNOWN) is BatchStatus.UNKNOWN


def test_unknown_status_text_parses_to_unknown() -> None:
    assert BatchStatus.parse("STOPPED") is BatchStatus.STOPPED
    assert BatchStatus.parse("SOMETHING ELSE") is BatchStatus.UNKNOWN


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        ("EXECUTING", "COMPLETED", "COMPLETED"),
        ("COMPLETED", "NOOP", "NOOP"),
        ("NOOP", "STOPPED", "STOPPED"),
        ("STOPPED", "FAILED", "FAILED"),
        ("FAILED", "UNKNOWN", "UNKNOWN"),
        ("UNKNOWN", "CUSTOM FAILED", "CUSTOM FAILED"),
        ("COMPLETED", "EXECUTING", "COMPLETED"),
        ("FAILED", "COMPLETED", "FAILED"),
    ],
)
def test_and_keeps_the_more_severe_code(first: str, second: str, expected: str) -> None:
    assert ExitStatus(first).and_(ExitStatus(second)).exit_code == expected
    assert ExitStatus(second).and_(ExitStatus(first)).exit_code == expected


def test_severities() -> None:
    codes = ["EXECUTING", "COMPLETED", "NOOP", "STOPPED", "FAILED", "UNKNOWN", "MY CODE"]
    assert [ExitStatus(c).severity for c in codes] == [1, 2, 3, 4, 5, 6, 7]


def test_ties_go_to_the_alphabetically_greater_code() -> None:
    assert ExitStatus("ALPHA").and_(ExitStatus("BETA")).exit_code == "BETA"
    assert ExitStatus("BETA").and_(ExitStatus("ALPHA")).exit_code == "BETA"
    assert ExitStatus("CUSTOM FAILED").and_(ExitStatus("CUSTOM STEP FAILED")).exit_code == (
        "CUSTOM STEP FAILED"
    )


def test_descriptions_join_with_a_semicolon() -> None:
    assert ExitStatus("FAILED", "boom").and_(ExitStatus("COMPLETED", "fine")) == ExitStatus(
        "FAILED", "boom; fine"
    )
    # An empty or repeated description adds nothing.
    assert ExitStatus("FAILED", "boom").and_(ExitStatus("COMPLETED")).exit_description == "boom"
    assert ExitStatus("FAILED").and_(ExitStatus("COMPLETED", "fine")).exit_description == "fine"
    assert ExitStatus("FAILED", "same").and_(ExitStatus("FAILED", "same")).exit_description == (
        "same"
    )
    assert ExitStatus.COMPLETED.add_exit_description("x").add_exit_description("y") == ExitStatus(
        "COMPLETED", "x; y"
    )


def test_exit_status_helpers_and_text() -> None:
    status = ExitStatus.FAILED.add_exit_description("boom").replace_exit_code("CUSTOM")
    assert status == ExitStatus("CUSTOM", "boom")
    assert str(status) == "exitCode=CUSTOM;exitDescription=boom"
    assert ExitStatus.EXECUTING.is_running and ExitStatus.UNKNOWN.is_running
    assert not ExitStatus.COMPLETED.is_running
