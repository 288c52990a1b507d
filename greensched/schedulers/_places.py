"""Where a scheduler's jobs are: pending in the scheduler before ``start()``, in the job stores
after it.

The scheduler's job methods (``add_job``, ``get_job``, ``modify_job``, ``remove_job``, ...)
work on its current :class:`JobPlace` and never ask which it is: a stopped scheduler's jobs are
its :class:`PendingJobs`, a started one's its :class:`StoredJobs`. ``start()`` moves the pending
jobs into their stores; after a shutdown, the pending jobs start empty again.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from greensched._logging import job_label
from greensched.events import EVENT_JOB_ADDED, EVENT_JOB_REMOVED, JobEvent
from greensched.jobstores.base import ConflictingIdError, JobLookupError
from greensched.schedulers._loop import STATE_RUNNING

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping

    from greensched.job import Job
    from greensched.jobstores.base import BaseJobStore
    from greensched.schedulers.base import BaseScheduler

__all__ = ("JobPlace", "PendingJobs", "StoredJobs", "missing_job_options")


class JobPlace(Protocol):
    """What the scheduler's job methods do with its jobs, wherever they are.

    A job's store alias is ``None`` while it is pending. Every method is called with the
    scheduler's job store lock held.
    """

    def add(
        self,
        job: Job,
        jobstore_alias: str,
        replace_existing: bool,
        absent: Iterable[str] | None = None,
    ) -> None:
        """Add ``job`` (its defaults filled in if it goes to a store).

        :param absent: the job options ``job`` lacks, of the scheduler's job defaults and
            ``next_run_time`` (``None``: look for them)
        :raises ConflictingIdError: if the id is taken and ``replace_existing`` is false
        """
        ...

    def find(self, job_id: str, jobstore_alias: str | None) -> tuple[Job, str | None]:
        """Return the job and its store's alias.

        :raises JobLookupError: if there is no such job
        """
        ...

    def modify(self, job: Job, jobstore_alias: str | None, changes: dict[str, Any]) -> None:
        """Apply ``changes`` to a job :meth:`find` returned (all of them or, if one is bad,
        none)."""
        ...

    def remove(self, job_id: str, jobstore_alias: str | None) -> JobEvent:
        """Remove a job; return the event to dispatch for it.

        :raises JobLookupError: if there is no such job
        """
        ...

    def remove_all(self, jobstore_alias: str | None) -> None:
        """Remove every job (of one store if ``jobstore_alias`` is given)."""
        ...

    def jobs(self, jobstore_alias: str | None) -> list[Job]:
        """Return the jobs (of one store if ``jobstore_alias`` is given)."""
        ...

    def listing(self, jobstore_alias: str | None) -> list[str]:
        """Return the lines that ``print_jobs`` prints."""
        ...

    def taken_ids(self, jobs: Iterable[Job], jobstore_alias: str) -> set[str]:
        """Return the ids of ``jobs`` that a job in the store ``jobstore_alias`` has already."""
        ...


class PendingJobs:
    """The jobs added to a stopped scheduler, in the order they were added, by id and store
    alias; they get their defaults and first run time when the scheduler starts."""

    __slots__ = ("_jobs", "_scheduler")

    def __init__(self, scheduler: BaseScheduler) -> None:
        self._scheduler = scheduler
        #: (job, its store's alias, replace_existing), by (id, store alias)
        self._jobs: dict[tuple[str, str], tuple[Job, str, bool]] = {}

    def __iter__(self) -> Iterator[tuple[Job, str, bool]]:
        """Iterate over the pending jobs as ``(job, store alias, replace_existing)``."""
        return iter(tuple(self._jobs.values()))

    def add(
        self,
        job: Job,
        jobstore_alias: str,
        replace_existing: bool,
        absent: Iterable[str] | None = None,
    ) -> None:
        key = (job.id, jobstore_alias)
        if key in self._jobs and not replace_existing:
            raise ConflictingIdError(job.id)
        self._jobs[key] = (job, jobstore_alias, replace_existing)  # a replaced job keeps its place
        self._scheduler._logger.info(
            "Adding job tentatively -- it will be properly scheduled when the scheduler starts"
        )

    def check_targets(self) -> None:
        """Check, before anything starts, that every pending job names a known store and
        executor, and has an id its store can hold."""
        scheduler = self._scheduler
        for job, jobstore_alias, _ in self:
            scheduler._lookup_jobstore(jobstore_alias)
            scheduler._check_job_id(job.id, jobstore_alias)
            scheduler._lookup_executor(job.executor)

    def check_ids_in_stores(self) -> None:
        """Check, once the stores have started, that no pending job takes the id of a stored
        one (a persistent store has jobs already), unless it is to replace it."""
        stores = self._scheduler._jobstores
        for job, jobstore_alias, replace_existing in self:
            if not replace_existing and stores[jobstore_alias].lookup_job(job.id) is not None:
                raise ConflictingIdError(job.id)

    def _key(self, job_id: str, jobstore_alias: str | None) -> tuple[str, str]:
        """The key of the pending job ``job_id`` (of any store if ``jobstore_alias`` is
        ``None``: the first one added).

        :raises JobLookupError: if there is none
        """
        if jobstore_alias is not None:
            if (job_id, jobstore_alias) in self._jobs:
                return job_id, jobstore_alias
        else:
            key = next((key for key in self._jobs if key[0] == job_id), None)
            if key is not None:
                return key
        raise JobLookupError(job_id)

    def find(self, job_id: str, jobstore_alias: str | None) -> tuple[Job, str | None]:
        return self._jobs[self._key(job_id, jobstore_alias)][0], None

    def modify(self, job: Job, jobstore_alias: str | None, changes: dict[str, Any]) -> None:
        job._modify(**changes)

    def remove(self, job_id: str, jobstore_alias: str | None) -> JobEvent:
        key = self._key(job_id, jobstore_alias)
        job = self._jobs.pop(key)[0]
        self._scheduler._logger.info("Removed job %s", job_label(job_id, job.name))
        return JobEvent(EVENT_JOB_REMOVED, job_id, key[1])

    def remove_all(self, jobstore_alias: str | None) -> None:
        self._jobs = {
            key: pending
            for key, pending in self._jobs.items()
            if jobstore_alias not in (None, pending[1])
        }

    def jobs(self, jobstore_alias: str | None) -> list[Job]:
        return [job for job, alias, _ in self._jobs.values() if jobstore_alias in (None, alias)]

    def listing(self, jobstore_alias: str | None) -> list[str]:
        jobs = self.jobs(jobstore_alias)
        return ["Pending jobs:", *([f"    {job}" for job in jobs] or ["    No pending jobs"])]

    def taken_ids(self, jobs: Iterable[Job], jobstore_alias: str) -> set[str]:
        return {job.id for job in jobs if (job.id, jobstore_alias) in self._jobs}


class StoredJobs:
    """The jobs of a started scheduler: in its job stores."""

    __slots__ = ("_scheduler",)

    def __init__(self, scheduler: BaseScheduler) -> None:
        self._scheduler = scheduler

    def add(
        self,
        job: Job,
        jobstore_alias: str,
        replace_existing: bool,
        absent: Iterable[str] | None = None,
    ) -> None:
        scheduler = self._scheduler
        store = scheduler._lookup_jobstore(jobstore_alias)
        executor = scheduler._lookup_executor(job.executor)
        if absent is None:
            missing = missing_job_options(job, scheduler._job_defaults, scheduler._now())
            if "next_run_time" in missing and missing["next_run_time"] is None:
                _warn_never_fires(scheduler, job)
            job._modify(**missing)
        else:
            # The scheduler's job defaults were checked when it was configured: set as they are
            defaults = scheduler._job_defaults
            for key in absent:
                if key == "next_run_time":
                    first = job.trigger.get_next_fire_time(None, scheduler._now())
                    if first is None:
                        _warn_never_fires(scheduler, job)
                    elif type(first) is not datetime or first.tzinfo is None:
                        job._modify(next_run_time=first)  # a naive one: in the scheduler's zone
                        continue
                    job.next_run_time = first
                else:
                    setattr(job, key, defaults[key])

        executor._check_job(job)
        try:
            store.add_job(job)
        except ConflictingIdError:
            if not replace_existing:
                raise
            store.update_job(job)
        job._jobstore_alias = jobstore_alias

        if scheduler._listener_mask & EVENT_JOB_ADDED:  # no event made for nobody
            scheduler.dispatch_event(JobEvent(EVENT_JOB_ADDED, job.id, jobstore_alias))
        logger = scheduler._logger
        if logger.isEnabledFor(logging.INFO):
            logger.info(
                "Added job %s to job store %r", job_label(job.id, job.name), jobstore_alias
            )
        if scheduler.state == STATE_RUNNING:
            scheduler.wakeup()

    def _stores(self, jobstore_alias: str | None) -> list[tuple[str, BaseJobStore]]:
        return [
            (alias, store)
            for alias, store in self._scheduler._jobstores.items()
            if jobstore_alias in (None, alias)
        ]

    def find(self, job_id: str, jobstore_alias: str | None) -> tuple[Job, str | None]:
        for alias, store in self._stores(jobstore_alias):
            found = store.lookup_job(job_id)
            if found is not None:
                return found, alias
        raise JobLookupError(job_id)

    def modify(self, job: Job, jobstore_alias: str | None, changes: dict[str, Any]) -> None:
        """Apply ``changes`` to a stored job and save it; if the store refuses, the job is put
        back as it was."""
        assert jobstore_alias is not None
        scheduler = self._scheduler
        saved = job._attributes()
        job._modify(**changes)
        try:
            scheduler._lookup_executor(job.executor)._check_job(job)
            scheduler._lookup_jobstore(jobstore_alias).update_job(job)
        except BaseException:
            job._set_attributes(saved)
            raise

    def remove(self, job_id: str, jobstore_alias: str | None) -> JobEvent:
        logger = self._scheduler._logger
        named = logger.isEnabledFor(logging.INFO)
        for alias, store in self._stores(jobstore_alias):
            name = _stored_job_name(store, job_id) if named else None
            try:
                store.remove_job(job_id)
            except JobLookupError:
                continue
            logger.info("Removed job %s", job_label(job_id, name))
            return JobEvent(EVENT_JOB_REMOVED, job_id, alias)
        raise JobLookupError(job_id)

    def remove_all(self, jobstore_alias: str | None) -> None:
        for _, store in self._stores(jobstore_alias):
            store.remove_all_jobs()

    def jobs(self, jobstore_alias: str | None) -> list[Job]:
        return [job for _, store in self._stores(jobstore_alias) for job in store.get_all_jobs()]

    def listing(self, jobstore_alias: str | None) -> list[str]:
        lines: list[str] = []
        for alias, store in sorted(self._stores(jobstore_alias)):
            jobs = store.get_all_jobs()
            lines.append(f"Jobstore {alias}:")
            lines.extend([f"    {job}" for job in jobs] or ["    No scheduled jobs"])
        return lines

    def taken_ids(self, jobs: Iterable[Job], jobstore_alias: str) -> set[str]:
        store = self._scheduler._lookup_jobstore(jobstore_alias)
        return {job.id for job in jobs if store.lookup_job(job.id) is not None}


def _stored_job_name(store: BaseJobStore, job_id: str) -> str | None:
    """The name of a stored job, for a log message: ``None`` if it is not there or cannot be
    read (its function's module is gone, the store failed: the caller goes on without it)."""
    try:
        job = store.lookup_job(job_id)
    except Exception:  # noqa: BLE001 (only a log message depends on it)
        return None
    return None if job is None else job.name


def _warn_never_fires(scheduler: BaseScheduler, job: Job) -> None:
    """Warn about a job being added whose trigger has no fire time at all from now on: it is
    added paused, as APScheduler 3.x adds it (code built on it relies on that), but not without
    a word."""
    trigger = job.trigger
    start = getattr(trigger, "start_date", None)
    end = getattr(trigger, "end_date", None)
    if isinstance(start, datetime) and isinstance(end, datetime) and end < start:
        reason = f"its end_date {end} is before its start_date {start}"
    elif isinstance(end, datetime) and end < scheduler._now():
        reason = f"its end_date {end} has passed"
    else:
        reason = "no time from now on matches it"
    scheduler._logger.warning(
        "Job %s will never run: its trigger %s has no fire time (%s); it is added paused",
        job_label(job.id, job.name),
        trigger,
        reason,
    )


def missing_job_options(job: Job, defaults: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """Return the options a job made before it reached a store has yet to get: the scheduler's
    job ``defaults`` it lacks and, unless it has one, its first run time from ``now``."""
    missing = {key: value for key, value in defaults.items() if not hasattr(job, key)}
    if not hasattr(job, "next_run_time"):
        missing["next_run_time"] = job.trigger.get_next_fire_time(None, now)
    return missing
