"""Tests for greensched.triggers.base: what every trigger shares."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from greensched.triggers.calendarinterval import CalendarIntervalTrigger
from greensched.triggers.cron import CronTrigger
from greensched.triggers.date import DateTrigger
from greensched.triggers.interval import IntervalTrigger


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
