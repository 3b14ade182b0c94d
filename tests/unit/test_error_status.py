"""An error's status always fits a gRPC trailer, however long the input it quotes."""

from __future__ import annotations

from google.rpc import error_details_pb2, status_pb2  # type: ignore[import-untyped]
from jobop.domain.cron import InvalidSchedule
from jobop.service.errors import status_for

# The peer's hard limit on a call's metadata (grpc's default).
METADATA_LIMIT = 16 * 1024


def test_a_huge_quoted_input_is_cut_and_the_reason_still_travels() -> None:
    huge = "\U0001f600" * 200_000  # four bytes each, percent-encoded in grpc-message
    error = InvalidSchedule(f"cron {huge!r} is not an expression", field="cron")
    error.metadata["cronField"] = huge
    status = status_for(error)
    size = len(status.details.encode("utf-8")) * 3  # at worst every byte percent-encoded
    for _, value in status.trailing_metadata:
        size += len(value)
    assert size < METADATA_LIMIT
    (details,) = [value for key, value in status.trailing_metadata if key.endswith("-bin")]
    info = error_details_pb2.ErrorInfo()
    status_pb2.Status.FromString(details).details[0].Unpack(info)
    assert info.reason == "INVALID_ARGUMENT"
    assert info.metadata["field"] == "cron"
    assert info.metadata["cronField"].endswith("…")
    assert status.details.startswith("cron '") and status.details.endswith("…")


def test_a_short_message_is_left_whole() -> None:
    status = status_for(InvalidSchedule("cron: second field '61' is out of range", field="cron"))
    assert status.details == "cron: second field '61' is out of range"
