"""Tests for greensched.triggers.base: what every trigger shares."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable

import pytest

from greensched._clock import using_clock
from greensched.testing import MockClock
from greensched.triggers.base import BaseTrigger
from greensched.triggers.calendarinterval import CalendarIntervalTrigger
from greensched.triggers.combining import OrTrigger
from greensched.triggers.cron import CronTrigger
from greensched.triggers.date import DateTrigger
from greensched.triggers.interval import IntervalTrigger

NOW = datetime(2024, 6, 3, 12, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda zone: DateTrigger("2024-06-03", timezone=zone), id="date"),
        pytest.param(lambda zone: IntervalTrigger(minutes=1, timezone=zone), id="interval"),
        pytest.param(lambda zone: CronTrigger(hour=3, timezone=zone), id="cron"),
        pytest.param(
            lambda zone: CronTrigger.from_crontab("0 3 * * *", timezone=zone), id="crontab"
        ),
        pytest.param(
            lambda zone: CalendarIntervalTrigger(days=1, timezone=zone), id="calendarinterval"
        ),
    ],
)
@pytest.mark.parametrize("zone", [123, 1.5, b"UTC"], ids=["int", "float", "bytes"])
def test_timezone_of_a_wrong_type_is_rejected_naming_the_option(
    make: Callable[[Any], object], zone: Any
) -> None:
    with pytest.raises(
        TypeError, match=rf"^timezone must be a tzinfo or a zone name, got: {zone!r}$"
    ):
        make(zone)


class BrokenClock(MockClock):
    """A clock that fails the test when anything reads the time."""

    __slots__ = ()

    def now(self) -> datetime:
        raise AssertionError("the clock was read")


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(DateTrigger, id="date"),
        pytest.param(lambda: IntervalTrigger(minutes=1), id="interval"),
        pytest.param(lambda: CronTrigger(hour=3), id="cron"),
        pytest.param(lambda: CalendarIntervalTrigger(days=1), id="calendarinterval"),
        pytest.param(lambda: OrTrigger([DateTrigger(), IntervalTrigger(hours=1)]), id="or"),
    ],
)
def test_triggers_never_read_a_clock(make: Callable[[], BaseTrigger]) -> None:
    with using_clock(BrokenClock()):  # the clock the command line tools read
        trigger = make()
        trigger.fill_defaults(NOW)
        assert trigger.get_next_fire_time(None, NOW) is not None
