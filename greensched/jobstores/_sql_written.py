"""What :class:`~greensched.jobstores.sqlalchemy.SQLAlchemyJobStore` sends as driver SQL,
written once per store rather than built by SQLAlchemy on each call (about half a call's
client CPU), for the drivers whose placeholders are ``%(name)s`` (psycopg 3 on PostgreSQL,
PyMySQL on MariaDB / MySQL): PostgreSQL's one-statement claim and release, the API's writes
(with their notification in the same statement, or without it for
:class:`DeferredNotifications`), and MariaDB's release joined to the rows' new values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import gevent
from gevent.event import Event

from greensched.jobstores._sql_table import _CLAIM_COLUMN

if TYPE_CHECKING:
    from collections.abc import Sequence

    from greensched.jobstores._shared import Released

__all__ = ("DeferredNotifications", "joined_update", "written_statements")


def written_statements(table: str, *, notify: bool) -> dict[str, str]:
    """The statements on ``table`` (its quoted name): PostgreSQL's ``claim`` and ``release``,
    and the API's ``add``, ``replace`` and ``remove``, each also as
    ``<kind>_quiet`` without the notification ``notify`` adds to it (PostgreSQL: the
    statement's count of changed rows comes with a ``pg_notify`` if it changed any, delivered
    when the statement's transaction commits)."""
    statements = {
        # the subquery locks the due rows no other transaction holds, earliest first
        "claim": (
            f"UPDATE {table} AS j SET next_run_time = %(lease_end)s, "
            f"{_CLAIM_COLUMN} = %(owner)s FROM (SELECT id, next_run_time FROM {table} "
            "WHERE next_run_time <= %(now)s AND NOT (id = ANY(%(excluded)b::text[])) "
            "ORDER BY next_run_time, id LIMIT %(limit)s FOR UPDATE SKIP LOCKED) AS c "
            "WHERE j.id = c.id RETURNING j.id, j.job_state, c.next_run_time"
        ),
        # the held rows written (update) and the held removed ones deleted, in one statement
        # (the two sets of rows are apart); a row changed meanwhile (update_job ends the
        # claim) is neither: the statement waits for its lock, then finds the claim gone. The
        # arrays are sent in binary (%b): psycopg's text form escapes each element
        "release": (
            f"WITH written AS (UPDATE {table} AS j SET next_run_time = r.next_run_time, "
            f"job_state = r.job_state, {_CLAIM_COLUMN} = NULL FROM unnest("
            "%(ids)b::text[], %(times)b::float8[], %(states)b::bytea[]) "
            "AS r(id, next_run_time, job_state) "
            f"WHERE j.id = r.id AND j.{_CLAIM_COLUMN} = %(owner)s RETURNING j.id), "
            f"deleted AS (DELETE FROM {table} WHERE id = ANY(%(removed)b::text[]) "
            f"AND {_CLAIM_COLUMN} = %(owner)s RETURNING id) "
            "SELECT id FROM written UNION ALL SELECT id FROM deleted"
        ),
    }
    changes = {
        "add": (
            f"INSERT INTO {table} (id, next_run_time, job_state) "
            "VALUES (%(id)s, %(next_run_time)s, %(job_state)s)"
        ),
        "replace": (
            f"UPDATE {table} SET next_run_time = %(next_run_time)s, "
            f"job_state = %(job_state)s, {_CLAIM_COLUMN} = NULL WHERE id = %(id)s"
        ),
        "remove": f"DELETE FROM {table} WHERE id = %(id)s",
    }
    for kind, sql in changes.items():
        statements[f"{kind}_quiet"] = sql
        if notify:
            sql = (
                f"WITH changed AS ({sql} RETURNING id) SELECT count(*), CASE WHEN "
                "count(*) > 0 THEN pg_notify(%(channel)s, %(owner)s) END FROM changed"
            )
        statements[kind] = sql
    return statements


def joined_update(table: str, rows: Sequence[Released], owner: str) -> Any:
    """MariaDB / MySQL: the ``UPDATE`` of ``table`` (its quoted name) joined to the new
    ``(id, job_state, next_run_time)`` of released rows, written where ``owner`` still holds
    their claims, and its parameters: one statement and one round trip for them all, where
    PyMySQL runs an ``executemany`` of ``UPDATE`` as a statement per row. Its row count is
    the rows it matched (SQLAlchemy's MySQL dialects connect with ``CLIENT.FOUND_ROWS``): the
    released rows still held."""
    parameters: dict[str, Any] = {"owner": owner}
    selects = []
    for index, (job_id, state, next_run_time) in enumerate(rows):
        parameters[f"i{index}"], parameters[f"t{index}"] = job_id, next_run_time
        parameters[f"s{index}"] = state
        if index == 0:
            selects.append("SELECT %(i0)s AS id, %(t0)s AS next_run_time, %(s0)s AS job_state")
        else:
            selects.append(f"SELECT %(i{index})s, %(t{index})s, %(s{index})s")
    sql = (
        f"UPDATE {table} AS j JOIN ({' UNION ALL '.join(selects)}) AS r ON j.id = r.id "
        "SET j.next_run_time = r.next_run_time, j.job_state = r.job_state, "
        f"j.{_CLAIM_COLUMN} = NULL WHERE j.{_CLAIM_COLUMN} = %(owner)s"
    )
    return sql, parameters


class DeferredNotifications:
    """The notifications of the API's writes, sent by a greenlet once they have committed
    (off the caller's path: where sockets are gevent-patched, the greenlet runs whenever the
    caller waits) rather than inside their transaction. Writes made while one is sent share
    the next: a notification is a hint that tells the others to look at the table.

    :param send: sends one notification (and logs, never raises, a failure)
    """

    def __init__(self, send: Callable[[], None]) -> None:
        self._send = send
        #: set when a write committed whose notification has not been sent yet
        self._wanted = Event()
        self._greenlet: gevent.Greenlet | None = None

    def want(self) -> None:
        """A write committed: have the greenlet tell the other processes."""
        self._wanted.set()
        if self._greenlet is None or self._greenlet.dead:
            self._greenlet = gevent.spawn(self._forever)

    def stop(self) -> None:
        """Stop the greenlet, sending the notification a write still owes."""
        if self._greenlet is not None:
            self._greenlet.kill(block=True)
            self._greenlet = None
        if self._wanted.is_set():
            self._wanted.clear()
            self._send()

    def _forever(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            self._send()
