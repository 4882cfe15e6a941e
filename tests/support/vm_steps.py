"""SQLite's virtual-machine steps, counted per statement: what a piece of work costs the database, deterministically.

SQLite calls a connection's progress handler every N instructions of its virtual machine; with
N = 1 the count is exactly the instructions run, the same on every run and every machine, for
the same data and the same query plan. A statement reading through an index over a range that
grows with the database (every email of a purpose ever sent) runs more instructions on a larger
database; one that reads a bounded range runs the same. No clock is read.

``VmSteps(engine)`` counts the steps of the statements the engine runs on the thread that made
it (another thread's work, the calendar feed's, is not counted), each under the statement's SQL
text; the rows fetched after a statement ran count under it until the next one begins.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event


class VmSteps:
    """Counts VM steps per statement on ``engine`` while ``counting()`` is open; ``close()`` stops listening."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.steps: Counter[str] = Counter()
        self._current = "(before the first statement)"
        self._thread = threading.get_ident()
        self._on = False
        # Connections already in the pool get the handler at their next checkout, new ones too.
        event.listen(engine, "checkout", self._checkout)
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "commit", self._commit)

    def _step(self) -> int:
        if self._on and threading.get_ident() == self._thread:
            self.steps[self._current] += 1
        return 0  # anything else would interrupt the statement

    def _checkout(self, dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        dbapi_connection.set_progress_handler(self._step, 1)

    def _before(self, _conn: Any, _cursor: Any, statement: str, _parameters: Any, _context: Any, _many: bool) -> None:
        if threading.get_ident() == self._thread:
            self._current = " ".join(statement.split())

    def _commit(self, _conn: Any) -> None:
        if threading.get_ident() == self._thread:
            self._current = "COMMIT"

    @contextmanager
    def counting(self) -> Iterator[Counter[str]]:
        """Steps counted from here to the end of the block; yields the counter (statement -> steps)."""
        self.steps = Counter()
        self._on = True
        try:
            yield self.steps
        finally:
            self._on = False

    def close(self) -> None:
        event.remove(self.engine, "checkout", self._checkout)
        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "commit", self._commit)
        self.engine.dispose()  # no pooled connection keeps calling into this counter


def grown(small: Counter[str], big: Counter[str], factor: float, constant: int) -> list[str]:
    """The statements that ran more than ``factor`` × their steps on the small database + ``constant``, described."""
    lines = []
    for statement in sorted(set(small) | set(big), key=lambda s: big[s] - small[s], reverse=True):
        if big[statement] > factor * small[statement] + constant:
            lines.append(f"{small[statement]:>9} -> {big[statement]:>9} steps: {statement[:300]}")
    return lines


def table(small: Counter[str], big: Counter[str]) -> str:
    """Every statement's steps on both databases, largest first (printed with a failure)."""
    rows = sorted(set(small) | set(big), key=lambda s: max(small[s], big[s]), reverse=True)
    return "\n".join(f"{small[s]:>9} {big[s]:>9}  {s[:200]}" for s in rows)
