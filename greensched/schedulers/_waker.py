"""The event a scheduler's processing loop sleeps on, settable from any OS thread."""

from __future__ import annotations

import gevent
import gevent.event
from gevent.monkey import get_original

_get_thread_ident = get_original("_thread", "get_ident")

#: how long "forever" is: about 49 days, the longest wait the processing loop asks for
_FOREVER = 4294967.0


class Waker:
    """A :class:`gevent.event.Event` of the OS thread that created it.

    :meth:`wait` and :meth:`clear` belong to that thread; :meth:`set` may be called from any
    thread, patched or not: from another thread it goes through the hub loop's thread-safe
    callback queue, which wakes that loop.
    """

    __slots__ = ("_event", "_loop", "_thread_ident")

    def __init__(self) -> None:
        self._event = gevent.event.Event()
        self._loop = gevent.get_hub().loop
        self._thread_ident = _get_thread_ident()

    def in_owner_thread(self) -> bool:
        """``True`` if the caller runs in the OS thread that owns this waker."""
        return bool(_get_thread_ident() == self._thread_ident)

    def set(self) -> None:
        """Wake the waiting loop; safe from any thread."""
        if _get_thread_ident() == self._thread_ident:
            self._event.set()
            return
        try:
            self._loop.run_callback_threadsafe(self._event.set)
        except ValueError:
            # "operation on destroyed loop": the owner thread has ended (a background
            # scheduler that shut down); there is no loop left to wake
            if self._loop.ptr:
                raise

    def wait(self, timeout: float | None) -> None:
        """Sleep until :meth:`set` is called or ``timeout`` seconds pass (``None``: forever)."""
        # A finite timer keeps the hub's loop alive: with nothing else to wait for, gevent
        # would raise LoopExit while another thread may still call set()
        self._event.wait(_FOREVER if timeout is None else timeout)

    def clear(self) -> None:
        """Forget earlier calls of :meth:`set`."""
        self._event.clear()
