"""The executor interface, ``run_job`` (one run of a job, returning its events) and
:class:`MaxInstancesReachedError`."""

from __future__ import annotations

import logging
import sys
import traceback
from abc import ABCMeta, abstractmethod
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from greensched._clock import SYSTEM_CLOCK, Clock
from greensched.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    JobExecutionEvent,
)

if TYPE_CHECKING:
    from greensched.job import Job
    from greensched.schedulers.base import BaseScheduler

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
    :meth:`_run_job_error` when the run ends. :meth:`submit_job` enforces ``max_instances``.
    """

    _scheduler: BaseScheduler | None = None
    _lock: Any = None
    _logger = logging.getLogger("greensched.executors")

    def __init__(self) -> None:
        super().__init__()
        self._instances: dict[str, int] = {}

    def start(self, scheduler: BaseScheduler, alias: str) -> None:
        """Called by the scheduler when the scheduler is being started or when the executor is
        being added to an already running scheduler.

        :param scheduler: the scheduler that is starting this executor
        :param alias: alias of this executor as it was assigned to the scheduler
        """
        self._scheduler = scheduler
        self._lock = scheduler._create_lock()
        self._logger = logging.getLogger(f"greensched.executors.{alias}")

    def shutdown(self, wait: bool = True) -> None:  # noqa: B027 (optional for subclasses)
        """Shut down this executor.

        :param wait: ``True`` to wait until all submitted jobs have been executed
        """

    @property
    def _clock(self) -> Clock:
        """The clock of the scheduler this executor belongs to."""
        scheduler = self._scheduler
        return scheduler._clock if scheduler is not None else SYSTEM_CLOCK

    def submit_job(self, job: Job, run_times: Sequence[datetime]) -> None:
        """Submit the job for execution.

        :param job: job to execute
        :param run_times: list of datetimes specifying when the job should have been run
        :raises MaxInstancesReachedError: if the maximum number of allowed instances for this
            job has been reached
        """
        assert self._lock is not None, "This executor has not been started yet"
        with self._lock:
            instances = self._instances.get(job.id, 0)
            if instances >= job.max_instances:
                raise MaxInstancesReachedError(job)
            # Count the run before submitting it: an executor that runs the job inline
            # (DebugExecutor) reports, and so releases the instance, before _do_submit_job returns
            self._instances[job.id] = instances + 1
            try:
                self._do_submit_job(job, run_times)
            except BaseException:
                # Not submitted: give the instance back
                self._release_instance(job.id)
                raise

    @abstractmethod
    def _do_submit_job(self, job: Job, run_times: Sequence[datetime]) -> None:
        """Perform the actual task of scheduling `run_job` to be called."""

    def _release_instance(self, job_id: str) -> None:
        with self._lock:
            instances = self._instances.get(job_id, 0) - 1
            if instances > 0:
                self._instances[job_id] = instances
            else:
                self._instances.pop(job_id, None)

    def _run_job_success(self, job_id: str, events: Sequence[JobExecutionEvent]) -> None:
        """Called by the executor with the list of generated events when :func:`run_job` has
        been successfully called."""
        self._release_instance(job_id)
        assert self._scheduler is not None
        for event in events:
            self._scheduler._dispatch_event(event)

    def _run_job_error(self, job_id: str, exc: BaseException, traceback: Any = None) -> None:
        """Called by the executor with the exception if there is an error calling
        :func:`run_job`."""
        self._release_instance(job_id)
        exc_info = (exc.__class__, exc, traceback)
        self._logger.error("Error running job %s", job_id, exc_info=exc_info)


def run_job(
    job: Job,
    jobstore_alias: str | None,
    run_times: Sequence[datetime],
    logger_name: str,
    *,
    clock: Clock = SYSTEM_CLOCK,
) -> list[JobExecutionEvent]:
    """Run one job once for each of ``run_times`` and return the events of those runs.

    A run time later than the job's ``misfire_grace_time`` when its turn comes is not run: it
    gives an ``EVENT_JOB_MISSED`` event. Exceptions raised by the job are caught and reported as
    ``EVENT_JOB_ERROR`` events with their formatted traceback.

    :param job: the job to run
    :param jobstore_alias: alias of the job's store (for the events)
    :param run_times: the scheduled times of the runs
    :param logger_name: the logger to report on
    :param clock: where "now" comes from (keyword-only; defaults to the system clock)

    .. versionchanged:: greensched 0.1 the keyword-only ``clock`` argument
    """
    events: list[JobExecutionEvent] = []
    logger = logging.getLogger(logger_name)
    for run_time in run_times:
        # misfire_grace_time is None: run the job no matter how late it is
        grace = job.misfire_grace_time
        if grace is not None:
            lateness = (clock.now() - run_time).total_seconds()
            if lateness > grace:
                events.append(
                    JobExecutionEvent(EVENT_JOB_MISSED, job.id, jobstore_alias, run_time)
                )
                logger.warning('Run time of job "%s" was missed by %.6fs', job, lateness)
                continue

        logger.info('Running job "%s" (scheduled at %s)', job, run_time)
        try:
            retval = job.func(*job.args, **job.kwargs)
        except BaseException:
            exc, tb = sys.exc_info()[1:]
            assert exc is not None
            formatted_tb = "".join(traceback.format_tb(tb))
            events.append(
                JobExecutionEvent(
                    EVENT_JOB_ERROR,
                    job.id,
                    jobstore_alias,
                    run_time,
                    exception=exc,
                    traceback=formatted_tb,
                )
            )
            logger.exception('Job "%s" raised an exception', job)
            # Drop the frames so locals of the job are not kept alive through the event
            traceback.clear_frames(tb)
            del tb
            if not isinstance(exc, Exception):
                # GreenletExit, KeyboardInterrupt, SystemExit: the run is over, let it propagate
                raise
        else:
            events.append(
                JobExecutionEvent(
                    EVENT_JOB_EXECUTED, job.id, jobstore_alias, run_time, retval=retval
                )
            )
            logger.info('Job "%s" executed successfully', job)
    return events
