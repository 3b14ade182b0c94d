"""The installed jobop package's version, as `jobop --version` and `jobctl --version`
print it. Pure Python: the server imports it too."""

from __future__ import annotations

from importlib import metadata


def package_version() -> str:
    try:
        return metadata.version("jobop")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"
