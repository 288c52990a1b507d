"""The one place greensched reads the time, and waits for it to pass: a replaceable clock."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Any, Protocol, runtime_checkable

import gevent

__all__ = ["SYSTEM_CLOCK", "Clock", "SystemClock", "Timer", "current_clock", "using_clock"]


class Timer(Protocol):
    """A one-shot timer of the calling thread's hub, with the interface of a gevent loop timer
    watcher (``get_hub().loop.timer(seconds)``), which :class:`gevent.Timeout` drives: it is
    created stopped, and its callback runs in the hub (it must not block or raise)."""

    @property
    def active(self) -> bool:
        """``True`` from :meth:`start` until it fires or is stopped."""
        ...

    @property
    def pending(self) -> bool:
        """``True`` if it has fired and its callback has yet to run."""
        ...

    def start(self, callback: Callable[..., object], *args: Any, update: Any = None) -> None:
        """Call ``callback(*args)`` from the hub once the timer's seconds have passed."""
        ...

    def stop(self) -> None:
        """Do not call the callback (it may be started again)."""
        ...

    def close(self) -> None:
        """Stop for good."""
        ...


@runtime_checkable
class Clock(Protocol):
    """What greensched needs to know about time, and how it waits for time to pass.

    ``now()`` is wall-clock time as an aware datetime (any zone: callers convert);
    ``monotonic()`` is seconds since an unspecified epoch, for measuring durations. The waiting
    methods wait in seconds of this clock's :meth:`monotonic` time, from the calling greenlet
    (same thread only): the scheduler's loop and job timeouts wait through them, so that with
    :class:`greensched.testing.MockClock` they wait for mock time.
    """

    def now(self) -> datetime:
        """Return the current wall-clock time as an aware datetime."""
        ...

    def monotonic(self) -> float:
        """Return a monotonic reading in seconds."""
        ...

    def timer(self, seconds: float) -> Timer:
        """Return a stopped one-shot :class:`Timer` of ``seconds`` (counted from its start)."""
        ...

    def sleep(self, seconds: float) -> None:
        """Block the calling greenlet for ``seconds`` (0: let the others that are ready run)."""
        ...

    def timeout(self, seconds: float | None, exception: Any = None) -> gevent.Timeout:
        """Return a (not started) :class:`gevent.Timeout` of ``seconds`` of this clock.

        Used as ``with clock.timeout(5): ...``, or started by hand with ``start()`` and
        ``close()``d: as :class:`gevent.Timeout`, it raises itself (or ``exception``; ``False``
        in a ``with`` block: ends the block silently) in the greenlet that started it.
        ``None``: never expires.
        """
        ...

    def wait(self, event: Any, timeout: float | None) -> bool:
        """Wait until the :class:`gevent.event.Event` ``event`` is set or ``timeout`` seconds
        pass (``None``: no limit).

        :return: whether ``event`` is set
        """
        ...


class SystemClock:
    """The real clock: UTC wall time and :func:`time.monotonic`, and gevent's own waiting."""

    __slots__ = ()

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def monotonic(self) -> float:
        return time.monotonic()

    def timer(self, seconds: float) -> Timer:
        timer: Timer = gevent.get_hub().loop.timer(seconds)
        return timer

    def sleep(self, seconds: float) -> None:
        gevent.sleep(seconds)

    def timeout(self, seconds: float | None, exception: Any = None) -> gevent.Timeout:
        return gevent.Timeout(seconds, exception)

    def wait(self, event: Any, timeout: float | None) -> bool:
        return bool(event.wait(timeout))

    def __repr__(self) -> str:
        return "SystemClock()"


#: The clock used when none is given.
SYSTEM_CLOCK = SystemClock()


_current_clock: ContextVar[Clock] = ContextVar("greensched_clock", default=SYSTEM_CLOCK)


def current_clock() -> Clock:
    """Return the clock in force: the one set by :func:`using_clock`, else the system clock.

    Code that needs "now" without a scheduler at hand (the command line tools) reads it here,
    so that tests can inject a clock; triggers never read it (the scheduler fills in their
    time-dependent defaults, see :meth:`greensched.triggers.base.BaseTrigger.fill_defaults`).
    """
    return _current_clock.get()


@contextmanager
def using_clock(clock: Clock) -> Iterator[Clock]:
    """Make ``clock`` the one :func:`current_clock` returns inside the ``with`` block."""
    token = _current_clock.set(clock)
    try:
        yield clock
    finally:
        _current_clock.reset(token)
