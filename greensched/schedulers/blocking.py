"""BlockingScheduler: runs the processing loop in the foreground."""

from __future__ import annotations

from typing import Any

from greensched.schedulers import SchedulerAlreadyRunningError
from greensched.schedulers._waker import Waker
from greensched.schedulers.base import STATE_STOPPED, TIMEOUT_MAX, BaseScheduler

__all__ = ("BlockingScheduler",)


class BlockingScheduler(BaseScheduler):
    """A scheduler that runs in the foreground (:meth:`start` blocks until :meth:`shutdown`).

    The loop sleeps on a gevent event, so job greenlets run while it waits, whether or not the
    program called ``gevent.monkey.patch_all()``. :meth:`wakeup` is safe from any thread.
    """

    _waker: Waker | None = None

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
        super().shutdown(wait)
        self.wakeup()

    def wakeup(self) -> None:
        waker = self._waker
        if waker is not None:
            waker.set()

    def _main_loop(self) -> None:
        waker = self._waker
        assert waker is not None
        wait_seconds: float | None = TIMEOUT_MAX
        while self.state != STATE_STOPPED:
            waker.wait(wait_seconds)
            waker.clear()
            if self.state == STATE_STOPPED:
                break
            wait_seconds = self._process_jobs()
