"""Executors that run jobs away from the gevent hub: in native threads (jobs that block) or in
worker processes (CPU-bound jobs).

Both work the same way in a program that called :func:`gevent.monkey.patch_all` and in one that
did not. Each submitted run is looked after in the scheduler's hub (by a greenlet of its own in
the process pool, by a few greenlets shared by every run in the thread pool), which hands the
run's run times one by one to a worker and waits for the outcomes without blocking the hub; the
outcome is then reported from that hub's thread, so event listeners run there, as they do with
:class:`~greensched.executors.gevent.GeventExecutor`.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import os
import pickle
import signal
import sys
import traceback
from abc import abstractmethod
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import partial
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from typing import TYPE_CHECKING, Any

from greensched import _validators as validate
from greensched._hubs import hub_gate
from greensched._logging import count, job_label
from greensched.events import EVENT_JOB_EXECUTED
from greensched.executors import _procworker
from greensched.executors.base import (
    BaseExecutor,
    _error_event,
    _missed_run,
    _run_once,
    _set_timing,
    _timeout_error,
)

try:
    import gevent
    import gevent.select
    import gevent.socket
    from gevent import GreenletExit
    from gevent.event import AsyncResult, Event
    from gevent.hub import Waiter
    from gevent.monkey import get_original, is_module_patched
except ImportError as exc:  # pragma: no cover
    raise ImportError("The pool executors require gevent installed") from exc

if TYPE_CHECKING:
    from greensched._clock import Clock
    from greensched.events import JobExecutionEvent
    from greensched.job import Job
    from greensched.schedulers.base import BaseScheduler

__all__ = ("BasePoolExecutor", "ProcessPoolExecutor", "ThreadPoolExecutor")

# Native-thread primitives, whether or not the program is monkey-patched
_get_thread_ident = get_original("_thread", "get_ident")
_thread_local = get_original("_thread", "_local")
_start_new_thread = get_original("_thread", "start_new_thread")
#: The C queue of CPython (``_queue``), unpatched: its get() blocks the calling OS thread
_NativeQueue = get_original("queue", "SimpleQueue")


class _Slots:
    """A counting semaphore for the greenlets of one hub, whose waiters are served in order
    and can be turned away (when the executor shuts down without waiting)."""

    __slots__ = ("_free", "_waiters")

    def __init__(self, size: int) -> None:
        self._free = size
        self._waiters: deque[AsyncResult] = deque()

    def acquire(self) -> bool:
        """Take a slot, waiting for one if need be.

        :return: ``True`` once a slot is taken, ``False`` if turned away
        """
        if self._free > 0 and not self._waiters:
            self._free -= 1
            return True
        waiter = AsyncResult()
        self._waiters.append(waiter)
        try:
            return bool(waiter.get())
        except BaseException:
            # Killed while waiting: hand on a slot given in the meantime
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            elif waiter.ready() and waiter.value:
                self.release()
            raise

    def release(self) -> None:
        """Give a slot back: to the longest waiter, if any."""
        if self._waiters:
            self._waiters.popleft().set(True)
        else:
            self._free += 1

    def turn_away(self) -> None:
        """Make every current waiter's :meth:`acquire` return ``False``."""
        while self._waiters:
            self._waiters.popleft().set(False)


class _Once:
    """A callable that calls ``func`` the first time only."""

    __slots__ = ("_func",)

    def __init__(self, func: Callable[[], object]) -> None:
        self._func: Callable[[], object] | None = func

    def __call__(self) -> None:
        func, self._func = self._func, None
        if func is not None:
            func()


class _Run:
    """One submission: a job, its run times, and what the executor prepared for it.

    ``owner`` is the greenlet the run currently lives in: its supervising greenlet, then the
    greenlet that reports its outcome.
    """

    __slots__ = ("job", "owner", "payload", "run_times")

    def __init__(self, job: Job, run_times: Sequence[datetime], payload: Any) -> None:
        self.job = job
        self.run_times = run_times
        self.payload = payload
        self.owner: Any = None


def _pool_options(pool_kwargs: Any, allowed: Sequence[str]) -> dict[str, Any]:
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


def _initializer_options(
    options: dict[str, Any],
) -> tuple[Callable[..., Any] | None, tuple[Any, ...]]:
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
    time (:meth:`_log_outcome`) and shutting down (waiting for the runs submitted, then
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
        self._runs: set[_Run] = set()  # runs submitted and not yet fully reported
        self._shut_down = False
        self._dropping = False  # shut down without waiting: start no more run times
        self._progress: Event | None = None  # set when a run has been reported, if waited on

    @property
    def max_workers(self) -> int:
        """The most workers running jobs at once."""
        return self._max_workers

    def start(self, scheduler: BaseScheduler, alias: str) -> None:
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

        current = gevent.getcurrent()
        while any(run.owner is not current for run in self._runs):
            if self._progress is None:
                self._progress = Event()
            self._progress.wait()
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

    def _log_outcome(self, job: Job, event: JobExecutionEvent) -> None:
        """Log the end of a run time that a worker ran (workers log nothing themselves)."""
        if event.code == EVENT_JOB_EXECUTED:
            self._logger.info("Job %s executed successfully", job_label(job.id, job.name))
            return
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


class _SupervisedPoolExecutor(BasePoolExecutor):
    """A pool executor whose submissions are each looked after by a greenlet of the
    scheduler's hub (so :meth:`submit_job` never blocks). For each of the run's run times in
    turn, that greenlet waits for a free worker, checks the run time's ``misfire_grace_time``
    against the scheduler's clock (a run time that waited too long gives
    ``EVENT_JOB_MISSED``), then has a worker call the job (:meth:`_run_in_worker`, which
    subclasses implement) and waits for the outcome cooperatively.
    """

    def __init__(self, max_workers: int | str) -> None:
        super().__init__(max_workers)
        self._slots = _Slots(self._max_workers)

    def shutdown(self, wait: bool = True) -> None:
        if not wait:
            self._slots.turn_away()  # the runs waiting for a worker start no more run times
        super().shutdown(wait)

    def _do_submit_job(self, job: Job, run_times: Sequence[datetime]) -> None:
        if self._shut_down:
            raise RuntimeError(f'Cannot submit job "{job.id}": the executor has been shut down')
        run = _Run(job, run_times, self._prepare(job))
        greenlet = gevent.Greenlet(self._supervise, run)
        greenlet.link(partial(self._run_ended, run))
        run.owner = greenlet
        self._runs.add(run)
        greenlet.start()

    def _supervise(self, run: _Run) -> list[JobExecutionEvent] | BaseException:
        """The body of a run's greenlet: run its run times one by one.

        :return: the events of the run, or the exception that ended it
        """
        try:
            job = run.job
            events: list[JobExecutionEvent] = []
            for index, run_time in enumerate(run.run_times):
                if self._dropping or not self._slots.acquire():
                    self._logger.info(
                        "Dropped %s of job %s: the executor was shut down",
                        count(len(run.run_times) - index, "run time"),
                        job_label(job.id, job.name),
                    )
                    break
                release = _Once(self._slots.release)
                try:
                    missed = _missed_run(
                        job, job._jobstore_alias, run_time, self._clock, self._logger
                    )
                except BaseException:
                    release()
                    raise
                if missed is not None:
                    release()
                    events.append(missed)
                else:
                    self._logger.info(
                        "Running job %s (scheduled at %s)", job_label(job.id, job.name), run_time
                    )
                    clock = self._clock
                    started, start = clock.now(), clock.monotonic()
                    event = self._run_in_worker(run, run_time, release)
                    _set_timing(event, started, start, clock)
                    events.append(event)
            return events
        except BaseException as exc:  # noqa: BLE001 (returned, and reported by _run_ended)
            # Returned rather than raised: raised, gevent hands it to the hub
            return exc

    @abstractmethod
    def _run_in_worker(
        self, run: _Run, run_time: datetime, release: Callable[[], None]
    ) -> JobExecutionEvent:
        """Have a worker run ``run.job`` once for ``run_time`` and return the event of the run.

        Called in the run's greenlet, with a worker slot taken: ``release`` must be called once
        the worker is free again (possibly later, from another greenlet), also when this
        raises.
        """

    def _run_ended(self, run: _Run, greenlet: gevent.Greenlet) -> None:
        """Link callback of a run's greenlet, called in a greenlet of its own: report the
        outcome. Never raises."""
        run.owner = gevent.getcurrent()
        try:
            self._report_greenlet(run.job.id, greenlet)
        finally:
            self._runs.discard(run)
            progress, self._progress = self._progress, None
            if progress is not None:
                progress.set()


class _ThreadRun(_Run):
    """A submission to the thread pool: which of its run times comes next, and the events of
    those done."""

    __slots__ = ("events", "index")

    def __init__(self, job: Job, run_times: Sequence[datetime], payload: Any) -> None:
        super().__init__(job, run_times, payload)
        self.index = 0
        self.events: list[JobExecutionEvent] = []


# The states of a _ThreadTask, as the hub's thread sees them
_RUNNING = 0  # given to a thread, its outcome not yet collected
_TIMED_OUT = 1  # reported as timed out: the thread runs on, its outcome will only be logged
_COLLECTED = 2  # its outcome collected


class _ThreadTask:
    """What a worker thread runs: one run time of a job. The thread records itself, its
    event, and that it has finished; everything else belongs to the hub's thread."""

    __slots__ = (
        "event",
        "finished",
        "job",
        "jobstore_alias",
        "logger_name",
        "run",
        "run_time",
        "start",
        "started",
        "state",
        "thread_ident",
        "threads",
        "timeout",
        "timer",
    )

    def __init__(
        self, run: _ThreadRun, run_time: datetime, logger_name: str, clock: Clock
    ) -> None:
        job = run.job
        self.run = run
        self.job = job
        self.jobstore_alias: str | None = job._jobstore_alias
        self.run_time = run_time
        self.logger_name = logger_name
        self.thread_ident: int | None = None
        self.event: JobExecutionEvent | None = None  # set by the thread
        self.finished = False  # set by the thread, after event
        self.threads: _Threads | None = None
        self.started = clock.now()  # when the run started
        self.start = clock.monotonic()  # the same, monotonic
        self.state = _RUNNING
        self.timeout: float | None = getattr(job, "timeout", None)
        self.timer: Any = None  # the hub's timer of the timeout, if there is one


class _Threads:
    """The worker threads of a :class:`ThreadPoolExecutor` for one hub, and the way back.

    The threads are real OS threads, patched or not, which take tasks from a native queue
    (``get()`` blocks the thread, not a hub). A thread that has run a task appends it to
    ``done`` (a deque: appending is thread-safe) and sends the async watcher of the hub, whose
    callback, in the hub's thread, collects every task done so far: the sends of several
    threads close together cost the hub one wake-up.

    The watcher is active (keeping the hub's loop alive) while tasks are out in the threads.
    The threads only take from ``tasks``, append to ``done`` and send ``watcher``; the rest
    belongs to the hub's thread.
    """

    __slots__ = ("closed", "done", "hub", "outstanding", "tasks", "threads", "watcher")

    def __init__(self, hub: Any) -> None:
        self.hub = hub
        self.tasks: Any = _NativeQueue()
        self.done: deque[_ThreadTask] = deque()
        self.watcher = hub.loop.async_()
        self.threads = 0  # threads started and not yet asked to stop
        self.outstanding = 0  # tasks given to the threads and not yet collected
        self.closed = False

    def submit(self, task: _ThreadTask, on_done: Callable[[_Threads], None], work: Any) -> None:
        """Give ``task`` to a thread, starting one if every thread may be busy."""
        if self.threads <= self.outstanding:
            _start_new_thread(work, (self,))
            self.threads += 1
        if not self.outstanding:
            self.watcher.start(on_done, self)
        self.outstanding += 1
        task.threads = self
        self.tasks.put(task)

    def collected(self) -> None:
        """A task's outcome has been taken from ``done``."""
        self.outstanding -= 1
        if not self.outstanding:
            self.watcher.stop()
            if self.closed:
                self.watcher.close()

    def close(self) -> None:
        """Ask the threads to stop once the tasks given to them are done."""
        for _ in range(self.threads):
            self.tasks.put(None)
        self.threads = 0
        self.closed = True
        # The watcher belongs to its hub's thread (from another one, it goes with that hub)
        if not self.outstanding and gevent.get_hub() is self.hub:
            self.watcher.close()


class ThreadPoolExecutor(BasePoolExecutor):
    """An executor that runs jobs in a pool of native threads, for jobs that block: C code,
    unpatched libraries, or any blocking call in a program that did not monkey-patch.

    The threads are real OS threads, whether or not the program called
    :func:`gevent.monkey.patch_all`, so a job that blocks never blocks the gevent hub. Results
    and exceptions come back into the scheduler's hub as the usual events
    (``EVENT_JOB_EXECUTED``, ``EVENT_JOB_ERROR``, ``EVENT_JOB_MISSED``), and listeners are
    called in the hub's thread, never in a worker thread. Runs wait for a free thread as
    described in :class:`BasePoolExecutor`.

    Plugin alias: ``threadpool``

    :param max_workers: the maximum number of threads
    :param pool_kwargs: options of the pool, as for :class:`concurrent.futures.ThreadPoolExecutor`:
        ``thread_name_prefix`` (worker threads are named ``<prefix>_<n>``), ``initializer`` and
        ``initargs`` (called in each thread before its first job; if it raises, that thread's
        runs fail with its exception, and it is tried again for the next run)
    :raises TypeError: if ``max_workers`` is not an int (or a string holding one), or
        ``pool_kwargs`` holds something else
    :raises ValueError: if ``max_workers`` is not positive

    **Timeouts.** Threads cannot be stopped. When a run time overruns its job's ``timeout``,
    the executor gives up waiting for it at once: the run time gets an ``EVENT_JOB_ERROR`` event
    whose ``exception`` is a :exc:`TimeoutError` and whose ``traceback`` shows where the thread
    was at that moment, and the run goes on as if it had ended (with the next run time if
    several were due; at its end, its events are dispatched and its ``max_instances`` instance
    freed, so the job's schedule goes on). The thread itself runs on until the job returns: it
    keeps its place in the pool until then, and its late outcome is logged (warning), never
    reported as a second event. A job that hangs forever therefore ties up one thread forever;
    a job that only sometimes overruns can briefly have more threads running it than its
    ``max_instances``.

    **Cost.** The threads take their tasks from a native queue and hand each outcome back
    through one async watcher of the hub, and the hub's side (waiting for a thread, the
    misfire check, the logging, the reporting) is done by a few long-lived greenlets rather
    than by greenlets of each run, so a run costs the hub's thread about what it costs
    APScheduler 3.x's executor (see ``bench/bench_threadpool.py``).

    .. caution:: In a program that called :func:`gevent.monkey.patch_all`, the locks of
       :mod:`threading` created after patching are gevent locks, and gevent can deadlock when
       native threads contend for one of its :class:`threading.RLock` (two jobs logging at the
       same moment through a :mod:`logging` handler, for example). greensched takes no such
       lock in the worker threads (it logs the runs from the hub's thread); jobs run here in a
       patched program should not either: give them unpatched locks, or use
       :class:`ProcessPoolExecutor`.

    .. note:: The pool's threads run the jobs; the waiting, the timeouts, the logging and the
       reporting happen in greenlets of the scheduler's hub. APScheduler 3.x's executor calls its
       ``concurrent.futures`` callbacks, and so reports events and calls listeners, in the
       worker threads.

    .. note:: ``shutdown(wait=True)`` also waits for threads still running a run that timed
       out; ``shutdown(wait=False)`` drops the run times not yet started (APScheduler 3.x runs
       every queued job after either).

    .. note:: ``max_workers`` must be an int (or a string holding one); APScheduler 3.x
       truncates a float with :func:`int`.

    .. versionadded:: greensched 0.1 job timeouts (APScheduler 3.x has none)
    .. versionchanged:: greensched 0.1 the threads are the executor's own, not a
       :class:`gevent.threadpool.ThreadPool`
    """

    def __init__(
        self, max_workers: int | str = 10, pool_kwargs: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(max_workers)
        options = _pool_options(pool_kwargs, ("thread_name_prefix", "initializer", "initargs"))
        prefix = options.get("thread_name_prefix", "")
        if not isinstance(prefix, str):
            raise TypeError(f"thread_name_prefix must be a string, got: {prefix!r}")
        self._thread_name_prefix = prefix or f"{type(self).__name__}-{id(self):x}"
        self._initializer, self._initargs = _initializer_options(options)
        self._thread_state = _thread_local()  # per worker thread: whether it is set up
        self._thread_numbers = itertools.count()
        self._threads: _Threads | None = None  # of the hub the runs are submitted in
        self._free = self._max_workers  # threads not running (nor overrunning) a task
        self._ready: deque[_ThreadRun] = deque()  # runs waiting for a thread, oldest first
        self._completed: deque[_ThreadTask] = deque()  # tasks done, collected from the threads
        self._expired: deque[_ThreadTask] = deque()  # tasks whose timeout has passed
        self._late: set[_ThreadTask] = set()  # tasks reported as timed out, still running
        # The greenlets that do the hub's side of the runs (see _handle_runs)
        self._idle_handler: Waiter | None = None  # the one waiting for work, if any
        self._handler_wanted = False  # a wake-up or a new handler is on its way
        self._hub: Any = None  # the hub of the thread the runs are submitted in

    # -- the hub's side ------------------------------------------------------------------------

    def _do_submit_job(self, job: Job, run_times: Sequence[datetime]) -> None:
        if self._shut_down:
            raise RuntimeError(f'Cannot submit job "{job.id}": the executor has been shut down')
        run = _ThreadRun(job, run_times, self._prepare(job))
        self._runs.add(run)
        self._ready.append(run)
        self._want_handler()

    def _want_handler(self) -> None:
        """Make sure a handler greenlet looks at the work soon. In the hub's thread; never
        blocks, so that it may be called from the hub's callbacks."""
        hub = gevent.get_hub()
        if self._hub is not hub:
            # First use, or restarted in another thread: the handlers of the old one (and its
            # runs) went with its hub
            self._hub = hub
            self._idle_handler = None
            self._handler_wanted = False
        if self._handler_wanted:
            return
        waiter, self._idle_handler = self._idle_handler, None
        self._handler_wanted = True
        if waiter is not None:
            if gevent.getcurrent() is hub:
                waiter.switch(None)
            else:
                hub.loop.run_callback(waiter.switch, None)
        else:
            # Every handler is busy (it yielded in a listener, a lock or a log handler) or none
            # exists: another one goes on with the work
            gevent.spawn(self._handle_runs)

    def _has_work(self) -> bool:
        return bool(
            self._completed
            or self._expired
            or (self._ready and (self._free > 0 or self._dropping))
        )

    def _handle_runs(self) -> None:
        """The body of a handler greenlet: collect the outcomes of the threads, report the
        timeouts, start the runs waiting for a thread (oldest first), report the runs that have
        ended; then wait for more work, or end if there is none to come (or another handler
        waits already). Never raises."""
        hub = gevent.get_hub()
        waiter: Waiter | None = None
        try:
            while True:
                self._handler_wanted = False
                while self._has_work():
                    self._handle_one()
                if self._idle_handler is not None or (
                    self._threads is None and not (self._runs or self._late)
                ):
                    return  # another handler waits already, or the executor is shut down
                waiter = self._idle_handler = Waiter(hub)
                waiter.get()  # until _want_handler switches back
                waiter = None
        except GreenletExit:
            self._handler_wanted = False  # killed (its hub is being destroyed)
        finally:
            if waiter is not None and self._idle_handler is waiter:
                self._idle_handler = None

    def _handle_one(self) -> None:
        """Handle one piece of work: a collected outcome, then a timeout, then a waiting run.
        Never raises."""
        try:
            if self._completed:
                self._collect(self._completed.popleft())
            elif self._expired:
                self._time_out(self._expired.popleft())
            else:
                run = self._ready.popleft()
                if self._dropping:
                    self._drop(run)
                else:
                    self._start(run)
        except GreenletExit:
            raise
        except BaseException:
            self._logger.exception("Error handling the runs of the thread pool")

    def _start(self, run: _ThreadRun) -> None:
        """Take a thread for the next run time of ``run``: run it there, or report it missed."""
        job = run.job
        run_time = run.run_times[run.index]
        clock = self._clock
        self._free -= 1
        try:
            missed = _missed_run(job, job._jobstore_alias, run_time, clock, self._logger)
            if missed is None:
                self._logger.info(
                    "Running job %s (scheduled at %s)", job_label(job.id, job.name), run_time
                )
                task = _ThreadTask(run, run_time, self._logger.name, clock)
                threads = self._threads
                hub = gevent.get_hub()
                if threads is None or threads.hub is not hub:
                    if threads is not None:
                        threads.close()
                    threads = self._threads = _Threads(hub)
                threads.submit(task, self._threads_done, self._work)
        except BaseException as exc:  # noqa: BLE001 (the run ends with it, reported)
            self._free += 1
            self._finish(run, exc)
            return
        if missed is not None:
            self._free += 1
            run.events.append(missed)
            self._next(run)
        elif task.timeout is not None:
            task.timer = hub.loop.timer(task.timeout)
            task.timer.start(self._timer_expired, task)

    def _threads_done(self, threads: _Threads) -> None:
        """Callback of the threads' async watcher, in the hub: take the tasks they have done."""
        done = threads.done
        if threads.hub is not self._hub:
            # Restarted in another thread since: the runs of this one were given up with it
            while done:
                done.popleft()
                threads.collected()
            return
        completed = self._completed
        while done:
            completed.append(done.popleft())
        if completed:
            self._want_handler()

    def _timer_expired(self, task: _ThreadTask) -> None:
        """Callback of a task's timeout timer, in the hub."""
        self._expired.append(task)
        self._want_handler()

    def _collect(self, task: _ThreadTask) -> None:
        """Take the outcome of a task its thread has finished; the thread is free again."""
        threads = task.threads
        assert threads is not None
        threads.collected()
        timer = task.timer
        if timer is not None:
            timer.close()
        self._free += 1
        if task.state == _TIMED_OUT:
            self._late.discard(task)
            self._log_late_outcome(task)
            self._progressed()
            return
        task.state = _COLLECTED
        event = task.event
        assert event is not None  # set before finished
        self._log_outcome(task.job, event)
        _set_timing(event, task.started, task.start, self._clock)
        task.run.events.append(event)
        self._next(task.run)

    def _time_out(self, task: _ThreadTask) -> None:
        """Report a task that overran its job's timeout (unless it has ended meanwhile: its
        outcome is then on its way)."""
        if task.state != _RUNNING or task.finished:
            return
        task.state = _TIMED_OUT
        self._late.add(task)
        job = task.job
        timeout = task.timeout
        assert timeout is not None  # it has a timer
        self._logger.error(
            "Job %s timed out after %g seconds; its thread cannot be stopped and runs on "
            "(its outcome will be logged, not reported)",
            job_label(job.id, job.name),
            timeout,
        )
        event = _error_event(
            job,
            task.jobstore_alias,
            task.run_time,
            _timeout_error(job, timeout),
            self._thread_stack(task.thread_ident),
        )
        _set_timing(event, task.started, task.start, self._clock)
        task.run.events.append(event)
        self._next(task.run)

    def _log_late_outcome(self, task: _ThreadTask) -> None:
        event = task.event
        if event is None or event.exception is not None:
            outcome = f"it raised {event.exception!r}" if event is not None else "it failed"
        else:
            outcome = f"it returned {event.retval!r}"
        self._logger.warning(
            "The run of job %s scheduled at %s, reported as timed out after %g seconds, "
            "has now ended: %s",
            job_label(task.job.id, task.job.name),
            task.run_time,
            task.timeout,
            outcome,
        )

    def _next(self, run: _ThreadRun) -> None:
        """``run``'s current run time is done: on to the next one, or report the run."""
        run.index += 1
        if run.index == len(run.run_times):
            self._finish(run, run.events)
        elif self._dropping:
            self._drop(run)
        else:
            self._ready.append(run)  # behind the runs that waited for a thread before it

    def _drop(self, run: _ThreadRun) -> None:
        """Report ``run`` without its run times not yet started (the executor was shut down
        without waiting)."""
        self._logger.info(
            "Dropped %s of job %s: the executor was shut down",
            count(len(run.run_times) - run.index, "run time"),
            job_label(run.job.id, run.job.name),
        )
        self._finish(run, run.events)

    def _finish(self, run: _ThreadRun, outcome: list[JobExecutionEvent] | BaseException) -> None:
        """Report the run: its events, or the exception that ended it. Never raises."""
        run.owner = gevent.getcurrent()
        try:
            self._report_outcome(run.job.id, outcome)
        finally:
            self._runs.discard(run)
            self._progressed()

    def _progressed(self) -> None:
        progress, self._progress = self._progress, None
        if progress is not None:
            progress.set()

    # -- the worker threads ----------------------------------------------------------------------

    def _work(self, threads: _Threads) -> None:
        """The body of a worker thread: run tasks until asked to stop (``None``)."""
        self._thread_state.worker = True
        get, done, send = threads.tasks.get, threads.done.append, threads.watcher.send
        through_gate = hub_gate(threads.hub).call
        while True:
            task = get()
            if task is None:
                return
            task.event = self._call_in_thread(task)
            task.finished = True
            done(task)
            del task
            # Not once the hub is destroyed (a background scheduler's thread that ended after
            # a shutdown without waiting): nobody waits for the outcome any more
            try:
                through_gate(send)
            except ValueError:
                pass  # "operation on destroyed loop": destroyed otherwise than by destroy_hub()

    def _in_worker_thread(self) -> bool:
        """``True`` if called in one of this executor's threads (by a job)."""
        return bool(getattr(self._thread_state, "worker", False))

    def _call_in_thread(self, task: _ThreadTask) -> JobExecutionEvent:
        """Run one run time of a job; runs in a worker thread. Never raises."""
        task.thread_ident = _get_thread_ident()
        job = task.job
        try:
            self._set_up_thread()
            logger = logging.getLogger(task.logger_name)
            return _run_once(
                job, task.jobstore_alias, task.run_time, logger, reraise=False, log=False
            )
        except BaseException as exc:  # noqa: BLE001 (the initializer, or around the job)
            formatted_tb = "".join(traceback.format_tb(exc.__traceback__))
            return _error_event(job, task.jobstore_alias, task.run_time, exc, formatted_tb)

    def _set_up_thread(self) -> None:
        """Name the calling worker thread and call the initializer, once per thread."""
        state = self._thread_state
        if getattr(state, "ready", False):
            return
        if not hasattr(state, "named"):
            state.named = True
            if not is_module_patched("threading"):
                # Patched, threading would describe the thread's greenlet, not the thread
                import threading

                name = f"{self._thread_name_prefix}_{next(self._thread_numbers)}"
                threading.current_thread().name = name
        if self._initializer is not None:
            self._initializer(*self._initargs)
        state.ready = True

    @staticmethod
    def _thread_stack(thread_ident: int | None) -> traceback.StackSummary | None:
        """The stack of a (still running) thread as it is now, or ``None``: captured now,
        formatted (as :func:`traceback.format_stack` does) only if the event's ``traceback``
        is read."""
        current_frames = getattr(sys, "_current_frames", None)
        if thread_ident is None or current_frames is None:
            return None
        frame = current_frames().get(thread_ident)
        if frame is None:
            return None
        stack = traceback.StackSummary.extract(traceback.walk_stack(frame), lookup_lines=False)
        stack.reverse()  # oldest frame first, as traceback.extract_stack() has it
        return stack

    # -- shutting down -------------------------------------------------------------------------

    def shutdown(self, wait: bool = True) -> None:
        """Shut down this executor: it accepts no more jobs.

        See :meth:`BasePoolExecutor.shutdown`; with ``wait=True`` this also waits for the
        threads still running a run that timed out.
        """
        super().shutdown(wait)
        if not wait and self._ready:
            self._want_handler()  # which drops the runs waiting for a thread

    def _close_workers(self, wait: bool) -> None:
        if wait:
            while self._late:
                if self._progress is None:
                    self._progress = Event()
                self._progress.wait()
        threads, self._threads = self._threads, None
        if threads is not None:
            # Idle threads end now, busy ones after their task
            threads.close()
        if self._idle_handler is not None:
            self._want_handler()  # the idle handler ends


#: Seconds a worker process is given to exit when asked (or to die when killed).
_STOP_GRACE = 5.0


class _Worker:
    """A worker process and the parent's end of its socket pair."""

    __slots__ = ("exitcode", "pid", "process", "sock", "tasks")

    def __init__(self, process: Any, sock: Any) -> None:
        self.process = process
        self.pid: int = process.pid
        self.sock = sock
        self.tasks = 0  # run times run
        self.exitcode: int | None = None  # known once stopped

    def is_alive(self) -> bool:
        """``False`` once the process has ended (never blocks)."""
        readable, _, _ = gevent.select.select([self.process.sentinel], [], [], 0)
        return not readable

    def send(self, data: bytes) -> None:
        """Send one frame (cooperatively).

        :raises _WorkerDied: if the process has gone
        """
        try:
            self.sock.sendall(_procworker.HEADER.pack(len(data)))
            self.sock.sendall(data)
        except OSError as exc:
            raise _WorkerDied from exc

    def receive(self) -> bytes:
        """Wait (cooperatively) for the next frame from the process.

        :raises _WorkerDied: if the process ends first
        """
        (size,) = _procworker.HEADER.unpack(self._receive_exact(_procworker.HEADER.size))
        return self._receive_exact(size)

    def _receive_exact(self, size: int) -> bytes:
        buffer = bytearray(size)
        view = memoryview(buffer)
        received = 0
        sock = self.sock
        waitables = [sock, self.process.sentinel]
        try:
            while received < size:
                # The end of the process shows on its sentinel: a process forked later (by this
                # executor or by the program) may hold a copy of the worker's end of the socket
                # pair, so that its death does not always end the stream
                readable, _, _ = gevent.select.select(waitables, [], [])
                if sock not in readable:
                    raise _WorkerDied
                count = sock.recv_into(view[received:])
                if not count:
                    raise _WorkerDied
                received += count
        except OSError as exc:
            raise _WorkerDied from exc
        return bytes(buffer)

    def stop(self, kill: bool) -> None:
        """End the process and wait (cooperatively) until it has ended.

        :param kill: ``True``: kill it at once (SIGKILL); ``False``: ask it to exit (it is
            idle), and kill it if it has not within a few seconds
        """
        process = self.process
        if not kill:
            try:
                self.sock.sendall(_procworker.HEADER.pack(0))  # the stop frame
            except OSError:
                pass  # gone already
            # Not the end of the stream: a process forked later may hold a copy of this end
            kill = not gevent.select.select([process.sentinel], [], [], _STOP_GRACE)[0]
        if kill:
            try:
                process.kill()
            except (OSError, ValueError):
                pass  # gone already
        self.sock.close()
        try:
            gevent.select.select([process.sentinel], [], [], _STOP_GRACE)
            # The sentinel closes as the process exits, a moment before it can be reaped
            delay = 0.0005
            while process.exitcode is None and delay < 1:
                gevent.sleep(delay)
                delay *= 2
            self.exitcode = process.exitcode
            process.close()
        except (OSError, ValueError):
            pass  # still running (multiprocessing reaps it later), or closed already

    def exit_description(self) -> str:
        """How the process ended, once :meth:`stop` has returned."""
        code = self.exitcode
        if code is None:
            return "ended"
        if code < 0:
            try:
                return f"was killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"was killed by signal {-code}"
        return f"exited with code {code}"


class _WorkerDied(Exception):
    """The worker process ended while the parent was talking to it."""


class ProcessPoolExecutor(_SupervisedPoolExecutor):
    """An executor that runs jobs in worker processes, for CPU-bound jobs.

    Works in programs that called :func:`gevent.monkey.patch_all` and in those that did not: the
    worker processes are started with the ``spawn`` method by default (fresh interpreters, as
    in APScheduler 3.11), and the parent talks to each one over a socket pair with gevent's
    cooperative I/O, in greenlets of the scheduler's hub; no thread, queue or lock of
    :mod:`concurrent.futures` or :mod:`multiprocessing` is involved, so patching cannot turn
    them into greenlets that deadlock. Each worker runs one run time of a job at a time; a
    worker is started when a run needs one and none is idle, up to ``max_workers``.

    A job is sent to the worker as it is pickled for a persistent job store
    (:meth:`~greensched.job.Job.__getstate__`: its callable's ``module:name`` reference, its
    arguments and trigger, never the scheduler), once per submission, when it is submitted. A job
    that cannot be sent is refused then: :meth:`submit_job` raises a :exc:`ValueError` (a
    callable with no importable reference: a lambda, a nested function, a method of an instance
    of a class defined in a function) or a :exc:`TypeError` (arguments, trigger or the instance
    of a bound method that cannot be pickled), naming the job
    and the reason; the scheduler logs it and releases the instance. The worker imports the
    callable's module, so jobs must live in importable modules (not in ``__main__`` of a
    ``python -c`` script), and with ``spawn`` the main module of the program must guard its
    start-up code with ``if __name__ == "__main__":``.

    A worker that dies while running a job (killed, crashed in C code) is replaced by a new one
    when next needed, and the run is reported as an ``EVENT_JOB_ERROR`` event whose
    ``exception`` is a :class:`concurrent.futures.process.BrokenProcessPool` saying how the
    process ended; the other workers and their runs are unaffected. A return value or exception
    that cannot be pickled back gives an ``EVENT_JOB_ERROR`` event saying so.

    **Timeouts.** When a run overruns its job's ``timeout`` (counted from when the job starts in
    the worker, not from the worker's start-up), the worker process is killed (SIGKILL) and
    replaced when next needed, and the run is reported as an ``EVENT_JOB_ERROR`` event whose
    ``exception`` is a :exc:`TimeoutError`.

    Plugin alias: ``processpool``

    :param max_workers: the maximum number of worker processes
    :param pool_kwargs: options of the pool, as for
        :class:`concurrent.futures.ProcessPoolExecutor`: ``mp_context`` (a
        :mod:`multiprocessing` context, or a start method name; default ``'spawn'``),
        ``initializer`` and ``initargs`` (called in each worker process when it starts; if it
        raises, the runs given to that process fail with the error), ``max_tasks_per_child`` (a
        worker is replaced after running that many run times)
    :raises TypeError: if ``max_workers`` is not an int (or a string holding one), or
        ``pool_kwargs`` holds something else
    :raises ValueError: if ``max_workers`` or ``max_tasks_per_child`` is not positive

    .. note:: APScheduler 3.x hands the job to a :class:`concurrent.futures.ProcessPoolExecutor`:
       under monkey-patching its management thread and queue feeder become greenlets, and with
       the ``fork`` method it deadlocks; a killed worker breaks the whole pool (every pending run
       fails) and the run is only logged, with no event; an unpicklable job fails later, in the
       pool's feeder, and is only logged.

    .. note:: ``shutdown(wait=True)`` waits for the running jobs and then stops every worker
       process; ``shutdown(wait=False)`` drops the run times not yet started.

    .. versionadded:: greensched 0.1 job timeouts (APScheduler 3.x has none)
    """

    def __init__(
        self, max_workers: int | str = 10, pool_kwargs: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(max_workers)
        options = _pool_options(
            pool_kwargs, ("mp_context", "initializer", "initargs", "max_tasks_per_child")
        )
        context = options.get("mp_context")
        if context is None:
            context = multiprocessing.get_context("spawn")
        elif isinstance(context, str):
            context = multiprocessing.get_context(context)  # ValueError for an unknown method
        elif not isinstance(context, BaseContext):
            raise TypeError(
                f"mp_context must be a multiprocessing context or a start method name, "
                f"got: {context!r}"
            )
        self._context: Any = context
        self._initializer, self._initargs = _initializer_options(options)
        self._max_tasks_per_child = validate.optional_positive_int(
            "max_tasks_per_child", options.get("max_tasks_per_child")
        )
        self._idle: list[_Worker] = []
        self._workers: set[_Worker] = set()

    def _prepare(self, job: Job) -> bytes:
        """Pickle the job for the workers.

        :raises ValueError: if the job's callable has no importable reference
        :raises TypeError: if the job cannot be pickled for another reason
        """
        if not getattr(job, "func_ref", None):
            raise ValueError(
                f'Job "{job.id}" cannot be sent to a worker process: its callable '
                f"{job.func!r} has no importable module:name reference (a lambda, a nested "
                "function or a method of a class defined in a function cannot be used)"
            )
        try:
            return pickle.dumps(job, pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            raise TypeError(
                f'Job "{job.id}" cannot be sent to a worker process: it cannot be pickled '
                f"({type(exc).__name__}: {exc})"
            ) from exc

    def _take_worker(self) -> _Worker:
        """An idle worker that is still alive, or a new one."""
        while self._idle:
            worker = self._idle.pop()
            if worker.is_alive():
                return worker
            self._workers.discard(worker)
            worker.stop(kill=False)
            self._logger.warning(
                "Idle worker process %s %s; replacing it",
                worker.pid,
                worker.exit_description(),
            )
        return self._start_worker()

    def _start_worker(self) -> _Worker:
        parent_sock, child_sock = gevent.socket.socketpair()
        child_fd = child_sock.detach()
        os.set_blocking(child_fd, True)  # gevent made both ends non-blocking
        child_conn = Connection(child_fd)
        try:
            process = self._context.Process(
                target=_procworker.main,
                args=(child_conn, self._initializer, self._initargs),
                daemon=True,
            )
            process.start()
        except BaseException:
            parent_sock.close()
            raise
        finally:
            child_conn.close()
        worker = _Worker(process, parent_sock)
        self._workers.add(worker)
        self._logger.debug("Started worker process %s", process.pid)
        return worker

    def _run_in_worker(
        self, run: _Run, run_time: datetime, release: Callable[[], None]
    ) -> JobExecutionEvent:
        job = run.job
        alias = job._jobstore_alias
        try:
            try:
                worker = self._take_worker()
                task = pickle.dumps(
                    (job.id, alias, run_time, self._logger.name, run.payload),
                    pickle.HIGHEST_PROTOCOL,
                )
            except Exception as exc:
                self._logger.error(
                    "Could not start a worker for job %s",
                    job_label(job.id, job.name),
                    exc_info=exc,
                )
                return _error_event(job, alias, run_time, exc, None)
            return self._talk_to(worker, job, alias, run_time, task)
        finally:
            release()

    def _talk_to(
        self, worker: _Worker, job: Job, alias: str | None, run_time: datetime, task: bytes
    ) -> JobExecutionEvent:
        """Have ``worker`` run the task and return the event of the run."""
        timeout = getattr(job, "timeout", None)
        timer: Any = None
        try:
            worker.send(task)
            worker.receive()  # the job has started
            if timeout is not None:
                timer = gevent.Timeout(timeout)
                timer.start()
            try:
                reply = worker.receive()
            finally:
                if timer is not None:
                    timer.close()
        except _WorkerDied:
            from concurrent.futures.process import BrokenProcessPool

            self._workers.discard(worker)
            worker.stop(kill=False)
            broken = BrokenProcessPool(
                f'The worker process (pid {worker.pid}) running job "{job.id}" '
                f"{worker.exit_description()}"
            )
            self._logger.error("%s; it will be replaced", broken)
            return _error_event(job, alias, run_time, broken, None)
        except BaseException as exc:
            self._workers.discard(worker)
            worker.stop(kill=True)
            if timer is None or exc is not timer:
                raise  # killed: the worker may be in the middle of a frame
            assert timeout is not None
            self._logger.error(
                "Job %s timed out after %g seconds; its worker process (pid %s) was killed",
                job_label(job.id, job.name),
                timeout,
                worker.pid,
            )
            return _error_event(job, alias, run_time, _timeout_error(job, timeout), None)

        worker.tasks += 1
        if self._dropping or (
            self._max_tasks_per_child is not None and worker.tasks >= self._max_tasks_per_child
        ):
            self._workers.discard(worker)
            worker.stop(kill=False)
        else:
            self._idle.append(worker)
        try:
            event: JobExecutionEvent = pickle.loads(reply)
        except Exception as exc:  # noqa: BLE001 (e.g. a class the parent cannot import)
            event = _error_event(
                job,
                alias,
                run_time,
                TypeError(
                    f'The outcome of job "{job.id}" could not be unpickled in the parent: '
                    f"{type(exc).__name__}: {exc}"
                ),
                None,
            )
        self._log_outcome(job, event)
        return event

    def _close_workers(self, wait: bool) -> None:
        idle, self._idle = self._idle, []
        for worker in idle:
            self._workers.discard(worker)
            if wait:
                worker.stop(kill=False)
            else:
                gevent.spawn(worker.stop, False)
