from . import job_operator_pb2
from . import job_operator_pb2_grpc
