"""The thread pool executor: :class:`ThreadPoolExecutor` (re-exported by
:mod:`greensched.executors.pool`)."""

from __future__ import annotations

import itertools
import logging
import sys
import traceback
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from greensched._hubs import hub_gate
from greensched._logging import count, job_label
from greensched.executors._pool_base import BasePoolExecutor, initializer_options, pool_options
from greensched.executors._runpath import JobRun, call_job, error_event, timeout_error
from greensched.executors._timers import Timer, start_timer

try:
    import gevent
    from gevent import GreenletExit
    from gevent.hub import Waiter
    from gevent.monkey import get_original, is_module_patched
except ImportError as exc:  # pragma: no cover
    raise ImportError("ThreadPoolExecutor requires gevent installed") from exc

if TYPE_CHECKING:
    from greensched.events import JobExecutionEvent
    from greensched.job import Job

__all__ = ("ThreadPoolExecutor",)

# Native-thread primitives, whether or not the program is monkey-patched
_get_thread_ident = get_original("_thread", "get_ident")
_thread_local = get_original("_thread", "_local")
_start_new_thread = get_original("_thread", "start_new_thread")
#: The C queue of CPython (``_queue``), unpatched: its get() blocks the calling OS thread
_NativeQueue = get_original("queue", "SimpleQueue")

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
        "state",
        "thread_ident",
        "threads",
        "timeout",
        "timer",
    )

    def __init__(self, run: JobRun, run_time: datetime, logger_name: str) -> None:
        job = run.job
        self.run = run
        self.job = job
        self.jobstore_alias = run.jobstore_alias
        self.run_time = run_time
        self.logger_name = logger_name
        self.thread_ident: int | None = None
        self.event: JobExecutionEvent | None = None  # set by the thread
        self.finished = False  # set by the thread, after event
        self.threads: _Threads | None = None
        self.state = _RUNNING
        self.timeout: float | None = getattr(job, "timeout", None)
        self.timer: Timer | None = None  # the timer of the timeout, if there is one


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
        options = pool_options(pool_kwargs, ("thread_name_prefix", "initializer", "initargs"))
        prefix = options.get("thread_name_prefix", "")
        if not isinstance(prefix, str):
            raise TypeError(f"thread_name_prefix must be a string, got: {prefix!r}")
        self._thread_name_prefix = prefix or f"{type(self).__name__}-{id(self):x}"
        self._initializer, self._initargs = initializer_options(options)
        self._thread_state = _thread_local()  # per worker thread: whether it is set up
        self._thread_numbers = itertools.count()
        self._threads: _Threads | None = None  # of the hub the runs are submitted in
        self._free = self._max_workers  # threads not running (nor overrunning) a task
        self._ready: deque[JobRun] = deque()  # runs waiting for a thread, oldest first
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
        run = self._new_run(job, run_times, self._prepare(job))
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

    def _start(self, run: JobRun) -> None:
        """Take a thread for the next run time of ``run`` to call, and call it there (the run
        times missed before it are recorded as such)."""
        self._free -= 1
        try:
            run_time = run.next_call()
            if run_time is not None:
                task = _ThreadTask(run, run_time, self._logger.name)
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
        if run_time is None:  # the run times left were all missed
            self._free += 1
            self._finish(run, run.events)
        elif task.timeout is not None:
            task.timer = start_timer(self._clock, task.timeout, self._timer_expired, task)

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
            self._runs.progressed()
            return
        task.state = _COLLECTED
        event = task.event
        assert event is not None  # set before finished
        self._log_failure(task.job, event)
        task.run.record(event)
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
        event = error_event(
            job,
            task.jobstore_alias,
            task.run_time,
            timeout_error(job, timeout),
            self._thread_stack(task.thread_ident),
        )
        task.run.record(event)
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

    def _next(self, run: JobRun) -> None:
        """``run``'s current run time is done: on to the next one, or report the run."""
        if not run.remaining:
            self._finish(run, run.events)
        elif self._dropping:
            self._drop(run)
        else:
            self._ready.append(run)  # behind the runs that waited for a thread before it

    def _drop(self, run: JobRun) -> None:
        """Report ``run`` without its run times not yet started (the executor was shut down
        without waiting)."""
        self._logger.info(
            "Dropped %s of job %s: the executor was shut down",
            count(run.remaining, "run time"),
            job_label(run.job.id, run.job.name),
        )
        self._finish(run, run.events)

    def _finish(self, run: JobRun, outcome: list[JobExecutionEvent] | BaseException) -> None:
        """Report the run: its events, or the exception that ended it. Never raises."""
        run.owner = gevent.getcurrent()
        try:
            self._report_outcome(run.job.id, outcome)
        finally:
            self._runs.reported(run)

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
            event = call_job(
                job, task.jobstore_alias, task.run_time, logger, reraise=False, log=False
            )
            assert event is not None  # an executed event is made
            return event
        except BaseException as exc:  # noqa: BLE001 (the initializer, or around the job)
            formatted_tb = "".join(traceback.format_tb(exc.__traceback__))
            return error_event(job, task.jobstore_alias, task.run_time, exc, formatted_tb)

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
            self._runs.wait_while(lambda: bool(self._late))
        threads, self._threads = self._threads, None
        if threads is not None:
            # Idle threads end now, busy ones after their task
            threads.close()
        if self._idle_handler is not None:
            self._want_handler()  # the idle handler ends
