"""A job store that keeps the jobs in a database table through SQLAlchemy, shareable by several
processes."""

from __future__ import annotations

import importlib.util
import pickle
from typing import TYPE_CHECKING, Any, Callable

from gevent import monkey

from greensched import _validators as validate
from greensched.jobstores._shared import (
    DEFAULT_CLAIM_LIMIT,
    run_order,
)
from greensched.jobstores.base import ConflictingIdError, JobLookupError
from greensched.util import datetime_to_utc_timestamp, maybe_ref, utc_timestamp_to_datetime

try:
    from sqlalchemy import MetaData, case, event, func, select
    from sqlalchemy.engine import URL, Connection, CursorResult, Engine
    from sqlalchemy.exc import DBAPIError, IntegrityError

    from greensched.history.sql import SQLRunLog
    from greensched.jobstores._sql_claims import SQLClaims
    from greensched.jobstores._sql_table import (
        _CLAIM_COLUMN,
        _channel_name,
        create_store_engine,
        jobs_table,
    )
    from greensched.jobstores._sql_transactions import _note_execution, _StaleConnection
    from greensched.jobstores._sql_written import DeferredNotifications
except ImportError as exc:
    raise ImportError(
        "SQLAlchemyJobStore requires SQLAlchemy installed (pip install 'greensched[sqlalchemy]')"
    ) from exc

if TYPE_CHECKING:
    from collections.abc import Iterator
    from datetime import datetime

    from greensched.job import Job
    from greensched.schedulers.base import BaseScheduler

__all__ = ("SQLAlchemyJobStore",)

#: rows fetched from the database at a time by :meth:`SQLAlchemyJobStore.iter_jobs`
STREAM_CHUNK = 500


class SQLAlchemyJobStore(SQLClaims):
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

    **Claims** follow the protocol of :mod:`greensched.jobstores._shared` (leases, owners,
    take-over, at most once for started runs). A claim is one short transaction that locks the
    rows it takes, skipping those other transactions hold (``FOR UPDATE SKIP LOCKED``, ``ORDER
    BY next_run_time LIMIT claim_limit`` on the index), sets ``claimed_by`` and moves
    ``next_run_time`` to the end of the lease; a release is one transaction that locks the rows
    still claimed by this owner and writes (or deletes) only those. A transaction is never sent
    again once its statements ran, so a release whose commit outcome is unknown (the
    connection dropped) fails: the scheduler runs nothing of that round, and the next claim
    takes back the rows this owner still holds (if the commit had happened, those runs are
    recorded and not run: at most once).

    **Run history** (:attr:`runs`, a :class:`~greensched.history.sql.SQLRunLog`) is kept in two
    tables next to the job table, in its schema: ``<tablename>_runs`` (a row per run, by
    ``run_id``, with its times as UTC POSIX floats like ``next_run_time``; indexed by job and
    time, by time, and by outcome and time) and ``<tablename>_processes`` (the last heartbeat
    of each process sharing the table). They are created with the job table when the store
    starts, and by :meth:`upgrade`; they use the store's engine, connection pool and
    transactions. :meth:`remove_job` and :meth:`remove_all_jobs` leave them alone: a removed
    job's runs stay for the history's retention.

    **Upgrading a table written by APScheduler 3.x.** Such a table has no ``claimed_by``
    column, and :meth:`start` refuses it. Call :meth:`upgrade` once (the scheduler need not
    run) to add the column and create the run history tables: no job is changed or lost, and
    APScheduler 3.x can still open the table afterwards::

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
    or removing a job through the API is one statement in autocommit mode (one round trip, no
    ``BEGIN`` and ``COMMIT``), and sends a notification if it changed a row (``pg_notify``, on
    a channel named after the table): where sockets are gevent-patched, from a greenlet once
    the change has committed (off the caller's path; the changes made while one is sent share
    the next one), elsewhere in the same statement (delivered when it commits); with
    ``notify`` on and sockets gevent-patched, each store listens on a psycopg 3 connection of
    its own (whatever the engine's driver) and wakes its scheduler, so the others see a change
    at once rather than within ``poll_interval``. With an engine the store created, claims and
    releases are single statements in autocommit mode too (see the next paragraph but one).

    **MariaDB / MySQL** (PyMySQL; MariaDB 10.6 or MySQL 8 for ``SKIP LOCKED``): claims skip
    locked rows too and run at the ``READ COMMITTED`` isolation level (fewer gap locks); a
    transaction that hits a deadlock or a lock wait timeout is tried again (up to
    ``CONFLICT_ATTEMPTS`` times, also on PostgreSQL). There are no notifications: the other
    processes see changes within ``poll_interval``.

    **A process paused or stuck in a claim** (SIGSTOP, a debugger, a blocked hub) would keep
    the rows it locked hidden from the other processes (they skip locked rows) for as long as
    it stays so. The claim transactions (claiming, and storing a round's results) are therefore
    bounded by ``lease_time`` on the server: on PostgreSQL through ``statement_timeout``,
    ``lock_timeout`` and ``idle_in_transaction_session_timeout`` (``set_config``), on MariaDB
    through ``max_statement_time``, ``innodb_lock_wait_timeout`` and
    ``idle_transaction_timeout`` (whole seconds, rounded up). On an engine the store created,
    these are session settings, set once on each connection (every statement on it is the
    store's), and PostgreSQL's claims and releases are then single statements in autocommit
    mode (2 round trips a round): a process paused after one holds no lock, and its claims end
    with their lease. On an engine passed in, PostgreSQL sets them for each claim transaction
    only (``SET LOCAL``), MariaDB puts them back to the server's defaults after each one. The
    server ends a transaction that outlasts them: its claim is undone and the other processes
    run those jobs, late by at most about the lease. SQLite cannot end another connection's
    transaction (the others give up waiting for its write lock after
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
        self._claim_options = {}
        if engine is not None:
            engine = maybe_ref(engine)
            if not isinstance(engine, Engine):
                raise TypeError(f"engine must be an SQLAlchemy Engine, got: {engine!r}")
            self.engine = engine
            self._own_engine = False
            if engine.dialect.name in ("mysql", "mariadb"):
                self._claim_options = {"isolation_level": "READ COMMITTED"}
        elif url is not None:
            self.engine = create_store_engine(url, engine_options)
            self._own_engine = True
        else:
            raise ValueError(
                "SQLAlchemyJobStore needs either url (a database URL) or engine (an SQLAlchemy "
                "Engine), got neither"
            )
        self._sqlite = self.engine.dialect.name == "sqlite"
        #: PostgreSQL through psycopg 3: claims and releases of one statement each
        self._postgresql = (
            self.engine.dialect.name == "postgresql" and self.engine.dialect.driver == "psycopg"
        )
        #: the API's writes as statements written once (drivers whose placeholders are
        #: ``%(name)s``: psycopg 3 and PyMySQL)
        self._written_sql = (self.engine.dialect.name, self.engine.dialect.driver) in (
            ("postgresql", "psycopg"),
            ("mysql", "pymysql"),
            ("mariadb", "pymysql"),
        )
        self._written: dict[str, str] | None = None
        #: whether the API's writes leave their notification to :attr:`_notifications`
        self._deferring = False
        self._notifications = DeferredNotifications(self._send_notification)
        if not event.contains(self.engine, "after_cursor_execute", _note_execution):
            event.listen(self.engine, "after_cursor_execute", _note_execution)
        self._channel = (
            _channel_name(tableschema, tablename)
            if self.engine.dialect.name == "postgresql" and importlib.util.find_spec("psycopg")
            else None
        )
        self.jobs_t = jobs_table(tablename, metadata, tableschema)
        self._runs = SQLRunLog(self)

    def start(self, scheduler: BaseScheduler, alias: str) -> None:
        """Create the job table and the run history tables if they do not exist.

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
        super().start(scheduler, alias)
        self._deferring = self._defers_notifications()
        self.runs.open()

    def shutdown(self) -> None:
        """Stop listening for notifications (sending the one a change made meanwhile still
        owes) and dispose of the engine if the store created it."""
        self._notifications.stop()
        self._deferring = False
        super().shutdown()
        if self._own_engine:
            self.engine.dispose()

    def _defers_notifications(self) -> bool:
        """Whether the API's writes on PostgreSQL send their notification from a greenlet,
        after they return (where sockets are gevent-patched: the greenlet then runs whenever
        the caller waits) rather than inside their transaction."""
        return (
            self.notify
            and self._channel is not None
            and self._written_sql
            and monkey.is_module_patched("socket")
        )

    def _send_notification(self) -> None:
        """Send one notification on the table's channel (autocommit: one round trip); a
        failure is logged and forgotten (the others look at the table every
        ``poll_interval``)."""
        parameters = {"channel": self._channel, "owner": self.owner}
        try:
            self._transaction(
                lambda connection: connection.exec_driver_sql(
                    "SELECT pg_notify(%(channel)s, %(owner)s)", parameters
                ),
                single_statement=True,
            )
        except Exception as exc:  # noqa: BLE001 (a hint lost: the others poll)
            self._logger.debug("Could not notify the other processes: %s", exc)

    def _change(self, connection: Connection, statement: Any) -> int:
        """Execute an ``INSERT``, ``UPDATE`` or ``DELETE`` of jobs and return how many rows it
        changed; on PostgreSQL, in the same statement (one round trip), tell the other
        processes that jobs changed if any did (``pg_notify``: delivered when the statement's
        transaction commits, dropped if it rolls back)."""
        if self.notify and self._channel is not None:
            changed = statement.returning(self.jobs_t.c.id).cte("changed")
            notified = case((func.count() > 0, func.pg_notify(self._channel, self.owner)))
            counted = select(func.count(), notified)
            return int(connection.execute(counted.select_from(changed)).one()[0])
        result: CursorResult[Any] = connection.execute(statement)
        return result.rowcount

    def _change_written(self, connection: Connection, kind: str, **parameters: Any) -> int:
        """:meth:`_change` through psycopg 3 or PyMySQL: the statement of ``kind`` (``add``,
        ``replace`` or ``remove``), written once, and how many rows it changed."""
        if self._deferring:  # notified once committed, by self._notifications
            kind += "_quiet"
        sql = self._sql()[kind]
        if self.notify and self._channel is not None and not self._deferring:
            parameters["channel"] = self._channel
            parameters["owner"] = self.owner
            return int(connection.exec_driver_sql(sql, parameters).one()[0])
        result: CursorResult[Any] = connection.exec_driver_sql(sql, parameters)
        return result.rowcount

    # Queries

    def _restorable(self) -> list[Any]:
        """Return the condition that leaves out the jobs this process cannot restore."""
        if not self._unrestorable:
            return []
        return [self.jobs_t.c.id.not_in(sorted(self._unrestorable))]

    def _read_state(self, job_id: str) -> bytes | None:
        if not self._fits(job_id):  # PostgreSQL would raise DataError on a NUL
            return None
        table = self.jobs_t
        statement = select(table.c.job_state).where(table.c.id == job_id)
        return self._transaction(
            lambda connection: connection.scalar(statement), single_statement=True
        )

    def get_due_jobs(self, now: datetime) -> list[Job]:
        timestamp = now.timestamp()
        table = self.jobs_t
        statement = (
            select(table.c.id, table.c.job_state)
            .where(table.c.next_run_time <= timestamp, *self._restorable())
            .order_by(table.c.next_run_time, table.c.id)
        )
        rows = self._transaction(
            lambda connection: connection.execute(statement).all(), single_statement=True
        )
        return sorted(self._restored(rows), key=run_order)

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
            self._transaction(
                lambda connection: connection.scalar(statement), single_statement=True
            )
        )

    def count_jobs(self) -> int:
        """Return how many rows the table holds (one query), including any job this process
        cannot restore."""
        statement = select(func.count()).select_from(self.jobs_t)
        return self._transaction(
            lambda connection: connection.execute(statement).scalar_one(), single_statement=True
        )

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
            try:
                if self._written_sql:
                    self._change_written(
                        connection, "add", id=job_id, next_run_time=timestamp, job_state=data
                    )
                else:
                    insert = table.insert().values(
                        id=job_id, next_run_time=timestamp, job_state=data
                    )
                    self._change(connection, insert)
            except IntegrityError:
                raise ConflictingIdError(job_id) from None

        def replace(connection: Connection) -> None:
            if self._written_sql:
                changed = self._change_written(
                    connection, "replace", id=job_id, next_run_time=timestamp, job_state=data
                )
            else:
                update = (
                    table.update()
                    .where(table.c.id == job_id)
                    .values(next_run_time=timestamp, job_state=data, claimed_by=None)
                )
                changed = self._change(connection, update)
            if changed == 0:
                raise JobLookupError(job_id)

        self._transaction(add if new else replace, write=True, single_statement=True)
        if self._deferring:
            self._notifications.want()
        self._forget_unrestorable(job_id)

    def remove_job(self, job_id: str) -> None:
        if not self._fits(job_id):  # no such job can be stored
            raise JobLookupError(job_id)
        delete = self.jobs_t.delete().where(self.jobs_t.c.id == job_id)

        def remove(connection: Connection) -> None:
            if self._written_sql:
                changed = self._change_written(connection, "remove", id=job_id)
            else:
                changed = self._change(connection, delete)
            if changed == 0:
                raise JobLookupError(job_id)

        self._transaction(remove, write=True, single_statement=True)
        if self._deferring:
            self._notifications.want()
        self._forget_unrestorable(job_id)

    def remove_all_jobs(self) -> None:
        def remove_all(connection: Connection) -> None:
            self._change(connection, self.jobs_t.delete())

        self._transaction(remove_all, write=True, single_statement=True)
        self._unrestorable.clear()

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
