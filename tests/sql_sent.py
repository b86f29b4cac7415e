"""The SQL statements a piece of code sends: for the tests that count them or read their plans."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from notifier.runtime import Runtime


@contextmanager
def statements_sent(runtime: Runtime) -> Iterator[list[tuple[str, Any]]]:
    """Each statement the runtime's engine sends meanwhile, with its parameters."""
    sent: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        sent.append((statement, params))

    engine = runtime.engine.sync_engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", capture)
