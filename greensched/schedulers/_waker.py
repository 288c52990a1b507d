"""The event a scheduler's processing loop sleeps on, settable from any OS thread."""

from __future__ import annotations

from typing import Any

import gevent
from gevent import getcurrent
from gevent.monkey import get_original

from greensched._clock import SYSTEM_CLOCK, Clock, SystemClock
from greensched._hubs import hub_gate

_get_thread_ident = get_original("_thread", "get_ident")

#: how long "forever" is: about 49 days, the longest wait the processing loop asks for
_FOREVER = 4294967.0

#: The least time, in seconds, between the start of one round of the loop and a :meth:`Waker.set`
#: from another OS thread taking effect (see :meth:`Waker.set`). The waits the loop asks for
#: itself are never lengthened here: the loop paces its own rounds
#: (:meth:`~greensched.schedulers._loop.ProcessingLoop._pace`).
MIN_WAIT = 0.003


class Waker:
    """A flag of the OS thread that created it, which one greenlet of that thread waits on.

    :meth:`wait` and :meth:`clear` belong to that thread; :meth:`set` may be called from any
    thread, patched or not: from another thread it goes through the hub loop's thread-safe
    callback queue, which wakes that loop.

    It does what a :class:`gevent.event.Event` with one waiter would, for less: the loop waits
    on it once per round, and an ``Event.wait(timeout)`` makes a :class:`gevent.Timeout` (an
    exception object and its timer) each time, where this starts a bare timer watcher.

    The timeout of :meth:`wait` is in seconds of :attr:`clock` (the scheduler's): with a
    :class:`~greensched.testing.MockClock`, the loop sleeps until mock time reaches its
    deadline.
    """

    __slots__ = (
        "_clock",
        "_deferred",
        "_flag",
        "_gate",
        "_hub",
        "_loop",
        "_real",
        "_remote",
        "_round",
        "_thread_ident",
        "_waiter",
    )

    def __init__(self, clock: Clock = SYSTEM_CLOCK) -> None:
        self.clock = clock
        self._hub = gevent.get_hub()
        self._loop = self._hub.loop
        self._gate = hub_gate(self._hub)
        self._thread_ident = _get_thread_ident()
        self._flag = False
        self._waiter: Any = None  # the greenlet waiting in wait(), if any
        self._remote = False  # a set() from another thread is on its way, or has been seen
        self._round = float("-inf")  # the hub loop's time when wait() last returned
        self._deferred: Any = None  # the timer of a set() from another thread, held back

    @property
    def clock(self) -> Clock:
        """The clock whose time :meth:`wait` waits for."""
        return self._clock

    @clock.setter
    def clock(self, clock: Clock) -> None:
        self._clock = clock
        #: the system clock: the hub's own timer is the timeout (decided here, not per wait)
        self._real = isinstance(clock, SystemClock)

    def in_owner_thread(self) -> bool:
        """``True`` if the caller runs in the OS thread that owns this waker."""
        return bool(_get_thread_ident() == self._thread_ident)

    def set(self) -> None:
        """Wake the waiting loop; safe from any thread.

        From another thread, the calls until the next :meth:`clear` cost the owner's hub one
        callback: once one is on its way, the others have nothing to add (the flag it sets is
        cleared only once the loop starts its next round, which sees what they changed).
        And such a call less than :data:`MIN_WAIT` after :meth:`wait` last returned (the start
        of the loop's latest round) takes effect :data:`MIN_WAIT` after it: each call of the
        scheduler's job API wakes the loop, and threads that call it back to back would
        otherwise have the loop start a round for each call, several thousand a second, most
        of them finding nothing due (each costs a wake-up of the process, the scheduler's
        lock and a look at each store). A set from the owner's thread takes effect at once.
        """
        if _get_thread_ident() == self._thread_ident:
            self._set()
            return
        if self._remote:
            return
        self._remote = True
        # Not once the hub is destroyed (a background scheduler that shut down): there is no
        # loop left to wake
        try:
            woken = self._gate.call(self._loop.run_callback_threadsafe, self._remote_set)
        except ValueError:
            # "operation on destroyed loop": a hub destroyed otherwise than by destroy_hub()
            if self._loop.ptr:
                raise
            woken = False
        if not woken:
            self._remote = False

    def _remote_set(self) -> None:
        """Hub callback of :meth:`set` from another thread (``_remote`` stays true until
        :meth:`clear`)."""
        if self._flag or self._deferred is not None:
            return  # set already, or will be soon enough
        delay = self._round + MIN_WAIT - self._loop.now()
        if delay > 0:
            timer = self._deferred = self._loop.timer(delay)
            timer.start(self._set_deferred)
        else:
            self._set()

    def _set_deferred(self) -> None:
        """Callback of the timer of a held-back :meth:`set` from another thread."""
        timer, self._deferred = self._deferred, None
        if timer is not None:
            timer.close()
        self._set()

    def _set(self) -> None:
        """Set the flag, in the owner thread; the waiting greenlet resumes from the hub."""
        if not self._flag:
            self._flag = True
            if self._waiter is not None:
                self._loop.run_callback(self._wake)

    def _wake(self) -> None:
        """Hub callback (of the timer, or of :meth:`_set`): resume the waiting greenlet once."""
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            waiter.switch()

    def wait(self, timeout: float | None) -> bool:
        """Sleep until :meth:`set` is called or ``timeout`` seconds pass (``None``: forever);
        return at once if it has been set since the last :meth:`clear`.

        The wait lasts the timeout asked, however short: the processing loop decides how far
        apart its rounds are (it batches runs due close together only at high rates, see
        :meth:`~greensched.schedulers._loop.ProcessingLoop._pace`). The timer counts from
        the current time: the hub's loop keeps the time it last woke, which is earlier than
        the loop's round read the time (other greenlets may have run in between), and a timer
        counted from it would fire early, for a round that finds nothing due and a second
        wait (at least a millisecond: the hub's epoll backend sleeps no less). Counted from
        now, it fires late by as long as the rest of the round took (microseconds at low
        rates). A wait of zero, for due jobs left over from a round, lets the hub run
        everything that is ready, timers included, and returns.

        :return: whether it has been set (since the last :meth:`clear`): ``False`` if only
            the timeout ended the wait
        """
        loop = self._loop
        if self._flag:
            loop.update_now()  # the time cached by the loop may be a round old
            self._round = loop.now()
            return True
        waiter = getcurrent()
        # A real timer, finite, keeps the hub's loop alive: with nothing else to wait for,
        # gevent would raise LoopExit while another thread may still call set(). It is the
        # timeout itself on the system clock; another clock's timer comes on top.
        if self._real:
            if timeout is None:
                timer = loop.timer(_FOREVER)
            else:
                loop.update_now()  # count the timeout from now, not from the round's start
                timer = loop.timer(timeout)
            clock_timer = None
        else:
            timer = loop.timer(_FOREVER)
            clock_timer = None if timeout is None else self._clock.timer(timeout)
        self._waiter = waiter
        try:
            # The timer switches straight back (no _wake in between): it is closed, pending
            # or not, before this greenlet waits again
            timer.start(waiter.switch)
            if clock_timer is not None:
                clock_timer.start(self._wake)
            self._hub.switch()  # until the timer or _wake switches back
        finally:
            self._waiter = None
            timer.close()
            if clock_timer is not None:
                clock_timer.close()
            self._round = loop.now()
        return self._flag

    def clear(self) -> None:
        """Forget earlier calls of :meth:`set`."""
        self._flag = False
        self._remote = False  # a set() from another thread from now on needs a callback
