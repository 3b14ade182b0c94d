"""StartJobs audits each entry with the event a Start of it alone would get (what the
entries share is worked out once per call)."""

from __future__ import annotations

import pytest
from jobop.service.audit import AuditRecorder
from jobop.service.auth import ANONYMOUS, Caller, Principal, Role
from jobop_client._proto.jobop.v1 import job_operator_pb2 as pb
from jobop_client.parameters import to_proto_map

STARTS = [
    pb.StartRequest(job_name="importJob", parameters=to_proto_map({"run.id": 1, "day": "x"})),
    pb.StartRequest(job_name="importJob", request_id="r-1", priority=5),
    pb.StartRequest(parameters=to_proto_map({"apiToken": "s3cret", "ratio": 0.5})),
    pb.StartRequest(job_name="bad", parameters={"empty": pb.JobParameter()}),  # unrenderable
]


@pytest.mark.parametrize(
    "caller",
    [
        None,
        Caller(ANONYMOUS, "ipv4:127.0.0.1:1"),
        Caller(Principal("op", Role.OPERATOR, "token"), "ipv6:[::1]:2"),
        Caller(Principal("nobody", None, "certificate"), "p"),
    ],
)
def test_each_entry_gets_the_event_a_start_of_it_alone_gets(caller: Caller | None) -> None:
    recorder = AuditRecorder(trail=None, executor=None, node="node-a")  # type: ignore[arg-type]
    alone = [recorder.event(caller, "StartJobs", start) for start in STARTS]
    assert recorder.start_events(caller, STARTS) == alone
    assert '"***"' in alone[2].arguments and "unrenderable" in alone[3].arguments
