"""The repository's time zone: jobop writes and reads TIMESTAMPs as wall-clock times of
the zone a Spring application's JVM runs in, and spells Date parameters in JOB_KEY in it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from jobop.domain import JobInstanceAlreadyComplete, JobParameters, utcnow
from jobop.repository import JobRepository, create_engine, init_schema
from spring_oracle import Oracle, launch
from sqlalchemy import text

ZONE = "Europe/Berlin"


def test_times_are_written_and_read_in_the_repositorys_zone(
    oracle: Oracle, blank_db_url: str
) -> None:
    engine = create_engine(blank_db_url)
    try:
        settings = init_schema(engine, time_zone=ZONE)
        assert settings.time_zone == ZONE
        repository = JobRepository(engine)
        ours = repository.create_job_execution("pythonJob", JobParameters.of(run=1))
        with engine.connect() as connection:
            raw = connection.execute(
                text("SELECT CREATE_TIME FROM BATCH_JOB_EXECUTION WHERE JOB_EXECUTION_ID = :id"),
                {"id": ours.id},
            ).scalar_one()
        wall_clock = ours.create_time.astimezone(ZoneInfo(ZONE)).replace(tzinfo=None)
        if isinstance(raw, str):  # SQLite keeps text
            raw = datetime.fromisoformat(raw)
        assert raw == wall_clock
        when = datetime(2024, 3, 31, 1, 30, tzinfo=UTC)  # 03:30 in Berlin, summer time
        parameters = JobParameters.of(when=when)
        read, launched = oracle.dao(
            blank_db_url,
            5,
            "jackson",
            {"do": "read", "execution": ours.id},
            launch("javaJob", parameters),
            zone=ZONE,
        )
        # The JVM in that zone sees the same wall-clock time jobop wrote.
        seen = datetime.fromisoformat(read["createTime"])
        assert abs(seen - wall_clock) < timedelta(milliseconds=1)
        # jobop reads the JVM's local times as the instants they are.
        theirs = repository.explorer.get_job_execution(launched["execution"])
        assert theirs is not None
        assert abs(theirs.create_time - utcnow()) < timedelta(minutes=1)
        # And Date.toString in JOB_KEY is spelled in the zone: the same instance.
        with pytest.raises(JobInstanceAlreadyComplete):
            repository.create_job_execution("javaJob", parameters)
    finally:
        engine.dispose()


def test_another_zone_than_the_recorded_one_is_refused(blank_db_url: str) -> None:
    engine = create_engine(blank_db_url)
    try:
        init_schema(engine, time_zone=ZONE)
        with pytest.raises(RuntimeError, match="writes times in Europe/Berlin, not UTC"):
            init_schema(engine, time_zone="UTC")
    finally:
        engine.dispose()
