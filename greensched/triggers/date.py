"""A trigger that fires once, at a given date and time."""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from typing import Any

from tzlocal import get_localzone

from greensched import _dst
from greensched import _validators as validate
from greensched.triggers.base import BaseTrigger
from greensched.util import astimezone, convert_to_datetime, datetime_repr

__all__ = ("DateTrigger",)


class DateTrigger(BaseTrigger):
    """Fires once, on ``run_date``.

    :param run_date: when to run the job: a datetime, a date (midnight) or an ISO 8601 string;
        if omitted, the time the job is added (the scheduler's clock), in ``timezone``: until
        then (:meth:`fill_defaults`) the attribute reads ``None``, a pickled or exported trigger
        keeps it unset, and ``str()`` / ``repr()`` show it as ``now``
    :param timezone: the zone of a ``run_date`` that has none (a tzinfo or an IANA zone name);
        the local zone if omitted
    :raises ValueError: if ``timezone`` is an unknown zone name, or ``run_date`` is a string
        that is not ISO 8601
    :raises TypeError: if ``timezone`` or ``run_date`` is of an unsupported type

    .. note:: A ``run_date`` whose wall time does not exist (inside a daylight saving gap) is
       moved to the first instant after the gap. APScheduler 3.x moves a naive one by the
       length of the gap and keeps an aware one as given, so it can fire on a wall time that
       never happens.

    .. note:: APScheduler 3.x fills a left-out ``run_date`` in the constructor, from the system
       clock; greensched leaves it unset until the job is added (see
       :meth:`~greensched.triggers.base.BaseTrigger.fill_defaults`), so that it comes from the
       scheduler's clock.
    """

    __slots__ = ("_timezone", "run_date")

    run_date: datetime | None
    _timezone: tzinfo  # the zone of a run date left to default to "now"

    def __init__(
        self, run_date: datetime | date | str | None = None, timezone: tzinfo | str | None = None
    ) -> None:
        zone = astimezone(timezone) or get_localzone()
        self._timezone = zone
        if run_date is None:
            self.run_date = None  # filled in by fill_defaults()
        else:
            converted = convert_to_datetime(run_date, zone, "run_date")
            assert converted is not None
            self.run_date = _dst.skip_gap(converted)

    def fill_defaults(self, now: datetime) -> None:
        """Set an unset ``run_date`` to ``now`` (in the trigger's zone)."""
        if self.run_date is None:
            self.run_date = now.astimezone(self._timezone)

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        """Return ``run_date`` on the first call, ``None`` once it has fired.

        :param previous_fire_time: the previous time the trigger fired, or ``None``
        :param now: current datetime: the run date of a trigger without ``run_date`` (see
            :meth:`fill_defaults`)
        """
        self.fill_defaults(now)
        return self.run_date if previous_fire_time is None else None

    def __getstate__(self) -> dict[str, Any]:
        if self.run_date is None:
            return {"version": 1, "run_date": None, "timezone": self._timezone}
        return {"version": 1, "run_date": self.run_date}

    def __setstate__(self, state: dict[str, Any]) -> None:
        validate.require_state_version(self, state, 1)
        run_date: datetime | None = state["run_date"]
        zone = state["timezone"] if run_date is None else run_date.tzinfo
        assert zone is not None, "a run date is aware"
        self.run_date, self._timezone = run_date, zone

    def _run_date_text(self) -> str:
        return "now" if self.run_date is None else datetime_repr(self.run_date)

    def __str__(self) -> str:
        return f"date[{self._run_date_text()}]"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} (run_date='{self._run_date_text()}')>"
