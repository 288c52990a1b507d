"""The job store interface, and the errors stores raise."""

from __future__ import annotations

import logging
from abc import ABCMeta, abstractmethod
from datetime import datetime
from typing import TYPE_CHECKING

from greensched._logging import component_logger

if TYPE_CHECKING:
    from collections.abc import Collection, Sequence

    from greensched.history import RunLog
    from greensched.job import Job
    from greensched.schedulers.base import BaseScheduler

__all__ = ("BaseJobStore", "ConflictingIdError", "JobLookupError", "TransientJobError")


class JobLookupError(KeyError):
    """Raised when the job store cannot find a job for update or removal."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"No job by the id of {job_id} was found")


class ConflictingIdError(KeyError):
    """Raised when the uniqueness of job IDs is being violated."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"Job identifier ({job_id}) conflicts with an existing job")


class TransientJobError(ValueError):
    """Raised when an attempt to add a transient (with no func_ref) job to a persistent job
    store is detected."""

    def __init__(self, job_id: str) -> None:
        super().__init__(
            f"Job ({job_id}) cannot be added to this job store because a reference to the "
            "callable could not be determined."
        )


class BaseJobStore(metaclass=ABCMeta):
    """Abstract base class that defines the interface that every job store must implement.

    The scheduler's processing loop asks each store for its due jobs with
    :meth:`acquire_due_jobs`, works out each job's run times and next run time, hands the
    results back in one call to :meth:`release_due_jobs`, and only then submits the runs whose
    release succeeded. A store shared by several processes overrides both to *claim* the due
    jobs atomically (so no other process gets them) and to store the results only where its
    claim still holds; stores used by one process need not do anything.
    """

    #: Seconds after which the scheduler looks at this store again even if nothing woke it
    #: (``None``: never). A store that other processes change sets it, so that their changes
    #: are seen at the latest after this long.
    poll_interval: float | None = None

    #: The most jobs :meth:`acquire_due_jobs` returns at once (``None``: no limit). When it
    #: returns that many, more are likely due: the processing loop starts its next round at
    #: once, without asking :meth:`get_next_run_time` (a round trip on a store of another
    #: process).
    acquire_limit: int | None = None

    _scheduler: BaseScheduler | None = None
    _alias: str | None = None
    #: set by a store that keeps its run history elsewhere than in memory
    _runs: RunLog | None = None
    _logger = logging.getLogger("greensched.jobstores")

    def start(self, scheduler: BaseScheduler, alias: str) -> None:
        """Called by the scheduler when the scheduler is being started or when the job store is
        being added to an already running scheduler.

        :param scheduler: the scheduler that is starting this job store
        :param alias: alias of this job store as it was assigned to the scheduler
        """
        self._scheduler = scheduler
        self._alias = alias
        self._logger = component_logger("jobstores", alias)

    def shutdown(self) -> None:  # noqa: B027 (optional for subclasses)
        """Free any resources still bound to this job store."""

    @property
    def runs(self) -> RunLog:
        """The run history of this store's jobs (see :mod:`greensched.history`). A store
        that has none of its own keeps it in this process's memory.

        .. versionadded:: greensched 0.1
        """
        runs = self._runs
        if runs is None:
            from greensched.history.memory import MemoryRunLog

            runs = self._runs = MemoryRunLog()
        return runs

    def _fix_paused_jobs_sorting(self, jobs: list[Job]) -> None:
        """Move the paused jobs (no next run time) of a list sorted by next run time to its end,
        in place (a helper for subclasses, named as in APScheduler 3.x)."""
        for i, job in enumerate(jobs):
            if job.next_run_time is not None:
                if i > 0:
                    paused_jobs = jobs[:i]
                    del jobs[:i]
                    jobs.extend(paused_jobs)
                break

    @abstractmethod
    def lookup_job(self, job_id: str) -> Job | None:
        """Return a specific job, or ``None`` if it isn't found.

        The job store is responsible for setting the ``scheduler`` and ``jobstore`` attributes
        of the returned job to point to the scheduler and itself, respectively.
        """

    @abstractmethod
    def get_due_jobs(self, now: datetime) -> list[Job]:
        """Return the list of jobs that have ``next_run_time`` earlier or equal to ``now``,
        sorted by next run time. The returned jobs must be sorted by next run time
        (ascending)."""

    def acquire_due_jobs(self, now: datetime) -> list[Job]:
        """Return the due jobs that this scheduler should run now.

        The processing loop calls this instead of :meth:`get_due_jobs`. The default returns
        :meth:`get_due_jobs`, which is right for a store used by one scheduler. A store shared
        by several schedulers overrides it to claim the jobs atomically (the claim ends at
        :meth:`release_due_jobs`; see :mod:`greensched.jobstores._shared`).

        .. versionadded:: greensched 0.1
        """
        return self.get_due_jobs(now)

    def release_due_jobs(self, updated: Sequence[Job], removed: Sequence[Job]) -> Collection[str]:
        """Store what the processing loop decided for the jobs :meth:`acquire_due_jobs` gave it,
        and end their claims.

        The loop calls this once per round, before it submits any run, so a run is started only
        after the store has recorded it (a process that dies in between loses that run rather
        than letting another process run it a second time).

        The default calls :meth:`update_job` for each of ``updated`` and :meth:`remove_job`
        for each of ``removed``.

        :param updated: jobs to keep, with their new ``next_run_time`` (or unchanged)
        :param removed: jobs whose schedule is finished
        :return: the ids of the jobs whose claim was lost (taken over by another process after
            the lease expired, or the job was changed or removed meanwhile): the loop does not
            run them
        :raises Exception: if nothing could be stored; the loop then submits nothing of this
            round for this store and asks again after ``jobstore_retry_interval``

        .. versionadded:: greensched 0.1
        """
        for job in updated:
            self.update_job(job)
        for job in removed:
            self.remove_job(job.id)
        return ()

    @abstractmethod
    def get_next_run_time(self) -> datetime | None:
        """Return the earliest run time of all the jobs stored in this job store, or ``None``
        if there are no active jobs."""

    @abstractmethod
    def get_all_jobs(self) -> list[Job]:
        """Return a list of all jobs in this job store. The returned jobs are sorted by next
        run time (ascending), paused jobs last."""

    def count_jobs(self) -> int:
        """Return how many jobs this store holds, paused ones included. The default counts
        :meth:`get_all_jobs`; the stores that come with greensched count without restoring
        the jobs.

        .. versionadded:: greensched 0.1
        """
        return len(self.get_all_jobs())

    @abstractmethod
    def add_job(self, job: Job) -> None:
        """Add the given job to this store.

        :raises ConflictingIdError: if there is another job in this store with the same ID
        """

    @abstractmethod
    def update_job(self, job: Job) -> None:
        """Replace the job in the store with the given newer version.

        :raises JobLookupError: if the job does not exist
        """

    @abstractmethod
    def remove_job(self, job_id: str) -> None:
        """Remove the given job from this store.

        :raises JobLookupError: if the job does not exist
        """

    @abstractmethod
    def remove_all_jobs(self) -> None:
        """Remove all jobs from this store."""

    def __repr__(self) -> str:
        return f"<{self.__class__.__name__}>"

    def _restore_context(self, job: Job) -> Job:
        """Bind a job loaded from this store to the scheduler and to this store."""
        job._scheduler = self._scheduler  # type: ignore[assignment]
        job._jobstore_alias = self._alias
        return job
