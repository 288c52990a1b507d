"""The actions on one stored job that the ``greensched jobs`` commands and the dashboard share:
pause, resume, run now and remove (:func:`pause`, :func:`resume`, :func:`run_now`,
:func:`remove`).

Each goes through the scheduler API, so every change is an ordinary store write that the
schedulers running on the store see. A stored job that cannot be loaded here (its function or
trigger class cannot be imported where the action runs: an :class:`UnloadableJob`) is managed
without importing what it names: pause, resume and run now change its next run time only;
remove removes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from greensched.jobstores._shared import SharedJobStore
from greensched.jobstores._states import MissingGlobal, UnloadableJob, describe_failure
from greensched.triggers.base import BaseTrigger

if TYPE_CHECKING:
    from greensched.job import Job
    from greensched.jobstores.base import BaseJobStore
    from greensched.schedulers.base import BaseScheduler

__all__ = (
    "ActionError",
    "Done",
    "JobPausedError",
    "find_job",
    "pause",
    "remove",
    "resume",
    "run_now",
)


class ActionError(ValueError):
    """An action cannot be done on this job (it is paused, or its stored state cannot be
    written back here); the message says why."""


class JobPausedError(ActionError):
    """:func:`run_now` on a paused job: resume it first."""


@dataclass(frozen=True)
class Done:
    """What an action did.

    :ivar job_id: the job's id
    :ivar next_run_time: the job's next run time afterwards (``None``: paused, removed, or for
        :func:`resume`: it had no more run times and was removed)
    :ivar not_loadable: why the job cannot be loaded here (``None``: it can)
    """

    job_id: str
    next_run_time: datetime | None
    not_loadable: str | None = None


def find_job(store: BaseJobStore, job_id: str) -> Job | UnloadableJob | None:
    """Return the stored job ``job_id`` (one that cannot be loaded here too), or ``None``."""
    if isinstance(store, SharedJobStore):
        return store._lookup_stored(job_id)
    return store.lookup_job(job_id)


def _reason(job: Job | UnloadableJob) -> str | None:
    return job.reason if isinstance(job, UnloadableJob) else None


def _writable_state(job: UnloadableJob, done: str) -> dict[str, Any]:
    """Return the state of a job that cannot be loaded, if it can be written back.

    :param done: what the action does to the job (``'paused'``), for the error message
    :raises ActionError: if it cannot
    """
    try:
        return job.writable_state()
    except ValueError as exc:
        raise ActionError(f"job {job.id!r} cannot be {done} here: {exc}") from None


def _rewrite_next_run_time(
    store: BaseJobStore, job: UnloadableJob, next_run_time: datetime | None, done: str
) -> None:
    """Store a new next run time for a job that cannot be loaded here (nothing else changes).

    :raises ActionError: if its state cannot be written back
    """
    assert isinstance(store, SharedJobStore)  # only these stores give UnloadableJob
    try:
        store._rewrite_next_run_time(job, next_run_time)
    except ValueError as exc:
        raise ActionError(f"job {job.id!r} cannot be {done} here: {exc}") from None


def _now(scheduler: BaseScheduler) -> datetime:
    """Now, in the zone of the scheduler (as the scheduler API sets next run times)."""
    return scheduler.clock.now().astimezone(scheduler.timezone)


def pause(scheduler: BaseScheduler, alias: str, job: Job | UnloadableJob) -> Done:
    """Pause ``job`` of the store ``alias``: it does not run until resumed.

    :raises ActionError: if a job that cannot be loaded here cannot be written back
    """
    if isinstance(job, UnloadableJob):
        _rewrite_next_run_time(scheduler.jobstores[alias], job, None, "paused")
    else:
        scheduler.pause_job(job.id, alias)
    return Done(job.id, None, _reason(job))


def resume(scheduler: BaseScheduler, alias: str, job: Job | UnloadableJob) -> Done:
    """Resume ``job`` of the store ``alias``: its schedule goes on from now (a job whose
    trigger has no more fire times is removed: :attr:`Done.next_run_time` is ``None``).

    :raises ActionError: if a job that cannot be loaded here has a trigger that cannot be
        loaded either, or cannot be written back
    """
    if not isinstance(job, UnloadableJob):
        resumed = scheduler.resume_job(job.id, alias)
        return Done(job.id, None if resumed is None else resumed.next_run_time)
    trigger = _writable_state(job, "resumed")["trigger"]
    if isinstance(trigger, MissingGlobal):
        reference = type(trigger).reference()
        raise ActionError(
            f"job {job.id!r} cannot be resumed here: its trigger class {reference} cannot be "
            f"imported ({describe_failure(job.missing[reference])})"
        )
    if not isinstance(trigger, BaseTrigger):
        raise ActionError(
            f"job {job.id!r} cannot be resumed here: its trigger is not a trigger: {trigger!r}"
        )
    when = trigger.get_next_fire_time(None, _now(scheduler))
    if when is None:
        scheduler.remove_job(job.id, alias)
    else:
        _rewrite_next_run_time(scheduler.jobstores[alias], job, when, "resumed")
    return Done(job.id, when, job.reason)


def run_now(scheduler: BaseScheduler, alias: str, job: Job | UnloadableJob) -> Done:
    """Make ``job`` of the store ``alias`` due now: the schedulers on the store start it
    within a second, then its schedule goes on. A job that cannot be loaded here is made due
    all the same, for the schedulers that can load it.

    :raises JobPausedError: if the job is paused (resume it first)
    :raises ActionError: if a job that cannot be
        loaded here cannot be written back
    """
    if isinstance(job, UnloadableJob):
        paused = _writable_state(job, "made due")["next_run_time"] is None
    else:
        paused = job.next_run_time is None
    if paused:
        raise JobPausedError(f"job {job.id!r} is paused: resume it first")
    now = _now(scheduler)
    if isinstance(job, UnloadableJob):
        _rewrite_next_run_time(scheduler.jobstores[alias], job, now, "made due")
    else:
        scheduler.modify_job(job.id, alias, next_run_time=now)
    return Done(job.id, now, _reason(job))


def remove(scheduler: BaseScheduler, alias: str, job: Job | UnloadableJob) -> Done:
    """Remove ``job`` from the store ``alias`` (its run history stays for its retention)."""
    scheduler.remove_job(job.id, alias)
    return Done(job.id, None, _reason(job))
