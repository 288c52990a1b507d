"""An executor that runs jobs in greenlets, optionally at most ``pool_size`` at once."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from contextvars import Context
from datetime import datetime
from typing import TYPE_CHECKING, Any

from greensched import _validators as validate
from greensched._logging import job_label
from greensched.executors._runpath import JobRun, RunSet
from greensched.executors.base import BaseExecutor

try:
    from gevent import Greenlet, GreenletExit, get_hub, getcurrent
    from gevent.hub import Waiter
    from gevent.monkey import get_original
except ImportError as exc:  # pragma: no cover
    raise ImportError("GeventExecutor requires gevent installed") from exc

if TYPE_CHECKING:
    from greensched.events import JobExecutionEvent
    from greensched.job import Job
    from greensched.schedulers._services import SchedulerServices

__all__ = ("GeventExecutor",)

#: The C reentrant lock, unpatched (patched, ``threading.RLock`` is written in Python)
_NativeRLock = get_original("_thread", "RLock")

#: The most workers kept waiting for runs; a worker that finds no run and this many others
#: already waiting ends.
MAX_IDLE_WORKERS = 64


class GeventExecutor(BaseExecutor):
    """Runs jobs as greenlets.

    Each submission runs its job's run times (as :func:`~greensched.executors.base.run_job`
    does) in a worker greenlet. With a
    ``pool_size``, at most that many run at once; further submissions wait for a free slot in
    submission order, and :meth:`submit_job` still returns at once, so the scheduler is never held
    up by a full pool. A run's misfire grace time is checked when it actually starts, so a run that
    waited too long for a slot gives ``EVENT_JOB_MISSED``. A waiting run counts towards the job's
    ``max_instances``.

    Workers are reused: creating a greenlet costs several times more than running a short job.
    A worker takes the runs submitted, in submission order, one after the other; when a run
    waits (for I/O, a sleep, a lock), another worker takes the next runs, so runs never wait
    for each other. Each run starts in a fresh, empty :mod:`contextvars` context, as in a new
    greenlet, and a worker that a run left greenlet-local data in (:class:`gevent.local.local`,
    which ``threading.local`` is in a monkey-patched program, keeps it in the greenlet's
    attributes: any change to them counts) ends after that run, so no run sees another's. At
    most :data:`MAX_IDLE_WORKERS` idle workers are kept, each waiting on a
    :class:`gevent.hub.Waiter`.

    When a run ends, its outcome is reported (events dispatched, ``max_instances`` slot freed)
    by its worker, never from the hub. A worker that is killed while it runs a job (its
    greenlet is the job's ``gevent.getcurrent()``) reports the run through
    :meth:`_run_job_error` and ends.

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

    .. note:: APScheduler 3.x spawns a greenlet for each run (and one more for its report).

    A job with a ``timeout`` has each of its runs limited to that many seconds: a run still
    going then is interrupted by a :class:`gevent.Timeout` raised where it waits (its worker
    goes on with the job's next run time, if any, then frees its slot and its
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
        self._waiting: deque[JobRun] = deque()  # runs waiting for a slot, oldest first
        self._ready: deque[JobRun] = deque()  # runs holding a slot, waiting for a worker
        self._started = RunSet()  # runs holding a slot and not yet fully reported
        # Slots are counted here rather than by a gevent.pool.Pool: a Pool bounds by blocking in
        # add(), and a full pool must never block the scheduler, only queue the run
        self._slots_used = 0  # runs ready or running
        # The idle workers, each waiting on its Waiter: _dispatch sends one True (take the
        # ready runs), _end_idle_workers sends them False (end)
        self._idle: list[Waiter[bool]] = []
        self._dispatching: Any = None  # the _dispatch callback scheduled in the hub, if any
        self._shut_down = False

    def start(self, scheduler: SchedulerServices, alias: str) -> None:
        """Start (or, after :meth:`shutdown`, restart) this executor for ``scheduler``."""
        super().start(scheduler, alias)
        # This executor is used from the hub's thread only. A native lock, owned by that
        # thread, shuts out any other thread; the thread's greenlets need no exclusion from
        # each other, as an instance count is read and updated with no switch in between. It
        # costs a fraction of the scheduler's lock, and is taken twice for every run.
        self._lock = _NativeRLock()
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
            self._end_idle_workers()
            return

        self._started.wait_reported()
        self._end_idle_workers()

        if self._waiting:
            # Every slot is taken by the caller's own run: these start when it ends
            self._logger.debug(
                "%d waiting run(s) will start when the calling run ends", len(self._waiting)
            )

    def _do_submit_job(self, job: Job, run_times: Sequence[datetime]) -> None:
        if self._shut_down:
            raise RuntimeError(f'Cannot submit job "{job.id}": the executor has been shut down')

        run = self._new_run(job, run_times)
        if self._waiting or (self._pool_size is not None and self._slots_used >= self._pool_size):
            self._waiting.append(run)
            self._logger.debug(
                "The pool is full: run of job %s waits for a free slot (%d waiting)",
                job_label(job.id, job.name),
                len(self._waiting),
            )
        else:
            self._start_run(run)

    def _start_run(self, run: JobRun) -> None:
        """Give ``run`` a slot and queue it for a worker. Never blocks."""
        self._ready.append(run)
        self._started.add(run)
        self._slots_used += 1
        if self._dispatching is None:
            self._want_worker()

    def _want_worker(self) -> None:
        """Make sure a worker will take the ready runs once the hub gets to run (callers check
        ``_dispatching`` first: this is on the path of every run)."""
        self._dispatching = get_hub().loop.run_callback(self._dispatch)

    def _dispatch(self) -> None:
        """Hub callback: hand the ready runs to an idle worker, or to a new one. Never raises."""
        self._dispatching = None
        if not self._ready:
            return  # a worker took them all without waiting
        try:
            if self._idle:
                # The worker runs until it waits or runs out of runs
                self._idle.pop().switch(True)
            else:
                Greenlet(self._work).start()
        except BaseException:
            self._logger.exception("Error starting a worker greenlet")

    def _work(self) -> None:
        """The body of a worker greenlet: run the ready runs, then wait for more."""
        me = getcurrent()
        hub = get_hub()
        ready = self._ready
        # Greenlet-local data (gevent.local.local, threading.local when patched) lives in the
        # greenlet's __dict__: a run that changed it leaves state the next run must not see
        fresh = dict(me.__dict__)
        while True:
            while ready:
                run = ready.popleft()
                if ready and self._dispatching is None:
                    self._want_worker()  # should this run wait, another worker goes on
                run.owner = me
                ended = Context().run(self._handle, run)
                if ended or me.__dict__ != fresh:
                    if ready and self._dispatching is None:
                        self._want_worker()
                    return
            dispatching = self._dispatching
            if dispatching is not None:
                # Asked for in case a run of this worker waited: none did, none is left
                dispatching.stop()
                self._dispatching = None
            idle = self._idle  # a new list after a shutdown
            if self._shut_down or len(idle) >= MAX_IDLE_WORKERS:
                return
            waiter: Waiter[bool] = Waiter(hub)
            idle.append(waiter)
            try:
                if not waiter.get():  # until _dispatch or _end_idle_workers switches to it
                    return
            except GreenletExit:  # killed
                if waiter in idle:
                    idle.remove(waiter)
                return

    def _handle(self, run: JobRun) -> bool:
        """Run ``run``'s job for each of its run times, then report it, in the calling worker.

        :return: ``True`` if the worker must end: the run was ended by
            :exc:`~greenlet.GreenletExit` (the worker was killed), :exc:`SystemExit` or
            :exc:`KeyboardInterrupt`
        """
        job = run.job
        outcome: list[JobExecutionEvent] | BaseException
        try:
            outcome = run.run_here(getattr(job, "timeout", None))
        except BaseException as exc:  # noqa: BLE001 (reported below)
            # GreenletExit when killed; SystemExit, KeyboardInterrupt raised by the job. Kept
            # rather than raised: raised, gevent hands it to the hub, which throws it into the
            # main greenlet.
            outcome = exc
        self._slots_used -= 1
        if self._waiting:
            try:
                self._start_waiting()
            except BaseException:
                self._logger.exception(
                    "Error starting the runs waiting behind job %s", job_label(job.id, job.name)
                )
        try:
            self._report_outcome(job.id, outcome)
        finally:
            self._started.reported(run)
        return isinstance(outcome, BaseException) and not isinstance(outcome, Exception)

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
                "Dropped a run of job %s waiting for a slot: the executor was shut down",
                job_label(run.job.id, run.job.name),
            )

    def _end_idle_workers(self) -> None:
        """End the workers waiting for runs (busy ones end when their runs are over)."""
        idle, self._idle = self._idle, []
        loop = get_hub().loop
        for waiter in idle:
            loop.run_callback(waiter.switch, False)
