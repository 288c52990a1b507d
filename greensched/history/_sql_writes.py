"""How :class:`~greensched.history.sql.SQLRunLog` writes run records and trims jobs: a
:class:`RecordWriter` per table and driver.

The base writer goes through SQLAlchemy statements (SQLite ``ON CONFLICT``, MariaDB / MySQL
``ON DUPLICATE KEY UPDATE``, PostgreSQL arrays and ``unnest``; elsewhere a delete and an insert)
and trims with a window query. Two drivers get statements of their own instead (most
of a write's client CPU went to SQLAlchemy's compiling and to the driver's encoding of each
value):

- PostgreSQL through psycopg 3: the records as one binary array per column (``%(name)b``:
  psycopg's text form escapes each element), unnested into rows on the server;
- MariaDB and MySQL through PyMySQL: the records as the literal rows of one ``INSERT``
  (PyMySQL escapes each parameter in Python, dispatching on its type).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable

from sqlalchemy import Float, Integer, bindparam, func, select
from sqlalchemy.dialects import mysql, postgresql, sqlite

from greensched.history._records import RunRecord
from greensched.jobstores._sql_table import _chunks
from greensched.util import datetime_to_utc_timestamp

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from sqlalchemy import Table
    from sqlalchemy.engine import Connection

__all__ = (
    "COLUMNS",
    "NUL_REPLACEMENT",
    "RecordWriter",
    "newest_first",
    "record_values",
    "record_writer",
    "upsert",
)

#: the columns :func:`record_values` gives, in its order
COLUMNS = (*RunRecord.FIELDS, "sort_time")
#: what a NUL character in a record's text becomes on PostgreSQL (U+FFFD, the replacement
#: character)
NUL_REPLACEMENT = "\ufffd"


def record_values(record: RunRecord) -> tuple[Any, ...]:
    """The values of ``record``'s row, in the order of :data:`COLUMNS` (times as UTC POSIX
    floats)."""
    utc = datetime_to_utc_timestamp
    return (
        record.run_id,
        record.job_id,
        record.job_name,
        utc(record.scheduled),
        utc(record.started),
        utc(record.ended),
        record.outcome,
        record.lateness,
        record.duration,
        record.exc_type,
        record.exc_message,
        record.traceback,
        record.retval,
        record.host,
        record.pid,
        record.owner,
        record.sort_time.timestamp(),
    )


def upsert(connection: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` into ``table``, each replacing the row with its primary key."""
    key = table.primary_key.columns[0].name
    others = [column.name for column in table.columns if column.name != key]
    dialect = connection.dialect.name
    statement: Any
    if dialect == "postgresql":
        # the rows as one array per column, unnested into rows on the server: one short
        # statement whatever the number of rows (a statement a row, or a statement with a
        # placeholder a value, is parsed slowly)
        names = [column.name for column in table.columns]
        arrays = [
            bindparam(f"b_{column.name}", type_=postgresql.ARRAY(column.type))
            for column in table.columns
        ]
        rows_source = select(func.unnest(*arrays).table_valued(*names).render_derived())
        statement = postgresql.insert(table).from_select(names, rows_source)
        statement = statement.on_conflict_do_update(
            index_elements=[key], set_={name: statement.excluded[name] for name in others}
        )
        texts = {name for name in names if _postgresql_type(table, name) == "text"}
        connection.execute(
            statement,
            {
                f"b_{name}": (_postgresql_text if name in texts else list)(
                    row[name] for row in rows
                )
                for name in names
            },
        )
        return
    if dialect == "sqlite":
        statement = sqlite.insert(table)
        statement = statement.on_conflict_do_update(
            index_elements=[key], set_={name: statement.excluded[name] for name in others}
        )
    elif dialect in ("mysql", "mariadb"):
        statement = mysql.insert(table)
        statement = statement.on_duplicate_key_update(
            {name: statement.inserted[name] for name in others}
        )
    else:
        for chunk in _chunks([row[key] for row in rows]):
            connection.execute(table.delete().where(table.c[key].in_(chunk)))
        statement = table.insert()
    connection.execute(statement, rows)


def newest_first(table: Table) -> Any:
    """The number of each run of a job, newest first (1: its newest)."""
    return func.row_number().over(
        partition_by=table.c.job_id,
        order_by=(table.c.sort_time.desc(), table.c.run_id.desc()),
    )


class RecordWriter:
    """Writes rows of :func:`record_values` to a table of run records and trims its jobs (this
    base class: through SQLAlchemy).

    :param table: the table of run records
    """

    def __init__(self, table: Table) -> None:
        self.table = table

    def upsert(self, connection: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
        """Insert ``rows``, each replacing the row with its run id."""
        upsert(connection, self.table, [dict(zip(COLUMNS, row)) for row in rows])

    def trim(self, connection: Connection, job_ids: Sequence[str], limit: int) -> None:
        """Delete the rows of ``job_ids`` (sorted) past the newest ``limit`` of each job (by
        ``sort_time``, then run id)."""
        table = self.table
        rank = newest_first(table).label("rank")
        trimmed: list[str] = []
        for chunk in _chunks(job_ids):
            ranked = select(table.c.run_id, rank).where(table.c.job_id.in_(chunk)).subquery()
            trimmed.extend(
                connection.scalars(select(ranked.c.run_id).where(ranked.c.rank > limit))
            )
        trimmed.sort()  # rows locked in the same order by every process: no deadlock
        for chunk in _chunks(trimmed):
            connection.execute(table.delete().where(table.c.run_id.in_(chunk)))


class _PostgreSQLWriter(RecordWriter):
    def __init__(self, table: Table, quoted: str) -> None:
        super().__init__(table)
        types = {name: _postgresql_type(table, name) for name in COLUMNS}
        arrays = ", ".join(f"%({name})b::{types[name]}[]" for name in COLUMNS)
        self._texts = frozenset(name for name in COLUMNS if types[name] == "text")
        self._upsert = (
            f"INSERT INTO {quoted} ({', '.join(COLUMNS)}) SELECT * FROM unnest({arrays}) "
            "ON CONFLICT (run_id) DO UPDATE SET "
            + ", ".join(f"{name} = EXCLUDED.{name}" for name in COLUMNS[1:])
        )
        # for each job, the first row past its newest limit (an index scan of limit + 1 rows),
        # then every row of the job from there on
        self._trim = (
            f"DELETE FROM {quoted} AS r USING (SELECT j.job_id, c.sort_time, c.run_id "
            "FROM unnest(%(jobs)b::text[]) AS j(job_id) CROSS JOIN LATERAL "
            f"(SELECT k.sort_time, k.run_id FROM {quoted} AS k WHERE k.job_id = j.job_id "
            "ORDER BY k.sort_time DESC, k.run_id DESC OFFSET %(limit)s LIMIT 1) AS c) AS cut "
            "WHERE r.job_id = cut.job_id "
            "AND (r.sort_time, r.run_id) <= (cut.sort_time, cut.run_id)"
        )

    def upsert(self, connection: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
        parameters = {
            name: _postgresql_text(values) if name in self._texts else list(values)
            for name, values in zip(COLUMNS, zip(*rows))
        }
        connection.exec_driver_sql(self._upsert, parameters)

    def trim(self, connection: Connection, job_ids: Sequence[str], limit: int) -> None:
        connection.exec_driver_sql(self._trim, {"jobs": list(job_ids), "limit": limit})


class _MySQLWriter(RecordWriter):
    def __init__(self, table: Table, quoted: str) -> None:
        super().__init__(table)
        self._insert = f"INSERT INTO {quoted} ({', '.join(COLUMNS)}) VALUES "
        self._update = " ON DUPLICATE KEY UPDATE " + ", ".join(
            f"{name} = VALUES({name})" for name in COLUMNS[1:]
        )
        # each row of those jobs numbered newest first; those past the limit deleted (the
        # numbered rows are a derived table, materialized before the delete): the statement
        # up to its job ids, and from them to its limit
        self._trim_jobs = (
            f"DELETE r FROM {quoted} AS r JOIN (SELECT n.run_id FROM (SELECT k.run_id, "
            "ROW_NUMBER() OVER (PARTITION BY k.job_id ORDER BY k.sort_time DESC, "
            f"k.run_id DESC) AS newest FROM {quoted} AS k WHERE k.job_id IN ("
        )
        self._trim_limit = ")) AS n WHERE n.newest > "

    def upsert(self, connection: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
        literal = _mysql_literal(connection)
        values = ",".join(f"({','.join(map(literal, row))})" for row in rows)
        connection.exec_driver_sql(_no_placeholders(self._insert + values + self._update))

    def trim(self, connection: Connection, job_ids: Sequence[str], limit: int) -> None:
        literal = _mysql_literal(connection)
        for chunk in _chunks(job_ids):
            sql = (
                f"{self._trim_jobs}{','.join(map(literal, chunk))}{self._trim_limit}{limit:d}) "
                "AS d ON r.run_id = d.run_id"
            )
            connection.exec_driver_sql(_no_placeholders(sql))


def _mysql_literal(connection: Connection) -> Callable[[Any], str]:
    """The SQL literal of a value of :func:`record_values` for ``connection``'s PyMySQL
    connection: strings escaped as PyMySQL escapes them (by its server's
    ``NO_BACKSLASH_ESCAPES`` mode), floats as approximate-value literals (``e`` notation: read
    as a double, exactly), integers, ``NULL``. One SQL string for a batch costs less than
    PyMySQL's escaping of each parameter (its per-value type dispatch), and its ``VALUES``
    rows less on the server than ``JSON_TABLE``."""
    from pymysql.constants import SERVER_STATUS
    from pymysql.converters import escape_string

    escape: Callable[[str], str] = escape_string
    raw: Any = connection.connection.dbapi_connection
    no_backslash = bool(raw.server_status & SERVER_STATUS.SERVER_STATUS_NO_BACKSLASH_ESCAPES)

    def literal(value: Any) -> str:
        kind = type(value)
        if kind is str:
            if no_backslash:
                return "'" + str.replace(value, "'", "''") + "'"
            return "'" + escape(value) + "'"
        if value is None:
            return "NULL"
        if kind is float:
            if not math.isfinite(value):
                raise ValueError(f"a run record holds {value!r}: no SQL literal for it")
            text = repr(value)
            return text if "e" in text else text + "e0"
        if kind is int:
            return str(value)
        raise TypeError(f"a run record holds {value!r}: no SQL literal for {kind.__name__}")

    return literal


def _no_placeholders(sql: str) -> str:
    """``sql`` as PyMySQL takes it with no parameters (``%`` doubled: it formats the statement
    with an empty tuple)."""
    return sql.replace("%", "%%")


def _postgresql_text(values: Iterable[str | None]) -> list[str | None]:
    """``values`` with each NUL character replaced by :data:`NUL_REPLACEMENT` (PostgreSQL's
    text cannot hold one: a run whose exception message holds one would fail its batch)."""
    return [
        value if value is None or "\x00" not in value else value.replace("\x00", NUL_REPLACEMENT)
        for value in values
    ]


def _postgresql_type(table: Table, name: str) -> str:
    """The PostgreSQL type of an array of ``table``'s column ``name`` (``text``: its NUL
    characters replaced, :func:`_postgresql_text`)."""
    column_type = table.c[name].type
    if isinstance(column_type, Float):
        return "float8"
    if isinstance(column_type, Integer):
        return "int8"
    return "text"


def record_writer(connection: Connection, table: Table) -> RecordWriter:
    """The writer of ``table`` on ``connection``'s database and driver: statements of its own
    for psycopg 3 and for PyMySQL, else SQLAlchemy's."""
    dialect = connection.dialect
    quoted = dialect.identifier_preparer.format_table(table)
    if (dialect.name, dialect.driver) == ("postgresql", "psycopg"):
        return _PostgreSQLWriter(table, quoted)
    if dialect.name in ("mysql", "mariadb") and dialect.driver == "pymysql":
        return _MySQLWriter(table, quoted)
    return RecordWriter(table)
