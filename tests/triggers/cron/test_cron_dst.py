"""Daylight saving changes and other jumps of the wall clock: CronTrigger never returns a wall
time that does not exist, fires a fixed-time job once in a fall-back overlap and at the end of a
spring-forward gap, and keeps every-N-minutes jobs on elapsed time through both."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from greensched.triggers.cron import CronTrigger

UTC = timezone.utc


def local_series(trigger: CronTrigger, now: datetime, count: int) -> list[str]:
    """The first ``count`` fire times from ``now``, as local ISO 8601 text with the offset."""
    result: list[str] = []
    previous = None
    for _ in range(count):
        previous = trigger.get_next_fire_time(previous, now)
        assert previous is not None
        result.append(previous.isoformat())
    return result


def exists(dt: datetime) -> bool:
    """Whether ``dt``'s wall time and offset are real in its zone."""
    back = dt.astimezone(UTC).astimezone(dt.tzinfo)
    return back.replace(tzinfo=None) == dt.replace(tzinfo=None) and (
        back.utcoffset() == dt.utcoffset()
    )


CASES = [
    # (zone, crontab expression, local start (fold 0), local fire times with their offsets)
    # Europe/Berlin: 2024-03-31 02:00 CET -> 03:00 CEST; 2024-10-27 03:00 CEST -> 02:00 CET
    pytest.param(
        "Europe/Berlin",
        "30 2 * * *",
        "2024-03-30 12:00",
        ["2024-03-31T03:00:00+02:00", "2024-04-01T02:30:00+02:00"],
        id="berlin-gap-fixed-time-fires-after-the-gap",
    ),
    pytest.param(
        "Europe/Berlin",
        "30 2 * * *",
        "2024-10-26 12:00",
        ["2024-10-27T02:30:00+02:00", "2024-10-28T02:30:00+01:00"],
        id="berlin-overlap-fixed-time-fires-once",
    ),
    pytest.param(
        "Europe/Berlin",
        "*/15 * * * *",
        "2024-03-31 01:40",
        ["2024-03-31T01:45:00+01:00", "2024-03-31T03:00:00+02:00", "2024-03-31T03:15:00+02:00"],
        id="berlin-gap-every-15-minutes",
    ),
    pytest.param(
        "Europe/Berlin",
        "*/15 * * * *",
        "2024-10-27 01:40",
        [
            "2024-10-27T01:45:00+02:00",
            "2024-10-27T02:00:00+02:00",
            "2024-10-27T02:15:00+02:00",
            "2024-10-27T02:30:00+02:00",
            "2024-10-27T02:45:00+02:00",
            "2024-10-27T02:00:00+01:00",
            "2024-10-27T02:15:00+01:00",
            "2024-10-27T02:30:00+01:00",
            "2024-10-27T02:45:00+01:00",
            "2024-10-27T03:00:00+01:00",
        ],
        id="berlin-overlap-every-15-minutes",
    ),
    pytest.param(
        "Europe/Berlin",
        "0 * * * *",
        "2024-10-27 00:30",
        [
            "2024-10-27T01:00:00+02:00",
            "2024-10-27T02:00:00+02:00",
            "2024-10-27T02:00:00+01:00",
            "2024-10-27T03:00:00+01:00",
        ],
        id="berlin-overlap-hourly",
    ),
    pytest.param(
        "Europe/Berlin",
        "30 0-23 * * *",
        "2024-10-27 02:00",
        ["2024-10-27T02:30:00+02:00", "2024-10-27T02:30:00+01:00", "2024-10-27T03:30:00+01:00"],
        id="berlin-overlap-hour-range-covering-the-day-is-every-hour",
    ),
    pytest.param(
        "Europe/Berlin",
        "*/30 2 * * *",
        "2024-10-27 01:00",
        ["2024-10-27T02:00:00+02:00", "2024-10-27T02:30:00+02:00", "2024-10-28T02:00:00+01:00"],
        id="berlin-overlap-fixed-hour-fires-once",
    ),
    pytest.param(
        "Europe/Berlin",
        "*/30 2 * * *",
        "2024-03-31 01:00",
        ["2024-03-31T03:00:00+02:00", "2024-04-01T02:00:00+02:00"],
        id="berlin-gap-fixed-hour-fires-once-after-the-gap",
    ),
    pytest.param(
        "Europe/Berlin",
        "0 30 2 * * *",
        "2024-03-31 00:00",
        ["2024-03-31T03:00:00+02:00", "2024-04-01T02:30:00+02:00"],
        id="berlin-gap-six-fields",
    ),
    # Europe/Helsinki: 2024-03-31 03:00 EET -> 04:00 EEST; 2024-10-27 04:00 EEST -> 03:00 EET
    pytest.param(
        "Europe/Helsinki",
        "30 3 * * *",
        "2024-03-30 12:00",
        ["2024-03-31T04:00:00+03:00", "2024-04-01T03:30:00+03:00"],
        id="helsinki-gap-fixed-time",
    ),
    pytest.param(
        "Europe/Helsinki",
        "30 3 * * *",
        "2024-10-26 12:00",
        ["2024-10-27T03:30:00+03:00", "2024-10-28T03:30:00+02:00"],
        id="helsinki-overlap-fixed-time",
    ),
    pytest.param(
        "Europe/Helsinki",
        "*/20 * * * *",
        "2024-10-27 02:50",
        [
            "2024-10-27T03:00:00+03:00",
            "2024-10-27T03:20:00+03:00",
            "2024-10-27T03:40:00+03:00",
            "2024-10-27T03:00:00+02:00",
            "2024-10-27T03:20:00+02:00",
            "2024-10-27T03:40:00+02:00",
            "2024-10-27T04:00:00+02:00",
        ],
        id="helsinki-overlap-every-20-minutes",
    ),
    # America/New_York: 2024-03-10 02:00 EST -> 03:00 EDT; 2024-11-03 02:00 EDT -> 01:00 EST
    pytest.param(
        "America/New_York",
        "30 2 * * *",
        "2024-03-09 12:00",
        ["2024-03-10T03:00:00-04:00", "2024-03-11T02:30:00-04:00"],
        id="new-york-gap-fixed-time",
    ),
    pytest.param(
        "America/New_York",
        "30 1 * * *",
        "2024-11-02 12:00",
        ["2024-11-03T01:30:00-04:00", "2024-11-04T01:30:00-05:00"],
        id="new-york-overlap-fixed-time",
    ),
    pytest.param(
        "America/New_York",
        "*/30 * * * *",
        "2024-11-03 00:45",
        [
            "2024-11-03T01:00:00-04:00",
            "2024-11-03T01:30:00-04:00",
            "2024-11-03T01:00:00-05:00",
            "2024-11-03T01:30:00-05:00",
            "2024-11-03T02:00:00-05:00",
        ],
        id="new-york-overlap-every-30-minutes",
    ),
    pytest.param(
        "America/New_York",
        "0 9 * * 1-5",
        "2024-03-08 12:00",
        ["2024-03-11T09:00:00-04:00", "2024-03-12T09:00:00-04:00"],
        id="new-york-weekdays-across-the-change",
    ),
    # Australia/Lord_Howe moves by 30 minutes: 2024-04-07 02:00 (+11) -> 01:30 (+10:30);
    # 2024-10-06 02:00 (+10:30) -> 02:30 (+11)
    pytest.param(
        "Australia/Lord_Howe",
        "15 2 * * *",
        "2024-10-05 12:00",
        ["2024-10-06T02:30:00+11:00", "2024-10-07T02:15:00+11:00"],
        id="lord-howe-half-hour-gap-fixed-time",
    ),
    pytest.param(
        "Australia/Lord_Howe",
        "*/10 * * * *",
        "2024-10-06 01:45",
        ["2024-10-06T01:50:00+10:30", "2024-10-06T02:30:00+11:00", "2024-10-06T02:40:00+11:00"],
        id="lord-howe-half-hour-gap-every-10-minutes",
    ),
    pytest.param(
        "Australia/Lord_Howe",
        "45 1 * * *",
        "2024-04-06 12:00",
        ["2024-04-07T01:45:00+11:00", "2024-04-08T01:45:00+10:30"],
        id="lord-howe-half-hour-overlap-fixed-time",
    ),
    pytest.param(
        "Australia/Lord_Howe",
        "*/15 * * * *",
        "2024-04-07 01:10",
        [
            "2024-04-07T01:15:00+11:00",
            "2024-04-07T01:30:00+11:00",
            "2024-04-07T01:45:00+11:00",
            "2024-04-07T01:30:00+10:30",
            "2024-04-07T01:45:00+10:30",
            "2024-04-07T02:00:00+10:30",
        ],
        id="lord-howe-half-hour-overlap-every-15-minutes",
    ),
    pytest.param(
        "Australia/Lord_Howe",
        "*/15 1 * * *",
        "2024-04-07 01:10",
        [
            "2024-04-07T01:15:00+11:00",
            "2024-04-07T01:30:00+11:00",
            "2024-04-07T01:45:00+11:00",
            "2024-04-08T01:00:00+10:30",
        ],
        id="lord-howe-half-hour-overlap-fixed-hour",
    ),
    # Pacific/Apia skipped 2011-12-30: 2011-12-29 23:59:59 -10:00 -> 2011-12-31 00:00 +14:00
    pytest.param(
        "Pacific/Apia",
        "0 12 * * *",
        "2011-12-29 06:00",
        ["2011-12-29T12:00:00-10:00", "2011-12-31T00:00:00+14:00", "2011-12-31T12:00:00+14:00"],
        id="apia-skipped-day-daily-job-fires-after-the-gap",
    ),
    pytest.param(
        "Pacific/Apia",
        "*/30 * * * *",
        "2011-12-29 23:10",
        ["2011-12-29T23:30:00-10:00", "2011-12-31T00:00:00+14:00", "2011-12-31T00:30:00+14:00"],
        id="apia-skipped-day-every-30-minutes",
    ),
    pytest.param(
        "Pacific/Apia",
        "0 9 30 12 *",
        "2011-12-01 00:00",
        ["2011-12-31T00:00:00+14:00", "2012-12-30T09:00:00+14:00"],
        id="apia-skipped-date",
    ),
    # America/Santiago changes at midnight: 2024-04-07 00:00 (-03) -> 2024-04-06 23:00 (-04);
    # 2024-09-08 00:00 (-04) -> 01:00 (-03), so that day has no midnight
    pytest.param(
        "America/Santiago",
        "0 0 * * *",
        "2024-09-07 12:00",
        ["2024-09-08T01:00:00-03:00", "2024-09-09T00:00:00-03:00"],
        id="santiago-no-midnight",
    ),
    pytest.param(
        "America/Santiago",
        "30 23 * * *",
        "2024-04-06 12:00",
        ["2024-04-06T23:30:00-03:00", "2024-04-07T23:30:00-04:00"],
        id="santiago-overlap-across-midnight-fixed-time",
    ),
    pytest.param(
        "America/Santiago",
        "*/30 * * * *",
        "2024-04-06 22:50",
        [
            "2024-04-06T23:00:00-03:00",
            "2024-04-06T23:30:00-03:00",
            "2024-04-06T23:00:00-04:00",
            "2024-04-06T23:30:00-04:00",
            "2024-04-07T00:00:00-04:00",
        ],
        id="santiago-overlap-across-midnight-every-30-minutes",
    ),
]


@pytest.mark.parametrize(("zone_name", "expr", "start", "expected"), CASES)
def test_daylight_saving_changes(
    zone_name: str, expr: str, start: str, expected: list[str]
) -> None:
    zone = ZoneInfo(zone_name)
    trigger = CronTrigger.from_crontab(expr, zone)
    now = datetime.fromisoformat(start).replace(tzinfo=zone)
    assert local_series(trigger, now, len(expected)) == expected


@pytest.mark.parametrize(("zone_name", "expr", "start", "expected"), CASES)
def test_fire_times_exist_and_increase(
    zone_name: str, expr: str, start: str, expected: list[str]
) -> None:
    zone = ZoneInfo(zone_name)
    trigger = CronTrigger.from_crontab(expr, zone)
    now = datetime.fromisoformat(start).replace(tzinfo=zone) - timedelta(days=2)
    previous = None
    for _ in range(400):
        fire_time = trigger.get_next_fire_time(previous, now)
        assert fire_time is not None
        assert exists(fire_time), fire_time
        if previous is not None:
            assert fire_time.astimezone(UTC) > previous.astimezone(UTC)
        previous = fire_time


def test_keyword_form_follows_the_same_rules() -> None:
    zone = ZoneInfo("Europe/Berlin")
    now = datetime(2024, 10, 26, 12, tzinfo=zone)
    trigger = CronTrigger(hour=2, minute=30, timezone=zone)
    assert local_series(trigger, now, 2) == [
        "2024-10-27T02:30:00+02:00",
        "2024-10-28T02:30:00+01:00",
    ]
    trigger = CronTrigger(minute="*/30", timezone=zone)
    assert local_series(trigger, datetime(2024, 10, 27, 2, 10, tzinfo=zone), 4) == [
        "2024-10-27T02:30:00+02:00",
        "2024-10-27T02:00:00+01:00",
        "2024-10-27T02:30:00+01:00",
        "2024-10-27T03:00:00+01:00",
    ]


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("30 2 * * *", "2024-10-28T02:30:00+01:00"),  # 02:30 CEST is already past
        ("*/15 * * * *", "2024-10-27T02:15:00+01:00"),
        ("0 3 * * *", "2024-10-27T03:00:00+01:00"),
        ("*/15 2 * * *", "2024-10-28T02:00:00+01:00"),
    ],
)
def test_starting_in_the_second_round_of_an_overlap(expr: str, expected: str) -> None:
    zone = ZoneInfo("Europe/Berlin")
    now = datetime(2024, 10, 27, 2, 10, fold=1, tzinfo=zone)  # 02:10 CET
    trigger = CronTrigger.from_crontab(expr, zone)
    fire_time = trigger.get_next_fire_time(None, now)
    assert fire_time is not None
    assert fire_time.isoformat() == expected
    assert fire_time.fold == (1 if expected.startswith("2024-10-27T02") else 0)


def test_previous_fire_time_in_the_second_round() -> None:
    zone = ZoneInfo("Europe/Berlin")
    previous = datetime(2024, 10, 27, 2, 45, tzinfo=zone)  # 02:45 CEST
    trigger = CronTrigger.from_crontab("*/15 * * * *", zone)
    fire_time = trigger.get_next_fire_time(previous, previous)
    assert fire_time is not None
    assert (fire_time.isoformat(), fire_time.fold) == ("2024-10-27T02:00:00+01:00", 1)


def test_pytz_zone_gets_the_same_fire_times() -> None:
    pytz = pytest.importorskip("pytz")
    zone = pytz.timezone("Europe/Berlin")
    trigger = CronTrigger.from_crontab("*/15 * * * *", zone)
    now = zone.localize(datetime(2024, 10, 27, 1, 40))
    times = local_series(trigger, now, 10)
    assert times == CASES[3].values[3]


def test_fixed_offset_zone_has_no_changes() -> None:
    zone = timezone(timedelta(hours=1))
    trigger = CronTrigger.from_crontab("30 2 * * *", zone)
    now = datetime(2024, 3, 30, 12, tzinfo=zone)
    assert local_series(trigger, now, 2) == [
        "2024-03-31T02:30:00+01:00",
        "2024-04-01T02:30:00+01:00",
    ]


# --- what APScheduler 3.11 and croniter do instead ---------------------------------------------


def _their_series(trigger: Any, now: datetime, count: int) -> list[str]:
    result = []
    previous = None
    for _ in range(count):
        previous = trigger.get_next_fire_time(previous, previous or now)
        result.append(previous.isoformat())
    return result


def test_apscheduler_returns_a_wall_time_that_does_not_exist() -> None:
    apscheduler_cron = pytest.importorskip("apscheduler.triggers.cron")
    zone = ZoneInfo("Europe/Berlin")
    theirs = apscheduler_cron.CronTrigger.from_crontab("30 2 * * *", zone)
    now = datetime(2024, 3, 30, 12, tzinfo=zone)
    first = theirs.get_next_fire_time(None, now)
    assert first.isoformat() == "2024-03-31T02:30:00+01:00"
    assert not exists(first)


def test_apscheduler_fires_a_fixed_time_twice_in_an_overlap() -> None:
    apscheduler_cron = pytest.importorskip("apscheduler.triggers.cron")
    zone = ZoneInfo("Europe/Berlin")
    theirs = apscheduler_cron.CronTrigger.from_crontab("30 2 * * *", zone)
    now = datetime(2024, 10, 26, 12, tzinfo=zone)
    assert _their_series(theirs, now, 3) == [
        "2024-10-27T02:30:00+02:00",
        "2024-10-27T02:30:00+01:00",
        "2024-10-28T02:30:00+01:00",
    ]


def test_apscheduler_agrees_on_every_15_minutes() -> None:
    apscheduler_cron = pytest.importorskip("apscheduler.triggers.cron")
    zone = ZoneInfo("Europe/Berlin")
    theirs = apscheduler_cron.CronTrigger.from_crontab("*/15 * * * *", zone)
    ours = CronTrigger.from_crontab("*/15 * * * *", zone)
    for start in (datetime(2024, 10, 27, 1, 40), datetime(2024, 3, 31, 1, 40)):
        now = start.replace(tzinfo=zone)
        assert _their_series(theirs, now, 10) == local_series(ours, now, 10)


def test_croniter_fires_a_fixed_time_twice_in_an_overlap() -> None:
    croniter = pytest.importorskip("croniter").croniter
    zone = ZoneInfo("Europe/Berlin")
    iterator = croniter("30 2 * * *", datetime(2024, 10, 26, 12, tzinfo=zone))
    theirs = [iterator.get_next(datetime).isoformat() for _ in range(3)]
    assert theirs == [
        "2024-10-27T02:30:00+02:00",
        "2024-10-27T02:30:00+01:00",
        "2024-10-28T02:30:00+01:00",
    ]
    # and agrees on the gap
    iterator = croniter("30 2 * * *", datetime(2024, 3, 30, 12, tzinfo=zone))
    assert iterator.get_next(datetime).isoformat() == "2024-03-31T03:00:00+02:00"
