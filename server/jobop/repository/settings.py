"""The repository's settings, recorded once in JOBOP_SETTING so every node agrees.

`context_format`: how execution contexts are written (all formats are read).
`spring_schema`: the Spring Batch major version whose objects the repository has, which
decides the sequence job instance ids are drawn from (5: BATCH_JOB_SEQ, 6:
BATCH_JOB_INSTANCE_SEQ).
`time_zone`: the zone TIMESTAMP columns hold wall-clock times of (an IANA name, default
UTC): Spring writes its JVM's local time, so a Spring application sharing the repository
runs with this zone (`-Duser.timezone=...`). It is also the zone of `Date.toString()` in
JOB_KEY, as the JVM's default zone is Spring's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, Engine, inspect, select

from .contexts import ContextFormat
from .engine import read_connection
from .schema import setting

SPRING_SCHEMAS = (5, 6)


class RepositoryConfigurationError(RuntimeError):
    """Settings asked for that the database cannot take (e.g. another Spring schema)."""


@dataclass(frozen=True, slots=True)
class RepositorySettings:
    context_format: ContextFormat = ContextFormat.JACKSON
    spring_schema: int = 5
    time_zone: str = "UTC"

    def __post_init__(self) -> None:
        if self.spring_schema not in SPRING_SCHEMAS:
            raise RepositoryConfigurationError(
                f"Spring Batch schema {self.spring_schema} is not supported: use 5 or 6"
            )
        self.zone  # noqa: B018 -- an unknown zone fails here, not at the first write

    @property
    def zone(self) -> tzinfo:
        if self.time_zone == "UTC":
            return UTC
        try:
            return ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise RepositoryConfigurationError(
                f"unknown time zone {self.time_zone!r}: use an IANA name such as Europe/Berlin"
            ) from None

    def rows(self) -> list[dict[str, str]]:
        return [
            {"name": "context_format", "value": self.context_format.value},
            {"name": "spring_schema", "value": str(self.spring_schema)},
            {"name": "time_zone", "value": self.time_zone},
        ]


def read_settings(connection: Connection) -> RepositorySettings:
    """The recorded settings; the defaults where none are recorded (an older schema)."""
    if not inspect(connection).has_table(setting.name):
        return RepositorySettings()
    values = {row.name: row.value for row in connection.execute(select(setting))}
    try:
        return RepositorySettings(
            context_format=ContextFormat(values.get("context_format", "jackson")),
            spring_schema=int(values.get("spring_schema", "5")),
            time_zone=values.get("time_zone", "UTC"),
        )
    except ValueError as error:
        raise RepositoryConfigurationError(f"unreadable JOBOP_SETTING row: {error}") from None


def load_settings(engine: Engine) -> RepositorySettings:
    with read_connection(engine) as connection:
        return read_settings(connection)


def write_settings(connection: Connection, settings: RepositorySettings) -> None:
    connection.execute(setting.delete())
    connection.execute(setting.insert(), settings.rows())
