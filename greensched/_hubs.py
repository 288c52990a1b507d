"""Reaching a gevent hub from other OS threads while its own thread may destroy it.

A worker thread that hands an outcome back (an async watcher's ``send()``) or a thread that
wakes a scheduler (``loop.run_callback_threadsafe()``) touches the hub's loop from outside its
thread. gevent raises ``ValueError`` for a loop destroyed before the call, but a loop destroyed
*during* the call is freed memory: a crash. Each hub gets one :class:`HubGate`; callers from
other threads go through it, and :func:`destroy_hub` closes it before destroying the loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gevent.monkey import get_original

__all__ = ("HubGate", "destroy_hub", "hub_gate")

_allocate_lock = get_original("_thread", "allocate_lock")

#: the attribute of a hub that holds its gate
_ATTRIBUTE = "_greensched_gate"


class HubGate:
    """The way into one hub's loop from other threads, open until the hub is destroyed.

    Thread-safe; a native lock, patched or not.
    """

    __slots__ = ("_lock", "_open")

    def __init__(self) -> None:
        self._lock = _allocate_lock()
        self._open = True

    def call(self, function: Callable[..., Any], *args: Any) -> bool:
        """Call ``function(*args)`` (something that touches the loop) unless the hub is gone.

        :return: ``False`` if the hub was destroyed (nothing was called)
        """
        with self._lock:
            if not self._open:
                return False
            function(*args)
            return True

    def close(self) -> None:
        """Close the gate: once this returns, no call through it touches the loop."""
        with self._lock:
            self._open = False


def hub_gate(hub: Any) -> HubGate:
    """Return the gate of ``hub`` (made on first use, in any thread)."""
    gate: HubGate | None = getattr(hub, _ATTRIBUTE, None)
    if gate is None:
        with _creation_lock:
            gate = getattr(hub, _ATTRIBUTE, None)
            if gate is None:
                gate = HubGate()
                setattr(hub, _ATTRIBUTE, gate)
    return gate


_creation_lock = _allocate_lock()


def destroy_hub(hub: Any) -> None:
    """Close the gate of ``hub``, then destroy it and its loop (in the hub's own thread)."""
    hub_gate(hub).close()
    hub.destroy(destroy_loop=True)
