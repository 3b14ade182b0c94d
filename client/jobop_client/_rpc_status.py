"""google.rpc.Status and google.rpc.ErrorInfo without googleapis-common-protos.

The two messages live in a private descriptor pool built here, not in protobuf's default
pool: a client-only install has no googleapis-common-protos, and a server process that has
it (grpcio-status loads google/rpc/status.proto) must not see a second, possibly different,
file of the same name, which the default pool refuses. The wire format is the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import any_pb2, descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError

STATUS_DETAILS_KEY = "grpc-status-details-bin"
ERROR_INFO_TYPE_URL = "type.googleapis.com/google.rpc.ErrorInfo"

_F = descriptor_pb2.FieldDescriptorProto


def _field(name: str, number: int, kind: int, type_name: str = "", repeated: bool = False) -> _F:
    proto = _F(
        name=name,
        number=number,
        type=kind,  # type: ignore[arg-type]
        label=_F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL,
        json_name=name,
    )
    if type_name:  # scalar fields must not have one, not even an empty one
        proto.type_name = type_name
    return proto


def _build_pool() -> descriptor_pool.DescriptorPool:
    # The fields of google/rpc/status.proto and google/rpc/error_details.proto that we use,
    # with their real numbers and names.
    string_map_entry = descriptor_pb2.DescriptorProto(
        name="MetadataEntry",
        field=[_field("key", 1, _F.TYPE_STRING), _field("value", 2, _F.TYPE_STRING)],
        options=descriptor_pb2.MessageOptions(map_entry=True),
    )
    file = descriptor_pb2.FileDescriptorProto(
        name="jobop_client/google_rpc_status.proto",
        package="google.rpc",
        syntax="proto3",
        dependency=["google/protobuf/any.proto"],
        message_type=[
            descriptor_pb2.DescriptorProto(
                name="Status",
                field=[
                    _field("code", 1, _F.TYPE_INT32),
                    _field("message", 2, _F.TYPE_STRING),
                    _field("details", 3, _F.TYPE_MESSAGE, ".google.protobuf.Any", repeated=True),
                ],
            ),
            descriptor_pb2.DescriptorProto(
                name="ErrorInfo",
                field=[
                    _field("reason", 1, _F.TYPE_STRING),
                    _field("domain", 2, _F.TYPE_STRING),
                    _field(
                        "metadata",
                        3,
                        _F.TYPE_MESSAGE,
                        ".google.rpc.ErrorInfo.MetadataEntry",
                        repeated=True,
                    ),
                ],
                nested_type=[string_map_entry],
            ),
        ],
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(descriptor_pb2.FileDescriptorProto.FromString(any_pb2.DESCRIPTOR.serialized_pb))
    pool.Add(file)
    return pool


_POOL = _build_pool()
# Message classes made at run time: their fields are not known to the type checker.
_Status: Any = message_factory.GetMessageClass(_POOL.FindMessageTypeByName("google.rpc.Status"))
_ErrorInfo: Any = message_factory.GetMessageClass(
    _POOL.FindMessageTypeByName("google.rpc.ErrorInfo")
)


@dataclass(frozen=True)
class ErrorInfo:
    reason: str
    domain: str
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RpcStatus:
    code: int
    message: str
    error_info: ErrorInfo | None


def encode_status(code: int, message: str, error_info: ErrorInfo | None) -> bytes:
    """A serialized google.rpc.Status, the value of the grpc-status-details-bin trailer."""
    status = _Status(code=code, message=message)
    if error_info is not None:
        info = _ErrorInfo(
            reason=error_info.reason, domain=error_info.domain, metadata=dict(error_info.metadata)
        )
        status.details.add(type_url=ERROR_INFO_TYPE_URL, value=info.SerializeToString())
    data: bytes = status.SerializeToString()
    return data


def decode_status(data: bytes) -> RpcStatus:
    """Reads a serialized google.rpc.Status; raises ValueError when it is not one."""
    try:
        status = _Status.FromString(data)
        error_info = None
        for detail in status.details:
            if detail.type_url.rpartition("/")[2] == "google.rpc.ErrorInfo":
                info = _ErrorInfo.FromString(detail.value)
                error_info = ErrorInfo(info.reason, info.domain, dict(info.metadata))
                break
    except DecodeError as error:
        raise ValueError(f"malformed google.rpc.Status: {error}") from error
    return RpcStatus(int(status.code), str(status.message), error_info)
