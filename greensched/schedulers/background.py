"""BackgroundScheduler: the processing loop in a thread of its own."""

from __future__ import annotations

import atexit
import threading
import weakref
from typing import Any

import gevent
from gevent.monkey import is_module_patched

from greensched._hubs import destroy_hub
from greensched.schedulers import SchedulerAlreadyRunningError
from greensched.schedulers._waker import Waker
from greensched.schedulers.base import BaseScheduler
from greensched.schedulers.blocking import BlockingScheduler
from greensched.util import asbool

__all__ = ("BackgroundScheduler",)

#: The schedulers whose loop has a real OS thread of its own, while that thread lives
_in_real_threads: weakref.WeakSet[BackgroundScheduler] = weakref.WeakSet()


@atexit.register
def _stop_at_exit() -> None:
    """At interpreter exit, stop each background scheduler still running in a real thread of
    its own and wait for its running jobs (as APScheduler 3.x's thread pool waits for its
    threads): a daemon thread that ran greenlets must not be woken while the interpreter is
    being torn down."""
    for scheduler in list(_in_real_threads):
        scheduler._stop_for_exit()


class BackgroundScheduler(BlockingScheduler):
    """A scheduler that runs in the background, in a thread of its own.

    Without ``gevent.monkey.patch_all()`` the thread is a real OS thread with its own gevent hub,
    where the processing loop and the job greenlets run; the scheduler's methods may be called
    from any thread.

    With patching (a monkey-patched service, a gunicorn ``gevent`` worker), ``threading`` is
    gevent's: the "thread" is a greenlet of the calling thread's hub, and the scheduler then
    behaves like a :class:`~greensched.schedulers.gevent.GeventScheduler` whose :meth:`start`
    returns nothing. :meth:`start` says so in the scheduler's log, at debug level.

    Extra options:

    ``daemon``: set the ``daemon`` option of the background thread (default ``True``, see
    :attr:`threading.Thread.daemon`)

    At interpreter exit, a scheduler still running in a real thread is shut down and its
    running jobs are waited for, as APScheduler 3.x's default thread pool waits for its jobs;
    one shut down without waiting has its running jobs waited for too.
    """

    _thread: threading.Thread | None = None

    def _configure(self, config: dict[str, Any]) -> None:
        daemon = asbool(config.pop("daemon", True))
        super()._configure(config)
        self._daemon = daemon

    def start(self, *args: Any, **kwargs: Any) -> None:
        """Start the scheduler in its background thread and return once it has started.

        See :meth:`BaseScheduler.start` for the arguments; an error while starting is raised
        here.
        """
        if self.running:
            raise SchedulerAlreadyRunningError
        previous = self._thread
        if previous is not None and previous is not threading.current_thread():
            previous.join()  # an earlier shutdown(wait=False) may still be draining its jobs
        if is_module_patched("threading"):
            self._logger.debug(
                "threading is monkey-patched: the scheduler's background thread is a greenlet "
                "of the calling thread's hub, and its jobs run in that hub"
            )
        started = threading.Event()
        failure: list[BaseException] = []
        thread = threading.Thread(
            target=self._run,
            args=(args, kwargs, started, failure),
            name="greensched",
            daemon=self._daemon,
        )
        self._thread = thread
        thread.start()
        started.wait()
        if failure:
            thread.join()
            raise failure[0]

    def _stop_for_exit(self) -> None:
        """Shut down (or finish shutting down) before the interpreter exits."""
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return
        if self.running:
            self.shutdown(wait=True)
        thread.join()

    def shutdown(self, wait: bool = True) -> None:
        """Shut down the scheduler, its executors and its job stores.

        From another OS thread, the executors and job stores are shut down in the scheduler's
        own thread, which lets running jobs finish first; with ``wait=True`` this returns once
        that is done and the thread has ended, with ``wait=False`` at once. Called by a job in a
        thread of the scheduler's thread pool, it returns at once: the executors are shut down
        once that job, among the running ones, has ended.
        """
        waker = self._waker
        if waker is not None and not waker.in_owner_thread():
            # Running jobs live in the hub of the scheduler's thread, which ends with the
            # thread: they must finish whatever the caller chose to wait for
            self._stop_from_another_thread(waker, wait_for_jobs=True, block=False)
        else:
            super().shutdown(wait)
        thread = self._thread
        if (
            wait
            and thread is not None
            and thread is not threading.current_thread()
            and not self._in_a_pool_thread()
        ):
            thread.join()

    def _run(
        self,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        started: threading.Event,
        failure: list[BaseException],
    ) -> None:
        """The body of the scheduler's thread."""
        real_thread = not is_module_patched("threading")
        if real_thread:
            _in_real_threads.add(self)
        try:
            self._waker = Waker()
            try:
                BaseScheduler.start(self, *args, **kwargs)
            except BaseException as exc:  # noqa: BLE001 (raised again in the caller's thread)
                failure.append(exc)
                return
            finally:
                started.set()
            self._main_loop()  # which shuts the components down after a remote shutdown()
        finally:
            if real_thread:
                # This thread's hub dies with it; drop it so that nothing else wakes it
                self._waker = None
                destroy_hub(gevent.get_hub())
                _in_real_threads.discard(self)
