from . import annotations_pb2
from . import http_pb2
