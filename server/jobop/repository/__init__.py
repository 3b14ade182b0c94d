"""The job repository: Spring Batch 5's tables on SQLite or PostgreSQL (SQLAlchemy Core)."""

from __future__ import annotations

from jobop.batch.store import ChunkTransaction

from .audit import AuditEvent, AuditTrail, PendingAudit
from .contexts import ContextFormat
from .counting import StatementCounter
from .engine import create_engine, is_database_unavailable, read_connection, write_transaction
from .explorer import JobExplorer
from .job_keys import JobKeyCollision, RekeyReport, rekey
from .job_repository import JobRepository, NewInstance
from .migrations import SchemaVersionMismatch, current_version, init_schema, upgrade_schema
from .schema import SCHEMA_VERSION
from .settings import RepositoryConfigurationError, RepositorySettings

__all__ = [
    "SCHEMA_VERSION",
    "AuditEvent",
    "AuditTrail",
    "ChunkTransaction",
    "ContextFormat",
    "JobExplorer",
    "JobKeyCollision",
    "JobRepository",
    "NewInstance",
    "PendingAudit",
    "RekeyReport",
    "RepositoryConfigurationError",
    "RepositorySettings",
    "SchemaVersionMismatch",
    "StatementCounter",
    "create_engine",
    "current_version",
    "init_schema",
    "is_database_unavailable",
    "read_connection",
    "rekey",
    "upgrade_schema",
    "write_transaction",
]
