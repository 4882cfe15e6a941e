"""The store's hot statements, compiled once per database and run on the unit of work's own DBAPI cursor.

A request runs some forty small statements. Through ``Connection.execute`` each one pays
SQLAlchemy's cache-key generation, execution context and result set-up (about 35 µs), several
times what SQLite spends running it (issue 18). A ``Prepared`` statement is compiled once for
the dialect (SQLite's ``?`` or psycopg's ``%(name)s``, from SQLAlchemy's own compiler) and run
on the connection's DBAPI cursor, its rows plain named tuples. What SQLAlchemy does around a
statement that matters here is kept: the engine's ``before_cursor_execute`` and
``after_cursor_execute`` listeners see it, and a DBAPI error goes through the connection's own
error handling, so the store's ``handle_error`` listener turns a full disk or a read-only
database into ``StorageError`` and an integrity error is SQLAlchemy's ``IntegrityError``.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.expression import Executable

Params = Mapping[str, Any]


class _Form:
    """One statement compiled for one dialect: its SQL text and how its parameters are laid out."""

    def __init__(self, statement: Any, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        if compiled.literal_execute_params or compiled.post_compile_params:
            raise ValueError("a prepared statement has no expanding (IN list) or literal-execute parameters")
        self.sql: str = compiled.string
        required = {name for bind, name in compiled.bind_names.items() if bind.required}
        # Values fixed in the statement itself (`status == "booked"`, `LIMIT 1`, `attempts + 1`).
        self.fixed = {k: v for k, v in compiled.construct_params(_check=False).items() if k not in required}
        self.processors: dict[str, Callable[[Any], Any]] = {}
        for bind, name in compiled.bind_names.items():
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                self.processors[name] = process
        self.order: tuple[str, ...] | None = tuple(compiled.positiontup) if compiled.positional else None
        if self.order is not None:
            self.pick = _picker(self.order)
        self.escaped: Mapping[str, str] = compiled.escaped_bind_names or {}
        columns = list(getattr(statement, "exported_columns", ()) or ())
        self.row: Any = namedtuple("Row", [c.key for c in columns], rename=True) if columns else None  # noqa: PYI024
        results = [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns]
        self.results = results if any(results) else None

    def arguments(self, params: Params) -> Any:
        values: Params = params
        if self.fixed or self.processors:
            values = {**self.fixed, **params}
            for name, process in self.processors.items():
                values[name] = process(values[name])
        if self.order is not None:
            return self.pick(values)
        if self.escaped:
            return {self.escaped.get(name, name): value for name, value in values.items()}
        return dict(values)

    def make(self, raw: Sequence[Any]) -> Any:
        if self.results is not None:
            raw = [
                value if process is None else process(value) for value, process in zip(raw, self.results, strict=True)
            ]
        return self.row._make(raw)


def _picker(order: tuple[str, ...]) -> Callable[[Params], tuple[Any, ...]]:
    """The positional parameters in the compiled statement's order."""
    if len(order) == 0:
        return lambda _values: ()
    get = itemgetter(*order)
    if len(order) == 1:
        return lambda values: (get(values),)
    return get


class Prepared:
    """A statement built once with ``bindparam()``s, compiled once per dialect, run without SQLAlchemy's overhead.

    Only for statements with plain parameters (no expanding IN lists) run inside a unit of work.
    """

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        # Keyed by what the compiled text depends on: the dialect's class, its parameter style,
        # and the server's version (SQLite's RETURNING, PostgreSQL's features).
        self._forms: dict[tuple[object, ...], _Form] = {}
        self._last: tuple[Dialect, _Form] | None = None  # one engine, in the daemon: no key to build

    def _form(self, dialect: Dialect) -> _Form:
        last = self._last
        if last is not None and last[0] is dialect:
            return last[1]
        key = (type(dialect), dialect.paramstyle, dialect.server_version_info)
        form = self._forms.get(key)
        if form is None:
            form = self._forms[key] = _Form(self.statement, dialect)
        self._last = (dialect, form)
        return form

    def _run(self, conn: Connection, params: Params | Sequence[Params], many: bool = False) -> tuple[Any, _Form]:
        form = self._form(conn.dialect)
        arguments: Any = [form.arguments(p) for p in params] if many else form.arguments(params)  # type: ignore[arg-type]
        if not conn.in_transaction():
            conn.begin()  # as Connection.execute would (autobegin): SQLite's driver would otherwise autocommit
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            if conn.dispatch.before_cursor_execute:
                conn.dispatch.before_cursor_execute(conn, cursor, form.sql, arguments, None, many)
            if many:
                cursor.executemany(form.sql, arguments)
            else:
                cursor.execute(form.sql, arguments)
            if conn.dispatch.after_cursor_execute:
                conn.dispatch.after_cursor_execute(conn, cursor, form.sql, arguments, None, many)
        except BaseException as error:
            # SQLAlchemy's own handling of a failed statement: the handle_error listeners (a full
            # disk becomes StorageError), the invalidation of a dropped connection, the wrapping
            # of the driver's error in SQLAlchemy's (IntegrityError, OperationalError).
            try:
                conn._handle_dbapi_exception(error, form.sql, arguments, cursor, None)
            finally:
                cursor.close()
        return cursor, form

    def rows(self, conn: Connection, params: Params) -> list[Any]:
        """Every row, as named tuples."""
        cursor, form = self._run(conn, params)
        try:
            return [form.make(raw) for raw in cursor.fetchall()]
        finally:
            cursor.close()

    def first(self, conn: Connection, params: Params) -> Any | None:
        """The first row as a named tuple, or None."""
        cursor, form = self._run(conn, params)
        try:
            raw = cursor.fetchone()
            return None if raw is None else form.make(raw)
        finally:
            cursor.close()

    def scalar(self, conn: Connection, params: Params) -> Any:
        """The first column of the first row, or None."""
        row = self.first(conn, params)
        return None if row is None else row[0]

    def run(self, conn: Connection, params: Params) -> int:
        """Run a write; the rows it changed."""
        cursor, _form = self._run(conn, params)
        count = int(cursor.rowcount)
        cursor.close()
        return count

    def run_many(self, conn: Connection, params: Sequence[Params]) -> None:
        """Run a write once per set of parameters, in one call to the driver."""
        if params:
            self._run(conn, params, many=True)[0].close()
