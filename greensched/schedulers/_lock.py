"""A reentrant lock that greenlets of one thread and real OS threads can share."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any

from gevent import getcurrent
from gevent.lock import BoundedSemaphore
from gevent.monkey import get_original

# The real primitives, even in a monkey-patched program: patched, ``threading.Lock`` is a
# greenlet lock and ``threading.local`` is greenlet-local
if TYPE_CHECKING:
    from _thread import _local as _ThreadLocal
    from _thread import allocate_lock as _allocate_lock
else:
    _allocate_lock, _ThreadLocal = get_original("_thread", ["allocate_lock", "_local"])


class _Gates(_ThreadLocal):
    """Per OS thread: the gate that lets one greenlet of the thread at a time through to the
    native lock."""

    def __init__(self) -> None:
        # Bounded: once fully released it forgets its hub, so it never holds on to the hub of
        # a thread that has gone
        self.gate = BoundedSemaphore(1)


class SchedulerLock:
    """A reentrant lock for the scheduler's state: its job stores, executors and listeners.

    A greenlet that holds it may acquire it again (one :meth:`release` per :meth:`acquire`).
    It excludes every other greenlet, of the same OS thread or of another one, and every other
    OS thread, in a monkey-patched program or not:

    * first a *gate* of the caller's OS thread (a :class:`gevent.lock.BoundedSemaphore`), which
      greenlets of that thread wait for cooperatively: the hub keeps running while they wait;
    * then one native lock (the unpatched ``_thread`` lock), which only greenlets that passed
      their thread's gate, one per thread, ever wait for.

    So a greenlet may yield while it holds the lock (a job store doing I/O, a listener): the
    greenlets of its thread that want the lock wait on the gate without blocking the hub, and
    no OS thread ever blocks on the native lock while a greenlet of its *own* thread holds it,
    the one wait that could never end. An OS thread blocks on the native lock only while a
    greenlet of another thread holds it, whose hub is not blocked by that wait.

    The one wait left that cannot end is the caller's own making: code holding the lock that
    waits for another OS thread which is itself waiting for the lock.

    .. important:: Unlike gevent's primitives, this one is meant to be shared by threads.

    .. note:: greensched's schedulers create it with ``_create_lock()``. APScheduler 3.x's
       gevent scheduler creates a ``gevent.lock.RLock``, owned by greenlets and made for the
       greenlets of one thread (gevent's support for other threads is best effort: until gevent
       issue 2013 was fixed, a release from a thread without a hub could leave a waiting
       greenlet parked for good); its other schedulers a ``threading.RLock``, which,
       unpatched, is owned by OS threads: two greenlets of one thread would both "hold" it.

    Only blocking acquisition is offered (``with lock:``), as the scheduler uses it.
    """

    __slots__ = ("_count", "_gate", "_gates", "_native", "_owner")

    def __init__(self) -> None:
        self._native = _allocate_lock()
        self._gates = _Gates()
        self._owner: Any = None  # the greenlet holding the lock
        self._count = 0
        self._gate: BoundedSemaphore | None = None  # the gate the owner passed

    def acquire(self) -> bool:
        """Acquire the lock, waiting as long as it takes; return ``True``."""
        me = getcurrent()
        if self._owner is me:
            self._count += 1
            return True
        gate = self._gates.gate
        gate.acquire()  # other greenlets of this thread: waits cooperatively
        try:
            # Only greenlets of other threads can hold it now: blocking this thread is safe
            self._native.acquire()
        except BaseException:  # a signal handler raised while this thread waited
            gate.release()
            raise
        self._owner = me
        self._count = 1
        self._gate = gate
        return True

    def release(self) -> None:
        """Release the lock once.

        :raises RuntimeError: if the calling greenlet does not hold the lock
        """
        if self._owner is not getcurrent():
            raise RuntimeError("cannot release a scheduler lock held by another greenlet")
        self._count -= 1
        if self._count:
            return
        gate = self._gate
        assert gate is not None
        self._owner = None
        self._gate = None
        self._native.release()
        gate.release()

    def locked(self) -> bool:
        """``True`` if some greenlet holds the lock."""
        return bool(self._native.locked())

    __enter__ = acquire  # one call less on the scheduler's hot path

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"<{self.__class__.__name__} owner={self._owner!r} count={self._count}>"
