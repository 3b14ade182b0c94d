"""aiohttp's server log, with a malformed request told in one WARNING line.

aiohttp reports a request it cannot parse (a NUL byte in a header, a broken request line)
through `logger.exception`: an ERROR with a traceback, for what is the client's mistake
and is answered 400. Those become one rate-limited WARNING naming the client and the
fault; every other exception keeps its ERROR and traceback.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp.http_exceptions import HttpProcessingError

from jobop.service.handlers import RateLimitedLog

# One line of the parser's message at most this long: it may quote the client's bytes.
_FAULT_LENGTH = 200


class ServerLog(logging.LoggerAdapter[logging.Logger]):
    """The `logger` of aiohttp's request handler (AppRunner's `logger=`)."""

    def __init__(self, logger: logging.Logger) -> None:
        super().__init__(logger, {})
        self._malformed = RateLimitedLog(logger)

    def exception(self, msg: object, *args: object, exc_info: Any = True, **kwargs: Any) -> None:
        if isinstance(exc_info, HttpProcessingError):
            client = args[0] if args else "an unknown client"
            fault = " ".join(str(exc_info.message).split())[:_FAULT_LENGTH]
            self._malformed.warning(
                "refused a malformed HTTP request from %s (%s): %s", client, exc_info.code, fault
            )
            return
        super().exception(msg, *args, exc_info=exc_info, **kwargs)
