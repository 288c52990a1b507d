"""GeventScheduler: the processing loop as one greenlet of the caller's hub."""

from __future__ import annotations

from typing import Any

import gevent
from gevent import Greenlet

from greensched.schedulers import SchedulerAlreadyRunningError
from greensched.schedulers._gunicorn import misplaced_start
from greensched.schedulers._waker import Waker
from greensched.schedulers.base import BaseScheduler
from greensched.schedulers.blocking import BlockingScheduler

__all__ = ("GeventScheduler",)


class GeventScheduler(BlockingScheduler):
    """A scheduler that runs as a greenlet.

    :meth:`start` spawns the processing loop as one greenlet in the calling thread's hub and
    returns it. The loop sleeps on a timer of that hub until the next run time or until
    :meth:`wakeup`; below some 8,000 due runs a second it wakes at each run time, above it
    at most every 3 ms, taking the runs due meanwhile together
    (:data:`~greensched.schedulers._loop.BATCH_RATE`). Jobs run as greenlets of the same hub
    (the default ``gevent`` executor).

    **With** ``gevent.monkey.patch_all()`` (a monkey-patched service, a gunicorn ``gevent``
    worker), ``time.sleep``, sockets and the other patched calls of a job yield to the hub, so
    jobs, the loop and the rest of the program run side by side.

    **Without** patching, it works the same way, but the hub only runs while the program's
    greenlets wait on gevent (``gevent.sleep``, ``greenlet.join()``, gevent sockets): a job
    that blocks — ``time.sleep``, a blocking socket or library, a long C call — blocks the whole
    hub, the scheduler's loop and every other job with it, until it returns. Send such jobs to
    a thread pool executor, which runs them in real OS threads: ``add_job(...,
    executor='threadpool')``, with an executor of that alias configured, for example
    ``executors={'threadpool': {'type': 'threadpool'}}``.

    While the scheduler runs, :meth:`wakeup`, the job methods (:meth:`add_job`,
    :meth:`modify_job`, :meth:`remove_job`, :meth:`get_jobs`, ...), :meth:`pause`,
    :meth:`resume` and :meth:`shutdown` are safe from any OS thread, patched or not; see
    :class:`~greensched.schedulers.blocking.BlockingScheduler`. Jobs are still submitted by the
    loop's greenlet and run in its hub.

    In gunicorn, start it in each worker from the ``post_worker_init`` server hook
    (:class:`greensched.contrib.gunicorn.SchedulerHooks`); started in the master process (an app
    imported with ``--preload`` that starts it at import) or in a worker class other than
    gevent's, it logs a warning that says what goes wrong and what to do.

    .. note:: APScheduler 3.x's gevent scheduler cannot be woken, nor given jobs, from another
       OS thread: it uses a greenlet lock and a greenlet event.
    """

    _greenlet: Greenlet | None = None

    #: the greenlet pool, patched or not (BlockingScheduler picks a thread pool when unpatched)
    _create_default_executor = BaseScheduler._create_default_executor

    def start(self, *args: Any, **kwargs: Any) -> Greenlet:
        """Start the scheduler and spawn its processing loop.

        See :meth:`BaseScheduler.start` for the arguments.

        :return: the greenlet running the processing loop
        """
        if self.running:
            raise SchedulerAlreadyRunningError  # before the running loop's waker is replaced
        warning = misplaced_start(self.__class__.__name__)
        if warning is not None:
            self._logger.warning("%s", warning)
        self._waker = Waker()
        BaseScheduler.start(self, *args, **kwargs)
        self._greenlet = gevent.spawn(self._main_loop)
        return self._greenlet

    def shutdown(self, wait: bool = True) -> None:
        """Shut down the scheduler, its executors and its job stores.

        In the loop's thread, with ``wait=True``, this returns once running jobs have ended and
        the loop's greenlet has exited. From another OS thread, the loop's greenlet shuts the
        executors and job stores down and exits; ``wait=True`` waits for that.
        """
        waker = self._waker
        in_loop_thread = waker is None or waker.in_owner_thread()
        super().shutdown(wait)
        if not in_loop_thread:
            return  # the loop's greenlet belongs to another thread's hub: it ends by itself
        greenlet, self._greenlet = self._greenlet, None
        if greenlet is not None and greenlet is not gevent.getcurrent():
            greenlet.join()
