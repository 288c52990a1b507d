"""Triggers in plain words, as the dashboard shows them."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from greensched.dashboard.describe import describe_trigger
from greensched.triggers.calendarinterval import CalendarIntervalTrigger
from greensched.triggers.combining import AndTrigger, OrTrigger
from greensched.triggers.cron import CronTrigger
from greensched.triggers.date import DateTrigger
from greensched.triggers.interval import IntervalTrigger
from tests.support import NeverTrigger

UTC = "UTC"


@pytest.mark.parametrize(
    ("trigger", "words"),
    [
        (IntervalTrigger(minutes=5), "every 5 minutes"),
        (IntervalTrigger(seconds=1), "every second"),
        (IntervalTrigger(hours=1, minutes=30), "every 1 hour 30 minutes"),
        (IntervalTrigger(days=1), "every day"),
        (IntervalTrigger(seconds=0.5), "every 0.5 seconds"),
        (
            CronTrigger(hour=2, minute=30, day_of_week="mon-fri", timezone="Europe/Paris"),
            "at 02:30 on Mon\u2013Fri (Europe/Paris)",
        ),
        (CronTrigger(hour=9, timezone=UTC), "at 09:00 every day (UTC)"),
        (CronTrigger(hour=9, minute=0, second=15, timezone=UTC), "at 09:00:15 every day (UTC)"),
        (
            CronTrigger(hour=9, second=15, timezone=UTC),
            "second 15 of every minute of hour 9 (UTC)",
        ),
        (CronTrigger(second="*/5", timezone=UTC), "every 5 seconds (UTC)"),
        (CronTrigger(minute="*/15", timezone=UTC), "every 15 minutes (UTC)"),
        (CronTrigger(minute=5, timezone=UTC), "every hour at minute 5 (UTC)"),
        (
            CronTrigger.from_crontab("*/10 9-17 * * 1-5", timezone=UTC),
            "every 10 minutes of hour 9-17 on Mon\u2013Fri (UTC)",
        ),
        (CronTrigger.from_crontab("0 9 * * 0", timezone=UTC), "at 09:00 on Sun (UTC)"),
        (
            CronTrigger.from_crontab("0 9 1 1,7 *", timezone=UTC),
            "at 09:00 on day 1 of the month in Jan, Jul (UTC)",
        ),
        (
            DateTrigger(datetime(2026, 12, 2, 10, 0, tzinfo=timezone.utc)),
            "once at 2026-12-02 10:00 UTC",
        ),
        (CalendarIntervalTrigger(months=1, hour=9, timezone=UTC), "every month at 09:00 (UTC)"),
        (
            OrTrigger([CronTrigger(hour=1, timezone=UTC), IntervalTrigger(hours=2)]),
            "at 01:00 every day (UTC); or every 2 hours",
        ),
        (
            AndTrigger([CronTrigger(day_of_week="sat", timezone=UTC), IntervalTrigger(hours=2)]),
            "when all of: at 00:00 on Sat (UTC); every 2 hours",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else type(value).__name__,
)
def test_plain_words(trigger: Any, words: str) -> None:
    assert describe_trigger(trigger) == words


def test_a_trigger_it_does_not_know_is_its_text() -> None:
    trigger = NeverTrigger()
    assert describe_trigger(trigger) == str(trigger)
