"""Test helpers for code that uses greensched: a controllable clock.

.. important:: Like every greensched primitive, :class:`MockClock` is meant to be used from the
   thread that runs the scheduler only.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

__all__ = ["MockClock"]


class MockClock:
    """A clock that only moves when told to.

    Pass it to a scheduler as ``clock=MockClock(...)``: a started scheduler subscribes its
    :meth:`~greensched.schedulers.base.BaseScheduler.wakeup` to the clock, so each :meth:`jump`
    wakes its processing loop, which then runs whatever became due. A test of a daily job jumps
    a day and lets the hub run what is ready (:func:`gevent.idle`) instead of waiting a day::

        clock = MockClock()
        scheduler = GeventScheduler(clock=clock, timezone="UTC")
        scheduler.add_job(report, "interval", days=1)
        scheduler.start()
        clock.jump(timedelta(days=1))
        gevent.idle()  # the loop has run the job's first run


    :param start: the initial wall time (an aware datetime; a naive one is taken as UTC);
        defaults to 2020-01-01 00:00 UTC
    """

    __slots__ = ("_listeners", "_monotonic", "_now")

    def __init__(self, start: datetime | None = None) -> None:
        if start is None:
            start = datetime(2020, 1, 1, tzinfo=timezone.utc)
        elif not isinstance(start, datetime):
            raise TypeError(f"start must be a datetime, got: {start!r}")
        elif start.tzinfo is None:
            start = start.replace(tzinfo=timezone.utc)
        self._now = start
        self._monotonic = 0.0
        self._listeners: list[Callable[[], object]] = []

    def now(self) -> datetime:
        """Return the current (mock) wall time."""
        return self._now

    def monotonic(self) -> float:
        """Return the seconds jumped so far."""
        return self._monotonic

    def jump(self, seconds: float | timedelta) -> None:
        """Move time forward.

        :param seconds: how far, in seconds or as a timedelta
        :raises ValueError: if ``seconds`` is negative
        """
        if isinstance(seconds, timedelta):
            delta, backwards = seconds, seconds < timedelta(0)
        else:
            delta, backwards = timedelta(seconds=seconds), seconds < 0
        if backwards:
            raise ValueError("time can't go backwards")
        # Add in UTC: wall-clock arithmetic in a zone with DST would land in a gap or be an
        # hour off across a transition
        now = self._now
        self._now = (now.astimezone(timezone.utc) + delta).astimezone(now.tzinfo)
        self._monotonic += delta.total_seconds()
        for listener in tuple(self._listeners):
            listener()

    def subscribe(self, listener: Callable[[], object]) -> None:
        """Call ``listener()`` after every :meth:`jump` (and :meth:`set`).

        Schedulers subscribe their ``wakeup`` when they start.
        """
        self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[], object]) -> None:
        """Stop calling ``listener``; does nothing if it was not subscribed."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    def set(self, when: datetime) -> None:
        """Move time forward to ``when`` (aware datetime).

        :raises ValueError: if ``when`` is earlier than the current time
        """
        if when.tzinfo is None:
            raise ValueError(f"when must be an aware datetime, got: {when!r}")
        # Subtract in UTC: datetimes sharing a tzinfo subtract as wall times, ignoring DST
        self.jump(when.astimezone(timezone.utc) - self._now.astimezone(timezone.utc))

    def __repr__(self) -> str:
        return f"MockClock({self._now.isoformat()})"
