"""A job store that keeps the jobs in memory, indexed by a heap (no persistence)."""

from __future__ import annotations

from datetime import datetime
from operator import attrgetter
from typing import TYPE_CHECKING

from greensched._heap import DeadlineHeap, Item
from greensched.jobstores.base import BaseJobStore, ConflictingIdError, JobLookupError

if TYPE_CHECKING:
    from greensched.job import Job

__all__ = ("MemoryJobStore",)

#: The most due jobs :meth:`MemoryJobStore.acquire_due_jobs` returns at once: the processing
#: loop handles a burst of due jobs in rounds of this many (a few milliseconds each), and other
#: greenlets run between two rounds.
ACQUIRE_LIMIT = 500


class MemoryJobStore(BaseJobStore):
    """Stores jobs in memory. Provides no persistence support: the store keeps the
    :class:`~greensched.job.Job` objects themselves, and they are lost when the process exits.

    Plugin alias: ``memory``

    Jobs with a next run time are in a heap ordered by that time, then by job id; paused jobs
    (no next run time) are kept apart. An index by job id sits next to both: it maps each job
    id to the job's heap item (a paused job's item is in no heap). With n jobs:

    * :meth:`add_job`, :meth:`update_job` and :meth:`remove_job` cost O(log n), amortized;
    * :meth:`lookup_job` costs O(1);
    * :meth:`get_next_run_time` costs O(1), amortized;
    * :meth:`get_due_jobs` costs O(k log k) for k due jobs, whatever n is;
    * :meth:`acquire_due_jobs` (the processing loop's) returns at most :data:`ACQUIRE_LIMIT`
      of them, for O(m log m) with m returned, however many more are due;
    * :meth:`get_all_jobs` costs O(n log n).

    Like every job store, it relies on the scheduler to serialize calls (the scheduler holds its
    jobstore lock around them); it takes no lock itself.

    Jobs with the same next run time come in job id order, and paused jobs last, by job id,
    as in APScheduler 3.x.

    .. note:: APScheduler 3.x keeps a sorted list, so each add, update or removal costs O(n).
    """

    acquire_limit = ACQUIRE_LIMIT

    def __init__(self) -> None:
        super().__init__()
        self._heap: DeadlineHeap[Job] = DeadlineHeap()  # ties: the job ids, which differ
        #: every job's item, by id: ``[timestamp of next_run_time, id, job]``, or
        #: ``[None, id, job]`` for a paused job (in no heap)
        self._entries: dict[str, Item] = {}
        self._paused: dict[str, Item] = {}  # the paused jobs' items, by id

    def shutdown(self) -> None:
        """Remove every job, like APScheduler 3.x's memory store does."""
        self.remove_all_jobs()

    def lookup_job(self, job_id: str) -> Job | None:
        """Return the job with the given id, or ``None`` if there is none.

        :param job_id: the identifier of the job
        """
        item = self._entries.get(job_id)
        return None if item is None else item[2]

    def get_due_jobs(self, now: datetime) -> list[Job]:
        """Return the jobs whose next run time is ``now`` or earlier, earliest first. The jobs
        stay in the store: the scheduler updates or removes each of them afterwards.

        :param now: the current time (an aware datetime)
        """
        return self._heap.due(now.timestamp())

    def acquire_due_jobs(self, now: datetime) -> list[Job]:
        """Return the earliest :data:`ACQUIRE_LIMIT` jobs due at ``now``, earliest first: the
        processing loop takes a burst of due jobs in rounds of that many, and between rounds
        the other greenlets get to run. The cost is that of the jobs returned, however many
        more are due.

        A subclass that overrides :meth:`get_due_jobs` decides which jobs are due: its answer
        is returned as it is, as :meth:`BaseJobStore.acquire_due_jobs` does.

        :param now: the current time (an aware datetime)

        .. versionadded:: greensched 0.1
        """
        if type(self).get_due_jobs is not MemoryJobStore.get_due_jobs:
            return self.get_due_jobs(now)
        return self._heap.due(now.timestamp(), ACQUIRE_LIMIT)

    def get_next_run_time(self) -> datetime | None:
        """Return the earliest next run time of the jobs in this store, or ``None`` if every
        job is paused or there are none."""
        job = self._heap.peek()
        return None if job is None else job.next_run_time

    def get_all_jobs(self) -> list[Job]:
        """Return every job, by next run time (ascending), paused jobs last."""
        jobs = self._heap.ordered()
        jobs.extend(sorted((item[2] for item in self._paused.values()), key=attrgetter("id")))
        return jobs

    def count_jobs(self) -> int:
        """Return how many jobs this store holds, paused ones included (O(1))."""
        return len(self._entries)

    def add_job(self, job: Job) -> None:
        """Add a job, scheduled at its ``next_run_time`` (paused if that is ``None``).

        :param job: the job to add
        :raises ConflictingIdError: if the store already has a job with the same id
        """
        job_id = job.id
        if job_id in self._entries:
            raise ConflictingIdError(job_id)
        next_run_time = job.next_run_time
        if next_run_time is None:
            self._entries[job_id] = self._paused[job_id] = [None, job_id, job]
        else:
            self._entries[job_id] = self._heap.push(job, next_run_time.timestamp(), job_id)

    def update_job(self, job: Job) -> None:
        """Replace the stored job that has the same id, and move it to its ``next_run_time``
        (pause it if that is ``None``).

        The job may be the stored object itself, already modified in place (that is what the
        scheduler does), or another object with the same id.

        :param job: the new version of the job
        :raises JobLookupError: if the store has no job with that id
        """
        job_id = job.id
        item = self._entries.get(job_id)
        if item is None:
            raise JobLookupError(job_id)
        next_run_time = job.next_run_time
        if next_run_time is None:
            if item[0] is None:  # paused already
                item[2] = job
            else:
                self._heap.cancel(item)
                self._entries[job_id] = self._paused[job_id] = [None, job_id, job]
            return
        when = next_run_time.timestamp()
        if item[0] is None:
            del self._paused[job_id]
            self._entries[job_id] = self._heap.push(job, when, job_id)
            return
        moved = self._heap.reschedule(item, when)
        moved[2] = job
        if moved is not item:
            self._entries[job_id] = moved

    def remove_job(self, job_id: str) -> None:
        """Remove a job.

        :param job_id: the identifier of the job
        :raises JobLookupError: if the store has no job with that id
        """
        item = self._entries.pop(job_id, None)
        if item is None:
            raise JobLookupError(job_id)
        if item[0] is None:
            del self._paused[job_id]
        else:
            self._heap.cancel(item)

    def remove_all_jobs(self) -> None:
        """Remove every job."""
        self._heap.clear()
        self._entries.clear()
        self._paused.clear()

    def __repr__(self) -> str:
        return (
            f"<{self.__class__.__name__} (jobs={len(self._entries)}, paused={len(self._paused)})>"
        )
