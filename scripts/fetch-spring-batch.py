#!/usr/bin/env python3
"""Spring Batch's own schema scripts, which tests/spring run, from Maven Central.

    scripts/fetch-spring-batch.py [--dest DIR] [--jar VERSION=JAR ...] [--maven-url URL]

Without --dest it looks for the scripts first, and downloads only when they are not found:
in $JOBOP_SPRING_BATCH_DIR when it is set (then there alone), else in the cache,
${XDG_CACHE_HOME:-~/.cache}/jobop/spring-batch, else in a `shared/spring-batch` folder
beside the repository (how this project's own CI provides them). Missing scripts go to
$JOBOP_SPRING_BATCH_DIR when it is set, else to the cache; --dest DIR makes DIR hold them,
whatever is elsewhere. Each folder holds VERSION/NAME (5.2.6/schema-postgresql.sql, ...).

A download reads spring-batch-core-VERSION.jar from the Maven repository (--maven-url, for
a mirror) and extracts the scripts from it; --jar VERSION=JAR extracts from a jar at hand
instead (one from ~/.m2, say). Every script, found or extracted, must match the SHA-256
pinned below, taken from Spring Batch's release tags. Python's standard library only.

Exit 0 when every script is in place; 1, with one line on stderr saying what is missing
and how to provide it, when not.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

MAVEN_URL = "https://repo1.maven.org/maven2"
ENV_DIR = "JOBOP_SPRING_BATCH_DIR"
PROG = "fetch-spring-batch"
_CORE = "org/springframework/batch/core"
# A jar is about 1 MB; a response far larger is not one.
_MAX_JAR_BYTES = 64 * 1024 * 1024

# Per version: the file name the tests read -> (its path in spring-batch-core's jar, its
# SHA-256), from spring-batch-core/src/main/resources at the tags v5.2.6 and v6.0.4.
SCRIPTS: dict[str, dict[str, tuple[str, str]]] = {
    "5.2.6": {
        "schema-postgresql.sql": (
            f"{_CORE}/schema-postgresql.sql",
            "cdbd4e853dc94a3e0972afd16eeb1a4833d7ed2d2f95888f6b75649b71e8cc60",
        ),
        "schema-sqlite.sql": (
            f"{_CORE}/schema-sqlite.sql",
            "8a430dcf44e2b313016d059dcc8b197fcd34834bf6ed75ff32a4adf685ec0661",
        ),
        "schema-drop-postgresql.sql": (
            f"{_CORE}/schema-drop-postgresql.sql",
            "3f6b5fa0e5064a08f9f522be1b40d2951378988508d7dae3cc3fbe44ab1e2aaf",
        ),
        "schema-drop-sqlite.sql": (
            f"{_CORE}/schema-drop-sqlite.sql",
            "88cd15cbdf3ee588b43388434e63c3f829bdbb6d8c01a52364d2205fbfdb4956",
        ),
    },
    "6.0.4": {
        "schema-postgresql.sql": (
            f"{_CORE}/schema-postgresql.sql",
            "f2ac75cae966e4eb1cd97ee6b11f130495b7109153754a7983befb87614d6e38",
        ),
        "schema-sqlite.sql": (
            f"{_CORE}/schema-sqlite.sql",
            "a691044fb52743daff3128885c56d992d5a54bb2e875f3cb17af2406bb9e2461",
        ),
        "schema-drop-postgresql.sql": (
            f"{_CORE}/schema-drop-postgresql.sql",
            "857cbf250158ac588ea0f0c086ad49fe96e817d027684d5c2a6b73548486db7c",
        ),
        "schema-drop-sqlite.sql": (
            f"{_CORE}/schema-drop-sqlite.sql",
            "9f53c30e5a9895c33f724028ca93106f38f420c955750869d7a77a47919e3bb8",
        ),
        # Spring's 5 -> 6 migration (the sequence rename), named as the tests ask for it.
        "migration-6.0-postgresql.sql": (
            f"{_CORE}/migration/6.0/migration-postgresql.sql",
            "660f1bf9e2c04e36727ac963142480a693df7fad1a2c22fd5ae4ed8b3ef84cdb",
        ),
        "migration-6.0-sqlite.sql": (
            f"{_CORE}/migration/6.0/migration-sqlite.sql",
            "430fffe4e0927a0903d870d8fd4b2a8ee6e225ac3e500021018eb844bff362ab",
        ),
    },
}
HOW = (
    f"set {ENV_DIR} to a folder holding {'/ and '.join(SCRIPTS)}/ with them, or run "
    "scripts/fetch-spring-batch.py where Maven Central is reachable"
)


class ScriptsMissing(Exception):
    """Spring Batch's scripts cannot be had; str() is the one line to print."""

    def __init__(self, version: str, reason: str) -> None:
        super().__init__(f"Spring Batch {version}'s schema scripts are missing: {reason}; {HOW}")


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME", "")
    # The XDG spec: a relative path is invalid and is ignored.
    root = Path(base) if os.path.isabs(base) else Path.home() / ".cache"
    return root / "jobop" / "spring-batch"


def default_dest() -> Path:
    """Where fetched scripts go: $JOBOP_SPRING_BATCH_DIR when set, else the cache."""
    configured = os.environ.get(ENV_DIR)
    return Path(configured) if configured else cache_dir()


def _beside_repository() -> Path:
    return Path(__file__).resolve().parents[1].parent / "shared" / "spring-batch"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def problems(root: Path, version: str) -> list[str]:
    """What keeps `root`/VERSION from holding Spring Batch VERSION's scripts (none: it does)."""
    found = []
    for name, (_, pinned) in SCRIPTS[version].items():
        path = root / version / name
        try:
            data = path.read_bytes()
        except OSError:
            found.append(f"{path} does not exist")
            continue
        if _sha256(data) != pinned:
            found.append(f"{path} is not Spring Batch {version}'s (its SHA-256 differs)")
    return found


def find_scripts(version: str) -> Path:
    """The folder holding Spring Batch `version`'s scripts, checked against their pinned
    SHA-256: $JOBOP_SPRING_BATCH_DIR/VERSION when that is set, else the cache's, else
    those beside the repository. Raises ScriptsMissing, one line, when none holds them."""
    configured = os.environ.get(ENV_DIR)
    if configured:
        wrong = problems(Path(configured), version)
        if wrong:
            raise ScriptsMissing(version, f"{ENV_DIR} is set, and {wrong[0]}")
        return Path(configured) / version
    for root in (cache_dir(), _beside_repository()):
        if not problems(root, version):
            return root / version
    raise ScriptsMissing(version, f"{ENV_DIR} is not set and the cache {cache_dir()} lacks them")


def jar_url(version: str, maven_url: str = MAVEN_URL) -> str:
    name = f"spring-batch-core-{version}.jar"
    return f"{maven_url.rstrip('/')}/org/springframework/batch/spring-batch-core/{version}/{name}"


def download(url: str, version: str) -> bytes:
    """The body of `url`; raises ScriptsMissing, one line, when it cannot be had."""
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            data: bytes = response.read(_MAX_JAR_BYTES + 1)
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", None) or error
        raise ScriptsMissing(version, f"cannot download {url} ({reason})") from None
    if len(data) > _MAX_JAR_BYTES:
        raise ScriptsMissing(version, f"{url} is larger than any spring-batch-core jar")
    return data


def extract(jar: bytes, version: str, dest: Path, origin: str) -> None:
    """Writes Spring Batch `version`'s scripts from the jar's bytes to `dest`/VERSION,
    each checked against its pinned SHA-256 before anything is written."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(jar))
    except zipfile.BadZipFile:
        raise ScriptsMissing(version, f"{origin} is not a jar (zip) file") from None
    contents = {}
    with archive:
        for name, (member, pinned) in SCRIPTS[version].items():
            try:
                data = archive.read(member)
            except KeyError:
                raise ScriptsMissing(version, f"{origin} has no {member}") from None
            if _sha256(data) != pinned:
                raise ScriptsMissing(
                    version,
                    f"{member} in {origin} has the SHA-256 {_sha256(data)}, not the pinned "
                    f"{pinned}",
                )
            contents[name] = data
    folder = dest / version
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in contents.items():
        # Whole files only: a reader never sees one half written.
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{name}.", delete=False) as out:
            out.write(data)
        os.replace(out.name, folder / name)


def fetch(version: str, dest: Path, *, jar: Path | None = None, maven_url: str = MAVEN_URL) -> None:
    """Makes `dest`/VERSION hold the scripts, from `jar` or downloaded from `maven_url`."""
    if jar is None:
        url = jar_url(version, maven_url)
        extract(download(url, version), version, dest, url)
        return
    try:
        data = jar.read_bytes()
    except OSError as error:
        raise ScriptsMissing(version, f"cannot read {jar} ({error.strerror})") from None
    extract(data, version, dest, str(jar))


def _present(version: str, dest: Path | None) -> Path | None:
    """Where the scripts already are: in `dest` when given, else wherever the tests look."""
    if dest is not None:
        return None if problems(dest, version) else dest / version
    try:
        return find_scripts(version)
    except ScriptsMissing:
        return None


def _jar_option(text: str) -> tuple[str, Path]:
    version, equals, path = text.partition("=")
    if not equals or version not in SCRIPTS:
        raise argparse.ArgumentTypeError(f"expected VERSION=JAR, VERSION one of {list(SCRIPTS)}")
    return version, Path(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dest", type=Path, help="make this folder hold the scripts")
    parser.add_argument(
        "--jar",
        type=_jar_option,
        action="append",
        default=[],
        metavar="VERSION=JAR",
        help="extract VERSION's scripts from this spring-batch-core jar, not a download",
    )
    parser.add_argument(
        "--maven-url", default=MAVEN_URL, help=f"the Maven repository (default {MAVEN_URL})"
    )
    args = parser.parse_args(argv)
    jars: dict[str, Path] = dict(args.jar)
    try:
        for version in SCRIPTS:
            found = None if version in jars else _present(version, args.dest)
            if found is not None:
                print(f"{PROG}: Spring Batch {version}'s scripts are in {found}")
                continue
            dest = args.dest or default_dest()
            fetch(version, dest, jar=jars.get(version), maven_url=args.maven_url)
            print(f"{PROG}: extracted Spring Batch {version}'s scripts to {dest / version}")
    except ScriptsMissing as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
