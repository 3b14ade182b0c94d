"""jobop: a job operator driven over gRPC."""
