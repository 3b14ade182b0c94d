"""docs/partitions.md runs as written: its `<!-- doc-test: file NAME -->` block is written
to NAME and its `<!-- doc-test: shell ID -->` block runs in bash with the installed
`jobop` first on PATH, in one fresh directory; the job completes in partitions on SQLite
and its rows are what the page says."""

from __future__ import annotations

import os
import re
import sqlite3
import sys
from pathlib import Path

from commands import run_command

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "partitions.md"
MARKER = re.compile(r"^<!-- doc-test: (file|shell) (\S+) -->$")


def marked_blocks() -> list[tuple[str, str, str]]:
    """(action, argument, text) of each fenced block with a doc-test marker above it."""
    lines = GUIDE.read_text().splitlines()
    found = []
    for index, line in enumerate(lines):
        marker = MARKER.match(line)
        if marker is None:
            continue
        assert lines[index + 1].startswith("```"), f"docs/partitions.md:{index + 1}"
        end = lines.index("```", index + 2)
        found.append((marker[1], marker[2], "\n".join(lines[index + 2 : end]) + "\n"))
    return found


def test_the_partitions_guide_runs_as_written(tmp_path: Path) -> None:
    blocks = marked_blocks()
    assert [(action, argument) for action, argument, _ in blocks] == [
        ("file", "partitioned_squares.py"),
        ("shell", "partitioned"),
    ]
    (_, name, source), (_, _, shell) = blocks
    (tmp_path / name).write_text(source)
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBOP_") and k != "PYTHONPATH"}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    done = run_command(["bash", "-e", "-c", shell], cwd=tmp_path, env=env)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    assert "status=COMPLETED" in done.stdout, done.stdout
    with sqlite3.connect(tmp_path / "jobop.db") as connection:
        squares = connection.execute("SELECT COUNT(*), SUM(square) FROM squares").fetchall()
        steps = connection.execute(
            "SELECT STEP_NAME, READ_COUNT, WRITE_COUNT FROM BATCH_STEP_EXECUTION "
            "ORDER BY STEP_EXECUTION_ID"
        ).fetchall()
        ranges = connection.execute(
            "SELECT SHORT_CONTEXT FROM BATCH_STEP_EXECUTION_CONTEXT c JOIN BATCH_STEP_EXECUTION s "
            "ON s.STEP_EXECUTION_ID = c.STEP_EXECUTION_ID WHERE s.STEP_NAME = 'squares:partition1'"
        ).fetchall()
    assert squares == [(1000, sum(n * n for n in range(1, 1001)))]
    assert steps == [
        ("splitSquares", 1000, 1000),
        *((f"squares:partition{i}", 250, 250) for i in range(4)),
    ]
    # Spring's Jackson form: the partition's bounds are java.lang.Long values.
    assert '"minValue":["java.lang.Long",251]' in ranges[0][0]
    assert '"maxValue":["java.lang.Long",500]' in ranges[0][0]
