"""StatementCounter: how many SQL statements a piece of code sends (tests and benchmarks)."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any

from sqlalchemy import Engine, event


class StatementCounter:
    """Counts the statements sent through an engine while the context is open.

    Every cursor execution counts once (an executemany of many rows counts once: it is one
    statement, batched by the driver). Transaction control (BEGIN, COMMIT, ROLLBACK) is not a
    statement; `transactions` counts commits and rollbacks separately.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.statements: list[str] = []
        self.transactions = 0
        self._lock = threading.Lock()

    @property
    def count(self) -> int:
        return len(self.statements)

    def matching(self, text: str) -> list[str]:
        """The counted statements that mention `text` (case-insensitive)."""
        needle = text.lower()
        return [s for s in self.statements if needle in s.lower()]

    def reset(self) -> None:
        with self._lock:
            self.statements.clear()
            self.transactions = 0

    def _on_execute(
        self,
        _conn: Any,
        _cursor: Any,
        statement: str,
        _parameters: Any,
        _context: Any,
        _executemany: bool,
    ) -> None:
        with self._lock:
            self.statements.append(statement)

    def _on_transaction_end(self, _conn: Any) -> None:
        with self._lock:
            self.transactions += 1

    def __enter__(self) -> StatementCounter:
        event.listen(self.engine, "before_cursor_execute", self._on_execute)
        event.listen(self.engine, "commit", self._on_transaction_end)
        event.listen(self.engine, "rollback", self._on_transaction_end)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        event.remove(self.engine, "before_cursor_execute", self._on_execute)
        event.remove(self.engine, "commit", self._on_transaction_end)
        event.remove(self.engine, "rollback", self._on_transaction_end)

    def __repr__(self) -> str:
        return f"StatementCounter(count={self.count}, transactions={self.transactions})"
