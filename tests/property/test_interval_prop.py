"""Property tests for greensched.triggers.interval, biased towards Europe/Berlin DST changes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from greensched.triggers.interval import IntervalTrigger

BERLIN = ZoneInfo("Europe/Berlin")
UTC = timezone.utc

# wall times around the 2024 changes (spring forward 03-31 02:00, fall back 10-27 03:00) and
# anywhere in a decade; imaginary (non-existent) and ambiguous wall times included
_near_changes = st.sampled_from(
    [datetime(2024, 3, 31, 2, 0), datetime(2024, 10, 27, 2, 0)]
).flatmap(
    lambda anchor: st.datetimes(
        min_value=anchor - timedelta(days=2), max_value=anchor + timedelta(hours=6)
    )
)
_anywhere = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31))
wall_times = st.one_of(_near_changes, _anywhere)
folds = st.sampled_from([0, 1])
intervals = st.one_of(
    st.sampled_from([timedelta(minutes=15), timedelta(hours=1), timedelta(hours=24)]),
    st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=3)),
)
jitters = st.one_of(st.none(), st.floats(min_value=0, max_value=0.99))  # fraction of interval
now_offsets = st.timedeltas(min_value=timedelta(days=-2), max_value=timedelta(days=4))

SETTINGS = settings(max_examples=150, deadline=None)


def make_trigger(
    wall: datetime, fold: int, interval: timedelta, jitter_fraction: float | None
) -> IntervalTrigger:
    jitter = None
    if jitter_fraction is not None:
        jitter = interval.total_seconds() * jitter_fraction
    return IntervalTrigger(
        days=interval.days,
        seconds=interval.seconds + interval.microseconds / 1_000_000,
        start_date=wall.replace(fold=fold),
        timezone=BERLIN,
        jitter=jitter,
    )


def exists(dt: datetime) -> bool:
    """Whether ``dt``'s wall time and offset are real in its zone."""
    back = dt.astimezone(UTC).astimezone(dt.tzinfo)
    return back.replace(tzinfo=None) == dt.replace(tzinfo=None) and (
        back.utcoffset() == dt.utcoffset()
    )


def fire_times(trigger: IntervalTrigger, now: datetime, count: int) -> list[datetime]:
    result: list[datetime] = []
    previous = None
    for _ in range(count):
        previous = trigger.get_next_fire_time(previous, now)
        assert previous is not None  # no end_date
        result.append(previous)
    return result


def grid_offset(trigger: IntervalTrigger, dt: datetime) -> timedelta:
    """How far ``dt`` lies past the last grid point at or before it."""
    return (dt.astimezone(UTC) - trigger.start_date.astimezone(UTC)) % trigger.interval


@SETTINGS
@given(wall_times, folds, intervals, jitters, now_offsets)
def test_fire_times_increase(
    wall: datetime,
    fold: int,
    interval: timedelta,
    jitter_fraction: float | None,
    now_offset: timedelta,
) -> None:
    trigger = make_trigger(wall, fold, interval, jitter_fraction)
    now = trigger.start_date.astimezone(UTC) + now_offset
    # compared in UTC: datetimes sharing a tzinfo compare by wall time, ignoring fold
    times = [fire_time.astimezone(UTC) for fire_time in fire_times(trigger, now, 12)]
    assert times[0] >= min(now, trigger.start_date.astimezone(UTC))
    assert all(earlier < later for earlier, later in zip(times, times[1:]))


@SETTINGS
@given(wall_times, folds, intervals, jitters, now_offsets)
def test_fire_times_are_real_wall_times(
    wall: datetime,
    fold: int,
    interval: timedelta,
    jitter_fraction: float | None,
    now_offset: timedelta,
) -> None:
    trigger = make_trigger(wall, fold, interval, jitter_fraction)
    assert exists(trigger.start_date)
    now = trigger.start_date.astimezone(UTC) + now_offset
    for fire_time in fire_times(trigger, now, 12):
        assert fire_time.tzinfo is BERLIN
        assert exists(fire_time), fire_time


@SETTINGS
@given(wall_times, folds, intervals, jitters, now_offsets)
def test_fire_times_are_on_the_grid(
    wall: datetime,
    fold: int,
    interval: timedelta,
    jitter_fraction: float | None,
    now_offset: timedelta,
) -> None:
    trigger = make_trigger(wall, fold, interval, jitter_fraction)
    now = trigger.start_date.astimezone(UTC) + now_offset
    times = [fire_time.astimezone(UTC) for fire_time in fire_times(trigger, now, 12)]
    jitter = timedelta(seconds=trigger.jitter or 0)
    for fire_time in times:
        assert grid_offset(trigger, fire_time) <= jitter, fire_time
    # the first fire time is the first grid point at or after now (or start_date)
    start = trigger.start_date.astimezone(UTC)
    first_grid_point = times[0] - grid_offset(trigger, times[0])
    assert first_grid_point >= min(now, start)
    assert first_grid_point - trigger.interval < max(now, start)
    if not trigger.jitter:
        # consecutive fire times are exactly one interval of elapsed time apart
        for earlier, later in zip(times, times[1:]):
            assert later - earlier == trigger.interval
