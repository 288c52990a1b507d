"""What a scheduler offers the components it starts: :class:`SchedulerServices`.

Executors and job stores receive their scheduler in ``start(scheduler, alias)``. They use it
only through this protocol, never through the scheduler's private attributes, so that a
component can be tested with a small stand-in and the scheduler's internals can change.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import tzinfo
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from greensched._clock import Clock
    from greensched.events import SchedulerEvent
    from greensched.history._recorder import RunRecorder

__all__ = ("SchedulerServices",)


class SchedulerServices(Protocol):
    """The part of a scheduler its executors and job stores use.

    Every scheduler (:class:`~greensched.schedulers.base.BaseScheduler` and its subclasses)
    provides it.
    """

    @property
    def clock(self) -> Clock:
        """Where the scheduler reads (and waits for) the time."""
        ...

    @property
    def timezone(self) -> tzinfo:
        """The scheduler's default time zone."""
        ...

    @property
    def listened_events(self) -> int:
        """The codes of the events some listener wants, as a mask: an event outside it need
        not even be made."""
        ...

    @property
    def run_history(self) -> RunRecorder | None:
        """Where the runs are recorded (``None``: the scheduler's history is off, or it is not
        started)."""
        ...

    def create_lock(self) -> AbstractContextManager[Any]:
        """Return a new reentrant lock of the kind the scheduler's threads need."""
        ...

    def dispatch_event(self, event: SchedulerEvent) -> None:
        """Send ``event`` to the scheduler's listeners (a listener that raises is logged)."""
        ...

    def wakeup(self) -> None:
        """Make the scheduler look at its job stores again now."""
        ...
