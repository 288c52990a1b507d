"""The job table of :class:`~greensched.jobstores.sqlalchemy.SQLAlchemyJobStore`: its columns,
the engines the store creates, and creating or upgrading the table (ids compared exactly on
MariaDB and MySQL)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import (
    Column,
    Float,
    LargeBinary,
    MetaData,
    Table,
    Unicode,
    create_engine,
    event,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.dialects.mysql import VARCHAR as MYSQL_VARCHAR
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from greensched import _validators as validate
from greensched._logging import count as job_count
from greensched.jobstores._sql_transactions import SQLTransactions

__all__ = ("ID_LENGTH", "SQLTable", "create_store_engine", "jobs_table", "table_label")

_CLAIM_COLUMN = "claimed_by"
#: the longest job id the table holds: 191 characters, the longest key MySQL indexes in a
#: utf8mb4 InnoDB table
ID_LENGTH = 191
#: the collation of the id column on MariaDB and on MySQL: ids compare exactly, case and
#: trailing spaces included (the default collations ignore both; ``utf8mb4_bin`` still
#: ignores trailing spaces)
_MARIADB_ID_COLLATION = "utf8mb4_nopad_bin"
_MYSQL_ID_COLLATION = "utf8mb4_0900_bin"
#: the most values one ``IN (...)`` list holds (old SQLite builds allow 999 bound parameters)
IN_CHUNK = 500

_T = TypeVar("_T")


def _chunks(items: Sequence[_T]) -> Iterator[Sequence[_T]]:
    """Yield ``items`` in slices of at most :data:`IN_CHUNK`."""
    for start in range(0, len(items), IN_CHUNK):
        yield items[start : start + IN_CHUNK]


def _channel_name(schema: str | None, table: str) -> str:
    """Return the PostgreSQL notification channel of a table: a plain lower-case identifier
    of at most 63 characters (two tables that come out alike only wake each other's
    schedulers)."""
    qualified = table if schema is None else f"{schema}.{table}"
    name = "greensched_" + re.sub(r"[^0-9a-z_]", "_", qualified.lower())
    if len(name) > 63:
        digest = hashlib.sha1(qualified.encode()).hexdigest()[:8]
        name = f"{name[:54]}_{digest}"
    return name


class _InvalidURLError(validate.InvalidValueError, ArgumentError):
    """A ``url`` that is empty or not a string: a ``ValueError`` (what APScheduler 3.x raises
    for an empty one), a ``TypeError`` (what greensched raises for a bad type) and the
    :exc:`sqlalchemy.exc.ArgumentError` that SQLAlchemy raises for a URL it cannot use (what
    APScheduler 3.x lets through for a url that is not a string)."""


def _is_file_database(url: URL) -> bool:
    database = url.database
    return bool(database) and database != ":memory:" and url.query.get("mode") != "memory"


def _use_wal(dbapi_connection: Any, connection_record: Any) -> None:
    """Let readers and one writer work at the same time, and sync less often (still safe
    against corruption; a power loss may lose the last transactions)."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def create_store_engine(url: str | URL, engine_options: dict[str, Any] | None) -> Engine:
    """Create the engine of a store given a ``url``, with the store's defaults for SQLite
    (no waiting for a lock in C, WAL for file databases) and MariaDB / MySQL (``READ
    COMMITTED``), which ``engine_options`` override.

    :raises ValueError: if ``url`` is empty or not a string (also a ``TypeError`` and an
        :exc:`~sqlalchemy.exc.ArgumentError`)
    :raises TypeError: if ``engine_options`` is not a dict
    """
    if not isinstance(url, (str, URL)) or not url:
        raise _InvalidURLError(
            f"url must be a non-empty string or an SQLAlchemy URL, got: {url!r}"
        )
    if engine_options is not None and not isinstance(engine_options, dict):
        raise TypeError(f"engine_options must be a dict or None, got: {engine_options!r}")
    url = make_url(url)
    options: dict[str, Any] = {}
    connect_args: dict[str, Any] = {}
    dialect = url.get_backend_name()
    if dialect == "sqlite":
        connect_args["timeout"] = 0  # never wait for a lock in C: the store retries
    elif dialect in ("mysql", "mariadb"):
        options["isolation_level"] = "READ COMMITTED"
    options.update(engine_options or {})
    options["connect_args"] = {**connect_args, **options.get("connect_args", {})}
    engine = create_engine(url, **options)
    if dialect == "sqlite" and _is_file_database(url):
        event.listen(engine, "connect", _use_wal)
    return engine


def jobs_table(tablename: str, metadata: MetaData, schema: str | None) -> Table:
    """Return the job table: APScheduler 3.x's columns plus ``claimed_by``. ``Float(25)`` is a
    double precision float everywhere; on MariaDB and MySQL the id column gets a binary
    collation when the table is created (see :meth:`SQLTable._exact_id_type`)."""
    return Table(
        tablename,
        metadata,
        Column("id", Unicode(ID_LENGTH), primary_key=True),
        Column("next_run_time", Float(25), index=True),
        Column("job_state", LargeBinary, nullable=False),
        Column(_CLAIM_COLUMN, Unicode(191), nullable=True),
        schema=schema,
    )


def table_label(table: Table) -> str:
    """How log and error messages name ``table``: ``'schema.name'``, quoted."""
    return repr(table.name if table.schema is None else f"{table.schema}.{table.name}")


class SQLTable(SQLTransactions):
    """The job table of a SQL job store (the base of
    :class:`~greensched.jobstores.sqlalchemy.SQLAlchemyJobStore`)."""

    jobs_t: Table

    def upgrade(self) -> None:
        """Make a table written by APScheduler 3.x usable by greensched: add its
        ``claimed_by`` column (``ALTER TABLE``; the jobs are not touched) and, on MariaDB and
        MySQL, give its id column a binary NO PAD collation, so ids compare exactly (case and
        trailing spaces; a table of an older greensched needs this step too). The table is
        created if it does not exist; nothing happens if it is up to date already. The store
        need not be started. The run history tables (see :attr:`runs`) are created if they
        are missing. What was done is logged at ``INFO``.

        .. versionadded:: greensched 0.1
        """
        self._prepare_table(upgrade=True)
        self.runs.open()

    def _table_name(self) -> str:
        return table_label(self.jobs_t)

    def _prepare_table(self, *, upgrade: bool) -> bool:
        """Create the table if it is missing, and add the claim column if ``upgrade``; return
        whether the table has the claim column."""

        def prepare(connection: Connection) -> bool:
            columns = self._columns(connection)
            if columns is None:
                id_type = self._exact_id_type(connection)
                if id_type is not None:
                    self.jobs_t.c.id.type = id_type
                self.jobs_t.create(connection)
                self._logger.info("Created job table %s", self._table_name())
                return True
            inexact_id = self._inexact_id_column(connection)
            if not upgrade:
                if inexact_id is not None and _CLAIM_COLUMN in columns:
                    self._logger.warning(
                        "Job table %s compares ids ignoring case and trailing spaces; call "
                        "SQLAlchemyJobStore.upgrade() once to make them compare exactly",
                        self._table_name(),
                    )
                return _CLAIM_COLUMN in columns
            dialect = connection.dialect
            preparer = dialect.identifier_preparer
            table_name = preparer.format_table(self.jobs_t)
            changes = []
            if _CLAIM_COLUMN not in columns:
                column = self.jobs_t.c[_CLAIM_COLUMN]
                connection.exec_driver_sql(
                    f"ALTER TABLE {table_name} ADD COLUMN "
                    f"{preparer.format_column(column)} {column.type.compile(dialect=dialect)}"
                )
                changes.append(f"added its {_CLAIM_COLUMN} column")
            if inexact_id is not None:
                connection.exec_driver_sql(
                    f"ALTER TABLE {table_name} MODIFY "
                    f"{preparer.format_column(self.jobs_t.c.id)} "
                    f"{inexact_id.compile(dialect=dialect)} NOT NULL"
                )
                changes.append(f"made its id column compare exactly ({inexact_id.collation})")
            if not changes:
                self._logger.info(
                    "Job table %s is up to date: nothing to upgrade", self._table_name()
                )
                return True
            count = connection.scalar(select(func.count()).select_from(self.jobs_t))
            self._logger.info(
                "Upgraded job table %s for greensched: %s (%s, none changed)",
                self._table_name(),
                " and ".join(changes),
                job_count(count or 0, "job"),
            )
            return True

        try:
            return self._transaction(prepare, write=True)
        except DBAPIError:
            # another process may have created or upgraded the table at the same time
            if self._transaction(
                lambda connection: _CLAIM_COLUMN in (self._columns(connection) or ())
            ):
                return True
            raise

    @staticmethod
    def _exact_id_type(connection: Connection) -> MYSQL_VARCHAR | None:
        """Return the type of an id column that compares ids exactly on MariaDB or MySQL
        (``None`` elsewhere: PostgreSQL and SQLite compare strings exactly)."""
        dialect = connection.dialect
        if dialect.name not in ("mysql", "mariadb"):
            return None
        mariadb = getattr(dialect, "is_mariadb", False)
        collation = _MARIADB_ID_COLLATION if mariadb else _MYSQL_ID_COLLATION
        return MYSQL_VARCHAR(ID_LENGTH, charset="utf8mb4", collation=collation)

    def _inexact_id_column(self, connection: Connection) -> MYSQL_VARCHAR | None:
        """Return the type the id column of the existing table should have if it compares ids
        inexactly (MariaDB, MySQL: a case-insensitive or PAD SPACE collation), else ``None``."""
        exact = self._exact_id_type(connection)
        if exact is None:
            return None
        current = connection.scalar(
            text(
                "SELECT COLLATION_NAME FROM information_schema.COLUMNS "
                "WHERE TABLE_SCHEMA = COALESCE(:schema, DATABASE()) AND TABLE_NAME = :name "
                "AND COLUMN_NAME = 'id'"
            ),
            {"schema": self.jobs_t.schema, "name": self.jobs_t.name},
        )
        return None if current == exact.collation else exact

    def _check_job_id(self, job_id: str) -> None:
        """Refuse an id the id column cannot hold, before anything is written (the database
        would raise ``DataError`` in the middle of a write, or cut the id short).

        :raises ValueError: if ``job_id`` is longer than the column or holds a NUL character
        """
        if len(job_id) > ID_LENGTH:
            raise ValueError(
                f"id must be at most {ID_LENGTH} characters long (the id column of job table "
                f"{self._table_name()}), got: {job_id!r}"
            )
        if "\0" in job_id:
            raise ValueError(
                f"id must not contain NUL characters (the id column of job table "
                f"{self._table_name()}), got: {job_id!r}"
            )

    @staticmethod
    def _fits(job_id: str) -> bool:
        """``True`` if the id column can hold ``job_id`` (a lookup of another finds nothing)."""
        return len(job_id) <= ID_LENGTH and "\0" not in job_id

    def _columns(self, connection: Connection) -> set[str] | None:
        """Return the names of the table's columns, or ``None`` if there is no table."""
        inspector = inspect(connection)
        table = self.jobs_t
        if not inspector.has_table(table.name, schema=table.schema):
            return None
        return {column["name"] for column in inspector.get_columns(table.name, table.schema)}
