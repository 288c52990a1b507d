"""How :class:`~greensched.history.sql.SQLRunLog` writes run records and trims jobs: a
:class:`RecordWriter` per table and driver.

The base writer goes through SQLAlchemy statements (SQLite ``ON CONFLICT``, MariaDB / MySQL
``ON DUPLICATE KEY UPDATE``, PostgreSQL arrays and ``unnest``; elsewhere a delete and an insert)
and trims with a window query. Two drivers get statements written once per table instead (most
of a write's client CPU went to SQLAlchemy's compiling and to the driver's encoding of each
value):

- PostgreSQL through psycopg 3: the records as one binary array per column (``%(name)b``:
  psycopg's text form escapes each element), unnested into rows on the server;
- MariaDB 10.6+ and MySQL 8.0.4+ through PyMySQL: the records as one JSON document, made rows
  by ``JSON_TABLE`` (PyMySQL escapes each value in Python; the document is one string).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import Float, Integer, String, bindparam, func, select
from sqlalchemy.dialects import mysql, postgresql, sqlite

from greensched.history._records import RunRecord
from greensched.jobstores._sql_table import _chunks
from greensched.util import datetime_to_utc_timestamp

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from sqlalchemy import Table
    from sqlalchemy.engine import Connection

__all__ = ("COLUMNS", "RecordWriter", "newest_first", "record_values", "record_writer", "upsert")

#: the columns :func:`record_values` gives, in its order
COLUMNS = (*RunRecord.FIELDS, "sort_time")


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
        connection.execute(statement, {f"b_{name}": [row[name] for row in rows] for name in names})
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
    :param quoted: its name, quoted for the database
    """

    def __init__(self, table: Table, quoted: str) -> None:
        self.table = table
        self.quoted = quoted

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
        super().__init__(table, quoted)
        arrays = ", ".join(f"%({name})b::{_postgresql_type(table, name)}[]" for name in COLUMNS)
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
        columns = zip(*rows)
        connection.exec_driver_sql(
            self._upsert, {name: list(values) for name, values in zip(COLUMNS, columns)}
        )

    def trim(self, connection: Connection, job_ids: Sequence[str], limit: int) -> None:
        connection.exec_driver_sql(self._trim, {"jobs": list(job_ids), "limit": limit})


class _MySQLWriter(RecordWriter):
    def __init__(self, table: Table, quoted: str, collation: str) -> None:
        super().__init__(table, quoted)
        paths = ", ".join(
            f"{name} {_mysql_type(table, name)} PATH '$[{index}]'"
            for index, name in enumerate(COLUMNS)
        )
        self._upsert = (
            f"INSERT INTO {quoted} ({', '.join(COLUMNS)}) "
            f"SELECT {', '.join(f'r.{name}' for name in COLUMNS)} "
            f"FROM JSON_TABLE(%(rows)s, '$[*]' COLUMNS ({paths})) AS r "
            "ON DUPLICATE KEY UPDATE "
            + ", ".join(f"{name} = VALUES({name})" for name in COLUMNS[1:])
        )
        # each row of those jobs numbered newest first; those past the limit deleted (the
        # numbered rows are a derived table, materialized before the delete). The ids compare
        # in the id column's exact collation whatever the table was created with
        self._trim = (
            f"DELETE r FROM {quoted} AS r JOIN (SELECT n.run_id FROM (SELECT k.run_id, "
            "ROW_NUMBER() OVER (PARTITION BY k.job_id ORDER BY k.sort_time DESC, "
            f"k.run_id DESC) AS newest FROM {quoted} AS k JOIN JSON_TABLE(%(jobs)s, '$[*]' "
            f"COLUMNS (job_id {_mysql_type(table, 'job_id')} PATH '$')) AS j "
            f"ON k.job_id = j.job_id COLLATE {collation}) AS n "
            "WHERE n.newest > %(limit)s) AS d ON r.run_id = d.run_id"
        )

    def upsert(self, connection: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
        connection.exec_driver_sql(self._upsert, {"rows": _json(rows)})

    def trim(self, connection: Connection, job_ids: Sequence[str], limit: int) -> None:
        connection.exec_driver_sql(self._trim, {"jobs": _json(job_ids), "limit": limit})


def _json(values: Iterable[Any]) -> str:
    return json.dumps(list(values), ensure_ascii=False, allow_nan=False)


def _postgresql_type(table: Table, name: str) -> str:
    column_type = table.c[name].type
    if isinstance(column_type, Float):
        return "float8"
    if isinstance(column_type, Integer):
        return "int8"
    return "text"


def _mysql_type(table: Table, name: str) -> str:
    column_type = table.c[name].type
    if isinstance(column_type, Float):
        return "DOUBLE"
    if isinstance(column_type, Integer):
        return "BIGINT"
    if isinstance(column_type, String) and column_type.length is not None:
        return f"VARCHAR({column_type.length}) CHARACTER SET utf8mb4"
    return "LONGTEXT CHARACTER SET utf8mb4"


def record_writer(connection: Connection, table: Table, id_collation: str | None) -> RecordWriter:
    """The writer of ``table`` on ``connection``'s database and driver: statements written once
    for psycopg 3, and for PyMySQL on a server with ``JSON_TABLE`` (``id_collation``: the
    collation that compares job ids exactly there), else SQLAlchemy's."""
    dialect = connection.dialect
    quoted = dialect.identifier_preparer.format_table(table)
    if (dialect.name, dialect.driver) == ("postgresql", "psycopg"):
        return _PostgreSQLWriter(table, quoted)
    if dialect.name in ("mysql", "mariadb") and dialect.driver == "pymysql":
        version = dialect.server_version_info or ()
        if getattr(dialect, "is_mariadb", False):
            has_json_table = version >= (10, 6)
        else:
            has_json_table = version >= (8, 0, 4)
        if has_json_table and id_collation is not None:
            return _MySQLWriter(table, quoted, id_collation)
    return RecordWriter(table, quoted)
