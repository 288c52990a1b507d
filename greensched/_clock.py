"""The one place greensched reads the time: a replaceable clock."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "SystemClock"]


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
