"""The process pool executor: :class:`ProcessPoolExecutor` (re-exported by
:mod:`greensched.executors.pool`), and the parent's side of its worker processes (their side
is :mod:`greensched.executors._procworker`)."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import partial
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from typing import TYPE_CHECKING, Any

from greensched import _validators as validate
from greensched._logging import count, job_label
from greensched.executors import _procworker
from greensched.executors._pool_base import BasePoolExecutor, initializer_options, pool_options
from greensched.executors._runpath import JobRun, error_event, timeout_error
from greensched.executors._timers import interrupt_after

try:
    import gevent
    import gevent.select
    import gevent.socket
    from gevent.event import AsyncResult
except ImportError as exc:  # pragma: no cover
    raise ImportError("ProcessPoolExecutor requires gevent installed") from exc

if TYPE_CHECKING:
    from greensched.events import JobExecutionEvent
    from greensched.job import Job

__all__ = ("ProcessPoolExecutor",)


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


class ProcessPoolExecutor(BasePoolExecutor):
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

    Each submission is looked after by a greenlet of the scheduler's hub, so
    :meth:`submit_job` never blocks: for each run time in turn, it waits for a free worker,
    checks the run time's ``misfire_grace_time`` against the scheduler's clock (a run time that
    waited too long gives ``EVENT_JOB_MISSED``), then has a worker call the job and waits for
    the outcome cooperatively.

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
        options = pool_options(
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
        self._initializer, self._initargs = initializer_options(options)
        self._max_tasks_per_child = validate.optional_positive_int(
            "max_tasks_per_child", options.get("max_tasks_per_child")
        )
        self._idle: list[_Worker] = []
        self._workers: set[_Worker] = set()
        self._slots = _Slots(self._max_workers)

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

    def shutdown(self, wait: bool = True) -> None:
        """Shut down this executor, as :meth:`BasePoolExecutor.shutdown` describes; with
        ``wait=True`` the worker processes are stopped once every run has been reported."""
        if not wait:
            self._slots.turn_away()  # the runs waiting for a worker start no more run times
        super().shutdown(wait)

    def _do_submit_job(self, job: Job, run_times: Sequence[datetime]) -> None:
        if self._shut_down:
            raise RuntimeError(f'Cannot submit job "{job.id}": the executor has been shut down')
        run = self._new_run(job, run_times, self._prepare(job))
        greenlet = gevent.Greenlet(self._supervise, run)
        greenlet.link(partial(self._run_ended, run))
        run.owner = greenlet
        self._runs.add(run)
        greenlet.start()

    def _supervise(self, run: JobRun) -> list[JobExecutionEvent] | BaseException:
        """The body of a run's greenlet: run its run times one by one, each in a worker.

        :return: the events of the run, or the exception that ended it
        """
        try:
            job = run.job
            while run.remaining:
                if self._dropping or not self._slots.acquire():
                    self._logger.info(
                        "Dropped %s of job %s: the executor was shut down",
                        count(run.remaining, "run time"),
                        job_label(job.id, job.name),
                    )
                    break
                release = _Once(self._slots.release)
                try:
                    run_time = run.next_call()
                except BaseException:
                    release()
                    raise
                if run_time is None:  # the run times left were all missed
                    release()
                    break
                run.record(self._run_in_worker(run, run_time, release))
            return run.events
        except BaseException as exc:  # noqa: BLE001 (returned, and reported by _run_ended)
            # Returned rather than raised: raised, gevent hands it to the hub
            return exc

    def _run_ended(self, run: JobRun, greenlet: gevent.Greenlet) -> None:
        """Link callback of a run's greenlet, called in a greenlet of its own: report the
        outcome (the greenlet's value, or the exception that killed it before it started).
        Never raises."""
        run.owner = gevent.getcurrent()
        exception = greenlet.exception
        try:
            self._report_outcome(
                run.job.id, exception if exception is not None else greenlet.value
            )
        finally:
            self._runs.reported(run)

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
        self, run: JobRun, run_time: datetime, release: Callable[[], None]
    ) -> JobExecutionEvent:
        """Have a worker call ``run.job`` once for ``run_time`` and return the event of the
        call. Called in the run's greenlet with a worker slot taken: ``release`` is called
        once the slot is free again, also when this raises."""
        job = run.job
        alias = run.jobstore_alias
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
                return error_event(job, alias, run_time, exc, None)
            return self._talk_to(worker, job, alias, run_time, task)
        finally:
            release()

    def _talk_to(
        self, worker: _Worker, job: Job, alias: str | None, run_time: datetime, task: bytes
    ) -> JobExecutionEvent:
        """Have ``worker`` run the task and return the event of the run."""
        timeout = getattr(job, "timeout", None)
        interrupt: Any = None
        try:
            worker.send(task)
            worker.receive()  # the job has started
            if timeout is not None:
                interrupt, timer = interrupt_after(self._clock, timeout)
            try:
                reply = worker.receive()
            finally:
                if interrupt is not None:
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
            return error_event(job, alias, run_time, broken, None)
        except BaseException as exc:
            self._workers.discard(worker)
            worker.stop(kill=True)
            if interrupt is None or exc is not interrupt:
                raise  # killed: the worker may be in the middle of a frame
            assert timeout is not None
            self._logger.error(
                "Job %s timed out after %g seconds; its worker process (pid %s) was killed",
                job_label(job.id, job.name),
                timeout,
                worker.pid,
            )
            return error_event(job, alias, run_time, timeout_error(job, timeout), None)

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
            event = error_event(
                job,
                alias,
                run_time,
                TypeError(
                    f'The outcome of job "{job.id}" could not be unpickled in the parent: '
                    f"{type(exc).__name__}: {exc}"
                ),
                None,
            )
        self._log_failure(job, event)
        return event

    def _close_workers(self, wait: bool) -> None:
        idle, self._idle = self._idle, []
        for worker in idle:
            self._workers.discard(worker)
            if wait:
                worker.stop(kill=False)
            else:
                gevent.spawn(worker.stop, False)
