"""The run history of :class:`~greensched.jobstores.sqlalchemy.SQLAlchemyJobStore`:
:class:`SQLRunLog`, two tables next to the job table, written through the store's engine and
transactions."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime, timedelta, timezone
from itertools import islice
from typing import TYPE_CHECKING, Any, Callable

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    Table,
    Unicode,
    UnicodeText,
    inspect,
    select,
)
from sqlalchemy.exc import DBAPIError

from greensched._logging import one_line
from greensched.history._log import DEFAULT_LIMIT, RunLog
from greensched.history._records import OUTCOME_ERROR, OUTCOME_RUNNING, ProcessInfo, RunRecord
from greensched.history._sql_writes import (
    RecordWriter,
    newest_first,
    record_values,
    record_writer,
    upsert,
)
from greensched.jobstores._sql_table import ID_LENGTH, _chunks, table_label
from greensched.util import datetime_to_utc_timestamp, utc_timestamp_to_datetime

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Row

    from greensched.jobstores._sql_table import SQLTable

__all__ = ("TRIM_BACKLOG", "SQLRunLog", "processes_table", "runs_table")

#: the longest run id, owner token or outcome name the tables hold (191 characters: the
#: longest key MySQL indexes in a utf8mb4 InnoDB table)
_KEY_LENGTH = 191
#: How many times :meth:`SQLRunLog.open` tries, when other processes create the tables too
_CREATE_ATTEMPTS = 5
#: the longest index name PostgreSQL keeps (MySQL: 64)
_NAME_LENGTH = 63
_TIME_COLUMNS = ("scheduled", "started", "ended")
#: The most jobs a :class:`SQLRunLog` counts the untrimmed records of: past it, it trims those
#: it has counted longest
TRIM_BACKLOG = 100_000


def _index_name(table: str, suffix: str) -> str:
    """An index name unique to ``table``, cut (with a digest of the whole) to fit every
    database."""
    name = f"ix_{table}_{suffix}"
    if len(name) <= _NAME_LENGTH:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return f"{name[: _NAME_LENGTH - 9]}_{digest}"


def runs_table(name: str, metadata: MetaData, schema: str | None) -> Table:
    """Return the table of run records: a column per :attr:`RunRecord.FIELDS` (times as UTC
    POSIX floats, as the job table's ``next_run_time``), ``sort_time`` (what the history
    orders by), and the indexes its queries use."""
    return Table(
        name,
        metadata,
        Column("run_id", Unicode(_KEY_LENGTH), primary_key=True),
        Column("job_id", Unicode(ID_LENGTH), nullable=False),
        Column("job_name", UnicodeText),
        Column("scheduled", Float(25)),
        Column("started", Float(25)),
        Column("ended", Float(25)),
        Column("sort_time", Float(25), nullable=False),
        Column("outcome", Unicode(16), nullable=False),
        Column("lateness", Float(25)),
        Column("duration", Float(25)),
        Column("exc_type", UnicodeText),
        Column("exc_message", UnicodeText),
        Column("traceback", UnicodeText),
        Column("retval", UnicodeText),
        Column("host", Unicode(255), nullable=False),
        Column("pid", Integer, nullable=False),
        Column("owner", Unicode(_KEY_LENGTH), nullable=False),
        Index(_index_name(name, "job"), "job_id", "sort_time"),
        Index(_index_name(name, "time"), "sort_time"),
        Index(_index_name(name, "outcome"), "outcome", "sort_time"),
        schema=schema,
        mysql_charset="utf8mb4",
    )


def processes_table(name: str, metadata: MetaData, schema: str | None) -> Table:
    """Return the table of heartbeats: a row per :class:`ProcessInfo`, by owner."""
    return Table(
        name,
        metadata,
        Column("owner", Unicode(_KEY_LENGTH), primary_key=True),
        Column("host", Unicode(255), nullable=False),
        Column("pid", Integer, nullable=False),
        Column("started", Float(25), nullable=False),
        Column("heartbeat", Float(25), nullable=False, index=True),
        Column("runs", BigInteger, nullable=False),
        Column("claims_lost", BigInteger, nullable=False),
        schema=schema,
        mysql_charset="utf8mb4",
    )


def _row_record(row: Row[Any]) -> RunRecord:
    values = {name: getattr(row, name) for name in RunRecord.FIELDS}
    for name in _TIME_COLUMNS:
        values[name] = utc_timestamp_to_datetime(values[name])
    return RunRecord(
        values.pop("run_id"),
        values.pop("job_id"),
        values.pop("job_name"),
        values.pop("scheduled"),
        values.pop("outcome"),
        **values,
    )


class SQLRunLog(RunLog):
    """Run history in two tables next to a SQL job store's job table (``tablename``):

    - ``<tablename>_runs``: a row per run (primary key ``run_id``), indexed by job and time,
      by time, and by outcome and time (which also finds the running records of
      :meth:`close_running`: a few among all);
    - ``<tablename>_processes``: a row per process sharing the store (its last heartbeat).

    They are created (if missing) when the store starts and by its
    :meth:`~greensched.jobstores.sqlalchemy.SQLAlchemyJobStore.upgrade`. Each method is one
    transaction of the store (its engine and connection pool, its retries after lock
    conflicts and dropped connections).

    :meth:`write` inserts or replaces the records: PostgreSQL through psycopg 3 and MariaDB /
    MySQL through PyMySQL with statements of their own (see
    :mod:`greensched.history._sql_writes`), other engines and drivers through SQLAlchemy
    (SQLite ``ON CONFLICT``, elsewhere a delete and an insert). Trimming a job to its newest
    ``limit`` records costs a scan of them, so a process trims a job after every tenth of
    ``limit`` records it writes for it (every record below a limit of 20), in a transaction of
    its own, and, once it counts the records of :data:`TRIM_BACKLOG` jobs, trims those it has
    counted longest. Between two trims a job may hold up to that tenth more per process
    writing to the store, which reads of a job's newest records (:meth:`read` with
    ``job_id``, :meth:`read_jobs`) leave out. Removing a job from the store leaves its
    records.

    :param store: the job store whose job table the tables go next to
    """

    def __init__(
        self, store: SQLTable, *, limit: int = DEFAULT_LIMIT, max_age: float | None = None
    ) -> None:
        super().__init__(limit=limit, max_age=max_age)
        self._store = store
        jobs = store.jobs_t
        #: the table of run records
        self.runs_t = runs_table(f"{jobs.name}_runs", jobs.metadata, jobs.schema)
        #: the table of heartbeats
        self.processes_t = processes_table(f"{jobs.name}_processes", jobs.metadata, jobs.schema)
        #: whether the tables are known to exist (opened, or found)
        self._exist = False
        #: how records are written with the engine's driver (found by the first write)
        self._writer: RecordWriter | None = None
        #: the records written for each job since this log last trimmed it
        self._untrimmed: dict[str, int] = {}
        #: the jobs whose trim failed, trimmed with the next write
        self._retrim: set[str] = set()

    def _run(self, work: Callable[[Connection], Any], *, write: bool = True) -> Any:
        return self._store._transaction(work, write=write)

    def _rows(self, statement: Any) -> list[Row[Any]]:
        """The rows a ``SELECT`` returns (a read transaction of the store)."""
        rows: list[Row[Any]] = self._run(
            lambda connection: connection.execute(statement).all(), write=False
        )
        return rows

    def open(self) -> None:
        """Create the tables that are missing (another process may create them at the same
        time); log at ``INFO`` those it created."""

        def create(connection: Connection) -> list[str]:
            created = []
            inspector = inspect(connection)
            for table in (self.runs_t, self.processes_t):
                if inspector.has_table(table.name, schema=table.schema):
                    continue
                if table is self.runs_t:
                    id_type = self._store._exact_id_type(connection)
                    if id_type is not None:
                        table.c.job_id.type = id_type
                table.create(connection)
                created.append(table_label(table))
            return created

        for attempt in range(1, _CREATE_ATTEMPTS + 1):
            try:
                created = self._run(create)
            except DBAPIError:
                # Another process may be creating them at the same time ("already exists"):
                # look again, skipping what it has made by now
                if not self._run(self._missing, write=False):
                    self._exist = True
                    return  # all there, made by the other process
                if attempt == _CREATE_ATTEMPTS:
                    raise
                continue
            break
        self._exist = True
        if created:
            self._store._logger.info(
                "Created run history %s %s",
                "table" if len(created) == 1 else "tables",
                " and ".join(created),
            )

    def _readable(self) -> bool:
        """Whether the tables exist: a store not started yet (a scheduler that has not
        started, a dashboard mounted before it) has none to read before its first start
        creates them, and reads nothing rather than failing on the missing table."""
        if not self._exist:
            self._exist = not self._run(self._missing, write=False)
        return self._exist

    def _missing(self, connection: Connection) -> bool:
        inspector = inspect(connection)
        return not all(
            inspector.has_table(table.name, schema=table.schema)
            for table in (self.runs_t, self.processes_t)
        )

    def write(self, records: Sequence[RunRecord]) -> None:
        if not records:
            return
        # a run written twice in one batch (running, then ended) is written as it is now
        latest = {record.run_id: record for record in records}
        rows = [record_values(record) for record in latest.values()]
        trimmed = self._due_trims(row[1] for row in rows)

        self._run(lambda connection: self._writer_for(connection).upsert(connection, rows))
        if not trimmed:
            return
        # in a transaction of its own: a trim that fails (a lock conflict that outlasted the
        # retries) leaves the records written and the jobs to trim with the next write
        try:
            self._run(
                lambda connection: self._writer_for(connection).trim(
                    connection, trimmed, self.limit
                )
            )
        except DBAPIError as exc:
            self._retrim.update(trimmed)
            self._store._logger.info(
                "Could not trim the run history of %d job(s) (tried again with the next "
                "write): %s",
                len(trimmed),
                one_line(exc),
            )
            return
        for job_id in trimmed:
            self._untrimmed.pop(job_id, None)

    def _due_trims(self, job_ids: Iterable[str]) -> list[str]:
        """Count the records about to be written for each job; return the jobs to trim after
        them (sorted: every process locks their rows in the same order): those whose last trim
        failed, those this log has written a tenth of the limit for since it last trimmed
        them, and, past :data:`TRIM_BACKLOG` jobs counted, those counted longest (what it
        counts stays bounded)."""
        untrimmed = self._untrimmed
        step = max(1, self.limit // 10)
        due, self._retrim = self._retrim, set()
        for job_id in job_ids:
            written = untrimmed.get(job_id, 0) + 1
            untrimmed[job_id] = written
            if written >= step:
                due.add(job_id)
        excess = len(untrimmed) - TRIM_BACKLOG
        if excess > 0:
            due.update(islice(untrimmed, excess))
        return sorted(due)

    def _writer_for(self, connection: Connection) -> RecordWriter:
        if self._writer is None:
            self._writer = record_writer(connection, self.runs_t)
        return self._writer

    def read(
        self,
        job_id: str | None = None,
        *,
        outcome: str | Collection[str] | None = None,
        limit: int = DEFAULT_LIMIT,
        before: datetime | None = None,
    ) -> list[RunRecord]:
        if job_id is not None:
            # (rows written since the job's last trim: past its newest limit)
            limit = min(limit, self.limit)
        if limit <= 0 or (job_id is not None and not self._store._fits(job_id)):
            return []
        if not self._readable():
            return []
        table = self.runs_t
        where = []
        if job_id is not None:
            where.append(table.c.job_id == job_id)
        if outcome is not None:
            outcomes = [outcome] if isinstance(outcome, str) else sorted(outcome)
            where.append(table.c.outcome.in_(outcomes))
        if before is not None:
            where.append(table.c.sort_time < before.timestamp())
        statement = (
            select(table)
            .where(*where)
            .order_by(table.c.sort_time.desc(), table.c.run_id.desc())
            .limit(limit)
        )
        rows = self._rows(statement)
        return [_row_record(row) for row in rows]

    def read_jobs(
        self, job_ids: Collection[str], *, limit: int = DEFAULT_LIMIT
    ) -> dict[str, list[RunRecord]]:
        """One query for every job (in chunks of ids): each job's rows numbered newest first
        by a window function, those numbered up to ``limit`` kept."""
        found: dict[str, list[RunRecord]] = {job_id: [] for job_id in job_ids}
        ids = [job_id for job_id in found if self._store._fits(job_id)]
        limit = min(limit, self.limit)  # (rows written since a job's last trim: past it)
        if limit <= 0 or not ids or not self._readable():
            return found
        table = self.runs_t
        rank = newest_first(table).label("newest")
        for chunk in _chunks(ids):
            ranked = select(table, rank).where(table.c.job_id.in_(chunk)).subquery()
            statement = (
                select(ranked)
                .where(ranked.c.newest <= limit)
                .order_by(ranked.c.job_id, ranked.c.newest)
            )
            rows = self._rows(statement)
            for row in rows:
                found[row.job_id].append(_row_record(row))
        return found

    def close_running(
        self, owners: Collection[str], ended: datetime, exc_type: str, message: str
    ) -> int:
        table = self.runs_t
        values = {
            "outcome": OUTCOME_ERROR,
            "ended": datetime_to_utc_timestamp(ended),
            "exc_type": exc_type,
            "exc_message": message,
        }

        def close(connection: Connection) -> int:
            closed = 0
            for chunk in _chunks(sorted(owners)):
                closed += connection.execute(
                    table.update()
                    .where(table.c.owner.in_(chunk), table.c.outcome == OUTCOME_RUNNING)
                    .values(**values)
                ).rowcount
            return closed

        return int(self._run(close)) if owners else 0

    def prune(self, now: datetime) -> int:
        if self.max_age is None:
            return 0
        oldest = (now - timedelta(seconds=self.max_age)).timestamp()
        runs, processes = self.runs_t, self.processes_t

        def prune(connection: Connection) -> int:
            connection.execute(processes.delete().where(processes.c.heartbeat < oldest))
            return connection.execute(runs.delete().where(runs.c.sort_time < oldest)).rowcount

        return int(self._run(prune))

    def heartbeat(self, process: ProcessInfo) -> None:
        row = {name: getattr(process, name) for name in ProcessInfo.FIELDS}
        row["started"] = process.started.timestamp()
        row["heartbeat"] = process.heartbeat.timestamp()
        self._run(lambda connection: upsert(connection, self.processes_t, [row]))

    def processes(self) -> list[ProcessInfo]:
        if not self._readable():
            return []
        table = self.processes_t
        statement = select(table).order_by(table.c.heartbeat.desc(), table.c.owner)
        rows = self._rows(statement)
        return [
            ProcessInfo(
                row.owner,
                row.host,
                row.pid,
                datetime.fromtimestamp(row.started, timezone.utc),
                datetime.fromtimestamp(row.heartbeat, timezone.utc),
                row.runs,
                row.claims_lost,
            )
            for row in rows
        ]

    def clear(self) -> None:
        def clear(connection: Connection) -> None:
            connection.execute(self.runs_t.delete())
            connection.execute(self.processes_t.delete())

        self._run(clear)
