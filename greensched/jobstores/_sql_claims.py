"""The claim primitives of :class:`~greensched.jobstores.sqlalchemy.SQLAlchemyJobStore` (the
protocol is :mod:`greensched.jobstores._shared`'s): claiming due jobs (re-taking those this
owner holds), releasing them with their new states, giving them back. PostgreSQL through
psycopg 3 claims and releases in one statement each; the other engines select the rows
(``FOR UPDATE SKIP LOCKED`` where the engine has it; SQLite's write transaction locks the
whole database) and write them in chunks. MariaDB's release writes the rows this owner still
holds without locking them first, and locks them first only once it finds a claim lost.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select

from greensched.jobstores._sql_table import _CLAIM_COLUMN, SQLTable, _chunks
from greensched.jobstores._sql_written import joined_update, written_statements

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.engine import Connection

    from greensched.jobstores._shared import Claimed, Released

__all__ = ("SQLClaims",)


class _ClaimsLost(Exception):
    """A release that wrote without locking the rows first found a claim lost."""


def _claim_order(claimed: Claimed) -> tuple[float, str]:
    """The order of claimed jobs: indexed run time, then id."""
    return (claimed[2], claimed[0])


class SQLClaims(SQLTable):
    """The claim primitives of the SQL job store (its base class)."""

    owner: str
    notify: bool
    #: the channel of the table's notifications (PostgreSQL), or ``None``
    _channel: str | None
    #: PostgreSQL through psycopg 3: claims and releases of one statement each
    _postgresql: bool
    #: the driver takes statements written once (``%(name)s`` placeholders)
    _written_sql: bool
    #: those statements, once written (see :meth:`_sql`)
    _written: dict[str, str] | None

    def _claim(
        self, now: float, lease_end: float, limit: int, excluded: Sequence[str], *, take_back: bool
    ) -> list[Claimed]:
        table = self.jobs_t
        claimed_by = table.c[_CLAIM_COLUMN]
        not_excluded = [table.c.id.not_in(excluded)] if excluded else []

        def claimable(*where: Any) -> Any:
            return (
                select(table.c.id, table.c.job_state, table.c.next_run_time)
                .where(*where, *not_excluded)
                .order_by(table.c.next_run_time, table.c.id)
                .with_for_update(skip_locked=True)
            )

        if not take_back and self._postgresql:
            return self._claim_due(now, lease_end, limit, excluded)
        # A held row was claimed at an earlier ``now``: its lease ends by ``lease_end``, which
        # bounds the index range scanned for it (all of it: ``claimed_by`` has no index)
        held = claimable(table.c.next_run_time <= lease_end, claimed_by == self.owner)
        due = claimable(table.c.next_run_time <= now)

        def claim(connection: Connection) -> list[Claimed]:
            rows = list(connection.execute(held.limit(limit))) if take_back else []
            if len(rows) < limit:
                if rows:
                    due_now = due.where(table.c.id.not_in([row.id for row in rows]))
                else:
                    due_now = due
                rows.extend(connection.execute(due_now.limit(limit - len(rows))))
            ids = [row.id for row in rows]
            for chunk in _chunks(ids):
                connection.execute(
                    table.update()
                    .where(table.c.id.in_(chunk))
                    .values(next_run_time=lease_end, claimed_by=self.owner)
                )
            return [(row.id, row.job_state, row.next_run_time) for row in rows]

        return self._transaction(claim, write=True, claim=True)

    def _claim_due(
        self, now: float, lease_end: float, limit: int, excluded: Sequence[str]
    ) -> list[Claimed]:
        """PostgreSQL's claim of due jobs when this owner holds none: one statement (it locks,
        skipping locked rows, and updates the rows it returns), by itself in autocommit mode
        or in the bounded transaction (see :meth:`_claims_in_autocommit`)."""
        parameters = {
            "now": now,
            "lease_end": lease_end,
            "owner": self.owner,
            "limit": limit,
            "excluded": list(excluded),
        }
        sql = self._sql()["claim"]

        def claim(connection: Connection) -> list[Claimed]:
            rows = connection.exec_driver_sql(sql, parameters).all()
            return sorted(((row[0], row[1], row[2]) for row in rows), key=_claim_order)

        single = self._claims_in_autocommit()
        return self._transaction(claim, write=True, claim=True, single_statement=single)

    def _release_postgresql(self, entries: Sequence[Released], removed: Sequence[str]) -> set[str]:
        """PostgreSQL's release: one statement that writes the entries this owner still holds
        (all of them at once, from arrays) and deletes the removed jobs it still holds,
        returning the ids it wrote; the other ids are lost. By itself in autocommit mode, or
        in the bounded transaction (see :meth:`_claims_in_autocommit`)."""
        ids = [job_id for job_id, _, _ in entries]
        parameters = {
            "ids": ids,
            "times": [timestamp for _, _, timestamp in entries],
            "states": [data for _, data, _ in entries],
            "removed": list(removed),
            "owner": self.owner,
        }
        sql = self._sql()["release"]

        def release(connection: Connection) -> set[str]:
            written = set(connection.exec_driver_sql(sql, parameters).scalars())
            return {job_id for job_id in (*ids, *removed) if job_id not in written}

        single = self._claims_in_autocommit()
        return self._transaction(release, write=True, claim=True, single_statement=single)

    def _sql(self) -> dict[str, str]:
        """The statements written once (see :mod:`greensched.jobstores._sql_written`)."""
        if self._written is None:
            notify = self.notify and self._channel is not None
            self._written = written_statements(self._quoted_table(), notify=notify)
        return self._written

    def _quoted_table(self) -> str:
        """The job table's name as the engine's SQL writes it (quoted where it must be)."""
        return self.engine.dialect.identifier_preparer.format_table(self.jobs_t)

    def _release(self, entries: Sequence[Released], removed: Sequence[str]) -> set[str]:
        if self._postgresql:
            return self._release_postgresql(entries, removed)
        if self._written_sql:  # MariaDB / MySQL (PyMySQL)
            try:
                return self._transaction(
                    partial(self._release_held, entries, removed), write=True, claim=True
                )
            except _ClaimsLost:
                # rolled back: released again with the rows locked first, to tell which
                self._logger.debug("Some claims were lost; releasing again, locking the rows")
        return self._transaction(
            partial(self._release_locked, entries, removed), write=True, claim=True
        )

    def _release_held(
        self, entries: Sequence[Released], removed: Sequence[str], connection: Connection
    ) -> set[str]:
        """MariaDB / MySQL's release when this owner still holds every claim, the usual case:
        the joined ``UPDATE`` and the ``DELETE`` change only the rows it holds, and their row
        counts tell whether those were all of them. A round trip fewer than locking the rows
        first (:meth:`_release_locked`).

        :raises _ClaimsLost: if a claim was lost (the caller rolls the transaction back)
        """
        table = self.jobs_t
        quoted = self._quoted_table()
        for some in _chunks(entries):
            written = connection.exec_driver_sql(*joined_update(quoted, some, self.owner))
            if written.rowcount != len(some):
                raise _ClaimsLost
        for chunk in _chunks(removed):
            deleted = connection.execute(
                table.delete().where(table.c.id.in_(chunk), table.c[_CLAIM_COLUMN] == self.owner)
            )
            if deleted.rowcount != len(chunk):
                raise _ClaimsLost
        return set()

    def _release_locked(
        self, entries: Sequence[Released], removed: Sequence[str], connection: Connection
    ) -> set[str]:
        """The release that locks the rows this owner holds first, then writes those (SQLite,
        and MariaDB / MySQL once a claim was found lost); returns the ids of the others."""
        table = self.jobs_t
        wanted = [job_id for job_id, _, _ in entries] + list(removed)
        held = self._lock_held(connection, wanted)
        if self._written_sql:  # MariaDB / MySQL (PyMySQL)
            quoted = self._quoted_table()
            rows = [entry for entry in entries if entry[0] in held]
            for some in _chunks(rows):
                connection.exec_driver_sql(*joined_update(quoted, some, self.owner))
            writes = []
        else:
            writes = [
                {"b_id": job_id, "b_next_run_time": timestamp, "b_state": data}
                for job_id, data, timestamp in entries
                if job_id in held
            ]
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
        deletes = [job_id for job_id in removed if job_id in held]
        for chunk in _chunks(deletes):
            connection.execute(table.delete().where(table.c.id.in_(chunk)))
        return {job_id for job_id in wanted if job_id not in held}

    def _give_back(self, jobs: Sequence[tuple[str, float]]) -> None:
        table = self.jobs_t

        def give_back(connection: Connection) -> None:
            held = self._lock_held(connection, [job_id for job_id, _ in jobs])
            rows = [
                {"b_id": job_id, "b_next_run_time": timestamp}
                for job_id, timestamp in jobs
                if job_id in held
            ]
            if rows:
                connection.execute(
                    table.update()
                    .where(table.c.id == bindparam("b_id"))
                    .values(next_run_time=bindparam("b_next_run_time"), claimed_by=None),
                    rows,
                )

        self._transaction(give_back, write=True, claim=True)

    def _lock_held(self, connection: Connection, ids: Sequence[str]) -> set[str]:
        """Lock the rows of ``ids`` that this owner holds a claim on; return their ids."""
        table = self.jobs_t
        held: set[str] = set()
        for chunk in _chunks(ids):
            held.update(
                connection.scalars(
                    select(table.c.id)
                    .where(table.c.id.in_(chunk), table.c[_CLAIM_COLUMN] == self.owner)
                    .with_for_update()
                )
            )
        return held
