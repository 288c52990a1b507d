"""The base class of every trigger."""

from __future__ import annotations

import random
from abc import ABCMeta, abstractmethod
from datetime import datetime, timedelta

__all__ = ("BaseTrigger",)


class BaseTrigger(metaclass=ABCMeta):
    """Abstract base class that defines the interface that every trigger must implement.

    A trigger is a pure function of ``(previous_fire_time, now)``: it never reads the clock.
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

    def _apply_jitter(
        self, next_fire_time: datetime | None, jitter: float | None, now: datetime
    ) -> datetime | None:
        """Delay ``next_fire_time`` by a random amount between 0 and ``jitter`` seconds.

        :param next_fire_time: the fire time without jitter (``None`` passes through)
        :param jitter: the largest delay in seconds (``None`` or 0: no jitter)
        :param now: current datetime (kept for APScheduler 3.x compatibility)
        """
        if next_fire_time is None or not jitter:
            return next_fire_time
        return next_fire_time + timedelta(seconds=random.uniform(0, jitter))
