"""Property tests for greensched.triggers.calendarinterval, biased towards month ends, leap days
and daylight saving changes."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from greensched.triggers.calendarinterval import CalendarIntervalTrigger
from greensched.util import localize

UTC = timezone.utc


@dataclass(frozen=True)
class Scenario:
    """A trigger's arguments and the ``now`` of its first call."""

    lengths: dict[str, Any]
    wall_time: time
    start_date: date
    zone: Any
    now: datetime
    jitter: float | None = None

    def trigger(self) -> CalendarIntervalTrigger:
        return CalendarIntervalTrigger(
            **self.lengths,
            hour=self.wall_time.hour,
            minute=self.wall_time.minute,
            second=self.wall_time.second,
            start_date=self.start_date,
            timezone=self.zone,
            jitter=self.jitter,
        )


# --- anywhere: random lengths, wall times, start dates and zones ----------------------------

ZONES = [
    ZoneInfo(name)
    for name in (
        "Europe/Berlin",
        "America/New_York",
        "Australia/Lord_Howe",  # 30-minute changes
        "America/Santiago",  # changes at midnight
        "Pacific/Apia",  # 2011-12-30 does not exist
        "Asia/Kolkata",
    )
] + [UTC]

lengths = st.fixed_dictionaries(
    {
        "years": st.sampled_from([0, 0, 0, 1, 2, 4]),
        "months": st.sampled_from([0, 0, 1, 1, 2, 3, 5, 7, 12, 13]),
        "weeks": st.sampled_from([0, 0, 0, 1, 2]),
        "days": st.sampled_from([0, 0, 1, 1, 2, 3, 10]),
    }
).filter(lambda value: any(value.values()))

# wall times, often in the small hours, when clocks change
wall_times = st.builds(
    time,
    st.one_of(st.integers(0, 3), st.integers(0, 23)),
    st.one_of(st.sampled_from([0, 15, 30, 45]), st.integers(0, 59)),
    st.one_of(st.just(0), st.integers(0, 59)),
)

# start dates on month ends and leap days, or anywhere
start_dates = st.one_of(
    st.sampled_from([date(2024, 1, 29), date(2024, 1, 31), date(2024, 2, 29), date(2023, 3, 31)]),
    st.dates(min_value=date(1950, 1, 1), max_value=date(2060, 12, 31)),
)


def _anywhere(max_days_after_start: int) -> st.SearchStrategy[Scenario]:
    """Scenarios with ``now`` from 400 days before start_date to ``max_days_after_start``
    after it (often within days of it)."""
    offsets = st.one_of(
        st.timedeltas(min_value=timedelta(days=-30), max_value=timedelta(days=40)),
        st.timedeltas(
            min_value=timedelta(days=-400), max_value=timedelta(days=max_days_after_start)
        ),
    )
    return st.builds(
        lambda lengths, wall_time, start_date, zone, offset: Scenario(
            lengths,
            wall_time,
            start_date,
            zone,
            datetime.combine(start_date, time(), tzinfo=UTC) + offset,
        ),
        lengths,
        wall_times,
        start_dates,
        st.sampled_from(ZONES),
        offsets,
    )


# --- near a clock change: a daily or weekly grid that lands on the day of a change -----------

#: (zone, the local wall time the change happens at); gaps and overlaps
CLOCK_CHANGES = [
    ("Europe/Berlin", datetime(2024, 3, 31, 2, 0)),  # 02:00 -> 03:00
    ("Europe/Berlin", datetime(2024, 10, 27, 2, 0)),  # 03:00 -> 02:00
    ("America/New_York", datetime(2024, 3, 10, 2, 0)),  # 02:00 -> 03:00
    ("America/New_York", datetime(2024, 11, 3, 1, 0)),  # 02:00 -> 01:00
    ("Australia/Lord_Howe", datetime(2024, 10, 6, 2, 0)),  # 02:00 -> 02:30
    ("Australia/Lord_Howe", datetime(2024, 4, 7, 1, 30)),  # 02:00 -> 01:30
    ("America/Santiago", datetime(2024, 9, 8, 0, 0)),  # 00:00 -> 01:00
    ("America/Santiago", datetime(2024, 4, 6, 23, 0)),  # 24:00 -> 23:00
    ("Pacific/Apia", datetime(2011, 12, 30, 0, 0)),  # 12-30 00:00 -> 12-31 00:00
    ("Pacific/Apia", datetime(2011, 9, 24, 3, 0)),  # 03:00 -> 04:00
]


@st.composite
def _near_a_change(draw: st.DrawFn) -> Scenario:
    name, change = draw(st.sampled_from(CLOCK_CHANGES))
    # a wall time within 90 minutes of the change, often inside the gap or overlap
    wall = change + timedelta(minutes=draw(st.integers(-90, 90)))
    wall = wall.replace(second=draw(st.sampled_from([0, 0, 30, 59])))
    step = draw(st.sampled_from([1, 1, 2, 3, 7]))
    # the day of the change is on the grid: a few steps after start_date
    start_date = wall.date() - timedelta(days=step * draw(st.integers(0, 4)))
    lengths = {"years": 0, "months": 0, "weeks": 0, "days": step}
    if step == 7 and draw(st.booleans()):
        lengths = {"years": 0, "months": 0, "weeks": 1, "days": 0}
    # now: before start_date, or around the day of the change
    now = datetime.combine(wall.date(), time(), tzinfo=UTC) + draw(
        st.timedeltas(min_value=timedelta(days=-30), max_value=timedelta(days=2))
    )
    return Scenario(lengths, wall.time(), start_date, ZoneInfo(name), now)


def scenarios(max_days_after_start: int = 100 * 366) -> st.SearchStrategy[Scenario]:
    return st.one_of(_anywhere(max_days_after_start), _near_a_change())


def with_jitter(scenario: Scenario, jitter: float | None) -> Scenario:
    return Scenario(
        scenario.lengths,
        scenario.wall_time,
        scenario.start_date,
        scenario.zone,
        scenario.now,
        jitter,
    )


jitters = st.one_of(st.none(), st.floats(min_value=0, max_value=6 * 3600))

SETTINGS = settings(max_examples=200, deadline=None)


def fire_times(trigger: CalendarIntervalTrigger, now: datetime, count: int = 10) -> list[datetime]:
    result: list[datetime] = []
    previous = None
    for _ in range(count):
        previous = trigger.get_next_fire_time(previous, now)
        if previous is None:  # only past the year 9999
            break
        result.append(previous)
    return result


def exists(dt: datetime) -> bool:
    """Whether ``dt``'s wall time and offset are real in its zone."""
    back = dt.astimezone(UTC).astimezone(dt.tzinfo)
    return back.replace(tzinfo=None) == dt.replace(tzinfo=None) and (
        back.utcoffset() == dt.utcoffset()
    )


def is_at_wall_time(dt: datetime, wall_time: time) -> bool:
    """Whether ``dt`` is at ``wall_time``, or is the first instant after a daylight saving gap
    that swallowed ``wall_time`` (on its own date or the day before)."""
    if dt.time() == wall_time:
        return True
    zone = dt.tzinfo
    just_before = (dt.astimezone(UTC) - timedelta(microseconds=1)).astimezone(zone)
    low, high = just_before.replace(tzinfo=None), dt.replace(tzinfo=None)
    return any(
        low < datetime.combine(day, wall_time) < high
        for day in (dt.date(), dt.date() - timedelta(days=1))
    )


def walk_grid(scenario: Scenario) -> Iterator[datetime]:
    """The fire times at or after ``now``, found the slow way: one grid point after the other
    from ``start_date``."""
    lengths, start_date, zone = scenario.lengths, scenario.start_date, scenario.zone
    step_months = 12 * lengths["years"] + lengths["months"]
    step_days = 7 * lengths["weeks"] + lengths["days"]
    today = scenario.now.astimezone(zone).date()
    previous = scenario.now - timedelta(microseconds=1)
    for index in itertools.count():
        month_index = start_date.month - 1 + index * step_months
        try:
            day = date(start_date.year + month_index // 12, month_index % 12 + 1, start_date.day)
        except ValueError:  # no such day in that month
            continue
        day += timedelta(days=index * step_days)
        if (today - day).days > 2:
            continue  # far too early: skip the (slower) wall time
        fire = localize(datetime.combine(day, scenario.wall_time), zone)
        if fire > previous:
            yield fire
            previous = fire


@SETTINGS
@given(scenarios(), jitters)
def test_fire_times_increase_and_never_precede_now(
    scenario: Scenario, jitter: float | None
) -> None:
    scenario = with_jitter(scenario, jitter)
    # compared in UTC: datetimes sharing a tzinfo compare by wall time, ignoring fold
    times = [fire.astimezone(UTC) for fire in fire_times(scenario.trigger(), scenario.now)]
    assert times
    assert times[0] >= scenario.now
    assert all(earlier < later for earlier, later in zip(times, times[1:]))


@SETTINGS
@given(scenarios(), jitters)
def test_fire_times_exist_in_the_zone(scenario: Scenario, jitter: float | None) -> None:
    scenario = with_jitter(scenario, jitter)
    for fire in fire_times(scenario.trigger(), scenario.now):
        assert fire.tzinfo is scenario.zone
        assert exists(fire), fire


@SETTINGS
@given(scenarios())
def test_fire_times_are_at_the_wall_time_or_just_after_a_gap(scenario: Scenario) -> None:
    for fire in fire_times(scenario.trigger(), scenario.now):
        assert is_at_wall_time(fire, scenario.wall_time), fire
        if fire.time() == scenario.wall_time:
            # an ambiguous wall time fires at its first occurrence
            assert fire.astimezone(UTC) == fire.replace(fold=0).astimezone(UTC), fire


@SETTINGS
@given(scenarios(max_days_after_start=30 * 366))
def test_fire_times_match_a_walk_over_the_grid(scenario: Scenario) -> None:
    """The arithmetic that finds the first fire time years after start_date agrees with walking
    every grid point from start_date, and so does each following fire time."""
    fires = fire_times(scenario.trigger(), scenario.now, 4)
    expected = list(itertools.islice(walk_grid(scenario), 4))
    assert fires == expected
    assert [fire.utcoffset() for fire in fires] == [fire.utcoffset() for fire in expected]


# zones and wall times where APScheduler 3.11 meets no gap (it skips those days)
_GAPLESS_ZONES = [
    ZoneInfo("Europe/Berlin"),
    ZoneInfo("America/New_York"),
    ZoneInfo("Asia/Tokyo"),
    UTC,
]


@SETTINGS
@given(
    st.one_of(
        st.fixed_dictionaries({"years": st.integers(0, 3), "months": st.integers(0, 14)}).filter(
            lambda value: any(value.values())
        ),
        st.fixed_dictionaries({"weeks": st.integers(0, 3), "days": st.integers(0, 12)}).filter(
            lambda value: any(value.values())
        ),
    ),
    st.builds(time, st.integers(4, 23), st.integers(0, 59), st.integers(0, 59)),
    st.dates(min_value=date(1990, 1, 1), max_value=date(2050, 12, 31)),
    st.sampled_from(_GAPLESS_ZONES),
)
def test_fire_times_agree_with_apscheduler_where_it_has_no_bug(
    lengths: dict[str, Any], wall_time: time, start_date: date, zone: Any
) -> None:
    """With only months/years or only weeks/days, a start date ahead and no wall time in a gap,
    APScheduler 3.11 and greensched fire at the same times."""
    module = pytest.importorskip("apscheduler.triggers.calendarinterval")
    kwargs: dict[str, Any] = dict(
        lengths,
        hour=wall_time.hour,
        minute=wall_time.minute,
        second=wall_time.second,
        start_date=start_date,
        timezone=zone,
    )
    theirs = module.CalendarIntervalTrigger(**kwargs)
    ours = CalendarIntervalTrigger(**kwargs)
    now = datetime.combine(start_date, time(), tzinfo=UTC) - timedelta(days=1)
    expected = fire_times(theirs, now, 12)
    assume(len(expected) == 12)
    assert fire_times(ours, now, 12) == expected
