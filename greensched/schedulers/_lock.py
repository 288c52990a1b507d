"""A reentrant lock that greenlets of one thread and real OS threads can share."""

from __future__ import annotations

from collections import deque
from types import TracebackType
from typing import TYPE_CHECKING, Any

from gevent import getcurrent
from gevent._hub_local import get_hub_if_exists
from gevent.exceptions import BlockingSwitchOutError
from gevent.hub import Waiter
from gevent.monkey import get_original

# The real primitive, even in a monkey-patched program: patched, ``threading.Lock`` is a
# greenlet lock
if TYPE_CHECKING:
    from _thread import allocate_lock as _allocate_lock
else:
    _allocate_lock = get_original("_thread", "allocate_lock")


def _root(greenlet: Any) -> Any:
    """The main greenlet of the OS thread that ``greenlet`` belongs to."""
    while greenlet.parent is not None:
        greenlet = greenlet.parent
    return greenlet


class _ThreadWaiter:
    """A thread with no hub, or a hub itself (which cannot yield), blocked until it is handed
    the lock."""

    __slots__ = ("_event", "greenlet")

    def __init__(self, greenlet: Any) -> None:
        self.greenlet = greenlet
        self._event = _allocate_lock()
        self._event.acquire()

    def wait(self) -> None:
        self._event.acquire()

    def wake(self) -> None:
        """Called from any thread, holding the lock's mutex."""
        self._event.release()

    def close(self) -> None:
        pass


class _GreenletWaiter:
    """A greenlet waiting for the lock in its hub, which keeps running the thread's other
    greenlets meanwhile."""

    __slots__ = ("_waiter", "_watcher", "greenlet")

    def __init__(self, greenlet: Any, hub: Any) -> None:
        self.greenlet = greenlet
        self._waiter = Waiter(hub)
        # An async watcher: safe to send from any thread, and active, so that the hub's loop
        # does not end (LoopExit) while this is all it waits for
        self._watcher = hub.loop.async_()
        self._watcher.start(self._waiter.switch, None)

    def wait(self) -> None:
        self._waiter.get()

    def wake(self) -> None:
        """Called from any thread, holding the lock's mutex (so never after :meth:`close`)."""
        self._watcher.send()

    def close(self) -> None:
        """In the waiter's thread, once it no longer waits."""
        self._watcher.stop()
        self._watcher.close()


class SchedulerLock:
    """A reentrant, fair lock for the scheduler's state: its job stores, executors and
    listeners.

    A greenlet that holds it may acquire it again (one :meth:`release` per :meth:`acquire`).
    It excludes every other greenlet, of the same OS thread or of another one, and every other
    OS thread, in a monkey-patched program or not. Underneath is one native lock (the
    unpatched ``_thread`` lock), held by whichever greenlet holds this one.

    **Fair.** A caller that finds the lock held queues up, and a release while callers wait
    hands the lock straight to the one that has waited longest, without letting it go: a
    thread that releases it and asks for it again at once (a loop calling ``modify_job``)
    queues behind them instead of taking it back. A native lock lets such threads keep it: a
    waiter only gets to retry once it has woken up and taken the GIL, long after the lock was
    released, and the scheduler's loop could wait for seconds while every run due meanwhile
    was late or missed.

    **How each caller waits.** A greenlet of a thread that has a gevent hub (the scheduler's
    loop and the executors' greenlets in the scheduler's thread; every greenlet of a
    monkey-patched program) waits cooperatively: its hub keeps running the thread's other
    greenlets, so that the runs that end in worker threads are still collected and reported
    while the loop waits for a thread that holds the lock. A thread with no hub (a plain
    thread calling the scheduler's API, a pool thread running a job) blocks until the lock is
    handed to it. So does the hub itself (a callback of its loop), which cannot yield: waiting
    for a greenlet of its own thread would never end, and raises
    :exc:`gevent.exceptions.BlockingSwitchOutError`.

    A greenlet may therefore yield while it holds the lock (a job store doing I/O, a listener).
    The one wait left that cannot end is the caller's own making: code holding the lock that
    waits for another OS thread which is itself waiting for the lock.

    .. important:: Unlike gevent's primitives, this one is meant to be shared by threads.

    .. note:: greensched's schedulers create it with ``_create_lock()``. APScheduler 3.x's
       gevent scheduler creates a ``gevent.lock.RLock``, owned by greenlets and made for the
       greenlets of one thread; its other schedulers a ``threading.RLock``, which, unpatched,
       is owned by OS threads (two greenlets of one thread would both "hold" it) and is not
       fair.

    Only blocking acquisition is offered (``with lock:``), as the scheduler uses it.
    """

    __slots__ = ("_count", "_held", "_mutex", "_owner", "_waiters")

    def __init__(self) -> None:
        #: locked while some greenlet holds the lock; handed over locked to a waiter
        self._held = _allocate_lock()
        #: guards the queue of waiters and the hand-overs (held for a few steps only)
        self._mutex = _allocate_lock()
        #: who waits to be handed the lock, first come first served
        self._waiters: deque[_ThreadWaiter | _GreenletWaiter] = deque()
        self._owner: Any = None  # the greenlet holding the lock
        self._count = 0

    def acquire(self) -> bool:
        """Acquire the lock, waiting as long as it takes; return ``True``."""
        me = getcurrent()
        if self._owner is me:
            self._count += 1
            return True
        if self._held.acquire(False):  # held during hand-overs: no barging past waiters
            self._owner = me
            self._count = 1
            return True
        hub = get_hub_if_exists()
        if hub is None or me is hub:
            self._queue_and_wait(me, _ThreadWaiter(me))
        else:
            self._queue_and_wait(me, _GreenletWaiter(me, hub))
        return True  # handed over: the owner already

    def _check_hub_may_block(self, hub: Any) -> None:
        """Refuse to block ``hub`` (a callback of its loop) for a greenlet of its own thread,
        which could only go on once the hub runs again; called holding ``_mutex``.

        :raises BlockingSwitchOutError: if the owner or a waiter is such a greenlet
        """
        thread = _root(hub)
        greenlets = [self._owner, *(waiter.greenlet for waiter in self._waiters)]
        if any(greenlet is not None and _root(greenlet) is thread for greenlet in greenlets):
            raise BlockingSwitchOutError(
                "Impossible to wait for a scheduler lock in the event loop callback while a "
                "greenlet of the same thread holds it or waits for it"
            )

    def _queue_and_wait(self, me: Any, waiter: _ThreadWaiter | _GreenletWaiter) -> None:
        """Queue up ``waiter`` and wait until the lock is handed to ``me``."""
        try:
            with self._mutex:
                if me is get_hub_if_exists():
                    self._check_hub_may_block(me)
                self._waiters.append(waiter)
                # Released since we looked? Then it goes to the first in line (maybe us)
                if self._held.acquire(False):
                    self._hand_over()
            if self._owner is me:
                return
            try:
                waiter.wait()
            except BaseException:
                # Killed (GreenletExit), or interrupted by a signal handler, while waiting:
                # leave the queue, or pass on the lock if it came meanwhile
                with self._mutex:
                    try:
                        self._waiters.remove(waiter)
                    except ValueError:
                        granted = True
                    else:
                        granted = False
                if granted:
                    self.release()
                raise
        finally:
            waiter.close()

    def _hand_over(self) -> None:
        """Give the (held) lock to the first waiter and wake it; called holding ``_mutex``."""
        waiter = self._waiters.popleft()
        self._owner = waiter.greenlet
        self._count = 1
        waiter.wake()

    def release(self) -> None:
        """Release the lock once: to the longest waiter, if any.

        :raises RuntimeError: if the calling greenlet does not hold the lock
        """
        if self._owner is not getcurrent():
            raise RuntimeError("cannot release a scheduler lock held by another greenlet")
        self._count -= 1
        if self._count:
            return
        self._owner = None
        if self._waiters:
            with self._mutex:
                if self._waiters:
                    self._hand_over()  # without letting go of the native lock
                    return
        self._held.release()
        # A waiter that queued between the check above and the release: it tried the lock
        # after queueing, and found it held, so it is seen here
        if self._waiters:
            with self._mutex:
                if self._waiters and self._held.acquire(False):
                    self._hand_over()

    def locked(self) -> bool:
        """``True`` if some greenlet holds the lock (or it is being handed to one)."""
        return bool(self._held.locked())

    __enter__ = acquire  # one call less on the scheduler's hot path

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def __repr__(self) -> str:
        return (
            f"<{self.__class__.__name__} owner={self._owner!r} count={self._count} "
            f"waiters={len(self._waiters)}>"
        )
