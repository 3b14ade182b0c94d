"""README's `jobctl start demoChunkJob itemz=7`: refused, naming the typo, and nothing
started; on SQLite and PostgreSQL."""

from __future__ import annotations

import json

from cli_support import Jobctl


def test_a_typo_in_a_parameter_name_is_refused(shared_jobctl: Jobctl) -> None:
    typo = shared_jobctl("start", "demoChunkJob", "itemz=7,long")
    assert typo.returncode == 2, str(typo)
    assert typo.stdout == ""
    assert "unknown itemz (declared: items, chunkSize, itemDelayMs, failAtItem)" in typo.stderr
    as_json = shared_jobctl("--json", "start", "demoChunkJob", "itemz=7", "items=many")
    error = json.loads(as_json.stderr)["error"]
    assert (error["code"], error["reason"]) == ("INVALID_ARGUMENT", "INVALID_JOB_PARAMETERS")
    assert error["metadata"] == {"unknown": "itemz", "invalid": "items"}
    assert shared_jobctl("list", "demoChunkJob").stdout.strip().splitlines()[1:] == []
