"""The one masking step of every answer: secret-named parameters masked unless the caller
is an admin, a shared snapshot never changed, a call with no known caller masked."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from jobop.domain import JobExecution, JobInstance, JobParameter, JobParameters
from jobop.service.auth import Caller, Principal, Role, current_caller
from jobop.service.mapping import (
    execution_for_caller,
    execution_to_proto,
    parameters_to_proto_for_caller,
    summary_for_caller,
)
from jobop_client import parameters as client_parameters

EXECUTION = JobExecution(
    JobInstance(id=1, job_name="importJob", job_key="k"),
    JobParameters(
        {
            "sftpPassword": JobParameter("hunter2", "STRING"),
            "privateKeyId": JobParameter(77, "LONG", identifying=False),
            "file": JobParameter("in.csv", "STRING"),
        }
    ),
    id=5,
)


@contextmanager
def calling_as(role: Role | None) -> Iterator[None]:
    token = current_caller.set(
        None if role is None else Caller(Principal(f"{role.label}-user", role, "token"), "p")
    )
    try:
        yield
    finally:
        current_caller.reset(token)


def values(parameters: object) -> dict[str, object]:
    return {
        name: client_parameters.from_proto(message).value
        for name, message in parameters.items()  # type: ignore[attr-defined]
    }


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR, None])
def test_who_is_not_an_admin_reads_secrets_masked(role: Role | None) -> None:
    snapshot = execution_to_proto(EXECUTION)  # as streams share it
    with calling_as(role):
        for shown in (
            execution_for_caller(EXECUTION).parameters,
            execution_for_caller(snapshot).parameters,
            parameters_to_proto_for_caller(EXECUTION.job_parameters),
        ):
            assert values(shown) == {"sftpPassword": "***", "privateKeyId": "***", "file": "in.csv"}
            assert shown["privateKeyId"].identifying is False
        summary = summary_for_caller(EXECUTION)
    assert "hunter2" not in summary and "value=77" not in summary
    assert "'privateKeyId':'{value=***, type=class java.lang.Long, identifying=false}'" in summary
    assert values(snapshot.parameters)["sftpPassword"] == "hunter2"  # shared copy untouched


def test_an_admin_reads_the_stored_values() -> None:
    snapshot = execution_to_proto(EXECUTION)
    with calling_as(Role.ADMIN):
        assert execution_for_caller(snapshot) is snapshot
        assert (
            values(parameters_to_proto_for_caller(EXECUTION.job_parameters))["privateKeyId"] == 77
        )
        assert summary_for_caller(EXECUTION) == EXECUTION.summary()
