"""The base class of every trigger."""

from __future__ import annotations

import random
from abc import ABCMeta, abstractmethod
from datetime import datetime, timedelta, timezone, tzinfo

from tzlocal import get_localzone

from greensched.util import astimezone

__all__ = ("BaseTrigger",)


class BaseTrigger(metaclass=ABCMeta):
    """Abstract base class that defines the interface that every trigger must implement.

    A trigger never reads the clock. Its fire times are a function of ``(previous_fire_time,
    now)``, and a default that depends on the current time (the start of an
    :class:`~greensched.triggers.interval.IntervalTrigger` without ``start_date``, the run date
    of a :class:`~greensched.triggers.date.DateTrigger` without ``run_date``) is left unset
    when the trigger is built: :meth:`fill_defaults` fills it in. The scheduler calls it with
    the time of its clock when a job gets the trigger (``add_job``, ``reschedule_job``);
    otherwise the first :meth:`get_next_fire_time` call fills it in from its ``now``.

    .. note:: APScheduler 3.x reads the system clock in the constructors of these triggers,
       so their defaults ignore a scheduler's clock and are set before the job is added.
    """

    __slots__ = ()

    @abstractmethod
    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        """Return the next datetime to fire on, or ``None`` if no such datetime can be
        calculated (the schedule is finished).

        :param previous_fire_time: the previous time the trigger was fired (``None`` on the
            first call)
        :param now: current datetime
        """

    def fill_defaults(self, now: datetime) -> None:
        """Fill in the defaults that depend on the current time and were left unset, taking
        ``now`` as the current time; values already set stay as they are, so that only the
        first call has an effect. The base implementation has no such defaults.

        :param now: the current time (an aware datetime)
        """
        return  # a concrete no-op: triggers without such defaults need not override it

    def _apply_jitter(
        self, next_fire_time: datetime | None, jitter: float | None, now: datetime
    ) -> datetime | None:
        """Delay ``next_fire_time`` by a random amount between 0 and ``jitter`` seconds.

        The delay is elapsed time, so the result is a real instant in ``next_fire_time``'s zone,
        never a wall time inside a daylight saving gap.

        :param next_fire_time: the fire time without jitter (``None`` passes through)
        :param jitter: the largest delay in seconds (``None`` or 0: no jitter)
        :param now: current datetime (kept for APScheduler 3.x compatibility)
        """
        if next_fire_time is None or not jitter:
            return next_fire_time
        delay = timedelta(seconds=random.uniform(0, jitter))
        zone = next_fire_time.tzinfo
        if zone is None:
            return next_fire_time + delay
        return (next_fire_time.astimezone(timezone.utc) + delay).astimezone(zone)


def choose_timezone(timezone: tzinfo | str | None, start_date: object, end_date: object) -> tzinfo:
    """Return a trigger's zone: ``timezone`` if given, else the zone of an aware
    ``start_date``, else of an aware ``end_date``, else the local zone (APScheduler 3.x's
    order). pytz zones become zoneinfo (see :func:`greensched.util.astimezone`).

    :raises ValueError: if ``timezone`` is an unknown zone name
    :raises TypeError: if ``timezone`` is neither a string nor a tzinfo
    """
    zone: tzinfo | None = None
    if timezone:
        zone = astimezone(timezone)
    elif isinstance(start_date, datetime) and start_date.tzinfo is not None:
        zone = astimezone(start_date.tzinfo)
    elif isinstance(end_date, datetime) and end_date.tzinfo is not None:
        zone = astimezone(end_date.tzinfo)
    return zone if zone is not None else get_localzone()
