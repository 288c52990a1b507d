"""A job store that keeps the jobs in a database table through SQLAlchemy, shareable by several
processes."""

from __future__ import annotations

import hashlib
import importlib.util
import math
import pickle
import re
from typing import TYPE_CHECKING, Any, Callable, TypeVar

import gevent

from greensched import _validators as validate
from greensched._logging import count as job_count
from greensched._logging import one_line
from greensched.jobstores._shared import DEFAULT_CLAIM_LIMIT, SharedJobStore
from greensched.jobstores.base import ConflictingIdError, JobLookupError
from greensched.util import datetime_to_utc_timestamp, maybe_ref, utc_timestamp_to_datetime

try:
    from sqlalchemy import (
        Column,
        Float,
        LargeBinary,
        MetaData,
        Table,
        Unicode,
        bindparam,
        create_engine,
        event,
        func,
        inspect,
        select,
        text,
    )
    from sqlalchemy.dialects.mysql import VARCHAR as MYSQL_VARCHAR
    from sqlalchemy.engine import URL, Connection, CursorResult, Engine, make_url
    from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError
except ImportError as exc:
    raise ImportError(
        "SQLAlchemyJobStore requires SQLAlchemy installed (pip install 'greensched[sqlalchemy]')"
    ) from exc

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Iterator, Sequence
    from datetime import datetime

    from sqlalchemy import Select

    from greensched.job import Job
    from greensched.schedulers.base import BaseScheduler

__all__ = ("SQLAlchemyJobStore",)

_T = TypeVar("_T")

#: the most ids one ``IN (...)`` list holds (old SQLite builds allow 999 bound parameters)
IN_CHUNK = 500
#: rows fetched from the database at a time by :meth:`SQLAlchemyJobStore.iter_jobs`
STREAM_CHUNK = 500
#: seconds of waiting after which a transaction that finds the SQLite database locked by
#: another connection gives up
SQLITE_LOCK_PATIENCE = 10.0
#: attempts of a transaction that hits a deadlock or a lock wait timeout (PostgreSQL, MariaDB)
CONFLICT_ATTEMPTS = 5
#: attempts of a transaction after finding a pooled connection dropped by the server before
#: its first statement (what ``pool_pre_ping`` would have caught, at a round trip per
#: transaction)
STALE_ATTEMPTS = 2
#: the first and the longest pause between two attempts of a transaction, in seconds
FIRST_BACKOFF = 0.001
MAX_BACKOFF = 0.05

_CLAIM_COLUMN = "claimed_by"
#: the longest job id the table holds: 191 characters, the longest key MySQL indexes in a
#: utf8mb4 InnoDB table
ID_LENGTH = 191
#: the collation of the id column on MariaDB and on MySQL: ids compare exactly, case and
#: trailing spaces included (the default collations ignore both; ``utf8mb4_bin`` still
#: ignores trailing spaces)
_MARIADB_ID_COLLATION = "utf8mb4_nopad_bin"
_MYSQL_ID_COLLATION = "utf8mb4_0900_bin"
#: lock conflicts worth retrying: SQLite SQLITE_BUSY / SQLITE_LOCKED, PostgreSQL
#: deadlock_detected / serialization_failure / lock_not_available, MySQL lock wait timeout /
#: deadlock
_SQLITE_LOCK_CODES = frozenset({5, 6})
_POSTGRESQL_LOCK_STATES = frozenset({"40P01", "40001", "55P03"})
_MYSQL_LOCK_ERRORS = frozenset({1205, 1213})


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
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


class _Attempt:
    """One attempt of a transaction: whether a statement has run in it yet."""

    __slots__ = ("executed",)

    def __init__(self) -> None:
        self.executed = False


#: key of the current :class:`_Attempt` in a connection's ``info``
_ATTEMPT = "greensched_attempt"
#: key, in a MariaDB connection's ``info``, of the lease its session's timeouts were set for
#: (see :meth:`SQLAlchemyJobStore._bound_claim`)
_BOUNDED = "greensched_bounded"
#: what puts a MariaDB session's timeouts back to the server's defaults
_MYSQL_UNBOUND = (
    "SET SESSION innodb_lock_wait_timeout = DEFAULT, max_statement_time = DEFAULT, "
    "idle_transaction_timeout = DEFAULT"
)


def _note_execution(connection: Connection, *args: Any) -> None:
    """``after_cursor_execute`` listener: a statement of the current attempt has run."""
    attempt = connection.info.get(_ATTEMPT)
    if attempt is not None:
        attempt.executed = True


class _StaleConnection(Exception):
    """An attempt found its connection dropped by the server before any statement ran: it can
    run again on a new connection (nothing of it reached the database).

    :param error: what the driver raised
    """

    def __init__(self, error: DBAPIError) -> None:
        super().__init__(str(error))
        self.error = error


def _use_wal(dbapi_connection: Any, connection_record: Any) -> None:
    """Let readers and one writer work at the same time, and sync less often (still safe
    against corruption; a power loss may lose the last transactions)."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


class SQLAlchemyJobStore(SharedJobStore):
    """Stores jobs in a database table using SQLAlchemy (2.0 or newer); several schedulers, in
    several processes, may share the table. The table is created when the store starts if it
    does not exist.

    Plugin alias: ``sqlalchemy``

    :param str url: connection string (see
        :ref:`SQLAlchemy documentation <sqlalchemy:database_urls>` on this)
    :param engine: an SQLAlchemy :class:`~sqlalchemy.engine.Engine` to use instead of creating
        a new one based on ``url`` (or a ``'module:name'`` reference to one)
    :param str tablename: name of the table to store jobs in
    :param metadata: a :class:`~sqlalchemy.schema.MetaData` instance to use instead of
        creating a new one
    :param int pickle_protocol: pickle protocol level to use (for serialization), defaults to
        the highest available
    :param str tableschema: name of the (existing) schema in the target database where the
        table should be
    :param dict engine_options: keyword arguments to :func:`~sqlalchemy.create_engine`
        (ignored if ``engine`` is given); they override the store's defaults:
        ``connect_args={'timeout': 0}`` for SQLite or ``isolation_level='READ COMMITTED'`` for
        MariaDB and MySQL (see below)
    :param lease_time: seconds a claim on a due job lasts (see below)
    :param poll_interval: seconds after which the scheduler looks at the table again even if
        nothing woke it
    :param claim_limit: the most due jobs claimed at once
    :param notify: wake the other processes' schedulers when a job is added, changed or
        removed (PostgreSQL only)
    :param serializer: ``'pickle'`` (default: APScheduler 3.x's format; reading a row
        unpickles it) or ``'json'`` (nothing is ever unpickled; a job whose arguments are not
        JSON values is refused by ``add_job``, naming the value)
    :param signing_key: a secret (str or bytes): rows are written signed (HMAC-SHA256); a row
        without a valid signature is logged and kept, never unpickled

    The table has APScheduler 3.x's columns (``id``, ``next_run_time`` (indexed) and
    ``job_state``, the pickled job state) plus ``claimed_by``, the owner token of the
    scheduler that holds a claim on the job. An id holds at most 191 characters and no NUL
    (:meth:`add_job` raises ``ValueError`` for others, before writing anything). On MariaDB
    and MySQL the id column has a binary NO PAD collation (``utf8mb4_nopad_bin``, MySQL
    ``utf8mb4_0900_bin``): ids compare exactly, as on PostgreSQL and SQLite.

    **Claims.** On each round the scheduler *claims* the due jobs in one short transaction:
    the store locks the earliest due rows that no other transaction holds (``ORDER BY
    next_run_time LIMIT claim_limit`` on the index), moves their ``next_run_time`` to the end
    of the lease (``now + lease_time``) and sets ``claimed_by``; the job's true next run time
    stays in its pickled state. The other processes therefore neither see these jobs as due
    nor wake up for them until the lease ends; once it has ended, any of them may claim the
    job again (a take-over: the process holding it has died or hung). The scheduler then
    works out the runs and hands the results back in a second transaction, which writes each
    job (new state, ``next_run_time`` = its true next run time, no claim) or deletes a
    finished job, but only where the claim is still this scheduler's; the jobs whose claim
    was lost (taken over, or changed through the API meanwhile: :meth:`update_job` clears a
    claim) are not run. A run is recorded as done *before* it is submitted: each started run
    happens at most once, and a process that dies between the two loses that run. If storing
    the results fails (a dropped connection), nothing runs, and the next round claims the same
    jobs again at once instead of waiting for the lease to end.

    **Upgrading a table written by APScheduler 3.x.** Such a table has no ``claimed_by``
    column, and :meth:`start` refuses it. Call :meth:`upgrade` once (the scheduler need not
    run) to add the column: no job is changed or lost, and APScheduler 3.x can still open the
    table afterwards::

        SQLAlchemyJobStore(url="postgresql+psycopg://...").upgrade()

    **SQLite** (file databases): the ``sqlite3`` module runs in C and blocks the gevent hub
    while it waits for a lock, so the store (for engines it creates from ``url``) opens
    connections with ``timeout=0`` (no waiting in C), switches the database to WAL journal
    mode with ``synchronous=NORMAL`` (readers never wait for the writer), takes the write lock
    up front with ``BEGIN IMMEDIATE`` in each writing transaction, and, when another
    connection holds it, tries again after a :func:`gevent.sleep` (1 ms, doubling up to
    50 ms), so the hub keeps running; it gives up with :exc:`TimeoutError` after
    ``SQLITE_LOCK_PATIENCE`` (10) seconds. With an ``engine`` of your own, only
    ``BEGIN IMMEDIATE`` and the retries apply: its connections keep their own ``timeout``
    (``sqlite3`` waits 5 seconds by default, blocking the hub) and journal mode.

    **PostgreSQL** (psycopg 3): claims skip the rows other transactions have locked
    (``FOR UPDATE SKIP LOCKED``), so schedulers never wait for each other. Adding, changing
    or removing a job through the API sends a notification (``pg_notify``, on a channel named
    after the table) when the transaction commits; with ``notify`` on and sockets
    gevent-patched, each store listens on a psycopg 3 connection of its own (whatever the
    engine's driver) and wakes its scheduler, so the others see a change at once rather than
    within ``poll_interval``.

    **MariaDB / MySQL** (PyMySQL; MariaDB 10.6 or MySQL 8 for ``SKIP LOCKED``): claims skip
    locked rows too and run at the ``READ COMMITTED`` isolation level (fewer gap locks); a
    transaction that hits a deadlock or a lock wait timeout is tried again (up to
    ``CONFLICT_ATTEMPTS`` times, also on PostgreSQL). There are no notifications: the other
    processes see changes within ``poll_interval``.

    **A process paused or stuck in a claim** (SIGSTOP, a debugger, a blocked hub) would keep
    the rows it locked hidden from the other processes (they skip locked rows) for as long as
    it stays so. The claim transactions (claiming, and storing a round's results) are therefore
    bounded by ``lease_time`` on the server: on PostgreSQL through ``SET LOCAL`` (with
    ``set_config``: ``statement_timeout``, ``lock_timeout`` and
    ``idle_in_transaction_session_timeout``), on MariaDB through the session's
    ``max_statement_time``, ``innodb_lock_wait_timeout`` and ``idle_transaction_timeout``
    (whole seconds, rounded up; set once on each connection of an engine the store created,
    and put back to the server's defaults after each claim transaction on an engine passed
    in). The server then ends such a transaction after about the lease: its claim is undone and
    the other processes run those jobs, late by at most about the lease. SQLite cannot end
    another connection's transaction (the others give up waiting for its write lock after
    ``SQLITE_LOCK_PATIENCE``); MySQL (not MariaDB) sessions are left as they are.

    A transaction whose pooled connection turns out to have been dropped by the server (a
    restart, an idle timeout) before its first statement ran is run again on a new connection
    (up to ``STALE_ATTEMPTS`` times): what ``pool_pre_ping`` does, without a round trip before
    every transaction. A connection lost later in a transaction fails it (nothing of it is
    stored; the scheduler's loop tries the round again). The engine is disposed of at
    :meth:`shutdown` if the store created it.

    .. note:: Unlike APScheduler 3.x, a stored job that cannot be restored is logged and left
       in the table untouched (APScheduler deletes it); jobs with the same next run time, and
       paused jobs, come in job id order (APScheduler: in the database's order); an ``engine``
       passed in is not disposed of at :meth:`shutdown`.

    .. versionchanged:: greensched 0.1
       Added the ``claimed_by`` column, claims, :meth:`upgrade`, :meth:`iter_jobs` and the
       ``lease_time``, ``poll_interval``, ``claim_limit`` and ``notify`` options.
    """

    def __init__(
        self,
        url: str | URL | None = None,
        engine: Engine | str | None = None,
        tablename: str = "apscheduler_jobs",
        metadata: MetaData | str | None = None,
        pickle_protocol: int = pickle.HIGHEST_PROTOCOL,
        tableschema: str | None = None,
        engine_options: dict[str, Any] | None = None,
        *,
        lease_time: float = 30,
        poll_interval: float = 1,
        claim_limit: int = DEFAULT_CLAIM_LIMIT,
        notify: bool = True,
        serializer: str = "pickle",
        signing_key: str | bytes | None = None,
    ) -> None:
        super().__init__(
            pickle_protocol=pickle_protocol,
            lease_time=lease_time,
            poll_interval=poll_interval,
            claim_limit=claim_limit,
            notify=notify,
            serializer=serializer,
            signing_key=signing_key,
        )
        validate.string("tablename", tablename)
        if tableschema is not None:
            validate.string("tableschema", tableschema)
        metadata = maybe_ref(metadata)
        if metadata is None:
            metadata = MetaData()
        elif not isinstance(metadata, MetaData):
            raise TypeError(f"metadata must be an SQLAlchemy MetaData or None, got: {metadata!r}")
        #: options for the claiming transactions (MariaDB: a user's engine's isolation level)
        self._claim_options: dict[str, Any] = {}
        if engine is not None:
            engine = maybe_ref(engine)
            if not isinstance(engine, Engine):
                raise TypeError(f"engine must be an SQLAlchemy Engine, got: {engine!r}")
            self.engine = engine
            self._own_engine = False
            if engine.dialect.name in ("mysql", "mariadb"):
                self._claim_options = {"isolation_level": "READ COMMITTED"}
        elif url is not None:
            self.engine = self._create_engine(url, engine_options)
            self._own_engine = True
        else:
            raise ValueError(
                "SQLAlchemyJobStore needs either url (a database URL) or engine (an SQLAlchemy "
                "Engine), got neither"
            )
        self._sqlite = self.engine.dialect.name == "sqlite"
        if not event.contains(self.engine, "after_cursor_execute", _note_execution):
            event.listen(self.engine, "after_cursor_execute", _note_execution)
        self._channel = (
            _channel_name(tableschema, tablename)
            if self.engine.dialect.name == "postgresql" and importlib.util.find_spec("psycopg")
            else None
        )
        # Float(25) is a double precision float everywhere; on MariaDB and MySQL the id
        # column gets a binary collation when the table is created (see _exact_id_type)
        self.jobs_t = Table(
            tablename,
            metadata,
            Column("id", Unicode(ID_LENGTH), primary_key=True),
            Column("next_run_time", Float(25), index=True),
            Column("job_state", LargeBinary, nullable=False),
            Column(_CLAIM_COLUMN, Unicode(191), nullable=True),
            schema=tableschema,
        )
        #: ids this store claimed and has not released yet
        self._held: set[str] = set()

    @staticmethod
    def _create_engine(url: str | URL, engine_options: dict[str, Any] | None) -> Engine:
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

    def start(self, scheduler: BaseScheduler, alias: str) -> None:
        """Create the table if it does not exist.

        :raises RuntimeError: if the table was written by APScheduler 3.x and needs
            :meth:`upgrade` first
        """
        if not self._prepare_table(upgrade=False):
            raise RuntimeError(
                f"Table {self._table_name()} was written by APScheduler 3.x: it has no "
                f"{_CLAIM_COLUMN} column, which greensched needs to share it among processes. "
                "Call SQLAlchemyJobStore.upgrade() once to add the column (no job is changed "
                "or lost), then start the scheduler"
            )
        self._held.clear()
        super().start(scheduler, alias)

    def shutdown(self) -> None:
        """Stop listening for notifications and dispose of the engine if the store created it."""
        super().shutdown()
        if self._own_engine:
            self.engine.dispose()

    def upgrade(self) -> None:
        """Make a table written by APScheduler 3.x usable by greensched: add its
        ``claimed_by`` column (``ALTER TABLE``; the jobs are not touched) and, on MariaDB and
        MySQL, give its id column a binary NO PAD collation, so ids compare exactly (case and
        trailing spaces; a table of an older greensched needs this step too). The table is
        created if it does not exist; nothing happens if it is up to date already. The store
        need not be started. What was done is logged at ``INFO``.

        .. versionadded:: greensched 0.1
        """
        self._prepare_table(upgrade=True)

    def _table_name(self) -> str:
        table = self.jobs_t
        return repr(table.name if table.schema is None else f"{table.schema}.{table.name}")

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

    # Transactions

    def _transaction(
        self, work: Callable[[Connection], _T], *, write: bool = False, claim: bool = False
    ) -> _T:
        """Run ``work(connection)`` in a transaction and commit; try again after a lock
        conflict (see the class docstring).

        :param write: the transaction writes (SQLite: take the write lock at once)
        :param claim: the transaction claims or releases due jobs
        """

        def attempt() -> _T:
            progress = _Attempt()
            try:
                with self.engine.connect() as connection:
                    connection.info[_ATTEMPT] = progress
                    if claim and self._claim_options:
                        connection.execution_options(**self._claim_options)
                    try:
                        with connection.begin():
                            if self._sqlite and write:
                                connection.exec_driver_sql("BEGIN IMMEDIATE")
                            elif claim:
                                self._bound_claim(connection)
                            result = work(connection)
                    except BaseException:
                        if _BOUNDED in connection.info and not self._own_engine:
                            connection.invalidate()  # not back to the pool with its timeouts
                        raise
                    if _BOUNDED in connection.info and not self._own_engine:
                        # the connections of an engine passed in get their timeouts back
                        connection.info.pop(_BOUNDED)
                        connection.exec_driver_sql(_MYSQL_UNBOUND)
                        connection.commit()
                    return result
            except DBAPIError as exc:
                if exc.connection_invalidated and not progress.executed:
                    raise _StaleConnection(exc) from exc
                raise

        return self._retrying(attempt)

    def _bound_claim(self, connection: Connection) -> None:
        """Bound the claim transaction that ``connection`` has begun by the lease: the server
        ends a statement that runs longer, a lock wait that lasts longer, and the transaction
        itself (the connection) if it stays idle longer (its process is paused or stuck), so
        the rows it locked come back as they were for the other processes to claim.

        PostgreSQL: ``SET LOCAL`` (``set_config``, for this transaction only). MariaDB: session
        variables (it has no per-transaction ones), set once on each connection of an engine
        the store created, set and then reset around each claim transaction on one passed in.
        """
        dialect = self.engine.dialect.name
        if dialect == "postgresql":
            milliseconds = str(max(math.ceil(self.lease_time * 1000), 1))
            connection.execute(
                select(
                    *(
                        func.set_config(setting, milliseconds, True)
                        for setting in (
                            "statement_timeout",
                            "lock_timeout",
                            "idle_in_transaction_session_timeout",
                        )
                    )
                )
            )
        elif dialect in ("mysql", "mariadb") and getattr(connection.dialect, "is_mariadb", False):
            if connection.info.get(_BOUNDED) == self.lease_time:
                return
            seconds = max(math.ceil(self.lease_time), 1)
            connection.exec_driver_sql(
                f"SET SESSION innodb_lock_wait_timeout = {seconds}, "
                f"max_statement_time = {self.lease_time:f}, "
                f"idle_transaction_timeout = {seconds}"
            )
            connection.info[_BOUNDED] = self.lease_time

    def _retrying(self, attempt: Callable[[], _T]) -> _T:
        """Return ``attempt()``, calling it again after a lock conflict (with a pause that
        lets the hub run)."""
        delay = FIRST_BACKOFF
        waited = 0.0
        attempts = 1
        stale = 0
        while True:
            try:
                return attempt()
            except _StaleConnection as exc:
                # A pooled connection the server had dropped (a restart, an idle timeout):
                # the pool has been emptied of such connections, so the next one is new
                stale += 1
                if stale > STALE_ATTEMPTS:
                    raise exc.error from None
                self._logger.info(
                    "The database had closed a pooled connection (%s); trying again on a new one",
                    one_line(exc.error.orig),
                )
                continue
            except DBAPIError as exc:
                if not self._is_lock_conflict(exc):
                    raise
                if self._sqlite:
                    if waited >= SQLITE_LOCK_PATIENCE:
                        raise TimeoutError(
                            f"The SQLite database {self.engine.url.database!r} stayed locked by "
                            f"another connection for {waited:.2f} s; gave up"
                        ) from exc
                    self._logger.debug("SQLite database locked; trying again in %s s", delay)
                else:
                    if attempts >= CONFLICT_ATTEMPTS:
                        raise
                    self._logger.warning(
                        "Transaction failed on a lock conflict (%s); trying again",
                        one_line(exc.orig),
                    )
            gevent.sleep(delay)
            waited += delay
            delay = min(delay * 2, MAX_BACKOFF)
            attempts += 1

    def _is_lock_conflict(self, exc: DBAPIError) -> bool:
        error = exc.orig
        dialect = self.engine.dialect.name
        if dialect == "sqlite":
            code = getattr(error, "sqlite_errorcode", None)
            if code is None:  # Python < 3.11
                return "is locked" in str(error)
            return code & 0xFF in _SQLITE_LOCK_CODES
        if dialect == "postgresql":
            return getattr(error, "sqlstate", None) in _POSTGRESQL_LOCK_STATES
        if dialect in ("mysql", "mariadb"):
            args: tuple[Any, ...] = getattr(error, "args", ())
            return bool(args) and args[0] in _MYSQL_LOCK_ERRORS
        return False

    def _change(self, connection: Connection, statement: Any) -> int:
        """Execute an ``INSERT``, ``UPDATE`` or ``DELETE`` of jobs and return how many rows it
        changed; on PostgreSQL, in the same statement (one round trip), tell the other
        processes that jobs changed (``pg_notify``: delivered when the transaction commits,
        dropped if it rolls back)."""
        if self.notify and self._channel is not None:
            changed = statement.returning(self.jobs_t.c.id).cte("changed")
            counted = select(func.count(), func.pg_notify(self._channel, self.owner))
            return int(connection.execute(counted.select_from(changed)).one()[0])
        result: CursorResult[Any] = connection.execute(statement)
        return result.rowcount

    # Queries

    def _restorable(self) -> list[Any]:
        """Return the condition that leaves out the jobs this process cannot restore."""
        if not self._unrestorable:
            return []
        return [self.jobs_t.c.id.not_in(sorted(self._unrestorable))]

    def _due(self, timestamp: float) -> Select[Any]:
        table = self.jobs_t
        return (
            select(table.c.id, table.c.job_state)
            .where(table.c.next_run_time <= timestamp, *self._restorable())
            .order_by(table.c.next_run_time, table.c.id)
        )

    def _restore(self, rows: Iterable[Any]) -> list[Job]:
        jobs = []
        for row in rows:
            job = self._load_job(row.id, row.job_state)
            if job is not None:
                jobs.append(job)
        return jobs

    @staticmethod
    def _by_next_run_time(jobs: list[Job]) -> list[Job]:
        """Sort jobs by their true next run time, then id (a claimed job's column holds its
        lease end)."""
        jobs.sort(key=lambda job: (job.next_run_time.timestamp(), job.id))
        return jobs

    def lookup_job(self, job_id: str) -> Job | None:
        if job_id in self._unrestorable:
            return None
        data = self._read_state(job_id)
        return None if data is None else self._load_job(job_id, data)

    def _read_state(self, job_id: str) -> bytes | None:
        if not self._fits(job_id):  # PostgreSQL would raise DataError on a NUL
            return None
        table = self.jobs_t
        statement = select(table.c.job_state).where(table.c.id == job_id)
        return self._transaction(lambda connection: connection.scalar(statement))

    def get_due_jobs(self, now: datetime) -> list[Job]:
        timestamp = now.timestamp()
        rows = self._transaction(lambda connection: connection.execute(self._due(timestamp)).all())
        return self._by_next_run_time(self._restore(rows))

    def get_next_run_time(self) -> datetime | None:
        """Return the earliest next run time of the jobs this process can restore; for a
        claimed job, that is the end of its lease."""
        column = self.jobs_t.c.next_run_time
        statement = (
            select(column)
            .where(column.is_not(None), *self._restorable())
            .order_by(column)
            .limit(1)
        )
        return utc_timestamp_to_datetime(
            self._transaction(lambda connection: connection.scalar(statement))
        )

    def count_jobs(self) -> int:
        """Return how many rows the table holds (one query), including any job this process
        cannot restore."""
        statement = select(func.count()).select_from(self.jobs_t)
        return self._transaction(lambda connection: connection.execute(statement).scalar_one())

    def get_all_jobs(self) -> list[Job]:
        """Return all the jobs (see :meth:`iter_jobs`) as a list."""
        return list(self.iter_jobs())

    def iter_jobs(self) -> Iterator[Job]:
        """Yield all the jobs, sorted by next run time, paused jobs last (the same next run
        time: by id), streamed from the database in chunks so that a large table never sits
        in memory at once. The generator keeps a connection out of the pool until it is
        exhausted or closed.

        A job claimed at that moment by a scheduler comes with its true next run time, but in
        the place of its lease end (the claim lasts for a round of the scheduler's loop).

        Jobs this process cannot restore are logged and left out.

        .. versionadded:: greensched 0.1
        """
        return self._iter_restored()

    def _read_states(self) -> Iterator[tuple[str, bytes]]:
        table = self.jobs_t
        statement = select(table.c.id, table.c.job_state).order_by(
            table.c.next_run_time.is_(None), table.c.next_run_time, table.c.id
        )

        def open_stream() -> tuple[Connection, CursorResult[Any]]:
            connection = self.engine.connect()
            try:
                return connection, connection.execution_options(yield_per=STREAM_CHUNK).execute(
                    statement
                )
            except DBAPIError as exc:
                connection.close()
                if exc.connection_invalidated:  # its only statement did not run
                    raise _StaleConnection(exc) from exc
                raise
            except BaseException:
                connection.close()
                raise

        connection, result = self._retrying(open_stream)
        with connection:
            for rows in result.partitions():
                for row in rows:
                    yield row.id, row.job_state

    # Changes through the API

    def add_job(self, job: Job) -> None:
        self._write_state(job.id, self._dump_job(job), job.next_run_time, new=True)

    def update_job(self, job: Job) -> None:
        """Replace the stored job; a claim on it ends (the claiming scheduler then does not
        run it, see the class docstring).

        :raises JobLookupError: if the job does not exist
        """
        self._write_state(job.id, self._dump_job(job), job.next_run_time, new=False)

    def _write_state(
        self, job_id: str, data: bytes, next_run_time: datetime | None, *, new: bool
    ) -> None:
        self._check_job_id(job_id)
        table = self.jobs_t
        timestamp = datetime_to_utc_timestamp(next_run_time)

        def add(connection: Connection) -> None:
            insert = table.insert().values(id=job_id, next_run_time=timestamp, job_state=data)
            try:
                self._change(connection, insert)
            except IntegrityError:
                raise ConflictingIdError(job_id) from None

        def replace(connection: Connection) -> None:
            update = (
                table.update()
                .where(table.c.id == job_id)
                .values(next_run_time=timestamp, job_state=data, claimed_by=None)
            )
            if self._change(connection, update) == 0:
                raise JobLookupError(job_id)

        self._transaction(add if new else replace, write=True)
        self._forget_unrestorable(job_id)

    def remove_job(self, job_id: str) -> None:
        if not self._fits(job_id):  # no such job can be stored
            raise JobLookupError(job_id)
        delete = self.jobs_t.delete().where(self.jobs_t.c.id == job_id)

        def remove(connection: Connection) -> None:
            if self._change(connection, delete) == 0:
                raise JobLookupError(job_id)

        self._transaction(remove, write=True)
        self._forget_unrestorable(job_id)

    def remove_all_jobs(self) -> None:
        def remove_all(connection: Connection) -> None:
            self._change(connection, self.jobs_t.delete())

        self._transaction(remove_all, write=True)
        self._unrestorable.clear()

    # Claims

    def acquire_due_jobs(self, now: datetime) -> list[Job]:
        """Claim the due jobs (and the jobs this store still holds from a round whose release
        failed) for ``lease_time`` seconds; see the class docstring.

        .. versionadded:: greensched 0.1
        """
        timestamp = now.timestamp()
        table = self.jobs_t

        def claim(connection: Connection) -> list[Job]:
            # the held jobs count against the limit (they came from one claim: never more)
            limit = self.claim_limit - len(self._held)
            rows = (
                list(
                    connection.execute(
                        self._due(timestamp).limit(limit).with_for_update(skip_locked=True)
                    )
                )
                if limit > 0
                else []
            )
            held = sorted(self._held.difference(row.id for row in rows))
            for ids in _chunks(held):
                rows.extend(
                    connection.execute(
                        select(table.c.id, table.c.job_state)
                        .where(table.c.id.in_(ids), table.c.claimed_by == self.owner)
                        .with_for_update()
                    )
                )
            jobs = self._restore(rows)
            claimed = [job.id for job in jobs]
            for ids in _chunks(claimed):
                connection.execute(
                    table.update()
                    .where(table.c.id.in_(ids))
                    .values(next_run_time=timestamp + self.lease_time, claimed_by=self.owner)
                )
            # Held from before the commit: if the commit fails without telling whether it
            # happened (the connection drops), the next round takes back those it holds
            self._held = set(claimed)
            return jobs

        jobs = self._transaction(claim, write=True, claim=True)
        return self._by_next_run_time(jobs)

    def release_due_jobs(self, updated: Sequence[Job], removed: Sequence[Job]) -> Collection[str]:
        """Store the results of a round for the jobs whose claim this store still holds, in
        one transaction, and end the claims; see the class docstring.

        :return: the ids of the jobs whose claim was lost (nothing was written for them)

        .. versionadded:: greensched 0.1
        """
        if not updated and not removed:
            return ()
        states = [
            {
                "b_id": job.id,
                "b_next_run_time": datetime_to_utc_timestamp(job.next_run_time),
                "b_state": self._dump_job(job),
            }
            for job in updated
        ]
        removed_ids = [job.id for job in removed]
        wanted = [job.id for job in updated] + removed_ids
        table = self.jobs_t

        def release(connection: Connection) -> set[str]:
            held: set[str] = set()
            for ids in _chunks(wanted):
                held.update(
                    connection.scalars(
                        select(table.c.id)
                        .where(table.c.id.in_(ids), table.c.claimed_by == self.owner)
                        .with_for_update()
                    )
                )
            writes = [state for state in states if state["b_id"] in held]
            if writes:
                connection.execute(
                    table.update()
                    .where(table.c.id == bindparam("b_id"))
                    .values(
                        next_run_time=bindparam("b_next_run_time"),
                        job_state=bindparam("b_state"),
                        claimed_by=None,
                    ),
                    writes,
                )
            deletes = [job_id for job_id in removed_ids if job_id in held]
            for ids in _chunks(deletes):
                connection.execute(table.delete().where(table.c.id.in_(ids)))
            return held

        held = self._transaction(release, write=True, claim=True)
        self._held.difference_update(wanted)
        return {job_id for job_id in wanted if job_id not in held}

    # Notifications

    def _has_channel(self) -> bool:
        return self._channel is not None

    def _listen(self, notified: Callable[[str], None], subscribed: Callable[[], None]) -> None:
        """Listen on the table's PostgreSQL channel on a connection of its own (psycopg 3,
        autocommit), calling ``subscribed()`` once ``LISTEN`` has run and ``notified(sender)``
        for each notification, until the connection fails or the greenlet is killed."""
        import psycopg
        from psycopg import sql

        assert self._channel is not None
        conninfo = self.engine.url.set(drivername="postgresql").render_as_string(
            hide_password=False
        )
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
            subscribed()
            for notification in connection.notifies():
                notified(notification.payload)

    def __repr__(self) -> str:
        return f"<{self.__class__.__name__} (url={self.engine.url})>"
