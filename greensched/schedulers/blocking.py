"""BlockingScheduler: runs the processing loop in the foreground."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gevent.monkey import get_original, is_anything_patched

from greensched.schedulers import SchedulerAlreadyRunningError, SchedulerNotRunningError
from greensched.schedulers._lock import SchedulerLock
from greensched.schedulers._waker import Waker
from greensched.schedulers.base import STATE_STOPPED, TIMEOUT_MAX, BaseScheduler

if TYPE_CHECKING:
    from greensched.executors.base import BaseExecutor

__all__ = ("BlockingScheduler",)

# A real lock even in a patched program: a thread that asked shutdown() to wait blocks on it
_allocate_lock = get_original("_thread", "allocate_lock")


class BlockingScheduler(BaseScheduler):
    """A scheduler that runs in the foreground (:meth:`start` blocks until :meth:`shutdown`).

    The loop sleeps on a gevent event, so job greenlets run while it waits, whether or not the
    program called ``gevent.monkey.patch_all()``.

    While it runs, these methods are safe to call from any OS thread of the process, patched or
    not: :meth:`wakeup`, the job methods (:meth:`add_job`, :meth:`modify_job`,
    :meth:`reschedule_job`, :meth:`pause_job`, :meth:`resume_job`, :meth:`remove_job`,
    :meth:`get_jobs`, :meth:`get_job`, ...), :meth:`pause`, :meth:`resume`,
    :meth:`add_listener` and :meth:`shutdown`. The scheduler's locks exclude greenlets and OS
    threads alike (see :class:`~greensched.schedulers._lock.SchedulerLock`); jobs are submitted
    and run by the loop's thread only; from another thread, :meth:`shutdown` has the loop's
    thread shut the executors and job stores down, where the running jobs are. Listeners of an
    event run in the thread whose call caused it. :meth:`start`, :meth:`configure` and
    :meth:`remove_executor` belong to the loop's thread.

    **Default executor.** In a program that gevent has not monkey-patched, the ``default``
    executor is a :class:`~greensched.executors.pool.ThreadPoolExecutor` (10 threads), as in
    APScheduler 3.x: a job that blocks does not hold up the others. In a monkey-patched program
    it is the greenlet pool (:class:`~greensched.executors.gevent.GeventExecutor`). This is
    decided when the scheduler starts; an executor configured as ``default`` is used as given.

    .. note:: APScheduler 3.x's gevent scheduler takes a greenlet lock, which another OS thread
       cannot safely share.
    """

    _waker: Waker | None = None
    #: set by shutdown() from another OS thread: whether to wait for running jobs, and a lock
    #: that the loop's thread releases once the executors and job stores are shut down
    _remote_shutdown: tuple[bool, Any] | None = None

    def _create_default_executor(self) -> BaseExecutor:
        """A thread pool in an unpatched program, the greenlet pool in a patched one."""
        if is_anything_patched():
            return super()._create_default_executor()
        from greensched.executors.pool import ThreadPoolExecutor

        return ThreadPoolExecutor()

    def start(self, *args: Any, **kwargs: Any) -> None:
        """Start the scheduler and run its processing loop until :meth:`shutdown` is called.

        See :meth:`BaseScheduler.start` for the arguments.
        """
        if self.running:
            raise SchedulerAlreadyRunningError  # before the running loop's waker is replaced
        self._waker = Waker()
        super().start(*args, **kwargs)
        self._main_loop()

    def shutdown(self, wait: bool = True) -> None:
        """Shut down the scheduler, its executors and its job stores.

        From another OS thread than the loop's, the loop's thread shuts the executors and job
        stores down (``wait`` applies to the running jobs there), and with ``wait=True`` this
        returns once it has done so: the loop's thread must then be free to run its hub (not
        blocked waiting for the calling thread, in ``Thread.join()`` for example). Called by a
        job in a thread of the scheduler's thread pool, it returns at once: the executors are
        shut down once that job, among the running ones, has ended.

        .. note:: APScheduler 3.x raises ``RuntimeError: cannot join current thread`` in a
           thread pool job that calls ``shutdown()``.
        """
        waker = self._waker
        if waker is not None and not waker.in_owner_thread():
            block = wait and not self._in_a_pool_thread()
            self._stop_from_another_thread(waker, wait_for_jobs=wait, block=block)
            return
        super().shutdown(wait)
        self.wakeup()

    def wakeup(self) -> None:
        waker = self._waker
        if waker is not None:
            waker.set()

    def _in_a_pool_thread(self) -> bool:
        """``True`` if the caller is a job running in a thread of one of the scheduler's
        thread pools: it cannot wait for the running jobs to end, its own among them."""
        from greensched.executors.pool import ThreadPoolExecutor

        return any(
            isinstance(executor, ThreadPoolExecutor) and executor._in_worker_thread()
            for executor in list(self._executors.values())
        )

    def _create_lock(self) -> SchedulerLock:
        """A reentrant lock shared by greenlets and OS threads (see :class:`SchedulerLock`)."""
        return SchedulerLock()

    def _stop_from_another_thread(self, waker: Waker, *, wait_for_jobs: bool, block: bool) -> None:
        """Stop the loop, which then shuts the executors and job stores down in its thread.

        :param wait_for_jobs: what the executors' ``shutdown(wait)`` gets
        :param block: return only once the loop's thread has shut them down
        :raises SchedulerNotRunningError: if the scheduler is not running
        """
        done = _allocate_lock()
        done.acquire()
        with self._jobstores_lock:  # one remote shutdown at a time: each gets its answer
            if self.state == STATE_STOPPED:
                raise SchedulerNotRunningError
            self._remote_shutdown = (wait_for_jobs, done)
            self.state = STATE_STOPPED
        waker.set()
        if block:
            done.acquire()

    def _main_loop(self) -> None:
        waker = self._waker
        assert waker is not None
        wait_seconds: float | None = TIMEOUT_MAX
        while self.state != STATE_STOPPED:
            # Not woken by wakeup(): nothing became due earlier than the last round found
            self._timer_round = not waker.wait(wait_seconds)
            waker.clear()
            if self.state == STATE_STOPPED:
                break
            wait_seconds = self._process_jobs()
        remote, self._remote_shutdown = self._remote_shutdown, None
        if remote is not None:
            wait_for_jobs, done = remote
            try:
                self._shutdown_components(wait_for_jobs)
            finally:
                done.release()
