"""The transactions of :class:`~greensched.jobstores.sqlalchemy.SQLAlchemyJobStore`: retries
after lock conflicts and dropped pooled connections, SQLite's write lock without blocking the
hub, and claim transactions bounded by the lease on the server (the class docstring of the
store says what each engine does)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable, TypeVar

import gevent
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from greensched._logging import one_line
from greensched.jobstores._shared import SharedJobStore

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

__all__ = ("SQLTransactions",)

_T = TypeVar("_T")

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
#: lock conflicts worth retrying: SQLite SQLITE_BUSY / SQLITE_LOCKED, PostgreSQL
#: deadlock_detected / serialization_failure / lock_not_available, MySQL lock wait timeout /
#: deadlock
_SQLITE_LOCK_CODES = frozenset({5, 6})
_POSTGRESQL_LOCK_STATES = frozenset({"40P01", "40001", "55P03"})
_MYSQL_LOCK_ERRORS = frozenset({1205, 1213})


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


class SQLTransactions(SharedJobStore):
    """The transactions of a SQL job store (the base of
    :class:`~greensched.jobstores.sqlalchemy.SQLAlchemyJobStore`)."""

    engine: Engine
    #: whether the store created its engine (and disposes of it)
    _own_engine: bool
    #: whether the engine is SQLite's
    _sqlite: bool
    #: options for the claiming transactions (MariaDB: a user's engine's isolation level)
    _claim_options: dict[str, Any]
    #: the lease and the statements that bound PostgreSQL's claims by it: for the session,
    #: and for the transaction only
    _bounding: tuple[float, Any, Any] | None = None

    def _claims_in_autocommit(self) -> bool:
        """Whether a claim or a release of one statement runs in autocommit mode (no
        ``BEGIN`` and ``COMMIT`` round trips): on PostgreSQL, on an engine the store created,
        whose connections are bounded by the lease for their whole session (a statement in
        autocommit mode is a transaction by itself, and the bounds need no transaction)."""
        return self._own_engine and self.engine.dialect.name == "postgresql"

    def _transaction(
        self,
        work: Callable[[Connection], _T],
        *,
        write: bool = False,
        claim: bool = False,
        single_statement: bool = False,
    ) -> _T:
        """Run ``work(connection)`` in a transaction and commit; try again after a lock
        conflict (see the class docstring).

        :param write: the transaction writes (SQLite: take the write lock at once)
        :param claim: the transaction claims or releases due jobs
        :param single_statement: ``work`` runs one statement, a transaction by itself (a read
            sees a snapshot of its own; a write, with whatever its statement's CTEs do, is
            atomic): PostgreSQL runs it in autocommit mode, with no ``BEGIN`` and ``COMMIT``
            round trips (psycopg switches modes without one). Not on SQLite, whose writes
            take the lock at once, nor on MariaDB, where PyMySQL switches modes with a
            round trip each way
        """
        autocommit = single_statement and self.engine.dialect.name == "postgresql"

        def attempt() -> _T:
            progress = _Attempt()
            try:
                with self.engine.connect() as connection:
                    connection.info[_ATTEMPT] = progress
                    if claim and self._claim_options:
                        connection.execution_options(**self._claim_options)
                    elif autocommit:
                        connection.execution_options(isolation_level="AUTOCOMMIT")
                    try:
                        with connection.begin():
                            if self._sqlite and write:
                                connection.exec_driver_sql("BEGIN IMMEDIATE")
                            elif claim:
                                self._bound_claim(connection)
                            result = work(connection)
                    except BaseException:
                        if _BOUNDED in connection.info:
                            if not self._own_engine:
                                connection.invalidate()  # not back to the pool bounded
                            elif not autocommit and self.engine.dialect.name == "postgresql":
                                # a rollback undoes PostgreSQL's session settings of the
                                # transaction too: set them again on the next claim
                                connection.info.pop(_BOUNDED)
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

        PostgreSQL: on an engine the store created, session settings (``set_config``), set
        once on each connection (its claims and releases are then single statements in
        autocommit mode: see :meth:`_claims_in_autocommit`); on an engine passed in,
        ``SET LOCAL`` (for this transaction only). MariaDB: session variables (it has no
        per-transaction ones), set once on each connection of an engine the store created, set
        and then reset around each claim transaction on one passed in.
        """
        dialect = self.engine.dialect.name
        if dialect == "postgresql":
            if self._own_engine and connection.info.get(_BOUNDED) == self.lease_time:
                return
            bounding = self._bounding
            if bounding is None or bounding[0] != self.lease_time:
                milliseconds = str(max(math.ceil(self.lease_time * 1000), 1))

                def bounds(local: bool) -> Any:
                    return select(
                        *(
                            func.set_config(setting, milliseconds, local)
                            for setting in (
                                "statement_timeout",
                                "lock_timeout",
                                "idle_in_transaction_session_timeout",
                            )
                        )
                    )

                # built once: a claim transaction is often a few milliseconds in all
                bounding = self._bounding = (self.lease_time, bounds(False), bounds(True))
            if self._own_engine:
                connection.execute(bounding[1])
                connection.info[_BOUNDED] = self.lease_time
            else:
                connection.execute(bounding[2])
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
