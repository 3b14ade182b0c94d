"""The policy table covers every RPC of the proto, so that a new RPC cannot be served
unchecked, and the roles nest as the issue defines them."""

from __future__ import annotations

import pytest
from jobop.service.auth import (
    CONTROL_ACTIONS,
    POLICY,
    PermissionDenied,
    Principal,
    Role,
    authorize,
)
from jobop.service.handlers import SERVICE


def test_the_policy_table_names_exactly_the_rpcs_of_the_proto() -> None:
    assert set(POLICY) == {method.name for method in SERVICE.methods}
    assert set(POLICY) >= CONTROL_ACTIONS


def test_roles_reach_what_the_issue_says() -> None:
    reads = {name for name, role in POLICY.items() if role is Role.VIEWER}
    assert reads == {
        m.name
        for m in SERVICE.methods
        if m.name.startswith(
            (
                "Get",
                "ListJob",
                "Watch",
                "Describe",
                "ListQueue",
                "ListSchedule",
                "Preview",
                "CountJob",
            )
        )
    }
    admin = {"Abandon", "BulkAbandon", "UpdateJobSettings"}
    assert {name for name, role in POLICY.items() if role is Role.ADMIN} == admin
    assert CONTROL_ACTIONS - admin == {
        name for name, role in POLICY.items() if role is Role.OPERATOR
    } - {"ListAuditEvents"}


def test_authorize_refuses_below_the_role_and_what_the_table_lacks() -> None:
    viewer = Principal("v", Role.VIEWER, "token")
    authorize(viewer, "GetJobNames")
    for rpc in ("Stop", "Abandon", "NewRpcNotInTheTable"):
        with pytest.raises(PermissionDenied):
            authorize(viewer, rpc)
    with pytest.raises(PermissionDenied, match="has no role"):
        authorize(Principal("cert", None, "certificate"), "GetJobNames")
    authorize(Principal("a", Role.ADMIN, "token"), "Abandon")
