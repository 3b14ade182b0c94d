"""The generated modules of ``jobop.v1`` under a stable public name.

``from jobop_client.proto import job_operator_pb2 as pb`` gives the messages;
``job_operator_pb2_grpc`` has ``JobOperatorServiceStub``, ``JobOperatorServiceServicer`` and
``add_JobOperatorServiceServicer_to_server``. They live in ``jobop_client._proto`` with
relative imports (see scripts/gen-protos), apart from the server package ``jobop``.
"""

from __future__ import annotations

from jobop_client._proto.jobop.v1 import job_operator_pb2, job_operator_pb2_grpc

__all__ = ["job_operator_pb2", "job_operator_pb2_grpc"]
