"""Whether jobctl writes to a terminal (progress redrawn in place) or to a file or pipe."""

from __future__ import annotations

import os
from typing import TextIO


def is_tty(out: TextIO) -> bool:
    """A terminal that understands escape codes (not TERM=dumb)."""
    try:
        return out.isatty() and os.environ.get("TERM") != "dumb"
    except ValueError:  # a closed stream
        return False
