"""The run history kept in the process's memory: :class:`MemoryRunLog`, the history of the
memory job store and of any job store that has no history of its own."""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from heapq import merge
from itertools import islice

from greensched.history._log import DEFAULT_LIMIT, RunLog
from greensched.history._records import (
    OUTCOME_ERROR,
    OUTCOME_RUNNING,
    ProcessInfo,
    RunRecord,
)

__all__ = ("MemoryRunLog",)


def _newest_first(record: RunRecord) -> tuple[datetime, str]:
    return record.sort_time, record.run_id


class MemoryRunLog(RunLog):
    """Run history in memory: a bounded ring of records per job (the newest ``limit``).

    A record is kept as the object written, so a running record that is written again when it
    ends is updated in place. The records of a removed job stay until they age out (with a
    ``max_age``) or are pushed out by that job's newer runs; nothing survives the process.

    :meth:`append` (a new record: the scheduler's path) only adds to its job's ring; the index
    by ``run_id`` that :meth:`write` needs is made again when a write comes after appends.
    """

    local = True

    def __init__(self, *, limit: int = DEFAULT_LIMIT, max_age: float | None = None) -> None:
        self._rings: dict[str, deque[RunRecord]] = {}
        #: the records by run_id (None: to be made again, by _index())
        self._by_run_id: dict[str, RunRecord] | None = {}
        self._processes: dict[str, ProcessInfo] = {}
        super().__init__(limit=limit, max_age=max_age)

    def configure(self, *, limit: int, max_age: float | None) -> None:
        super().configure(limit=limit, max_age=max_age)
        for job_id, ring in list(self._rings.items()):
            if ring.maxlen != self.limit:
                self._rings[job_id] = deque(ring, maxlen=self.limit)
        self._by_run_id = None

    def _index(self) -> dict[str, RunRecord]:
        index = self._by_run_id
        if index is None:
            index = self._by_run_id = {
                record.run_id: record for ring in self._rings.values() for record in ring
            }
        return index

    def append(self, record: RunRecord) -> None:
        ring = self._rings.get(record.job_id)
        if ring is None:
            ring = self._rings[record.job_id] = deque(maxlen=self.limit)
        ring.append(record)  # a full ring drops its oldest
        self._by_run_id = None

    def write(self, records: Sequence[RunRecord]) -> None:
        index = self._index()
        for record in records:
            known = index.get(record.run_id)
            if known is record:
                continue  # a running record ended: updated in place
            if known is not None:
                for name in RunRecord.FIELDS:
                    setattr(known, name, getattr(record, name))
                continue
            ring = self._rings.get(record.job_id)
            if ring is None:
                ring = self._rings[record.job_id] = deque(maxlen=self.limit)
            if len(ring) == ring.maxlen:
                index.pop(ring[0].run_id, None)
            ring.append(record)
            index[record.run_id] = record

    def read(
        self,
        job_id: str | None = None,
        *,
        outcome: str | Collection[str] | None = None,
        limit: int = DEFAULT_LIMIT,
        before: datetime | None = None,
    ) -> list[RunRecord]:
        if job_id is None:
            rings: list[deque[RunRecord]] = list(self._rings.values())
        else:
            ring = self._rings.get(job_id)
            rings = [] if ring is None else [ring]
        outcomes = {outcome} if isinstance(outcome, str) else outcome
        # each ring is in write order, nearly newest last: sort each, then merge them
        streams = [sorted(ring, key=_newest_first, reverse=True) for ring in rings]
        found = (
            record
            for record in merge(*streams, key=_newest_first, reverse=True)
            if (outcomes is None or record.outcome in outcomes)
            and (before is None or record.sort_time < before)
        )
        return list(islice(found, limit))

    def close_running(
        self, owners: Collection[str], ended: datetime, exc_type: str, message: str
    ) -> int:
        closed = 0
        for ring in self._rings.values():
            for record in ring:
                if record.outcome != OUTCOME_RUNNING or record.owner not in owners:
                    continue
                record.outcome = OUTCOME_ERROR
                record.ended = ended
                record.exc_type = exc_type
                record.exc_message = message
                closed += 1
        return closed

    def prune(self, now: datetime) -> int:
        if self.max_age is None:
            return 0
        oldest = now - timedelta(seconds=self.max_age)
        dropped = 0
        for job_id, ring in list(self._rings.items()):
            kept = [record for record in ring if record.sort_time >= oldest]
            if len(kept) == len(ring):
                continue
            dropped += len(ring) - len(kept)
            if kept:
                self._rings[job_id] = deque(kept, maxlen=self.limit)
            else:
                del self._rings[job_id]
        if dropped:
            self._by_run_id = None
        for owner, process in list(self._processes.items()):
            if process.heartbeat < oldest:
                del self._processes[owner]
        return dropped

    def heartbeat(self, process: ProcessInfo) -> None:
        self._processes[process.owner] = process

    def processes(self) -> list[ProcessInfo]:
        return sorted(self._processes.values(), key=lambda p: p.heartbeat, reverse=True)

    def clear(self) -> None:
        self._rings.clear()
        self._by_run_id = {}
        self._processes.clear()
