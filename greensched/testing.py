"""Test helpers for code that uses greensched: a controllable clock.

.. important:: Like every greensched primitive, :class:`MockClock` is meant to be used from the
   thread that runs the scheduler only.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import gevent
from gevent.hub import Waiter
from gevent.monkey import get_original

from greensched._clock import Timer
from greensched._hubs import hub_gate

__all__ = ["MockClock"]

_allocate_lock = get_original("_thread", "allocate_lock")
_get_thread_ident = get_original("_thread", "get_ident")

#: The fewest heap entries before stopped timers are swept out of the heap
_MIN_SWEEP = 100


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

    Waiting through the clock (:meth:`sleep`, :meth:`timeout`, :meth:`wait`, :meth:`timer`:
    what the scheduler's loop and job timeouts use) waits for mock time: a timer fires once a
    jump reaches its deadline, its callback running in the hub of the thread that started it.

    With ``autojump=True``, the clock also jumps by itself: whenever the hub of the thread
    that first waits on it has nothing else to do (no greenlet ready to run, no event pending:
    a lowest-priority idle watcher of the loop runs), time jumps to the earliest deadline of
    its timers. A test then starts the scheduler and waits for what it expects, and the mock
    time runs ahead as fast as the code under test lets it::

        clock = MockClock(autojump=True)
        scheduler = GeventScheduler(clock=clock, timezone="UTC")
        done = gevent.event.Event()
        scheduler.add_job(done.set, "interval", hours=1)
        scheduler.start()
        done.wait()  # returns at once, with clock.now() an hour on

    .. caution:: The hub is idle as well while greenlets wait for I/O or for other threads
       (a thread pool's jobs, a database's answer): with ``autojump`` time then jumps past
       their deadlines without waiting for them. Use it for code that waits only on greenlets
       and on this clock, in one thread. Idleness is told by a libev idle watcher of the lowest
       priority (gevent's default loop); libuv runs idle watchers on every loop iteration, so
       with ``GEVENT_LOOP=libuv`` time may jump while greenlets are still ready to run.

    :param start: the initial wall time (an aware datetime; a naive one is taken as UTC);
        defaults to 2020-01-01 00:00 UTC
    :param autojump: jump to the next deadline whenever the hub is idle (keyword-only)
    """

    __slots__ = (
        "_autojump",
        "_idle",
        "_listeners",
        "_lock",
        "_monotonic",
        "_now",
        "_sequence",
        "_started",
        "_timers",
    )

    def __init__(self, start: datetime | None = None, *, autojump: bool = False) -> None:
        if start is None:
            start = datetime(2020, 1, 1, tzinfo=timezone.utc)
        elif not isinstance(start, datetime):
            raise TypeError(f"start must be a datetime, got: {start!r}")
        elif start.tzinfo is None:
            start = start.replace(tzinfo=timezone.utc)
        self._now = start
        self._monotonic = 0.0
        self._listeners: list[Callable[[], object]] = []
        self._autojump = bool(autojump)
        self._lock = _allocate_lock()  # guards the timers: a thread may jump while another waits
        # (deadline, sequence, timer): a stopped timer's entry stays until popped or swept
        self._timers: list[tuple[float, int, _MockTimer]] = []
        self._started = 0  # how many timers are started
        self._sequence = itertools.count()
        self._idle: Any = None  # the idle watcher of autojump, made at the first wait

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
            seconds = delta.total_seconds()
        else:
            delta, backwards = timedelta(seconds=seconds), seconds < 0
        if backwards:
            raise ValueError("time can't go backwards")
        self._advance(delta, self._monotonic + seconds)

    def _advance(self, delta: timedelta, monotonic: float) -> None:
        """Move the wall time ``delta`` on and the monotonic time to ``monotonic`` (which a
        float holds exactly where a timedelta rounds to the microsecond), then fire the timers
        due and tell the listeners."""
        # Add in UTC: wall-clock arithmetic in a zone with DST would land in a gap or be an
        # hour off across a transition
        now = self._now
        self._now = (now.astimezone(timezone.utc) + delta).astimezone(now.tzinfo)
        self._monotonic = monotonic
        for timer in self._pop_due():
            timer._fire()
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

    def timer(self, seconds: float) -> Timer:
        """Return a stopped one-shot timer that fires once mock time has moved ``seconds`` past
        its start (see :class:`greensched._clock.Timer`)."""
        return _MockTimer(self, seconds)

    def sleep(self, seconds: float) -> None:
        """Block the calling greenlet until mock time has moved ``seconds`` on (0 or less: let
        the other greenlets that are ready run, as :func:`gevent.sleep` does)."""
        if seconds <= 0:
            gevent.sleep(0)
            return
        waiter = Waiter()
        timer = self.timer(seconds)
        timer.start(waiter.switch, None)
        try:
            waiter.get()
        finally:
            timer.close()

    def timeout(self, seconds: float | None, exception: Any = None) -> gevent.Timeout:
        """Return a (not started) :class:`gevent.Timeout` that expires after ``seconds`` of
        mock time (``None``: never); see :meth:`greensched._clock.Clock.timeout`."""
        timeout = gevent.Timeout(None, exception)
        if seconds is not None:
            timeout.seconds = seconds
            timeout.timer = self.timer(seconds)
        return timeout

    def wait(self, event: Any, timeout: float | None) -> bool:
        """Wait until ``event`` (a :class:`gevent.event.Event`) is set or ``timeout`` seconds
        of mock time pass (``None``: no limit).

        :return: whether ``event`` is set
        """
        with self.timeout(timeout, False):
            event.wait()
        return bool(event.is_set())

    def _start(self, timer: _MockTimer, deadline: float) -> int:
        """Add a started timer to the heap; return its sequence number."""
        with self._lock:
            sequence = next(self._sequence)
            heapq.heappush(self._timers, (deadline, sequence, timer))
            self._started += 1
            if len(self._timers) > _MIN_SWEEP and len(self._timers) > 2 * self._started:
                self._timers = [entry for entry in self._timers if entry[2]._sequence == entry[1]]
                heapq.heapify(self._timers)
        if self._autojump:
            self._watch_idle()
        return sequence

    def _stopped(self) -> None:
        """Count a started timer stopped (its heap entry stays until popped or swept)."""
        with self._lock:
            self._started -= 1

    def _pop_due(self) -> list[_MockTimer]:
        """Remove the started timers whose deadline has come from the heap; return them in
        deadline order."""
        due = []
        with self._lock:
            timers = self._timers
            while timers and timers[0][0] <= self._monotonic:
                _, sequence, timer = heapq.heappop(timers)
                if timer._sequence == sequence:
                    timer._sequence = None
                    self._started -= 1
                    due.append(timer)
        return due

    def _next_deadline(self) -> float | None:
        """The earliest deadline of a started timer, ``None`` if there is none."""
        with self._lock:
            timers = self._timers
            while timers and timers[0][2]._sequence != timers[0][1]:
                heapq.heappop(timers)  # a stopped timer's entry
            return timers[0][0] if timers else None

    def _watch_idle(self) -> None:
        """Start the idle watcher of ``autojump`` (made in the first waiting thread's hub)."""
        idle = self._idle
        if idle is None:
            loop = gevent.get_hub().loop
            idle = self._idle = loop.idle(priority=loop.MINPRI)
        if not idle.active:
            idle.start(self._on_idle)

    def _on_idle(self) -> None:
        """Callback of the idle watcher: the hub has nothing else to do."""
        deadline = self._next_deadline()
        if deadline is None:
            self._idle.stop()  # nothing to jump to: let the loop block (or exit) as usual
            return
        # to the deadline itself: a jump by the gap might fall short of it by a rounding
        # error (or by all of a gap under half a microsecond) and come back here forever
        gap = max(deadline - self._monotonic, 0.0)
        self._advance(timedelta(seconds=gap), max(deadline, self._monotonic))

    def __repr__(self) -> str:
        return f"MockClock({self._now.isoformat()})"


class _MockTimer:
    """A :class:`greensched._clock.Timer` of a :class:`MockClock`."""

    __slots__ = ("_args", "_callback", "_clock", "_hub", "_queued", "_seconds", "_sequence")

    def __init__(self, clock: MockClock, seconds: float) -> None:
        self._clock = clock
        self._seconds = max(seconds, 0.0)
        self._sequence: int | None = None  # of its heap entry, while started
        self._queued = False  # fired, its callback yet to run
        self._callback: Callable[..., object] | None = None
        self._args: tuple[Any, ...] = ()
        self._hub: Any = None

    @property
    def active(self) -> bool:
        return self._sequence is not None

    @property
    def pending(self) -> bool:
        return self._queued

    def start(self, callback: Callable[..., object], *args: Any, update: Any = None) -> None:
        if self._sequence is not None or self._queued:
            raise RuntimeError("timer must be stopped before it is started again")
        self._callback, self._args = callback, args
        self._hub = gevent.get_hub()
        clock = self._clock
        self._sequence = clock._start(self, clock.monotonic() + self._seconds)

    def stop(self) -> None:
        if self._sequence is not None:
            self._sequence = None
            self._clock._stopped()
        self._queued = False
        self._callback, self._args = None, ()

    close = stop

    def _fire(self) -> None:
        """Its deadline has come (the clock took it off the heap): run the callback from the
        hub of the thread that started it."""
        self._queued = True
        hub = self._hub
        if _get_thread_ident() == hub.thread_ident:
            hub.loop.run_callback(self._run)
        else:
            hub_gate(hub).call(hub.loop.run_callback_threadsafe, self._run)

    def _run(self) -> None:
        """Hub callback: call the timer's callback unless it was stopped meanwhile."""
        if not self._queued:
            return
        callback, args = self._callback, self._args
        self.stop()
        if callback is not None:
            callback(*args)
