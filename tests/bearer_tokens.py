"""A `--tokens-file` for tests: one bearer token per role, each of principal
"<role>-user", stored as jobop reads them (the token's SHA-256, never the token)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

# Each role's token (40 characters after the prefix, as a real one would be long).
ROLE_TOKENS = {"viewer": "v-" + "1" * 40, "operator": "o-" + "2" * 40, "admin": "a-" + "3" * 40}


def write_tokens_file(path: Path, tokens: Mapping[str, str] = ROLE_TOKENS) -> Path:
    path.write_text(
        "".join(
            f'[[tokens]]\nsha256 = "{hashlib.sha256(token.encode()).hexdigest()}"\n'
            f'principal = "{role}-user"\nrole = "{role}"\n\n'
            for role, token in tokens.items()
        )
    )
    return path
