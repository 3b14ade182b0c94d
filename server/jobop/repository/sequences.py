"""Where ids come from, so that jobop and a Spring Batch application sharing the tables
never hand out the same one.

PostgreSQL: each id column's default is `nextval` of the sequence Spring Batch of the
repository's version draws from (5: BATCH_JOB_SEQ for instances, 6:
BATCH_JOB_INSTANCE_SEQ; both: BATCH_JOB_EXECUTION_SEQ, BATCH_STEP_EXECUTION_SEQ).

SQLite: Spring draws ids by inserting into its BATCH_*_SEQ tables (AUTOINCREMENT) and
inserts rows with them; jobop lets the id columns' AUTOINCREMENT assign them. Each keeps
past the other: a table's AUTOINCREMENT counter follows the largest id inserted into it,
and a trigger copies every new id into the matching BATCH_*_SEQ table.
"""

from __future__ import annotations

from sqlalchemy import Connection, func, inspect, select, text

from .engine import is_postgresql
from .schema import job_execution, job_instance, step_execution
from .settings import RepositoryConfigurationError

INSTANCE_SEQUENCE = {5: "batch_job_seq", 6: "batch_job_instance_seq"}
_EXECUTION_SEQUENCE = "batch_job_execution_seq"
_STEP_SEQUENCE = "batch_step_execution_seq"


def _present(connection: Connection) -> set[str]:
    if is_postgresql(connection):
        return {name.lower() for name in inspect(connection).get_sequence_names()}
    return {name.lower() for name in inspect(connection).get_table_names()}


def detect_spring_schema(connection: Connection) -> int | None:
    """The Spring Batch version whose instance sequence the database has (None: neither,
    or both as earlier jobop versions created)."""
    present = _present(connection)
    found = [version for version, name in INSTANCE_SEQUENCE.items() if name in present]
    return found[0] if len(found) == 1 else None


def check_spring_schema(connection: Connection, wanted: int, explicit: bool) -> int:
    """The version to use: the one the database shows, unless another was asked for."""
    detected = detect_spring_schema(connection)
    if detected is None or detected == wanted:
        return wanted
    if explicit:
        raise RepositoryConfigurationError(
            f"the database has Spring Batch {detected}'s schema "
            f"({INSTANCE_SEQUENCE[detected].upper()}), not {wanted}'s: initialise with "
            f"--spring-schema {detected} (and `jobop db upgrade --spring-schema {wanted}` "
            "to migrate it)"
        )
    return detected


def install(connection: Connection, spring_schema: int) -> None:
    """Create the version's sequences (keeping any that exist) and draw ids from them."""
    instance_sequence = INSTANCE_SEQUENCE[spring_schema]
    other = INSTANCE_SEQUENCE[{5: 6, 6: 5}[spring_schema]]
    present = _present(connection)
    targets = (
        (instance_sequence, job_instance.name, "job_instance_id"),
        (_EXECUTION_SEQUENCE, job_execution.name, "job_execution_id"),
        (_STEP_SEQUENCE, step_execution.name, "step_execution_id"),
    )
    postgresql = is_postgresql(connection)
    for sequence, table, column in targets:
        highest = connection.execute(
            select(func.max(text(column))).select_from(text(table))
        ).scalar()
        if postgresql:
            _install_sequence(connection, sequence, table, column, highest, sequence in present)
        else:
            _install_sequence_table(connection, sequence, table, column, highest)
    if other in present:
        # Earlier jobop versions created both names: the repository keeps only its
        # version's (whose sequence was just moved past every id handed out).
        if postgresql:
            connection.execute(text(f"DROP SEQUENCE {other}"))
        else:
            connection.execute(text(f"DROP TABLE {other}"))


def _install_sequence(
    connection: Connection,
    sequence: str,
    table: str,
    column: str,
    highest: int | None,
    exists: bool,
) -> None:
    if not exists:
        # As Spring's schema-postgresql.sql declares them.
        connection.execute(
            text(f"CREATE SEQUENCE {sequence} MAXVALUE 9223372036854775807 NO CYCLE")
        )
    connection.execute(
        text(f"ALTER TABLE {table} ALTER COLUMN {column} SET DEFAULT nextval('{sequence}')")
    )
    if highest is not None:
        # Adopted tables may already hold ids: start the sequence past them.
        connection.execute(
            text(f"SELECT setval('{sequence}', greatest(:highest, last_value)) FROM {sequence}"),
            {"highest": highest},
        )


def _install_sequence_table(
    connection: Connection, sequence: str, table: str, column: str, highest: int | None
) -> None:
    # As Spring's schema-sqlite.sql declares them.
    connection.execute(
        text(f"CREATE TABLE IF NOT EXISTS {sequence} (ID INTEGER PRIMARY KEY AUTOINCREMENT)")
    )
    if highest is not None:
        connection.execute(
            text(f"INSERT OR IGNORE INTO {sequence} (ID) VALUES (:highest)"),
            {"highest": highest},
        )
    trigger = f"jobop_{table}_id_to_seq"
    connection.execute(text(f"DROP TRIGGER IF EXISTS {trigger}"))
    connection.execute(
        text(
            f"CREATE TRIGGER {trigger} AFTER INSERT ON {table} BEGIN "
            f"INSERT OR IGNORE INTO {sequence} (ID) VALUES (NEW.{column}); "
            # As Spring's incrementer does: only the highest row is needed.
            f"DELETE FROM {sequence} WHERE ID < NEW.{column}; END"
        )
    )


def migrate_5_to_6(connection: Connection) -> None:
    """Spring's migration-6.0 scripts: BATCH_JOB_SEQ becomes BATCH_JOB_INSTANCE_SEQ (the
    column default follows the renamed sequence; the SQLite trigger the renamed table)."""
    if is_postgresql(connection):
        connection.execute(text("ALTER SEQUENCE batch_job_seq RENAME TO batch_job_instance_seq"))
    else:
        connection.execute(text("ALTER TABLE batch_job_seq RENAME TO batch_job_instance_seq"))
