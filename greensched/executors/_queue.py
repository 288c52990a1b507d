"""What the executors that hand runs to a task queue share: :class:`QueueExecutor`.

A queue executor does not call a job: each run time is *sent* as a message to a task queue
(Celery, RQ) whose workers run it. The run goes along the one run path
(:class:`~greensched.executors._runpath.JobRun`): the misfire check on the scheduler's clock,
then the send, whose outcome is the run's event: ``EVENT_JOB_EXECUTED`` once the broker accepted
the message (its ``retval`` is the message id), ``EVENT_JOB_ERROR`` with the reason when the send
failed. A subclass says how one message is sent (:meth:`QueueExecutor._send`), which job
functions it accepts (:meth:`QueueExecutor._task_of`) and which send options it takes.
"""

from __future__ import annotations

from abc import abstractmethod
from collections import deque
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable, ClassVar, TypeVar

from greensched import _validators as validate
from greensched._logging import job_label
from greensched.events import EVENT_JOB_EXECUTED, JobExecutionEvent
from greensched.executors._runpath import JobRun, RunSet, error_event
from greensched.executors.base import BaseExecutor

try:
    from gevent import Greenlet, get_hub, getcurrent
    from gevent.monkey import is_module_patched
except ImportError as exc:  # pragma: no cover
    raise ImportError("The queue executors require gevent installed") from exc

if TYPE_CHECKING:
    from greensched.job import Job
    from greensched.schedulers._services import SchedulerServices

__all__ = ("QueueExecutor", "message_id")

_T = TypeVar("_T")

#: The checks of the send options: each takes the option's name and value and returns the value
OptionCheck = Callable[[str, Any], Any]


def message_id(job_id: str, run_time: datetime) -> str:
    """The id of the message of ``job_id``'s run scheduled at ``run_time``: the job id, ``@``,
    and the scheduled time in ISO 8601 in UTC (``report@2026-01-05T09:00:00+00:00``). The same
    run gives the same id in every process, so a consumer can deduplicate on it."""
    return f"{job_id}@{run_time.astimezone(timezone.utc).isoformat()}"


def string_option(name: str, value: Any) -> str:
    """Check a send option that is a non-empty string (a queue's name)."""
    if not isinstance(value, str) or not value:
        raise TypeError(f"{name} must be a non-empty string, got: {value!r}")
    return value


def mapping_option(name: str, value: Any) -> dict[str, Any]:
    """Check a send option that is a mapping with string keys (message headers, metadata)."""
    if not isinstance(value, Mapping) or not all(isinstance(key, str) for key in value):
        raise TypeError(f"{name} must be a dict with string keys, got: {value!r}")
    return dict(value)


class QueueExecutor(BaseExecutor):
    """Base class of the executors that send each run to a task queue instead of running it.

    :meth:`submit_job` never blocks: the run waits in a queue of its own, in submission order,
    for one of at most ``senders`` sender greenlets, which sends each of its run times (a run
    time past the job's ``misfire_grace_time`` by then gives ``EVENT_JOB_MISSED`` and is not
    sent). A run counts towards the job's ``max_instances`` from its submission until its
    messages are sent (or failed): the executor sees its sends in flight, never the queue's
    backlog nor the workers' runs.

    Each message carries the id :func:`message_id` makes of the job id and the scheduled time
    (a subclass may map it to what its queue accepts, :meth:`_message_id`), and expires when the
    job's ``misfire_grace_time`` after the scheduled time is over (no expiry without one).

    Where the program's sockets are monkey-patched (``greensched run``, ``greensched
    celery-beat``), a send runs in its sender greenlet; otherwise in the gevent hub's thread
    pool, so that a slow broker never holds up the scheduler's loop.

    :keyword int senders: the most messages sent at once (default: 4)
    :keyword dict job_options: send options by job id (each a dict of the options below),
        taking precedence over the executor's own
    :keyword options: the send options of every job (the subclass lists them)
    :raises TypeError: for an unknown option, or a value of the wrong type (naming it)
    :raises ValueError: if ``senders`` is not positive

    .. versionadded:: greensched 0.1
    """

    #: The send options this queue takes, and the check of each value
    option_checks: ClassVar[Mapping[str, OptionCheck]] = {}

    def __init__(
        self,
        *,
        senders: int | str = 4,
        job_options: Mapping[str, Mapping[str, Any]] | None = None,
        **options: Any,
    ) -> None:
        super().__init__()
        self._senders = validate.positive_int_option("senders", senders)
        self._options = self._check_options(options, "the executor's options")
        self._job_options: dict[str, dict[str, Any]] = {}
        self.set_job_options(job_options or {})
        self._waiting: deque[JobRun] = deque()  # runs waiting for a sender, oldest first
        self._runs = RunSet()  # runs submitted and not yet reported
        self._active = 0  # sender greenlets alive
        self._shut_down = False

    @property
    def job_options(self) -> dict[str, dict[str, Any]]:
        """The send options by job id (a copy)."""
        return {job_id: dict(options) for job_id, options in self._job_options.items()}

    def set_job_options(self, job_options: Mapping[str, Mapping[str, Any]]) -> None:
        """Replace the send options by job id (for the runs sent from now on).

        :raises TypeError: if a job's options are not a dict of known options
        """
        if not isinstance(job_options, Mapping):
            raise TypeError(f"job_options must be a dict of dicts, got: {job_options!r}")
        self._job_options = {
            str(job_id): self._check_options(options, f"job_options[{job_id!r}]")
            for job_id, options in job_options.items()
        }

    @classmethod
    def _check_options(cls, options: Any, where: str) -> dict[str, Any]:
        """Return ``options`` checked against :attr:`option_checks`; ``None`` values are left
        out (the queue's default)."""
        if not isinstance(options, Mapping):
            raise TypeError(f"{where} must be a dict, got: {options!r}")
        unknown = sorted(str(name) for name in options if name not in cls.option_checks)
        if unknown:
            raise TypeError(
                f"{where}: unknown send option(s) {', '.join(map(repr, unknown))} for "
                f"{cls.__name__} (expected: {', '.join(cls.option_checks)})"
            )
        return {
            name: cls.option_checks[name](name, value)
            for name, value in options.items()
            if value is not None
        }

    def start(self, scheduler: SchedulerServices, alias: str) -> None:
        """Start (or, after :meth:`shutdown`, restart) this executor for ``scheduler``."""
        super().start(scheduler, alias)
        self._shut_down = False

    def shutdown(self, wait: bool = True) -> None:
        """Shut down this executor: it accepts no more jobs.

        :param wait: ``True``: return once every submitted run has been sent (or failed) and
            reported; ``False``: return at once, dropping (logged) the runs still waiting for a
            sender (those being sent go on)
        """
        self._shut_down = True
        if wait:
            self._runs.wait_reported()
            return
        while self._waiting:
            run = self._waiting.popleft()
            self._runs.reported(run)
            self._release_instance(run.job.id)
            self._logger.info(
                "Dropped a run of job %s waiting to be sent: the executor was shut down",
                job_label(run.job.id, run.job.name),
            )

    def _check_job(self, job: Job) -> None:
        self._task_of(job)

    @abstractmethod
    def _task_of(self, job: Job) -> Any:
        """Return what :meth:`_send` sends for ``job`` (its task).

        :raises TypeError: naming the job, if its function is not a task of this queue
        """

    @abstractmethod
    def _send(
        self,
        task: Any,
        job: Job,
        message_id: str,
        expires: datetime | None,
        options: dict[str, Any],
    ) -> None:
        """Send one message: ``task`` called with the job's arguments, under ``message_id``,
        expiring at ``expires`` (``None``: never), with the send ``options``. Called in a
        sender greenlet or a thread of the hub's pool; blocks until the broker has the message.

        :raises Exception: if the message was not accepted
        """

    def _message_id(self, job_id: str, run_time: datetime) -> str:
        """The id of the message of ``job_id``'s run at ``run_time`` (:func:`message_id`)."""
        return message_id(job_id, run_time)

    def _do_submit_job(self, job: Job, run_times: Sequence[datetime]) -> None:
        if self._shut_down:
            raise RuntimeError(f'Cannot submit job "{job.id}": the executor has been shut down')
        run = self._new_run(job, run_times)
        self._runs.add(run)
        self._waiting.append(run)
        if self._active < self._senders:
            self._active += 1
            Greenlet(self._send_waiting).start()

    def _send_waiting(self) -> None:
        """The body of a sender greenlet: send the waiting runs, oldest first, then end."""
        me = getcurrent()
        try:
            while self._waiting:
                run = self._waiting.popleft()
                run.owner = me
                outcome: list[JobExecutionEvent] | BaseException
                try:
                    outcome = self._send_run(run)
                except BaseException as exc:  # noqa: BLE001 (reported below)
                    outcome = exc  # GreenletExit when killed
                try:
                    self._report_outcome(run.job.id, outcome)
                finally:
                    self._runs.reported(run)
                if isinstance(outcome, BaseException) and not isinstance(outcome, Exception):
                    return
        finally:
            self._active -= 1

    def _send_run(self, run: JobRun) -> list[JobExecutionEvent]:
        """Send each run time of ``run`` that is not too late; return the run's events."""
        job = run.job
        options = {**self._options, **self._job_options.get(job.id, {})}
        grace = job.misfire_grace_time
        while True:
            run_time = run.next_call()
            if run_time is None:
                return run.events
            mid = self._message_id(job.id, run_time)
            expires = None if grace is None else run_time + timedelta(seconds=grace)
            try:
                self._blocking(self._send, self._task_of(job), job, mid, expires, options)
            except Exception as exc:  # noqa: BLE001 (the run's EVENT_JOB_ERROR)
                self._logger.error(
                    "Sending the run of job %s scheduled at %s failed: %s: %s",
                    job_label(job.id, job.name),
                    run_time,
                    type(exc).__name__,
                    exc,
                )
                run.record(error_event(job, run.jobstore_alias, run_time, exc, exc.__traceback__))
            else:
                event = JobExecutionEvent(
                    EVENT_JOB_EXECUTED, job.id, run.jobstore_alias, run_time, retval=mid
                )
                run.record(event)

    @staticmethod
    def _blocking(function: Callable[..., _T], *args: Any) -> _T:
        """Call ``function(*args)``, which does network I/O: here if sockets are patched
        (it yields to the hub), else in a thread of the hub's pool (waiting for it
        cooperatively)."""
        if is_module_patched("socket"):
            return function(*args)
        # The exception comes back as a value: raised in the pool's thread, gevent would print
        # it on stderr as well
        outcome: tuple[bool, Any] = get_hub().threadpool.apply(_outcome, (function, *args))
        succeeded, value = outcome
        if not succeeded:
            raise value
        result: _T = value
        return result


def _outcome(function: Callable[..., Any], *args: Any) -> tuple[bool, Any]:
    """``(True, function(*args))``, or ``(False, the exception it raised)``."""
    try:
        return True, function(*args)
    except Exception as exc:  # noqa: BLE001 (raised again by the caller)
        return False, exc
