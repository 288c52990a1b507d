"""GeventScheduler: the processing loop as one greenlet of the caller's hub."""

from __future__ import annotations

from typing import Any

import gevent
import gevent.lock
from gevent import Greenlet

from greensched.schedulers import SchedulerAlreadyRunningError
from greensched.schedulers._waker import Waker
from greensched.schedulers.base import BaseScheduler
from greensched.schedulers.blocking import BlockingScheduler

__all__ = ("GeventScheduler",)


class GeventScheduler(BlockingScheduler):
    """A scheduler that runs as a greenlet.

    :meth:`start` spawns the processing loop as one greenlet in the calling thread's hub and
    returns it. The loop sleeps on a :class:`gevent.event.Event` until the next run time or until
    :meth:`wakeup`, which may be called from any OS thread (for example an unpatched thread of the
    same process).

    .. note:: Use the scheduler's other methods from the thread whose hub runs the loop.
    """

    _greenlet: Greenlet | None = None

    def start(self, *args: Any, **kwargs: Any) -> Greenlet:
        """Start the scheduler and spawn its processing loop.

        See :meth:`BaseScheduler.start` for the arguments.

        :return: the greenlet running the processing loop
        """
        if self.running:
            raise SchedulerAlreadyRunningError  # before the running loop's waker is replaced
        self._waker = Waker()
        BaseScheduler.start(self, *args, **kwargs)
        self._greenlet = gevent.spawn(self._main_loop)
        return self._greenlet

    def shutdown(self, wait: bool = True) -> None:
        super().shutdown(wait)
        greenlet, self._greenlet = self._greenlet, None
        if greenlet is not None and greenlet is not gevent.getcurrent():
            greenlet.join()

    def _create_lock(self) -> Any:
        return gevent.lock.RLock()
