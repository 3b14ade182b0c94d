"""Process exit codes: the mapping from a job's final exit code, and the CLI's own codes.

Shared by ``jobctl --wait``/``jobctl watch`` and the server's ``jobop run``. Pure Python.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

#: The default map from a job's final exit code to the process exit code.
DEFAULT_EXIT_CODES: Mapping[str, int] = MappingProxyType(
    {
        "COMPLETED": 0,
        "NOOP": 0,
        "STOPPED": 255,
        "FAILED": 255,
        "ABANDONED": 255,
        "UNKNOWN": 255,
    }
)
#: A custom exit code that neither the default map nor the overrides name.
UNMAPPED = 255

# The commands' own exit codes. 1 is never used on purpose: a crashed interpreter returns it.
USAGE = 2  # bad command line, malformed parameters or exit-code file
UNREACHABLE = 3  # the server cannot be reached (or did not answer in time)
NOT_FOUND = 4  # no such job, execution or instance
REFUSED = 5  # the server refused the request (already running, not restartable, ...)
NOT_AUTHENTICATED = 6  # no credentials, or credentials the server does not know
NOT_PERMITTED = 7  # the caller's role does not allow the request
INCOMPLETE = 8  # a bulk operation ended CANCELLED or with executions it could not act on
DECLINED = 9  # a confirmation was answered no (or stdin had no answer)
INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT


def map_exit_code(code: str, overrides: Mapping[str, int] | None = None) -> int:
    """The process exit code for a job's final exit code: overrides first, then defaults."""
    if overrides and code in overrides:
        return overrides[code]
    return DEFAULT_EXIT_CODES.get(code, UNMAPPED)


def load_exit_codes(path: str | Path) -> dict[str, int]:
    """Reads an exit-code mapping file: a JSON object, a TOML document or a TOML inline table.

    ``{"CUSTOM FAILED": 100}``, ``"CUSTOM FAILED" = 100`` and ``{"CUSTOM FAILED" = 100}``
    all work. Raises ValueError with the file name and what is wrong.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ValueError(f"cannot read exit-code file {str(path)!r}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise ValueError(f"exit-code file {str(path)!r} is not UTF-8 text") from None
    try:
        return parse_exit_codes(text)
    except ValueError as error:
        raise ValueError(f"exit-code file {str(path)!r}: {error}") from None


def parse_exit_codes(text: str) -> dict[str, int]:
    """Parses the content of an exit-code mapping file (see ``load_exit_codes``)."""
    data = _parse_document(text)
    mapping: dict[str, int] = {}
    for key, value in data.items():
        # bool is an int to Python; `true` is no exit code.
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"the exit code for {key!r} must be a whole number, not {value!r}")
        if not 0 <= value <= 255:
            raise ValueError(f"the exit code for {key!r} must be between 0 and 255, not {value}")
        mapping[key] = value
    return mapping


def _parse_document(text: str) -> dict[str, object]:
    stripped = text.strip()
    if not stripped:
        return {}
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError:
            # Not JSON: perhaps a TOML inline table, as in {"CUSTOM FAILED" = 100}.
            data = _parse_toml(f"codes = {stripped}").get("codes")
        if not isinstance(data, dict):
            raise ValueError("expected a mapping of exit code to number")
        return data
    return _parse_toml(stripped)


def _parse_toml(text: str) -> dict[str, object]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"neither JSON nor TOML ({error})") from None
