"""The one path that runs a job, in every executor: :class:`JobRun` and :func:`call_job`.

A submission's run times are taken one after the other with :meth:`JobRun.next_call`, which
checks each one's ``misfire_grace_time`` against the scheduler's clock (a run time too late gives
``EVENT_JOB_MISSED``) and starts the timing of the run time to call. The call itself,
:func:`call_job`, happens wherever the executor runs jobs: the calling greenlet
(:class:`~greensched.executors.debug.DebugExecutor`), a worker greenlet
(:class:`~greensched.executors.gevent.GeventExecutor`), a native thread or a child process (the
pool executors). Its event goes back through :meth:`JobRun.record`, which times it on the
scheduler's clock and keeps it if a listener wants its code. :class:`RunSet` tracks an
executor's runs until they are reported, for ``shutdown(wait=True)``.

This module imports no gevent at import time: the process pool's worker processes use
:func:`call_job`.
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable, Sequence
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

from greensched._logging import job_label
from greensched.events import (
    EVENT_ALL,
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    JobExecutionEvent,
    _defer_traceback,
)

if TYPE_CHECKING:
    from gevent.event import Event

    from greensched._clock import Clock
    from greensched.history._recorder import RunRecorder
    from greensched.job import Job

__all__ = ("JobRun", "JobTimeoutError", "RunSet", "call_job", "error_event", "timeout_error")

#: The events of a run that has kept none: shared, never appended to (see :meth:`JobRun._keep`)
_NO_EVENTS: list[JobExecutionEvent] = []
#: The codes of the events that tell when their run started and how long it took
_TIMED_CODES = EVENT_JOB_EXECUTED | EVENT_JOB_ERROR


class JobRun:
    """One submission of a job to an executor: its run times, taken one after the other, and the
    events of those done (those some listener wants).

    :param clock: the scheduler's clock: the misfire checks and the timing read it
    :param logger: where the runs are logged
    :param wanted: the mask of the event codes to keep (the scheduler's
        :attr:`~greensched.schedulers._services.SchedulerServices.listened_events`); the clock
        is read around a call only if its event is wanted
    :param payload: what the executor prepared for its workers (the pickled job)
    :param history: the scheduler's run recorder (``None``: the history is off): each run time
        is recorded from its start (every call is timed then)

    ``owner`` is for the executor: the greenlet the run lives in (see :class:`RunSet`).
    """

    __slots__ = (
        "_chatty",
        "_index",
        "_monotonic_start",
        "_record",
        "_started",
        "_timed",
        "clock",
        "events",
        "history",
        "job",
        "jobstore_alias",
        "logger",
        "owner",
        "payload",
        "run_times",
        "wanted",
    )

    def __init__(
        self,
        job: Job,
        jobstore_alias: str | None,
        run_times: Sequence[datetime],
        clock: Clock,
        logger: logging.Logger,
        wanted: int = EVENT_ALL,
        payload: Any = None,
        history: RunRecorder | None = None,
    ) -> None:
        self.job = job
        self.jobstore_alias = jobstore_alias
        self.run_times = run_times
        self.clock = clock
        self.logger = logger
        self.wanted = wanted
        self.payload = payload
        self.owner: Any = None
        #: the events kept (a list once there is one: most runs keep none, and an empty list
        #: for each would be one more object for the garbage collector to visit)
        self.events: list[JobExecutionEvent] = _NO_EVENTS
        self._index = 0
        self._chatty = logger.isEnabledFor(logging.INFO)
        self.history = history
        self._timed = history is not None or bool(wanted & _TIMED_CODES)
        #: what the history gave for the current call (closed when it ends), if it is on
        self._record: Any = None
        # _started and _monotonic_start are set by next_call, for the calls that are timed

    @property
    def remaining(self) -> int:
        """How many run times have not been taken by :meth:`next_call` yet."""
        return len(self.run_times) - self._index

    def next_call(self) -> datetime | None:
        """Take the next run time to call, or ``None`` when there is none left.

        Run times later than the job's ``misfire_grace_time`` allows by now are skipped, each
        with an ``EVENT_JOB_MISSED`` event (logged). The run time returned is logged as
        starting, and its timing starts: call the job for it, then :meth:`record` the event.
        """
        run_times = self.run_times
        index = self._index
        if index >= len(run_times):
            return None
        job, clock = self.job, self.clock
        grace = job.misfire_grace_time
        timed = self._timed
        while True:
            run_time = run_times[index]
            index += 1
            # the clock is read once for the misfire check and the start of the timing
            now = clock.now() if grace is not None or timed else None
            if grace is None or (now - run_time).total_seconds() <= grace:  # type: ignore[operator]
                self._index = index
                if self._chatty:
                    self.logger.info(
                        "Running job %s (scheduled at %s)", job_label(job.id, job.name), run_time
                    )
                if timed:
                    self._started, self._monotonic_start = now, clock.monotonic()
                    history = self.history
                    if history is not None:
                        alias = self.jobstore_alias
                        self._record = history.started(job, alias, run_time, now)  # type: ignore[arg-type]
                return run_time
            history = self.history
            if history is not None:
                history.missed(job, self.jobstore_alias, run_time, now)  # type: ignore[arg-type]
            missed = missed_event(job, self.jobstore_alias, run_time, now, self.logger)  # type: ignore[arg-type]
            if self.wanted & EVENT_JOB_MISSED:
                self._keep(missed)
            if index >= len(run_times):
                self._index = index
                return None

    def record(self, event: JobExecutionEvent | None) -> None:
        """Record the event of the run time :meth:`next_call` returned last (``None``: an
        executed run whose event was not made): its start and duration, from the clock, and
        the event itself if it is wanted. An executed run is logged as such here, and the run
        recorded in the history."""
        if self._chatty and (event is None or event.code == EVENT_JOB_EXECUTED):
            self.logger.info("Job %s executed successfully", job_label(self.job.id, self.job.name))
        if not self._timed:  # (nor recorded in the history)
            if event is not None and event.code & self.wanted:
                self._keep(event)
            return
        duration = self.clock.monotonic() - self._monotonic_start
        record, history = self._record, self.history
        if record is not None and history is not None:
            self._record = None
            history.ended(record, event, duration, self.jobstore_alias)
        if event is not None:
            event.started = self._started
            event.duration = duration
            if event.code & self.wanted:
                self._keep(event)

    def _returned(self, retval: Any) -> None:
        """Record that the call of the run time :meth:`next_call` returned last returned
        ``retval``, its ``EVENT_JOB_EXECUTED`` event being wanted by nobody (and not made):
        logged, and recorded in the history with its duration, if the history is on."""
        if self._chatty:
            self.logger.info("Job %s executed successfully", job_label(self.job.id, self.job.name))
        token = self._record
        if token is not None:  # (the history is on: the call was timed)
            self._record = None
            duration = self.clock.monotonic() - self._monotonic_start
            self.history.returned(token, retval, duration, self.jobstore_alias)  # type: ignore[union-attr]

    def _keep(self, event: JobExecutionEvent) -> None:
        if self.events is _NO_EVENTS:
            self.events = [event]
        else:
            self.events.append(event)

    def interrupted(self, exc: BaseException) -> None:
        """The call of the run time :meth:`next_call` returned last was ended by ``exc``,
        which ends the run (:exc:`~greenlet.GreenletExit`, :exc:`SystemExit`, ...): close its
        record in the history, if it has one."""
        record = self._record
        if record is not None:
            self._record = None
            duration = self.clock.monotonic() - self._monotonic_start
            history = self.history
            assert history is not None  # it made the record
            history.interrupted(record, exc, duration, self.jobstore_alias)

    def run_here(self, timeout: float | None) -> list[JobExecutionEvent]:
        """Call the job for each run time in the calling greenlet, and return the events.

        :param timeout: see :func:`call_job`
        :raises BaseException: what :func:`call_job` lets through (``GreenletExit``,
            ``KeyboardInterrupt``, ``SystemExit``)
        """
        job, alias, logger, clock = self.job, self.jobstore_alias, self.logger, self.clock
        next_call, record, run_times = self.next_call, self.record, self.run_times  # (hot)
        if timeout is None and not self.wanted & EVENT_JOB_EXECUTED:
            # The common case, with no event made for a call that returns (nobody wants it):
            # the job is called here, as call_job would, and what it returned goes straight
            # to _returned (the history's repr of it)
            returned = self._returned
            while self._index < len(run_times):  # (one call of next_call fewer)
                run_time = next_call()
                if run_time is None:
                    break
                try:
                    retval = job.func(*job.args, **job.kwargs)
                except BaseException:  # noqa: BLE001 (as call_job: raised again below, or an event)
                    try:
                        event = _failure(job, alias, run_time, logger)
                        if event is None:
                            raise  # (the job's exception)
                    except BaseException as exc:
                        self.interrupted(exc)
                        raise
                    record(event)
                else:
                    returned(retval)
            return self.events
        # else not even made (the history wants it, for the return value)
        executed_event = bool(self.wanted & EVENT_JOB_EXECUTED) or self.history is not None
        while self._index < len(run_times):  # (one call of next_call fewer)
            run_time = next_call()
            if run_time is None:
                break
            try:
                event = call_job(job, alias, run_time, logger, timeout, clock, executed_event)
            except BaseException as exc:
                self.interrupted(exc)
                raise
            record(event)
        return self.events


def missed_event(
    job: Job,
    jobstore_alias: str | None,
    run_time: datetime,
    now: datetime,
    logger: logging.Logger,
) -> JobExecutionEvent:
    """Return the ``EVENT_JOB_MISSED`` event of ``run_time``, found later than the job's
    ``misfire_grace_time`` allows at ``now`` (logged)."""
    lateness = (now - run_time).total_seconds()
    logger.warning("Run time of job %s was missed by %.6fs", job_label(job.id, job.name), lateness)
    return JobExecutionEvent(EVENT_JOB_MISSED, job.id, jobstore_alias, run_time)


class JobTimeoutError(TimeoutError):
    """The exception of the ``EVENT_JOB_ERROR`` event of a run that overran its job's
    ``timeout`` (a :exc:`TimeoutError`: the run history tells it apart from the job's own).

    .. versionadded:: greensched 0.1
    """


def timeout_error(job: Job, timeout: float) -> JobTimeoutError:
    """The exception of an ``EVENT_JOB_ERROR`` event for a run that overran ``timeout``."""
    return JobTimeoutError(f'Run of job "{job.id}" timed out after {timeout:g} seconds')


def error_event(
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


def call_job(
    job: Job,
    jobstore_alias: str | None,
    run_time: datetime,
    logger: logging.Logger,
    timeout: float | None = None,
    clock: Clock | None = None,
    executed_event: bool = True,
    *,
    reraise: bool = True,
    log: bool = True,
) -> JobExecutionEvent | None:
    """Call the job once for ``run_time`` (no misfire check) and return the event of the call.

    :param timeout: the most seconds the call may take (``None``: no limit). An overrunning
        call is interrupted with a :class:`gevent.Timeout` raised where the job waits, and
        gives an ``EVENT_JOB_ERROR`` event whose ``exception`` is a :exc:`TimeoutError`. Only
        a job that yields to the gevent hub can be interrupted: for calls in a greenlet.
    :param clock: whose time ``timeout`` counts (``None``: the system clock)
    :param reraise: ``True``: a :exc:`BaseException` that is not an :exc:`Exception` (nor a
        :class:`gevent.Timeout`): :exc:`~greenlet.GreenletExit`, :exc:`KeyboardInterrupt`,
        :exc:`SystemExit`, is logged and raised again, ending the run; ``False`` (a worker
        thread or process, where nothing else is aimed at): it is reported as an
        ``EVENT_JOB_ERROR`` event like any exception
    :param log: ``False``: do not log the job's exception (the caller logs it, from the hub's
        thread: in a monkey-patched program the logging locks are gevent locks, which native
        worker threads must not contend for). A timeout is always logged. The start and the
        success of a call are logged by :class:`JobRun`.
    :param executed_event: ``False``: return ``None`` instead of the ``EVENT_JOB_EXECUTED``
        event of a call that succeeded (nobody listens for it); ``True``: never ``None``
    """
    interrupt: Any = None
    if timeout is not None:
        from greensched._clock import SYSTEM_CLOCK
        from greensched.executors._timers import interrupt_after

        interrupt, timer = interrupt_after(clock or SYSTEM_CLOCK, timeout)
    try:
        try:
            retval = job.func(*job.args, **job.kwargs)
        finally:
            if interrupt is not None:
                timer.close()
    except BaseException:
        event = _failure(job, jobstore_alias, run_time, logger, interrupt, timeout, reraise, log)
        if event is None:
            raise  # GreenletExit, KeyboardInterrupt, SystemExit: the run is over
        return event
    if not executed_event:
        return None
    return JobExecutionEvent(EVENT_JOB_EXECUTED, job.id, jobstore_alias, run_time, retval=retval)


def _failure(
    job: Job,
    jobstore_alias: str | None,
    run_time: datetime,
    logger: logging.Logger,
    interrupt: Any = None,
    timeout: float | None = None,
    reraise: bool = True,
    log: bool = True,
) -> JobExecutionEvent | None:
    """The ``EVENT_JOB_ERROR`` event of a call of ``job`` that raised: call it in the
    ``except`` block (the exception is the one being handled), with :func:`call_job`'s
    arguments (``interrupt``: the exception of the call's timer, if it has a ``timeout``).
    ``None``: the exception ends the run (see ``reraise``), raise it again."""
    exc, tb = sys.exc_info()[1:]
    assert exc is not None
    assert tb is not None
    ours = interrupt is not None and exc is interrupt
    if ours:
        assert timeout is not None
        exc = timeout_error(job, timeout)
        logger.error("Job %s timed out after %g seconds", job_label(job.id, job.name), timeout)
    elif log:
        logger.exception("Job %s raised an exception", job_label(job.id, job.name))
    # Clear the frames' locals so that those of the job are not kept alive through the
    # event; their code and line numbers stay, for the traceback's text
    traceback.clear_frames(tb)
    if reraise and not ours and not isinstance(exc, Exception) and not _is_timeout(exc):
        # GreenletExit, KeyboardInterrupt, SystemExit: the run is over, let it propagate
        return None
    # Formatted only if read (a listener, a run log): most failures' tracebacks are not
    return error_event(job, jobstore_alias, run_time, exc, tb)


def _is_timeout(exc: BaseException) -> bool:
    """``True`` for a :class:`gevent.Timeout`: one that escapes from a job is the job's own
    (``with gevent.Timeout(5): fetch()``), a failure of the job like any other."""
    from gevent import Timeout

    return isinstance(exc, Timeout)


class RunSet(set[JobRun]):
    """The runs an executor has started and not yet fully reported (a set: :meth:`add` them),
    and the one way to wait for them (``shutdown(wait=True)``). For the greenlets of one
    hub."""

    __slots__ = ("_progress",)

    def __init__(self) -> None:
        super().__init__()
        self._progress: Event | None = None  # set when something has ended, if waited on

    def reported(self, run: JobRun) -> None:
        """``run`` has been reported: stop tracking it and wake the waiters."""
        self.discard(run)
        if self._progress is not None:
            self.progressed()

    def progressed(self) -> None:
        """Wake the waiters: something they wait for may have ended."""
        progress, self._progress = self._progress, None
        if progress is not None:
            progress.set()

    def wait_while(self, condition: Callable[[], bool]) -> None:
        """Wait (cooperatively) while ``condition()`` is true, looking again at each
        :meth:`progressed`."""
        from gevent.event import Event

        while condition():
            if self._progress is None:
                self._progress = Event()
            self._progress.wait()

    def wait_reported(self) -> None:
        """Wait until every run has been reported, except the one the calling greenlet owns (a
        shutdown called by a job, or by a listener of a run's events)."""
        from gevent import getcurrent

        current = getcurrent()
        self.wait_while(lambda: any(run.owner is not current for run in self))
