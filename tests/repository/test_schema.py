"""The tables are Spring Batch 5's, column for column, and plain unquoted SQL works on them."""

from __future__ import annotations

from typing import Any

import pytest
from jobop.domain import BatchStatus, JobParameters
from jobop.repository import (
    SCHEMA_VERSION,
    JobRepository,
    SchemaVersionMismatch,
    create_engine,
    current_version,
    init_schema,
    upgrade_schema,
)
from jobop.repository.migrations import MIGRATIONS
from repository_lifecycle import run_chunk, run_execution, start_execution, start_step
from sqlalchemy import (
    CHAR,
    BigInteger,
    DateTime,
    Engine,
    Integer,
    String,
    Text,
    inspect,
    text,
)

BIGINT = ("bigint", None)
TIMESTAMP = ("timestamp", None)
TEXT = ("text", None)


def varchar(length: int) -> tuple[str, int]:
    return ("varchar", length)


STATUS, EXIT = varchar(10), varchar(2500)

# docs/schema.md's column list (Spring Batch 5's PostgreSQL DDL), in table order.
SPRING_BATCH_5: dict[str, list[tuple[str, tuple[str, int | None]]]] = {
    "BATCH_JOB_INSTANCE": [
        ("JOB_INSTANCE_ID", BIGINT),
        ("VERSION", BIGINT),
        ("JOB_NAME", varchar(100)),
        ("JOB_KEY", varchar(32)),
    ],
    "BATCH_JOB_EXECUTION": [
        ("JOB_EXECUTION_ID", BIGINT),
        ("VERSION", BIGINT),
        ("JOB_INSTANCE_ID", BIGINT),
        ("CREATE_TIME", TIMESTAMP),
        ("START_TIME", TIMESTAMP),
        ("END_TIME", TIMESTAMP),
        ("STATUS", STATUS),
        ("EXIT_CODE", EXIT),
        ("EXIT_MESSAGE", EXIT),
        ("LAST_UPDATED", TIMESTAMP),
    ],
    "BATCH_JOB_EXECUTION_PARAMS": [
        ("JOB_EXECUTION_ID", BIGINT),
        ("PARAMETER_NAME", varchar(100)),
        ("PARAMETER_TYPE", varchar(100)),
        ("PARAMETER_VALUE", varchar(2500)),
        ("IDENTIFYING", ("char", 1)),
    ],
    "BATCH_STEP_EXECUTION": [
        ("STEP_EXECUTION_ID", BIGINT),
        ("VERSION", BIGINT),
        ("STEP_NAME", varchar(100)),
        ("JOB_EXECUTION_ID", BIGINT),
        ("CREATE_TIME", TIMESTAMP),
        ("START_TIME", TIMESTAMP),
        ("END_TIME", TIMESTAMP),
        ("STATUS", STATUS),
        ("COMMIT_COUNT", BIGINT),
        ("READ_COUNT", BIGINT),
        ("FILTER_COUNT", BIGINT),
        ("WRITE_COUNT", BIGINT),
        ("READ_SKIP_COUNT", BIGINT),
        ("WRITE_SKIP_COUNT", BIGINT),
        ("PROCESS_SKIP_COUNT", BIGINT),
        ("ROLLBACK_COUNT", BIGINT),
        ("EXIT_CODE", EXIT),
        ("EXIT_MESSAGE", EXIT),
        ("LAST_UPDATED", TIMESTAMP),
    ],
    "BATCH_JOB_EXECUTION_CONTEXT": [
        ("JOB_EXECUTION_ID", BIGINT),
        ("SHORT_CONTEXT", varchar(2500)),
        ("SERIALIZED_CONTEXT", TEXT),
    ],
    "BATCH_STEP_EXECUTION_CONTEXT": [
        ("STEP_EXECUTION_ID", BIGINT),
        ("SHORT_CONTEXT", varchar(2500)),
        ("SERIALIZED_CONTEXT", TEXT),
    ],
}

PRIMARY_KEYS = {
    "BATCH_JOB_INSTANCE": ["JOB_INSTANCE_ID"],
    "BATCH_JOB_EXECUTION": ["JOB_EXECUTION_ID"],
    "BATCH_JOB_EXECUTION_PARAMS": [],
    "BATCH_STEP_EXECUTION": ["STEP_EXECUTION_ID"],
    "BATCH_JOB_EXECUTION_CONTEXT": ["JOB_EXECUTION_ID"],
    "BATCH_STEP_EXECUTION_CONTEXT": ["STEP_EXECUTION_ID"],
}


def kind_of(column_type: Any, *, sqlite_rowid: bool) -> tuple[str, int | None]:
    """A reflected type, roughly: the family and the declared length."""
    if isinstance(column_type, BigInteger):
        return BIGINT
    # SQLite's 64-bit INTEGER PRIMARY KEY is the rowid alias: its BIGINT.
    if isinstance(column_type, Integer) and sqlite_rowid:
        return BIGINT
    if isinstance(column_type, DateTime):
        return TIMESTAMP
    if isinstance(column_type, CHAR):
        return ("char", column_type.length)
    if isinstance(column_type, Text):
        return TEXT
    if isinstance(column_type, String):
        return ("varchar", column_type.length)
    return (type(column_type).__name__.lower(), None)


@pytest.fixture
def engine(db_url: str) -> Any:
    engine = create_engine(db_url)
    yield engine
    engine.dispose()


@pytest.mark.parametrize("table", list(SPRING_BATCH_5))
def test_tables_match_spring_batch_5_column_by_column(engine: Engine, table: str) -> None:
    inspector = inspect(engine)
    # Unquoted upper-case names fold to these on PostgreSQL; SQLite ignores case.
    name = table.lower()
    assert name in inspector.get_table_names()
    columns = inspector.get_columns(name)
    sqlite = engine.dialect.name == "sqlite"
    primary_key = [c.upper() for c in inspector.get_pk_constraint(name)["constrained_columns"]]
    actual = [
        (
            c["name"].upper(),
            kind_of(c["type"], sqlite_rowid=sqlite and c["name"].upper() in primary_key),
        )
        for c in columns
    ]
    assert actual == SPRING_BATCH_5[table]
    assert all(c["name"] == c["name"].lower() for c in columns)
    assert primary_key == PRIMARY_KEYS[table]


def test_job_instance_is_unique_by_name_and_key(engine: Engine) -> None:
    uniques = inspect(engine).get_unique_constraints("batch_job_instance")
    assert [sorted(u["column_names"]) for u in uniques] == [["job_key", "job_name"]]


def test_foreign_keys_point_where_spring_points(engine: Engine) -> None:
    inspector = inspect(engine)
    expected = {
        "batch_job_execution": ("job_instance_id", "batch_job_instance"),
        "batch_job_execution_params": ("job_execution_id", "batch_job_execution"),
        "batch_step_execution": ("job_execution_id", "batch_job_execution"),
        "batch_job_execution_context": ("job_execution_id", "batch_job_execution"),
        "batch_step_execution_context": ("step_execution_id", "batch_step_execution"),
    }
    for table, (column, referred) in expected.items():
        keys = inspector.get_foreign_keys(table)
        assert [(k["constrained_columns"], k["referred_table"]) for k in keys] == [
            ([column], referred)
        ]


def test_ids_come_from_sequences(engine: Engine) -> None:
    spring_5 = ("BATCH_JOB_SEQ", "BATCH_JOB_EXECUTION_SEQ", "BATCH_STEP_EXECUTION_SEQ")
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            # SQLite's equivalent: AUTOINCREMENT keys, whose ids are never reused, and
            # Spring's BATCH_*_SEQ tables beside them.
            rows = connection.execute(text("select name, sql from sqlite_master")).all()
            ddl: dict[str, str] = {row[0]: row[1] for row in rows}
            for table in ("batch_job_instance", "batch_job_execution", "batch_step_execution"):
                assert "PRIMARY KEY AUTOINCREMENT" in ddl[table]
            assert {name.lower() for name in spring_5} <= set(ddl)
            assert "batch_job_instance_seq" not in ddl  # Spring 6's name
            return
        # Spring's PostgresSequenceMaxValueIncrementer runs exactly this (unquoted names).
        for sequence in spring_5:
            assert connection.execute(text(f"select nextval('{sequence}')")).scalar() == 1
        sequences = inspect(connection).get_sequence_names()
        assert "batch_job_instance_seq" not in sequences  # Spring 6's name


def test_schema_version_is_recorded(engine: Engine) -> None:
    with engine.connect() as connection:
        assert current_version(connection) == SCHEMA_VERSION
        rows = connection.execute(
            text("select VERSION, DESCRIPTION from JOBOP_SCHEMA_VERSION")
        ).all()
    assert [r[0] for r in rows] == [m.version for m in MIGRATIONS]


def test_seed_queries_work_as_raw_unquoted_sql(db_url: str) -> None:
    repository = JobRepository(create_engine(db_url))
    try:
        first = run_execution(
            repository,
            "importJob",
            JobParameters.of(day="2024-01-01"),
            steps=[("load", 7), ("report", 2)],
        )
        run_execution(repository, "importJob", JobParameters.of(day="2024-01-02"))
        running = repository.create_job_execution("exportJob", JobParameters.of(run=1))
        start_execution(repository, running)
        run_chunk(repository, start_step(repository, running, "export"), 5)

        assert first.id == 1
        with repository.engine.connect() as connection:
            job_rows = connection.execute(
                text(
                    "select JOB_EXECUTION_ID, START_TIME, END_TIME, STATUS, EXIT_CODE "
                    "from BATCH_JOB_EXECUTION where JOB_EXECUTION_ID = 1"
                )
            ).all()
            step_rows = connection.execute(
                text(
                    "select STEP_EXECUTION_ID, STEP_NAME, START_TIME, END_TIME, STATUS, "
                    "EXIT_CODE, READ_COUNT, WRITE_COUNT, COMMIT_COUNT from BATCH_STEP_EXECUTION "
                    "where JOB_EXECUTION_ID = 1"
                )
            ).all()
            running_rows = connection.execute(
                text(
                    "select E.JOB_EXECUTION_ID, I.JOB_NAME, E.STATUS from BATCH_JOB_EXECUTION E, "
                    "BATCH_JOB_INSTANCE I where E.JOB_INSTANCE_ID = I.JOB_INSTANCE_ID "
                    "and E.END_TIME is NULL"
                )
            ).all()
    finally:
        repository.engine.dispose()

    [(execution_id, start, end, status, exit_code)] = job_rows
    assert (execution_id, status, exit_code) == (1, "COMPLETED", "COMPLETED")
    # Naive UTC timestamps (SQLite returns their ISO text, which orders the same way).
    assert start is not None and end is not None and start <= end
    assert [tuple(r[i] for i in (1, 4, 5, 6, 7, 8)) for r in step_rows] == [
        ("load", "COMPLETED", "COMPLETED", 7, 7, 1),
        ("report", "COMPLETED", "COMPLETED", 2, 2, 1),
    ]
    assert all(r[2] is not None and r[3] is not None and r[2] <= r[3] for r in step_rows)
    assert step_rows[0][0] < step_rows[1][0]
    assert [tuple(r) for r in running_rows] == [(running.id, "exportJob", "STARTED")]


def test_rows_written_with_springs_sql_are_read_back(db_url: str) -> None:
    repository = JobRepository(create_engine(db_url))
    postgresql = repository.engine.dialect.name == "postgresql"
    try:
        with repository.engine.begin() as connection:
            # The statements of Spring Batch 5's JDBC DAOs, ids drawn as Spring draws them.
            def next_id(sequence: str, fallback: int) -> int:
                if not postgresql:  # Spring's SqliteMaxValueIncrementer
                    connection.execute(text(f"insert into {sequence} values(null)"))
                    query = f"select max(rowid) from {sequence}"
                    return int(connection.execute(text(query)).scalar_one())
                return int(connection.execute(text(f"select nextval('{sequence}')")).scalar_one())

            instance_id = next_id("BATCH_JOB_SEQ", 1)
            connection.execute(
                text(
                    "INSERT into BATCH_JOB_INSTANCE(JOB_INSTANCE_ID, JOB_NAME, JOB_KEY, VERSION) "
                    "values (:id, :name, :key, :version)"
                ),
                {
                    "id": instance_id,
                    "name": "javaJob",
                    "key": JobParameters.of(a=1).job_key(),
                    "version": 0,
                },
            )
            execution_id = next_id("BATCH_JOB_EXECUTION_SEQ", 1)
            connection.execute(
                text(
                    "INSERT into BATCH_JOB_EXECUTION(JOB_EXECUTION_ID, JOB_INSTANCE_ID, "
                    "START_TIME, END_TIME, STATUS, EXIT_CODE, EXIT_MESSAGE, VERSION, CREATE_TIME, "
                    "LAST_UPDATED) "
                    "values (:id, :instance, NULL, NULL, 'FAILED', 'FAILED', 'boom', 3, "
                    "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                {"id": execution_id, "instance": instance_id},
            )
            connection.execute(
                text(
                    "INSERT into BATCH_JOB_EXECUTION_PARAMS(JOB_EXECUTION_ID, PARAMETER_NAME, "
                    "PARAMETER_TYPE, PARAMETER_VALUE, IDENTIFYING) values (:id, 'a', "
                    "'java.lang.Long', '1', 'Y')"
                ),
                {"id": execution_id},
            )
        execution = repository.explorer.get_job_execution(execution_id)
        assert execution is not None
        assert (execution.job_name, execution.status, execution.version) == (
            "javaJob",
            BatchStatus.FAILED,
            3,
        )
        assert execution.job_parameters == JobParameters.of(a=1)
        # Our launch finds the Java-created instance and restarts it.
        restart = repository.create_job_execution("javaJob", JobParameters.of(a=1))
        assert restart.job_instance_id == instance_id
        assert restart.id > execution_id
    finally:
        repository.engine.dispose()


def test_init_schema_creates_and_is_idempotent(blank_db_url: str) -> None:
    engine = create_engine(blank_db_url)
    try:
        with engine.connect() as connection:
            assert current_version(connection) == 0
        init_schema(engine)
        init_schema(engine)
        assert upgrade_schema(engine) == SCHEMA_VERSION
        with engine.connect() as connection:
            assert current_version(connection) == SCHEMA_VERSION
            assert connection.execute(
                text("select count(*) from JOBOP_SCHEMA_VERSION")
            ).scalar() == len(MIGRATIONS)
        assert set(SPRING_BATCH_5) <= {t.upper() for t in inspect(engine).get_table_names()}
    finally:
        engine.dispose()


def test_a_newer_schema_is_refused(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "insert into JOBOP_SCHEMA_VERSION (VERSION, DESCRIPTION, APPLIED_AT) "
                    "values (:v, 'from the future', CURRENT_TIMESTAMP)"
                ),
                {"v": SCHEMA_VERSION + 1},
            )
        with pytest.raises(SchemaVersionMismatch, match="newer"):
            init_schema(engine)
        with pytest.raises(SchemaVersionMismatch, match="newer"):
            upgrade_schema(engine)
    finally:
        engine.dispose()


# Spring Batch 5.1's schema-postgresql.sql / schema-sqlite.sql (abridged to what matters:
# their tables and sequences), as a Java team would have created them.
SPRING_POSTGRESQL_DDL = [
    "CREATE TABLE BATCH_JOB_INSTANCE (JOB_INSTANCE_ID BIGINT NOT NULL PRIMARY KEY, "
    "VERSION BIGINT, JOB_NAME VARCHAR(100) NOT NULL, JOB_KEY VARCHAR(32) NOT NULL, "
    "constraint JOB_INST_UN unique (JOB_NAME, JOB_KEY))",
    "CREATE TABLE BATCH_JOB_EXECUTION (JOB_EXECUTION_ID BIGINT NOT NULL PRIMARY KEY, "
    "VERSION BIGINT, JOB_INSTANCE_ID BIGINT NOT NULL, CREATE_TIME TIMESTAMP NOT NULL, "
    "START_TIME TIMESTAMP DEFAULT NULL, END_TIME TIMESTAMP DEFAULT NULL, STATUS VARCHAR(10), "
    "EXIT_CODE VARCHAR(2500), EXIT_MESSAGE VARCHAR(2500), LAST_UPDATED TIMESTAMP, "
    "constraint JOB_INST_EXEC_FK foreign key (JOB_INSTANCE_ID) "
    "references BATCH_JOB_INSTANCE(JOB_INSTANCE_ID))",
    "CREATE TABLE BATCH_JOB_EXECUTION_PARAMS (JOB_EXECUTION_ID BIGINT NOT NULL, "
    "PARAMETER_NAME VARCHAR(100) NOT NULL, PARAMETER_TYPE VARCHAR(100) NOT NULL, "
    "PARAMETER_VALUE VARCHAR(2500), IDENTIFYING CHAR(1) NOT NULL, "
    "constraint JOB_EXEC_PARAMS_FK foreign key (JOB_EXECUTION_ID) "
    "references BATCH_JOB_EXECUTION(JOB_EXECUTION_ID))",
    "CREATE TABLE BATCH_STEP_EXECUTION (STEP_EXECUTION_ID BIGINT NOT NULL PRIMARY KEY, "
    "VERSION BIGINT NOT NULL, STEP_NAME VARCHAR(100) NOT NULL, JOB_EXECUTION_ID BIGINT NOT NULL, "
    "CREATE_TIME TIMESTAMP NOT NULL, START_TIME TIMESTAMP DEFAULT NULL, "
    "END_TIME TIMESTAMP DEFAULT NULL, STATUS VARCHAR(10), COMMIT_COUNT BIGINT, "
    "READ_COUNT BIGINT, FILTER_COUNT BIGINT, WRITE_COUNT BIGINT, READ_SKIP_COUNT BIGINT, "
    "WRITE_SKIP_COUNT BIGINT, PROCESS_SKIP_COUNT BIGINT, ROLLBACK_COUNT BIGINT, "
    "EXIT_CODE VARCHAR(2500), EXIT_MESSAGE VARCHAR(2500), LAST_UPDATED TIMESTAMP, "
    "constraint JOB_EXEC_STEP_FK foreign key (JOB_EXECUTION_ID) "
    "references BATCH_JOB_EXECUTION(JOB_EXECUTION_ID))",
    "CREATE TABLE BATCH_STEP_EXECUTION_CONTEXT (STEP_EXECUTION_ID BIGINT NOT NULL PRIMARY KEY, "
    "SHORT_CONTEXT VARCHAR(2500) NOT NULL, SERIALIZED_CONTEXT TEXT, "
    "constraint STEP_EXEC_CTX_FK foreign key (STEP_EXECUTION_ID) "
    "references BATCH_STEP_EXECUTION(STEP_EXECUTION_ID))",
    "CREATE TABLE BATCH_JOB_EXECUTION_CONTEXT (JOB_EXECUTION_ID BIGINT NOT NULL PRIMARY KEY, "
    "SHORT_CONTEXT VARCHAR(2500) NOT NULL, SERIALIZED_CONTEXT TEXT, "
    "constraint JOB_EXEC_CTX_FK foreign key (JOB_EXECUTION_ID) "
    "references BATCH_JOB_EXECUTION(JOB_EXECUTION_ID))",
    "CREATE SEQUENCE BATCH_STEP_EXECUTION_SEQ MAXVALUE 9223372036854775807 NO CYCLE",
    "CREATE SEQUENCE BATCH_JOB_EXECUTION_SEQ MAXVALUE 9223372036854775807 NO CYCLE",
    "CREATE SEQUENCE BATCH_JOB_SEQ MAXVALUE 9223372036854775807 NO CYCLE",
]


def test_a_schema_created_by_spring_batch_is_adopted(blank_db_url: str) -> None:
    engine = create_engine(blank_db_url)
    try:
        with engine.begin() as connection:
            for statement in SPRING_POSTGRESQL_DDL:
                if engine.dialect.name == "sqlite":
                    if "SEQUENCE" in statement:
                        continue  # Spring's SQLite DDL keeps ids in INTEGER PRIMARY KEYs
                    statement = statement.replace(
                        "BIGINT NOT NULL PRIMARY KEY", "INTEGER NOT NULL PRIMARY KEY"
                    )
                connection.execute(text(statement))
            connection.execute(
                text(
                    "INSERT into BATCH_JOB_INSTANCE(JOB_INSTANCE_ID, JOB_NAME, JOB_KEY, VERSION) "
                    "values (41, 'javaJob', 'k', 0)"
                )
            )
        init_schema(engine)
        repository = JobRepository(engine)
        execution = repository.create_job_execution("pythonJob", JobParameters.of(run=1))
        # Ids continue after the rows already there instead of colliding with them.
        assert execution.job_instance_id > 41
        assert repository.explorer.get_job_names() == ["javaJob", "pythonJob"]
    finally:
        engine.dispose()


def test_a_version_1_database_is_upgraded_with_the_operator_tables(blank_db_url: str) -> None:
    from jobop.repository.engine import write_transaction
    from jobop.repository.migrations import MIGRATIONS, _apply
    from jobop.repository.settings import RepositorySettings

    engine = create_engine(blank_db_url)
    try:
        with write_transaction(engine) as connection:  # as the first jobop release left it
            _apply(connection, [MIGRATIONS[0]], RepositorySettings())
        assert "jobop_request" not in inspect(engine).get_table_names()
        with pytest.raises(SchemaVersionMismatch, match=r"at version 1, .* `jobop db upgrade`"):
            init_schema(engine)
        assert upgrade_schema(engine) == SCHEMA_VERSION == 10
        tables = set(inspect(engine).get_table_names())
        assert {
            "jobop_request",
            "jobop_launch_request",
            "jobop_node",
            "jobop_audit",
            "jobop_job_settings",
            "jobop_schedule",
            "jobop_schedule_fire",
            "jobop_partition",
            "jobop_bulk_operation",
            "jobop_bulk_operation_item",
        } <= tables
        init_schema(engine)  # now at the version this jobop needs: nothing to do
    finally:
        engine.dispose()


def test_a_version_3_database_gets_the_node_tables_and_keeps_its_waiting_starts(
    blank_db_url: str,
) -> None:
    from jobop.repository import RepositorySettings
    from jobop.repository.engine import write_transaction
    from jobop.repository.migrations import MIGRATIONS, _apply
    from jobop.repository.nodes import NodeRepository

    engine = create_engine(blank_db_url)
    try:
        with write_transaction(engine) as connection:  # as jobop with schema 3 left it
            _apply(connection, [MIGRATIONS[0]], RepositorySettings())
            connection.execute(
                text(
                    "CREATE TABLE jobop_launch_request (job_execution_id BIGINT PRIMARY KEY, "
                    "job_name VARCHAR(100) NOT NULL, created TIMESTAMP NOT NULL)"
                )
            )
            connection.execute(
                text(
                    "CREATE TABLE jobop_request (request_id VARCHAR(200) PRIMARY KEY, "
                    "operation VARCHAR(400) NOT NULL, job_execution_id BIGINT, "
                    "created TIMESTAMP NOT NULL)"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO jobop_schema_version (version, description, applied_at) "
                    "VALUES (2, 'operator tables', CURRENT_TIMESTAMP)"
                )
            )
            _apply(connection, [MIGRATIONS[2]], RepositorySettings())  # settings, sequences
        repository = JobRepository(engine)
        waiting = repository.create_job_execution("pythonJob", JobParameters.of(run=1))
        with write_transaction(engine) as connection:
            connection.execute(
                text(
                    "INSERT INTO jobop_launch_request (job_execution_id, job_name, created) "
                    "VALUES (:id, 'pythonJob', CURRENT_TIMESTAMP)"
                ),
                {"id": waiting.id},
            )
        with pytest.raises(SchemaVersionMismatch, match=r"at version 3, .* `jobop db upgrade`"):
            init_schema(engine)
        assert upgrade_schema(engine) == SCHEMA_VERSION == 10
        assert "jobop_node" in inspect(engine).get_table_names()
        # The start an api server left before the upgrade is claimable after it.
        claimed = NodeRepository(engine).claim_launch_requests("n1", ["pythonJob"], 5)
        assert [execution.id for execution in claimed] == [waiting.id]
    finally:
        engine.dispose()
