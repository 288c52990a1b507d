"""Where the executors' job timeouts come from: :func:`start_timer`, the one place they create a
timer, on the scheduler's clock (a :class:`~greensched.testing.MockClock` times jobs out in mock
time).

Imported lazily (gevent is not imported by the process pool's worker processes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from gevent import Timeout, getcurrent

from greensched._clock import Clock

__all__ = ("Timer", "interrupt_after", "start_timer")


class Timer(Protocol):
    """A started timer: :meth:`close` before it fires cancels it."""

    def close(self) -> None:
        """Cancel the timer (if it has not fired) and free it."""


def start_timer(clock: Clock, seconds: float, callback: Callable[..., Any], *args: Any) -> Timer:
    """Call ``callback(*args)`` in the calling thread's hub once ``seconds`` of ``clock`` have
    passed, unless the returned timer is closed first. ``callback`` runs in the hub: it must
    not block nor raise."""
    timer = clock.timer(seconds)
    timer.start(callback, *args)
    started: Timer = timer
    return started


def interrupt_after(clock: Clock, seconds: float) -> tuple[Timeout, Timer]:
    """Have a new :class:`gevent.Timeout` raised in the calling greenlet, where it waits, in
    ``seconds`` seconds: return that exception (compare what you catch with it by identity, to
    tell it apart from a ``Timeout`` of the job's own) and the timer, to close once the guarded
    code is over."""
    # Not an Exception, so that a job's "except Exception" does not swallow it. Made without
    # seconds, it has no timer of its own (ours throws it); given them after, it shows them
    timeout = Timeout()
    timeout.seconds = seconds
    return timeout, start_timer(clock, seconds, getcurrent().throw, timeout)
