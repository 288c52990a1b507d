"""What the pool executors share: :class:`BasePoolExecutor` and the checks of their options."""

from __future__ import annotations

import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from greensched import _validators as validate
from greensched._logging import job_label
from greensched.executors._runpath import RunSet
from greensched.executors.base import BaseExecutor

if TYPE_CHECKING:
    from greensched.events import JobExecutionEvent
    from greensched.job import Job
    from greensched.schedulers._services import SchedulerServices

__all__ = ("BasePoolExecutor", "initializer_options", "pool_options")


def pool_options(pool_kwargs: Any, allowed: Sequence[str]) -> dict[str, Any]:
    """Check the ``pool_kwargs`` of a pool executor: ``None`` or a mapping of allowed keys."""
    if pool_kwargs is None:
        return {}
    if not isinstance(pool_kwargs, Mapping):
        raise TypeError(f"pool_kwargs must be a dict or None, got: {pool_kwargs!r}")
    unknown = sorted(set(pool_kwargs) - set(allowed))
    if unknown:
        raise TypeError(
            f"pool_kwargs may only hold {', '.join(allowed)}, got: {', '.join(map(str, unknown))}"
        )
    return dict(pool_kwargs)


def initializer_options(
    options: dict[str, Any],
) -> tuple[Callable[..., Any] | None, tuple[Any, ...]]:
    """Check the ``initializer`` and ``initargs`` of a pool executor's ``pool_kwargs``."""
    initializer = options.get("initializer")
    if initializer is not None and not callable(initializer):
        raise TypeError(f"initializer must be callable or None, got: {initializer!r}")
    initargs = options.get("initargs", ())
    if isinstance(initargs, (str, bytes)) or not isinstance(initargs, Sequence):
        raise TypeError(f"initargs must be a sequence, got: {initargs!r}")
    return initializer, tuple(initargs)


class BasePoolExecutor(BaseExecutor):
    """Base class of the executors that run jobs in a bounded pool of workers (threads or
    processes): ``max_workers``, refusing jobs (:meth:`_prepare`), logging the end of a run
    time (:meth:`_log_failure`) and shutting down (waiting for the runs submitted, then
    :meth:`_close_workers`). A subclass implements :meth:`_do_submit_job`. When every run time
    of a run is done, the events are dispatched and the ``max_instances`` instance released,
    from the scheduler's hub's thread; a run waiting for a worker counts towards
    ``max_instances``, and waiting runs are served in submission order.

    :param max_workers: the most workers running jobs at once (an int, or a string holding one,
        as configuration files give it)
    :raises TypeError: if ``max_workers`` is not an int or a string holding one
    :raises ValueError: if ``max_workers`` is not positive

    .. important:: Submit jobs and shut the executor down from the thread that runs the
       scheduler's hub *only*, like gevent's own primitives.

    .. note:: APScheduler 3.x's ``BasePoolExecutor(pool)`` wraps a :mod:`concurrent.futures`
       executor. Those cannot be used safely from a gevent hub (their management threads and
       locks are greenlets when the program is patched, and their callbacks run in foreign
       threads when it is not), so greensched's takes ``max_workers`` and leaves the workers to
       its subclasses.
    """

    def __init__(self, max_workers: int | str) -> None:
        super().__init__()
        self._max_workers = validate.positive_int_option("max_workers", max_workers)
        self._runs = RunSet()  # runs submitted and not yet fully reported
        self._shut_down = False
        self._dropping = False  # shut down without waiting: start no more run times

    @property
    def max_workers(self) -> int:
        """The most workers running jobs at once."""
        return self._max_workers

    def start(self, scheduler: SchedulerServices, alias: str) -> None:
        """Start (or, after :meth:`shutdown`, restart) this executor for ``scheduler``."""
        super().start(scheduler, alias)
        self._shut_down = False
        self._dropping = False

    def shutdown(self, wait: bool = True) -> None:
        """Shut down this executor: it accepts no more jobs.

        With ``wait=True``, return once every submitted run has ended and been reported,
        including the runs still waiting for a worker, and the workers are stopped. Called from
        inside the report of a run (a listener of its events), it does not wait for that run.

        With ``wait=False``, return at once: run times being run go on and are reported, run
        times not yet started are dropped (logged), and the workers stop once idle.

        :param wait: ``True`` to wait until all submitted jobs have been executed
        """
        self._shut_down = True
        if not wait:
            self._dropping = True
            self._close_workers(wait=False)
            return

        self._runs.wait_reported()
        self._close_workers(wait=True)

    def _prepare(self, job: Job) -> Any:
        """Return what the workers need of ``job`` (stored on the run as ``payload``); raise to
        refuse the job. Called by :meth:`submit_job`."""
        return None

    def _check_job(self, job: Job) -> None:
        self._prepare(job)

    def _close_workers(self, wait: bool) -> None:
        """Stop the idle workers (called by :meth:`shutdown`, once every run is reported if
        ``wait``)."""

    def _log_failure(self, job: Job, event: JobExecutionEvent) -> None:
        """Log the failure of a run time that a worker ran (workers log nothing themselves; the
        start and the success of a run are logged by its
        :class:`~greensched.executors._runpath.JobRun`)."""
        exc = event.exception
        if exc is None:
            return
        if exc.__traceback__ is not None:
            self._logger.error(
                "Job %s raised an exception", job_label(job.id, job.name), exc_info=exc
            )
        else:  # from another process: only its formatted traceback came back
            self._logger.error(
                "Job %s raised an exception\nTraceback (most recent call last):\n%s%s",
                job_label(job.id, job.name),
                event.traceback or "",
                "".join(traceback.format_exception_only(type(exc), exc)).rstrip("\n"),
            )
