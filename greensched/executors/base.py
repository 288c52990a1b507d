"""The executor interface, ``run_job`` (one run of a job, returning its events) and
:class:`MaxInstancesReachedError`."""

from __future__ import annotations

import logging
from abc import ABCMeta, abstractmethod
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from greensched._clock import SYSTEM_CLOCK, Clock
from greensched._logging import component_logger, job_label
from greensched.events import JobExecutionEvent
from greensched.executors._runpath import JobRun

if TYPE_CHECKING:
    from greensched.job import Job
    from greensched.schedulers._services import SchedulerServices

__all__ = ("BaseExecutor", "MaxInstancesReachedError", "run_job")


class MaxInstancesReachedError(Exception):
    """Raised by :meth:`BaseExecutor.submit_job` when the job already runs ``max_instances``
    times."""

    def __init__(self, job: Job) -> None:
        super().__init__(
            f'Job "{job.id}" has already reached its maximum number of instances '
            f"({job.max_instances})"
        )


class BaseExecutor(metaclass=ABCMeta):
    """Abstract base class that defines the interface that every executor must implement.

    A subclass implements :meth:`_do_submit_job`, which starts the job's run times somewhere
    (a greenlet, a thread, a process) and reports back with :meth:`_run_job_success` or
    :meth:`_run_job_error` when the run ends. :meth:`submit_job` enforces ``max_instances``
    under the executor's lock. The executors of greensched run every submission along the same
    path (:meth:`_new_run`): they differ only in where the job is called.

    An executor uses its scheduler only through
    :class:`~greensched.schedulers._services.SchedulerServices`.
    """

    _scheduler: SchedulerServices | None = None
    _lock: Any = None
    _logger = logging.getLogger("greensched.executors")

    def __init__(self) -> None:
        super().__init__()
        self._instances: dict[str, int] = {}

    def start(self, scheduler: SchedulerServices, alias: str) -> None:
        """Called by the scheduler when the scheduler is being started or when the executor is
        being added to an already running scheduler.

        :param scheduler: the scheduler that is starting this executor
        :param alias: alias of this executor as it was assigned to the scheduler
        """
        self._scheduler = scheduler
        self._lock = scheduler.create_lock()
        self._logger = component_logger("executors", alias)
        #: the scheduler's clock, which the runs read (kept: it is read for every run)
        self._run_clock = scheduler.clock

    def shutdown(self, wait: bool = True) -> None:  # noqa: B027 (optional for subclasses)
        """Shut down this executor.

        :param wait: ``True`` to wait until all submitted jobs have been executed
        """

    @property
    def _clock(self) -> Clock:
        """The scheduler's clock (job timeouts count its time)."""
        scheduler = self._scheduler
        assert scheduler is not None, "This executor has not been started yet"
        return scheduler.clock

    def _new_run(self, job: Job, run_times: Sequence[datetime], payload: Any = None) -> JobRun:
        """The run of ``job``'s ``run_times`` along the one path: on the scheduler's clock,
        logged on this executor's logger, keeping the events some listener wants, recorded in
        the run history if it is on."""
        scheduler = self._scheduler
        assert scheduler is not None, "This executor has not been started yet"
        return JobRun(
            job,
            job._jobstore_alias,
            run_times,
            self._run_clock,
            self._logger,
            scheduler.listened_events,
            payload,
            scheduler.run_history,
        )

    def submit_job(self, job: Job, run_times: Sequence[datetime]) -> None:
        """Submit the job for execution.

        :param job: job to execute
        :param run_times: list of datetimes specifying when the job should have been run
        :raises MaxInstancesReachedError: if the maximum number of allowed instances for this
            job has been reached
        """
        lock = self._lock
        assert lock is not None, "This executor has not been started yet"
        # acquire/release rather than "with": it costs a third as much, twice for every run
        lock.acquire()
        try:
            instances = self._instances.get(job.id, 0)
            if instances >= job.max_instances:
                raise MaxInstancesReachedError(job)
            # Count the run before submitting it: an executor that runs the job inline
            # (DebugExecutor) reports, and so releases the instance, before _do_submit_job
            # returns
            self._instances[job.id] = instances + 1
            try:
                self._do_submit_job(job, run_times)
            except BaseException:
                # Not submitted: give the instance back
                self._release_instance(job.id)
                raise
        finally:
            lock.release()

    def _submit_announced(
        self, job: Job, run_times: Sequence[datetime], announce: Callable[[], None]
    ) -> None:
        """Submit the job's runs as :meth:`submit_job` does, then call ``announce()``: the
        scheduler dispatches the submission's ``EVENT_JOB_SUBMITTED`` there. An executor that
        runs the job before :meth:`submit_job` returns calls it before the run's own events.

        :raises MaxInstancesReachedError: as :meth:`submit_job` (``announce`` is not called)
        """
        self.submit_job(job, run_times)
        announce()

    def _check_job(self, job: Job) -> None:  # noqa: B027 (optional for subclasses)
        """Refuse a job this executor could never run, before the scheduler stores it (a
        process pool refuses a job it cannot pickle). The default accepts every job.

        :raises ValueError: or :exc:`TypeError`, naming the job and the reason

        .. versionadded:: greensched 0.1
        """

    @abstractmethod
    def _do_submit_job(self, job: Job, run_times: Sequence[datetime]) -> None:
        """Perform the actual task of scheduling `run_job` to be called."""

    def _release_instance(self, job_id: str) -> None:
        lock = self._lock
        lock.acquire()
        try:
            instances = self._instances.get(job_id, 0) - 1
            if instances > 0:
                self._instances[job_id] = instances
            else:
                self._instances.pop(job_id, None)
        finally:
            lock.release()

    def _run_job_success(self, job_id: str, events: Sequence[JobExecutionEvent]) -> None:
        """Called by the executor with the list of generated events when :func:`run_job` has
        been successfully called."""
        self._release_instance(job_id)
        if events:
            assert self._scheduler is not None
            dispatch = self._scheduler.dispatch_event
            for event in events:
                dispatch(event)

    def _report_outcome(
        self, job_id: str, outcome: Sequence[JobExecutionEvent] | BaseException
    ) -> None:
        """Report the outcome of a run: its events dispatched, or the exception that ended it
        logged; the instance released either way. Never raises."""
        try:
            if isinstance(outcome, BaseException):
                self._run_job_error(job_id, outcome, outcome.__traceback__)
            else:
                self._run_job_success(job_id, outcome)
        except BaseException:
            self._logger.exception("Error reporting the run of job %s", job_label(job_id))

    def _run_job_error(self, job_id: str, exc: BaseException, traceback: Any = None) -> None:
        """Called by the executor with the exception if there is an error calling
        :func:`run_job`."""
        self._release_instance(job_id)
        exc_info = (exc.__class__, exc, traceback)
        self._logger.error("Error running job %s", job_label(job_id), exc_info=exc_info)


def run_job(
    job: Job,
    jobstore_alias: str | None,
    run_times: Sequence[datetime],
    logger_name: str,
    *,
    clock: Clock = SYSTEM_CLOCK,
    timeout: float | None = None,
) -> list[JobExecutionEvent]:
    """Run one job once for each of ``run_times`` and return the events of those runs.

    A run time later than the job's ``misfire_grace_time`` when its turn comes is not run: it
    gives an ``EVENT_JOB_MISSED`` event. Exceptions raised by the job are caught and reported as
    ``EVENT_JOB_ERROR`` events with their formatted traceback; so is a :class:`gevent.Timeout`
    of the job's own that escapes from it. A :exc:`~greenlet.GreenletExit`,
    :exc:`KeyboardInterrupt` or :exc:`SystemExit` is logged and raised again: it ends the run.

    :param job: the job to run
    :param jobstore_alias: alias of the job's store (for the events)
    :param run_times: the scheduled times of the runs
    :param logger_name: the logger to report on
    :param clock: where "now" comes from (keyword-only; defaults to the system clock)
    :param timeout: the most seconds each run may take (keyword-only; ``None``: no limit). An
        overrunning run is interrupted with a :class:`gevent.Timeout` raised where the job
        waits, and gives an ``EVENT_JOB_ERROR`` event whose ``exception`` is a
        :exc:`TimeoutError`. Only a job that yields to the gevent hub can be interrupted, so
        this is for jobs that run in a greenlet.

    .. versionchanged:: greensched 0.1 the keyword-only ``clock`` and ``timeout`` arguments
    """
    run = JobRun(job, jobstore_alias, run_times, clock, logging.getLogger(logger_name))
    return list(run.run_here(timeout))  # (a list of its own: the caller may change it)
