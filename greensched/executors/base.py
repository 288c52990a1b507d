"""The executor interface, ``run_job`` (one run of a job, returning its events) and
:class:`MaxInstancesReachedError`."""

from __future__ import annotations

import logging
import sys
import traceback
from abc import ABCMeta, abstractmethod
from collections.abc import Callable, Sequence
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, overload

from greensched._clock import SYSTEM_CLOCK, Clock
from greensched._logging import component_logger, job_label
from greensched.events import (
    EVENT_ALL,
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    JobExecutionEvent,
    _defer_traceback,
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
        self._logger = component_logger("executors", alias)

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
            self._submit_counted(job, run_times)

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

    def _submit_counted(self, job: Job, run_times: Sequence[datetime]) -> None:
        """Submit the job for execution without taking the executor's lock (which
        :meth:`submit_job` holds around this): count the run towards ``max_instances``, then
        :meth:`_do_submit_job`.

        :raises MaxInstancesReachedError: if the maximum number of allowed instances for this
            job has been reached
        """
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
        with self._lock:
            self._uncount_instance(job_id)

    def _uncount_instance(self, job_id: str) -> None:
        """:meth:`_release_instance` without the lock."""
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

    def _report_greenlet(self, job_id: str, greenlet: Any) -> None:
        """Report the outcome of a finished run greenlet whose value is the run's events or the
        exception that ended it (or whose exception is set), with :meth:`_report_outcome`.
        Never raises: it runs in link callbacks."""
        exception = greenlet.exception
        self._report_outcome(job_id, exception if exception is not None else greenlet.value)

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
    return _run_job(job, jobstore_alias, run_times, logging.getLogger(logger_name), clock, timeout)


def _run_job(
    job: Job,
    jobstore_alias: str | None,
    run_times: Sequence[datetime],
    logger: logging.Logger,
    clock: Clock,
    timeout: float | None,
    wanted: int = EVENT_ALL,
) -> list[JobExecutionEvent]:
    """:func:`run_job` with the logger itself (an executor keeps its own: looking a logger up
    by name takes the logging module's lock), returning only the events whose codes are in
    the ``wanted`` mask (an executed run's event is then not even made)."""
    events: list[JobExecutionEvent] = []
    executed_event = bool(wanted & EVENT_JOB_EXECUTED)
    # The clock is read around a run only if its event is wanted
    timed = bool(wanted & (EVENT_JOB_EXECUTED | EVENT_JOB_ERROR))
    for run_time in run_times:
        event = _missed_run(job, jobstore_alias, run_time, clock, logger)
        if event is None:
            if timed:
                started, start = clock.now(), clock.monotonic()
            event = _run_once(
                job,
                jobstore_alias,
                run_time,
                logger,
                timeout=timeout,
                executed_event=executed_event,
            )
            if timed and event is not None:
                _set_timing(event, started, start, clock)
        if event is not None and event.code & wanted:
            events.append(event)
    return events


def _set_timing(event: JobExecutionEvent, started: datetime, start: float, clock: Clock) -> None:
    """Record on ``event`` when its run started (``started``, the wall time, and ``start``,
    the monotonic time) and, from ``clock``, how long it took."""
    event.started = started
    event.duration = clock.monotonic() - start


def _missed_run(
    job: Job,
    jobstore_alias: str | None,
    run_time: datetime,
    clock: Clock,
    logger: logging.Logger,
) -> JobExecutionEvent | None:
    """Return the ``EVENT_JOB_MISSED`` event of ``run_time`` if it is now later than the job's
    ``misfire_grace_time`` allows (logged), else ``None``."""
    grace = job.misfire_grace_time
    if grace is None:  # run the job no matter how late it is
        return None
    lateness = (clock.now() - run_time).total_seconds()
    if lateness <= grace:
        return None
    logger.warning("Run time of job %s was missed by %.6fs", job_label(job.id, job.name), lateness)
    return JobExecutionEvent(EVENT_JOB_MISSED, job.id, jobstore_alias, run_time)


def _timeout_error(job: Job, timeout: float) -> TimeoutError:
    """The exception of an ``EVENT_JOB_ERROR`` event for a run that overran ``timeout``."""
    return TimeoutError(f'Run of job "{job.id}" timed out after {timeout:g} seconds')


def _error_event(
    job: Job,
    jobstore_alias: str | None,
    run_time: datetime,
    exc: BaseException,
    formatted_tb: str | TracebackType | traceback.StackSummary | None,
) -> JobExecutionEvent:
    """The ``EVENT_JOB_ERROR`` event of a failed run. ``formatted_tb``: the traceback text, or
    a traceback (or captured stack) that ``event.traceback`` is formatted from on first read."""
    if formatted_tb is None or isinstance(formatted_tb, str):
        return JobExecutionEvent(
            EVENT_JOB_ERROR,
            job.id,
            jobstore_alias,
            run_time,
            exception=exc,
            traceback=formatted_tb,
        )
    event = JobExecutionEvent(EVENT_JOB_ERROR, job.id, jobstore_alias, run_time, exception=exc)
    _defer_traceback(event, formatted_tb)
    return event


@overload
def _run_once(
    job: Job,
    jobstore_alias: str | None,
    run_time: datetime,
    logger: logging.Logger,
    *,
    timeout: float | None = None,
    reraise: bool = True,
    log: bool = True,
    executed_event: Literal[True] = True,
) -> JobExecutionEvent: ...


@overload
def _run_once(
    job: Job,
    jobstore_alias: str | None,
    run_time: datetime,
    logger: logging.Logger,
    *,
    timeout: float | None = None,
    reraise: bool = True,
    log: bool = True,
    executed_event: bool,
) -> JobExecutionEvent | None: ...


def _run_once(
    job: Job,
    jobstore_alias: str | None,
    run_time: datetime,
    logger: logging.Logger,
    *,
    timeout: float | None = None,
    reraise: bool = True,
    log: bool = True,
    executed_event: bool = True,
) -> JobExecutionEvent | None:
    """Call the job once for ``run_time`` (no misfire check) and return the event of the run.

    :param timeout: see :func:`run_job`
    :param reraise: ``True``: a :exc:`BaseException` that is not an :exc:`Exception` (nor a
        :class:`gevent.Timeout`): :exc:`~greenlet.GreenletExit`, :exc:`KeyboardInterrupt`,
        :exc:`SystemExit`, is logged and raised again, ending the run; ``False`` (a worker
        thread or process, where nothing else is aimed at): it is reported as an
        ``EVENT_JOB_ERROR`` event like any exception
    :param log: ``False``: log nothing (the caller logs the run, from the hub's thread: in a
        monkey-patched program the logging locks are gevent locks, which native worker threads
        must not contend for)
    :param executed_event: ``False``: return ``None`` instead of the ``EVENT_JOB_EXECUTED``
        event of a run that succeeded (nobody listens for it)
    """
    chatty = log and logger.isEnabledFor(logging.INFO)
    if chatty:
        label = job_label(job.id, job.name)
        logger.info("Running job %s (scheduled at %s)", label, run_time)
    timer: Any = None
    if timeout is not None:
        from gevent import Timeout

        # A Timeout of our own, raised as itself: not an Exception, so that a job's
        # "except Exception" does not swallow it, and told apart from any Timeout the job uses
        timer = Timeout(timeout)
        timer.start()
    try:
        try:
            retval = job.func(*job.args, **job.kwargs)
        finally:
            if timer is not None:
                timer.close()
    except BaseException:
        exc, tb = sys.exc_info()[1:]
        assert exc is not None
        assert tb is not None
        ours = timer is not None and exc is timer
        if ours:
            assert timeout is not None
            exc = _timeout_error(job, timeout)
            logger.error("Job %s timed out after %g seconds", job_label(job.id, job.name), timeout)
        elif log:
            logger.exception("Job %s raised an exception", job_label(job.id, job.name))
        # Clear the frames' locals so that those of the job are not kept alive through the
        # event; their code and line numbers stay, for the traceback's text
        traceback.clear_frames(tb)
        if reraise and not ours and not isinstance(exc, Exception) and not _is_timeout(exc):
            # GreenletExit, KeyboardInterrupt, SystemExit: the run is over, let it propagate
            del tb
            raise
        # Formatted only if read (a listener, a run log): most failures' tracebacks are not
        return _error_event(job, jobstore_alias, run_time, exc, tb)
    if chatty:
        logger.info("Job %s executed successfully", label)
    if not executed_event:
        return None
    return JobExecutionEvent(EVENT_JOB_EXECUTED, job.id, jobstore_alias, run_time, retval=retval)


def _is_timeout(exc: BaseException) -> bool:
    """``True`` for a :class:`gevent.Timeout`: one that escapes from a job is the job's own
    (``with gevent.Timeout(5): fetch()``), a failure of the job like any other."""
    from gevent import Timeout

    return isinstance(exc, Timeout)
