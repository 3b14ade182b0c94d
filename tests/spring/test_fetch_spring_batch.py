"""scripts/fetch-spring-batch.py, offline: a spring-batch-core jar is built here with
zipfile from the scripts the tests use (at the paths Spring's jar has them), served over
HTTP from a local server standing in for Maven Central, and the script is run as a user
runs it. Where it looks, what it extracts, the pinned SHA-256 of every script, and the one
line it prints when the scripts cannot be had."""

from __future__ import annotations

import functools
import http.server
import os
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from spring_oracle import REPO_ROOT, fetcher, spring_scripts

SCRIPT = REPO_ROOT / "scripts" / "fetch-spring-batch.py"
VERSIONS = list(fetcher.SCRIPTS)
UNREACHABLE = "http://127.0.0.1:1/maven2"


def build_jar(path: Path, version: str, tamper: str | None = None) -> Path:
    """A jar holding `version`'s scripts where spring-batch-core has them (and a class file
    beside them); `tamper` names a script whose bytes are changed."""
    with zipfile.ZipFile(path, "w") as jar:
        jar.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
        jar.writestr("org/springframework/batch/core/Job.class", b"\xca\xfe\xba\xbe")
        for name, (member, _) in fetcher.SCRIPTS[version].items():
            data = (spring_scripts(version) / name).read_bytes()
            jar.writestr(member, data + b"-- changed\n" if name == tamper else data)
    return path


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != fetcher.ENV_DIR}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**environment, **env},
        check=False,
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("fetch-spring-batch: Spring Batch "), lines[0]
    # ... and says how to provide them.
    assert "set JOBOP_SPRING_BATCH_DIR to a folder holding 5.2.6/ and 6.0.4/" in lines[0]
    assert "or run scripts/fetch-spring-batch.py where Maven Central is reachable" in lines[0]
    return lines[0]


def holds_every_script(root: Path) -> None:
    for version in VERSIONS:
        assert fetcher.problems(root, version) == []
        names = sorted(p.name for p in (root / version).iterdir())
        assert names == sorted(fetcher.SCRIPTS[version])  # no temporary files left


@pytest.fixture
def maven(tmp_path: Path) -> Iterator[str]:
    """A Maven repository on a local HTTP server, with both versions' jars."""
    root = tmp_path / "maven2"
    for version in VERSIONS:
        url = fetcher.jar_url(version, str(root))
        jar = Path(url)
        jar.parent.mkdir(parents=True)
        build_jar(jar, version)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/maven2"
    finally:
        server.shutdown()
        server.server_close()


def test_the_jar_url_is_maven_centrals() -> None:
    assert fetcher.jar_url("5.2.6") == (
        "https://repo1.maven.org/maven2/org/springframework/batch/spring-batch-core/5.2.6/"
        "spring-batch-core-5.2.6.jar"
    )


def test_downloads_and_extracts_into_the_cache(maven: str, tmp_path: Path) -> None:
    cache = tmp_path / "xdg"
    # --dest: fetch whatever is found elsewhere (here, beside the repository).
    dest = cache / "jobop" / "spring-batch"
    result = run("--dest", str(dest), "--maven-url", maven, XDG_CACHE_HOME=str(cache))
    assert result.returncode == 0, result
    assert result.stdout.count("extracted Spring Batch") == 2
    holds_every_script(dest)

    # Now the cache holds them: found there, nothing downloaded (the repository is away).
    again = run("--maven-url", UNREACHABLE, XDG_CACHE_HOME=str(cache))
    assert again.returncode == 0, again
    assert f"5.2.6's scripts are in {dest / '5.2.6'}" in again.stdout


def test_a_script_that_is_not_the_pinned_one_is_refused(tmp_path: Path) -> None:
    five = f"5.2.6={build_jar(tmp_path / 'five.jar', '5.2.6')}"
    good = f"6.0.4={build_jar(tmp_path / 'good.jar', '6.0.4')}"
    bad = f"6.0.4={build_jar(tmp_path / 'bad.jar', '6.0.4', tamper='migration-6.0-sqlite.sql')}"
    dest = tmp_path / "scripts"
    line = one_line(run("--dest", str(dest), "--jar", five, "--jar", bad))
    assert "6.0.4's schema scripts are missing: org/springframework/batch/core/migration/" in line
    assert "6.0/migration-sqlite.sql in " in line
    assert "not the pinned 430fffe4" in line
    assert fetcher.problems(dest, "5.2.6") == []
    assert not (dest / "6.0.4").exists()  # nothing written from a jar that failed

    # Scripts found are checked too: a changed one is not taken, but fetched again.
    assert run("--dest", str(dest), "--jar", five, "--jar", good).returncode == 0
    changed = dest / "5.2.6" / "schema-sqlite.sql"
    changed.write_text("-- not Spring's\n")
    assert fetcher.problems(dest, "5.2.6") == [
        f"{changed} is not Spring Batch 5.2.6's (its SHA-256 differs)"
    ]
    line = one_line(run("--dest", str(dest), "--maven-url", UNREACHABLE))
    assert "5.2.6's schema scripts are missing: cannot download http://127.0.0.1:1/" in line
    assert run("--dest", str(dest), "--jar", five).returncode == 0
    holds_every_script(dest)


def test_a_jar_without_the_scripts_is_refused(tmp_path: Path) -> None:
    jar = tmp_path / "other.jar"
    with zipfile.ZipFile(jar, "w") as archive:
        archive.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
    line = one_line(run("--dest", str(tmp_path / "d"), "--jar", f"5.2.6={jar}"))
    assert f"{jar} has no org/springframework/batch/core/schema-postgresql.sql" in line
    (tmp_path / "notes.jar").write_text("not a zip")
    line = one_line(run("--dest", str(tmp_path / "d"), "--jar", f"5.2.6={tmp_path / 'notes.jar'}"))
    assert "is not a jar (zip) file" in line


def test_without_network_or_cache_the_failure_is_one_line(tmp_path: Path) -> None:
    line = one_line(run("--dest", str(tmp_path / "empty"), "--maven-url", UNREACHABLE))
    assert line.startswith(
        "fetch-spring-batch: Spring Batch 5.2.6's schema scripts are missing: cannot download "
        "http://127.0.0.1:1/maven2/org/springframework/batch/spring-batch-core/5.2.6/"
        "spring-batch-core-5.2.6.jar ("
    ), line


def test_the_configured_folder_comes_first_and_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "xdg"
    both = tmp_path / "both"
    jars = [f"{v}={build_jar(tmp_path / f'{v}.jar', v)}" for v in VERSIONS]
    assert run("--dest", str(both), *[w for jar in jars for w in ("--jar", jar)]).returncode == 0
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))

    monkeypatch.setenv(fetcher.ENV_DIR, str(both))
    assert fetcher.find_scripts("6.0.4") == both / "6.0.4"
    # Set but lacking them: an error that names it, not a look elsewhere.
    monkeypatch.setenv(fetcher.ENV_DIR, str(tmp_path / "nowhere"))
    with pytest.raises(fetcher.ScriptsMissing) as missing:
        fetcher.find_scripts("5.2.6")
    assert str(missing.value).startswith(
        "Spring Batch 5.2.6's schema scripts are missing: JOBOP_SPRING_BATCH_DIR is set, and "
        f"{tmp_path / 'nowhere' / '5.2.6' / 'schema-postgresql.sql'} does not exist; set "
    )
    # The fetch puts them where JOBOP_SPRING_BATCH_DIR says.
    result = run(
        *[w for jar in jars for w in ("--jar", jar)],
        **{fetcher.ENV_DIR: str(tmp_path / "nowhere"), "XDG_CACHE_HOME": str(cache)},
    )
    assert result.returncode == 0, result
    holds_every_script(tmp_path / "nowhere")
    assert not cache.exists()

    # Unset: the cache before anything beside the repository.
    monkeypatch.delenv(fetcher.ENV_DIR)
    assert run(*[w for jar in jars for w in ("--jar", jar)]).returncode == 0
    assert fetcher.find_scripts("5.2.6") == cache / "jobop" / "spring-batch" / "5.2.6"
