"""Event codes and the event objects a scheduler hands to its listeners (as in APScheduler 3.x)."""

from __future__ import annotations

import traceback as _traceback
from collections.abc import Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, overload

__all__ = (
    "EVENT_ALL",
    "EVENT_ALL_JOBS_REMOVED",
    "EVENT_EXECUTOR_ADDED",
    "EVENT_EXECUTOR_REMOVED",
    "EVENT_JOBSTORE_ADDED",
    "EVENT_JOBSTORE_REMOVED",
    "EVENT_JOB_ADDED",
    "EVENT_JOB_CLAIM_LOST",
    "EVENT_JOB_ERROR",
    "EVENT_JOB_EXECUTED",
    "EVENT_JOB_MAX_INSTANCES",
    "EVENT_JOB_MISSED",
    "EVENT_JOB_MODIFIED",
    "EVENT_JOB_REMOVED",
    "EVENT_JOB_SUBMITTED",
    "EVENT_SCHEDULER_PAUSED",
    "EVENT_SCHEDULER_RESUMED",
    "EVENT_SCHEDULER_SHUTDOWN",
    "EVENT_SCHEDULER_START",
    "EVENT_SCHEDULER_STARTED",
    "JobEvent",
    "JobExecutionEvent",
    "JobSubmissionEvent",
    "SchedulerEvent",
)

EVENT_SCHEDULER_STARTED = EVENT_SCHEDULER_START = 2**0
EVENT_SCHEDULER_SHUTDOWN = 2**1
EVENT_SCHEDULER_PAUSED = 2**2
EVENT_SCHEDULER_RESUMED = 2**3
EVENT_EXECUTOR_ADDED = 2**4
EVENT_EXECUTOR_REMOVED = 2**5
EVENT_JOBSTORE_ADDED = 2**6
EVENT_JOBSTORE_REMOVED = 2**7
EVENT_ALL_JOBS_REMOVED = 2**8
EVENT_JOB_ADDED = 2**9
EVENT_JOB_REMOVED = 2**10
EVENT_JOB_MODIFIED = 2**11
EVENT_JOB_EXECUTED = 2**12
EVENT_JOB_ERROR = 2**13
EVENT_JOB_MISSED = 2**14
EVENT_JOB_SUBMITTED = 2**15
EVENT_JOB_MAX_INSTANCES = 2**16
#: A due run of a job in a shared store that this scheduler found due but did not start:
#: another process took its claim over (the lease ran out), or the job was changed or removed
#: meanwhile. A :class:`JobEvent`; greensched's own, so not part of ``EVENT_ALL`` (listen for
#: it by name).
EVENT_JOB_CLAIM_LOST = 2**17
#: The outcome a run's event reports, as greensched's run log and metrics name it
_RUN_OUTCOMES = {
    EVENT_JOB_EXECUTED: "executed",
    EVENT_JOB_ERROR: "failed",
    EVENT_JOB_MISSED: "missed",
}
EVENT_ALL = (
    EVENT_SCHEDULER_STARTED
    | EVENT_SCHEDULER_SHUTDOWN
    | EVENT_SCHEDULER_PAUSED
    | EVENT_SCHEDULER_RESUMED
    | EVENT_EXECUTOR_ADDED
    | EVENT_EXECUTOR_REMOVED
    | EVENT_JOBSTORE_ADDED
    | EVENT_JOBSTORE_REMOVED
    | EVENT_ALL_JOBS_REMOVED
    | EVENT_JOB_ADDED
    | EVENT_JOB_REMOVED
    | EVENT_JOB_MODIFIED
    | EVENT_JOB_EXECUTED
    | EVENT_JOB_ERROR
    | EVENT_JOB_MISSED
    | EVENT_JOB_SUBMITTED
    | EVENT_JOB_MAX_INSTANCES
)


class SchedulerEvent:
    """An event that concerns the scheduler itself.

    :ivar code: the type code of this event
    :ivar alias: alias of the job store or executor that was added or removed (if applicable)
    """

    def __init__(self, code: int, alias: str | None = None) -> None:
        self.code = code
        self.alias = alias

    def __repr__(self) -> str:
        return f"<{self.__class__.__name__} (code={self.code})>"


class JobEvent(SchedulerEvent):
    """An event that concerns a job.

    :ivar job_id: identifier of the job in question
    :ivar jobstore: alias of the job store containing the job in question
    """

    def __init__(self, code: int, job_id: str, jobstore: str | None) -> None:
        # Attributes set here rather than through the parent constructors: job events are
        # made for every run, and each call up the chain costs as much as the assignments
        self.code = code
        self.alias = None
        self.job_id = job_id
        self.jobstore = jobstore


class JobSubmissionEvent(JobEvent):
    """An event that concerns the submission of a job to its executor.

    :ivar scheduled_run_times: the times the job was scheduled to run at
    """

    def __init__(
        self, code: int, job_id: str, jobstore: str | None, scheduled_run_times: Sequence[datetime]
    ) -> None:
        self.code = code
        self.alias = None
        self.job_id = job_id
        self.jobstore = jobstore
        self.scheduled_run_times = scheduled_run_times


class _LazyTraceback:
    """The ``traceback`` attribute of :class:`JobExecutionEvent`: a plain ``str`` (or ``None``)
    to readers, formatted on first read from what :func:`_defer_traceback` left on the event,
    then kept (a failing run's traceback costs many times the run itself to format, and most
    are never read)."""

    @overload
    def __get__(self, event: None, owner: type | None = None) -> _LazyTraceback: ...

    @overload
    def __get__(self, event: JobExecutionEvent, owner: type | None = None) -> str | None: ...

    def __get__(
        self, event: JobExecutionEvent | None, owner: type | None = None
    ) -> _LazyTraceback | str | None:
        if event is None:
            return self
        state = event.__dict__
        try:
            text: str | None = state["traceback"]
        except KeyError:
            text = _format_source(state.pop("_traceback_source", None))
            state["traceback"] = text
        return text

    def __set__(self, event: JobExecutionEvent, value: str | None) -> None:
        state = event.__dict__
        state["traceback"] = value
        state.pop("_traceback_source", None)


def _format_source(source: TracebackType | _traceback.StackSummary | None) -> str | None:
    """The text of a deferred traceback: a traceback's frames as :func:`traceback.format_tb`
    formats them, or a captured stack's as :func:`traceback.format_stack` does."""
    if source is None:
        return None
    if isinstance(source, TracebackType):
        return "".join(_traceback.format_tb(source))
    return "".join(source.format())


def _defer_traceback(
    event: JobExecutionEvent, source: TracebackType | _traceback.StackSummary
) -> None:
    """Have ``event.traceback`` formatted from ``source`` when it is first read (or when the
    event is pickled) rather than now. ``source`` is kept until then: a traceback keeps its
    frames alive (clear their locals first, with :func:`traceback.clear_frames`)."""
    state = event.__dict__
    state.pop("traceback", None)
    state["_traceback_source"] = source


class JobExecutionEvent(JobEvent):
    """An event that concerns a run of a job.

    :ivar scheduled_run_time: the time the job was scheduled to run at
    :ivar retval: what the job returned, if it completed
    :ivar exception: the exception the job raised, if it failed
    :ivar traceback: the formatted traceback of that exception (a ``str``, formatted when it is
        first read)
    :ivar started: when the run started (an aware datetime of the scheduler's clock), or
        ``None`` for a missed run (and for the runs of an executor that does not measure them)
    :ivar duration: how long the run took, in seconds, or ``None`` as for ``started``

    .. versionchanged:: greensched 0.1 the ``started`` and ``duration`` attributes
    .. versionchanged:: greensched 0.1 the ``traceback`` of a run's error event is formatted
       on first read (or when the event is pickled), not when the run fails
    """

    traceback = _LazyTraceback()

    def __init__(
        self,
        code: int,
        job_id: str,
        jobstore: str | None,
        scheduled_run_time: datetime,
        retval: Any = None,
        exception: BaseException | None = None,
        traceback: str | None = None,
        started: datetime | None = None,
        duration: float | None = None,
    ) -> None:
        self.code = code
        self.alias = None
        self.job_id = job_id
        self.jobstore = jobstore
        self.scheduled_run_time = scheduled_run_time
        self.retval = retval
        self.exception = exception
        # Straight into the instance's dict (what _LazyTraceback reads): events are made for
        # every run
        self.__dict__["traceback"] = traceback
        self.started = started
        self.duration = duration

    def __getstate__(self) -> dict[str, Any]:
        """The event's attributes, its traceback formatted (a traceback cannot be pickled)."""
        if "_traceback_source" in self.__dict__:
            self.traceback  # noqa: B018 (formats it)
        return self.__dict__
