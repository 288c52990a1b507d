"""The one place greensched reads the time: a replaceable clock."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Protocol, runtime_checkable

__all__ = ["SYSTEM_CLOCK", "Clock", "SystemClock", "current_clock", "using_clock"]


@runtime_checkable
class Clock(Protocol):
    """What a scheduler needs to know about time.

    ``now()`` is wall-clock time as an aware datetime (any zone: callers convert);
    ``monotonic()`` is seconds since an unspecified epoch, for measuring durations.
    """

    def now(self) -> datetime:
        """Return the current wall-clock time as an aware datetime."""
        ...

    def monotonic(self) -> float:
        """Return a monotonic reading in seconds."""
        ...


class SystemClock:
    """The real clock: UTC wall time and :func:`time.monotonic`."""

    __slots__ = ()

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def monotonic(self) -> float:
        return time.monotonic()

    def __repr__(self) -> str:
        return "SystemClock()"


#: The clock used when none is given.
SYSTEM_CLOCK = SystemClock()


_current_clock: ContextVar[Clock] = ContextVar("greensched_clock", default=SYSTEM_CLOCK)


def current_clock() -> Clock:
    """Return the clock in force: the one set by :func:`using_clock`, else the system clock.

    Code that needs "now" outside a scheduler's loop (a trigger filling in a default start
    date when it is created) reads it here, so that a scheduler's injected clock applies.
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
