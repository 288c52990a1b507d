"""An executor that runs each job in its own greenlet, optionally at most ``pool_size`` at once."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from greensched import _validators as validate
from greensched.executors.base import BaseExecutor, run_job

try:
    import gevent
    from gevent.event import Event
except ImportError as exc:  # pragma: no cover
    raise ImportError("GeventExecutor requires gevent installed") from exc

if TYPE_CHECKING:
    from greensched.events import JobExecutionEvent
    from greensched.job import Job
    from greensched.schedulers.base import BaseScheduler

__all__ = ("GeventExecutor",)


class _Run:
    """One submission: a job and its run times, waiting for a slot, running, or being reported.

    ``owner`` is the greenlet the run currently lives in: ``None`` while it waits for a slot, then
    its own greenlet, then the greenlet that reports its outcome.
    """

    __slots__ = ("job", "owner", "run_times")

    def __init__(self, job: Job, run_times: Sequence[datetime]) -> None:
        self.job = job
        self.run_times = run_times
        self.owner: Any = None


class GeventExecutor(BaseExecutor):
    """Runs jobs as greenlets.

    Each submission runs :func:`~greensched.executors.base.run_job` in a new greenlet. With a
    ``pool_size``, at most that many run at once; further submissions wait for a free slot in
    submission order, and :meth:`submit_job` still returns at once, so the scheduler is never held
    up by a full pool. A run's misfire grace time is checked when it actually starts, so a run that
    waited too long for a slot gives ``EVENT_JOB_MISSED``. A waiting run counts towards the job's
    ``max_instances``.

    When a run's greenlet ends, its outcome is reported (events dispatched, ``max_instances`` slot
    freed) from a separate greenlet, never from the hub. A run greenlet that is killed is reported
    through :meth:`_run_job_error`.

    Plugin alias: ``gevent``

    :keyword int|None pool_size: the most runs to execute at once (``None``: no limit)
    :raises TypeError: if ``pool_size`` is not an int or ``None``
    :raises ValueError: if ``pool_size`` is not positive

    .. important:: This executor must be used from the thread that runs the scheduler's hub
       *only*, like gevent's own primitives.

    .. note:: ``shutdown(wait=True)`` waits for every running and waiting run to end, and
       :meth:`submit_job` raises :exc:`RuntimeError` after a shutdown (until the executor is
       started again). APScheduler 3.x's gevent executor returns from ``shutdown`` at once and
       accepts jobs after it.

    .. note:: A run ended by :exc:`~greenlet.GreenletExit` (its greenlet was killed), or by a
       :exc:`SystemExit` or :exc:`KeyboardInterrupt` raised by the job, is reported through
       :meth:`_run_job_error` (logged, instance released) and gives no event, since
       :func:`~greensched.executors.base.run_job` lets these end the run. APScheduler 3.x's
       ``run_job`` turns them into ``EVENT_JOB_ERROR`` events and goes on with the next run time.

    A job with a ``timeout`` has each of its runs limited to that many seconds: a run still
    going then is interrupted by a :class:`gevent.Timeout` raised where it waits (its greenlet
    goes on with the job's next run time, if any, then ends, freeing its slot and its
    ``max_instances`` instance) and gives an ``EVENT_JOB_ERROR`` event whose ``exception`` is a
    :exc:`TimeoutError` naming the job and the timeout. The timer cannot interrupt a job that
    never yields to the hub (a CPU-bound loop, an unpatched blocking call): use
    :class:`~greensched.executors.pool.ThreadPoolExecutor` or
    :class:`~greensched.executors.pool.ProcessPoolExecutor` for those. A
    :class:`gevent.Timeout` that the job uses itself is told apart from the executor's.

    .. versionadded:: greensched 0.1 the ``pool_size`` keyword
    .. versionadded:: greensched 0.1 job timeouts (APScheduler 3.x has none)
    """

    def __init__(self, *, pool_size: int | None = None) -> None:
        super().__init__()
        self._pool_size = validate.optional_positive_int("pool_size", pool_size)
        self._waiting: deque[_Run] = deque()  # runs waiting for a slot, oldest first
        self._started: set[_Run] = set()  # runs started and not yet fully reported
        # Slots are counted here rather than by a gevent.pool.Pool: a Pool bounds by blocking in
        # add(), and a full pool must never block the scheduler, only queue the run
        self._slots_used = 0  # run greenlets started and not yet ended
        self._shut_down = False
        self._progress: Event | None = None  # set when a run has been reported, if waited on

    def start(self, scheduler: BaseScheduler, alias: str) -> None:
        """Start (or, after :meth:`shutdown`, restart) this executor for ``scheduler``."""
        super().start(scheduler, alias)
        self._shut_down = False

    def shutdown(self, wait: bool = True) -> None:
        """Shut down this executor: it accepts no more jobs.

        With ``wait=True``, return once every run has ended and been reported, including the runs
        still waiting for a slot. Called from inside a run (a job, or a listener of its events),
        it does not wait for that run itself; runs that wait for the slot the caller holds start
        after the caller returns.

        With ``wait=False``, return at once: running runs go on, runs waiting for a slot are
        dropped (logged) and their instances released.

        :param wait: ``True`` to wait until all submitted jobs have been executed
        """
        self._shut_down = True
        if not wait:
            self._drop_waiting()
            return

        current = gevent.getcurrent()
        while any(run.owner is not current for run in self._started):
            if self._progress is None:
                self._progress = Event()
            self._progress.wait()

        if self._waiting:
            # Every slot is taken by the caller's own run: these start when it ends
            self._logger.debug(
                "%d waiting run(s) will start when the calling run ends", len(self._waiting)
            )

    def _do_submit_job(self, job: Job, run_times: Sequence[datetime]) -> None:
        if self._shut_down:
            raise RuntimeError(f'Cannot submit job "{job.id}": the executor has been shut down')

        run = _Run(job, run_times)
        if self._waiting or (self._pool_size is not None and self._slots_used >= self._pool_size):
            self._waiting.append(run)
            self._logger.debug(
                'The pool is full: run of job "%s" waits for a free slot (%d waiting)',
                job,
                len(self._waiting),
            )
        else:
            self._start_run(run)

    def _start_run(self, run: _Run) -> None:
        """Start ``run`` in a new greenlet, taking a slot. Never blocks."""
        greenlet = gevent.Greenlet(self._execute, run)
        # link, not rawlink: the report takes locks and calls listeners, so it needs a greenlet
        greenlet.link(partial(self._run_ended, run))
        run.owner = greenlet
        self._started.add(run)
        self._slots_used += 1
        greenlet.start()

    def _execute(self, run: _Run) -> list[JobExecutionEvent] | BaseException:
        """The body of a run's greenlet.

        :return: the events of the run, or the exception that ended it
        """
        try:
            job = run.job
            return run_job(
                job,
                job._jobstore_alias,
                run.run_times,
                self._logger.name,
                clock=self._clock,
                timeout=getattr(job, "timeout", None),
            )
        except BaseException as exc:  # noqa: BLE001 (returned, and reported by _run_ended)
            # GreenletExit when killed; SystemExit, KeyboardInterrupt raised by the job. Returned
            # rather than raised: raised, gevent hands it to the hub, which throws it into the
            # main greenlet.
            return exc

    def _run_ended(self, run: _Run, greenlet: gevent.Greenlet) -> None:
        """Link callback of a run's greenlet, called in a greenlet of its own: free the slot,
        start the next waiting run, report the outcome. Never raises."""
        try:
            run.owner = gevent.getcurrent()
            self._slots_used -= 1
            self._start_waiting()
        except BaseException:
            self._logger.exception("Error starting the runs waiting behind job %s", run.job.id)
        # A greenlet killed before it could start never ran _execute: its value is the
        # GreenletExit. _execute catches everything, so greenlet.exception is only a safeguard.
        try:
            self._report_greenlet(run.job.id, greenlet)
        finally:
            self._started.discard(run)
            progress, self._progress = self._progress, None
            if progress is not None:
                progress.set()

    def _start_waiting(self) -> None:
        """Start waiting runs, oldest first, while there are free slots."""
        waiting = self._waiting
        pool_size = self._pool_size
        while waiting and (pool_size is None or self._slots_used < pool_size):
            self._start_run(waiting.popleft())

    def _drop_waiting(self) -> None:
        """Forget the runs waiting for a slot, releasing their instances."""
        waiting = self._waiting
        while waiting:
            run = waiting.popleft()
            self._release_instance(run.job.id)
            self._logger.info(
                'Dropped a run of job "%s" waiting for a slot: the executor was shut down', run.job
            )
