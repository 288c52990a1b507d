"""Triggers for tests whose code under test never asks for a fire time."""

from __future__ import annotations

from datetime import datetime

from greensched.triggers.base import BaseTrigger


class NeverTrigger(BaseTrigger):
    """A trigger with no more fire times: for jobs whose trigger the code under test never
    consults (stores, executors)."""

    __slots__ = ()

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        return None

    def __str__(self) -> str:
        return "never"
