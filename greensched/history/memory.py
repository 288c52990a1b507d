"""The run history kept in the process's memory: :class:`MemoryRunLog`, the history of the
memory job store and of any job store that has no history of its own."""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime, timedelta
from heapq import merge
from itertools import islice
from typing import Any

from greensched.history._log import DEFAULT_LIMIT, RunLog
from greensched.history._records import (
    OUTCOME_ERROR,
    OUTCOME_RUNNING,
    ProcessInfo,
    RunRecord,
)

__all__ = ("MemoryRunLog",)

#: Who wrote a run, shared by its runs' rows: ``(host, pid, owner, prefix)``, ``prefix`` the
#: start of the run ids of the runs begun through :meth:`MemoryRunLog._journal` (their rows
#: keep the number that follows), else ``None``
Writer = tuple[str, int, str, "str | None"]
#: A run begun and not finished (:meth:`MemoryRunLog.begin`), as kept by its key (its run id,
#: or its number: see :data:`Writer`): ``(job_id, job_name, scheduled, started, writer)``
Begun = tuple[Any, ...]
#: A finished run as the memory log keeps it: ``(key, job_id, job_name, scheduled, started,
#: writer, outcome, duration, retval, exc_type, exc_message, traceback, ended, lateness)``
#: (``ended`` and ``lateness`` ``None``: worked out when read). One flat tuple of strings,
#: numbers, times and the shared writer: it holds no reference the garbage collector must
#: follow, so the collector stops tracking it, and a history of millions of runs costs the
#: collector nothing (records would be visited at each full collection), and about half the
#: memory of the records.
Row = tuple[Any, ...]
#: A job's finished runs, oldest first (the newest ``limit``): a tuple of :data:`Row`, replaced
#: by a new one at each run (copying at most ``limit`` references, about 0.4 us at 100). A
#: tuple of untracked rows is untracked too, so a job's history is no container the garbage
#: collector visits or promotes: a ring made or grown by each job's runs (a deque) would be
#: one object per job surviving into the oldest generation, and enough of them start a full
#: collection, which walks every job (tens of milliseconds with 50,000 jobs) while the hub
#: waits.
Ring = tuple[Row, ...]

#: How many of the newest rows :class:`MemoryRunLog` holds beside their rings (see its
#: ``_young_rows``): more than the runs that end between two young collections
YOUNG_ROWS = 4096

#: How many dicts :class:`MemoryRunLog` keeps its jobs' rings in, by the hash of the job id
#: (a power of two). A dict grows by copying itself whole, while the hub waits: one of a
#: million jobs' rings took 24-45 ms to grow, in a burst of a million date jobs; a shard of
#: it takes a 256th of that.
RING_SHARDS = 256
_SHARD_MASK = RING_SHARDS - 1


def _run_id(key: Any, writer: Writer) -> str:
    """The run id of the run kept by ``key`` (its run id, or its number) and ``writer``."""
    if key.__class__ is str:
        return key
    return writer[3] + str(key)  # type: ignore[operator]


def _running_record(key: Any, begun: Begun) -> RunRecord:
    job_id, job_name, scheduled, started, writer = begun
    host, pid, owner, _ = writer
    return RunRecord.running(
        _run_id(key, writer), job_id, job_name, scheduled, started, host, pid, owner
    )


def _record(row: Row) -> RunRecord:
    (key, job_id, job_name, scheduled, started, writer, outcome, duration, retval, exc_type,
     exc_message, traceback, ended, late) = row  # fmt: skip
    host, pid, owner, _ = writer
    return RunRecord(
        _run_id(key, writer),
        job_id,
        job_name,
        scheduled,
        outcome,
        started=started,
        ended=ended,
        lateness=late,
        duration=duration,
        exc_type=exc_type,
        exc_message=exc_message,
        traceback=traceback,
        retval=retval,
        host=host,
        pid=pid,
        owner=owner,
    )


def _sort_time(row: Row) -> datetime:
    started: datetime | None = row[4]
    return started if started is not None else row[3]


def _newest_first(record: RunRecord) -> tuple[datetime, str]:
    return record.sort_time, record.run_id


class MemoryRunLog(RunLog):
    """Run history in memory: a bounded ring of finished runs per job (the newest ``limit``),
    and the runs that are running.

    A running record is kept as the object written: the recorder closes it in place and
    appends it again when its run ends, and it then joins its job's ring (as a plain tuple,
    see :data:`Row`). The records of a removed job stay until they age out (with a
    ``max_age``) or are pushed out by that job's newer runs; nothing survives the process.
    """

    local = True

    def __init__(self, *, limit: int = DEFAULT_LIMIT, max_age: float | None = None) -> None:
        #: each job's ring, in the dict of its shard (see :data:`RING_SHARDS`)
        self._rings: list[dict[str, Ring]] = [{} for _ in range(RING_SHARDS)]
        #: the newest rows, each also held here until the garbage collector has seen it: a
        #: young tuple held only by another young one (its ring) is examined after it, and the
        #: ring then stays tracked (and, one time in ten, is promoted to the oldest generation,
        #: whose full collections walk every job); held from an older object, the row is
        #: examined, and untracked, first
        self._young_rows = deque[Row](maxlen=YOUNG_ROWS).append
        #: the running records appended (by run_id)
        self._running: dict[str, RunRecord] = {}
        #: the runs begun and not finished (begin, or the recorder through _journal), by key:
        #: see :data:`Begun`
        self._begun: dict[Any, Begun] = {}
        #: the writers of the rows, each kept once (by itself); and those of _journal by prefix
        self._writers: dict[Writer, Writer] = {}
        self._prefixes: dict[str, Writer] = {}
        self._processes: dict[str, ProcessInfo] = {}
        super().__init__(limit=limit, max_age=max_age)

    def configure(self, *, limit: int, max_age: float | None) -> None:
        super().configure(limit=limit, max_age=max_age)
        limit = self.limit
        for rings in self._rings:
            for job_id, ring in list(rings.items()):
                if len(ring) > limit:
                    rings[job_id] = ring[-limit:]

    def _writer(self, host: str, pid: int, owner: str, prefix: str | None = None) -> Writer:
        writer = (host, pid, owner, prefix)
        return self._writers.setdefault(writer, writer)

    def _journal(
        self, host: str, pid: int, owner: str, prefix: str
    ) -> tuple[dict[Any, Begun], Writer]:
        writer = self._prefixes[prefix] = self._writer(host, pid, owner, prefix)
        return self._begun, writer

    def _row(self, record: RunRecord) -> Row:
        """``record`` as a :data:`Row` (keyed by its run id)."""
        return (
            record.run_id,
            record.job_id,
            record.job_name,
            record.scheduled,
            record.started,
            self._writer(record.host, record.pid, record.owner),
            record.outcome,
            record.duration,
            record.retval,
            record.exc_type,
            record.exc_message,
            record.traceback,
            record._ended,
            record._lateness,
        )

    def _begun_key(self, run_id: str) -> Any:
        """The key of the run ``run_id`` among the runs begun (``None``: not begun)."""
        begun = self._begun
        if run_id in begun:
            return run_id
        for prefix, writer in self._prefixes.items():
            if run_id.startswith(prefix):
                digits = run_id[len(prefix) :]
                if digits.isdigit():
                    number = int(digits)
                    found = begun.get(number)
                    if found is not None and found[4] is writer:
                        return number
        return None

    def append(self, record: RunRecord) -> None:
        if record.outcome == OUTCOME_RUNNING:
            self._running[record.run_id] = record
            return
        self._running.pop(record.run_id, None)
        self._begun.pop(record.run_id, None)  # (a run begun here by its run id)
        self._push(record.job_id, self._row(record))

    def _push(self, job_id: str, row: Row) -> None:
        """Add ``row`` to its job's ring (a full ring drops its oldest)."""
        self._young_rows(row)
        rings = self._rings[hash(job_id) & _SHARD_MASK]
        ring = rings.get(job_id)
        if ring is None:
            rings[job_id] = (row,)
        elif len(ring) < self.limit:
            rings[job_id] = (*ring, row)
        else:
            rings[job_id] = (*ring[len(ring) + 1 - self.limit :], row)

    def begin(
        self,
        run_id: str,
        job_id: str,
        job_name: str | None,
        scheduled: datetime,
        started: datetime,
        host: str,
        pid: int,
        owner: str,
    ) -> str:
        self._begun[run_id] = (
            job_id,
            job_name,
            scheduled,
            started,
            self._writer(host, pid, owner),
        )
        return run_id

    def finish(
        self,
        token: Any,
        outcome: str,
        duration: float,
        retval: str | None = None,
        exc_type: str | None = None,
        exc_message: str | None = None,
        traceback: str | None = None,
    ) -> None:
        begun = self._begun.pop(token, None)
        if begun is None:
            return  # closed meanwhile (close_running)
        job_id, job_name, scheduled, started, writer = begun
        self._push(
            job_id,
            (token, job_id, job_name, scheduled, started, writer, outcome, duration, retval,
             exc_type, exc_message, traceback, None, None),
        )  # fmt: skip

    def _begun_records(self, job_id: str | None) -> list[RunRecord]:
        """The runs begun and not finished (of ``job_id``, else of every job), as records."""
        return [
            _running_record(key, begun)
            for key, begun in list(self._begun.items())
            if job_id is None or begun[0] == job_id
        ]

    def write(self, records: Sequence[RunRecord]) -> None:
        for record in records:
            if self._begun and record.outcome != OUTCOME_RUNNING:
                key = self._begun_key(record.run_id)  # (a run begun here, finished elsewhere)
                if key is not None:
                    del self._begun[key]
            if not self._replaced(record):
                self.append(record)

    def _replaced(self, record: RunRecord) -> bool:
        """Put ``record`` in the place of the finished run written before with its run_id (a
        running record takes it out of the ring); ``False`` if there is none."""
        rings = self._rings[hash(record.job_id) & _SHARD_MASK]
        ring = rings.get(record.job_id)
        if ring is None:
            return False
        run_id = record.run_id
        for position, row in enumerate(ring):
            if _run_id(row[0], row[5]) == run_id:
                running = record.outcome == OUTCOME_RUNNING
                replacement = () if running else (self._row(record),)
                kept = ring[:position] + replacement + ring[position + 1 :]
                if kept:
                    rings[record.job_id] = kept
                else:
                    del rings[record.job_id]
                return not running  # (a running one is kept as running)
        return False

    def _records(self, job_id: str | None) -> Iterable[RunRecord]:
        """The records of ``job_id`` (``None``: of every job), newest first."""
        if job_id is None:
            rings = [ring for shard in self._rings for ring in shard.values()]
            running = list(self._running.values())
        else:
            ring = self._rings[hash(job_id) & _SHARD_MASK].get(job_id)
            rings = [] if ring is None else [ring]
            running = [record for record in self._running.values() if record.job_id == job_id]
        running += self._begun_records(job_id)
        # each ring is in write order, nearly newest last: sort each, then merge them
        streams = [sorted(map(_record, ring), key=_newest_first, reverse=True) for ring in rings]
        streams.append(sorted(running, key=_newest_first, reverse=True))
        return merge(*streams, key=_newest_first, reverse=True)

    def read(
        self,
        job_id: str | None = None,
        *,
        outcome: str | Collection[str] | None = None,
        limit: int = DEFAULT_LIMIT,
        before: datetime | None = None,
    ) -> list[RunRecord]:
        outcomes = {outcome} if isinstance(outcome, str) else outcome
        found = (
            record
            for record in self._records(job_id)
            if (outcomes is None or record.outcome in outcomes)
            and (before is None or record.sort_time < before)
        )
        return list(islice(found, limit))

    def close_running(
        self, owners: Collection[str], ended: datetime, exc_type: str, message: str
    ) -> int:
        closed = [record for record in self._running.values() if record.owner in owners]
        for key, begun in list(self._begun.items()):
            if begun[4][2] in owners:
                del self._begun[key]
                closed.append(_running_record(key, begun))
        for record in closed:
            record.outcome = OUTCOME_ERROR
            record.ended = ended
            record.exc_type = exc_type
            record.exc_message = message
            self.append(record)
        return len(closed)

    def prune(self, now: datetime) -> int:
        if self.max_age is None:
            return 0
        oldest = now - timedelta(seconds=self.max_age)
        dropped = 0
        for rings in self._rings:
            for job_id, ring in list(rings.items()):
                kept = tuple(row for row in ring if _sort_time(row) >= oldest)
                if len(kept) == len(ring):
                    continue
                dropped += len(ring) - len(kept)
                if kept:
                    rings[job_id] = kept
                else:
                    del rings[job_id]
        for owner, process in list(self._processes.items()):
            if process.heartbeat < oldest:
                del self._processes[owner]
        return dropped

    def heartbeat(self, process: ProcessInfo) -> None:
        self._processes[process.owner] = process

    def processes(self) -> list[ProcessInfo]:
        return sorted(self._processes.values(), key=lambda p: p.heartbeat, reverse=True)

    def clear(self) -> None:
        for rings in self._rings:
            rings.clear()
        self._running.clear()
        self._begun.clear()
        self._processes.clear()
        self._writers = {writer: writer for writer in self._prefixes.values()}
