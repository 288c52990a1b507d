"""Tests for greensched.triggers.interval."""

from __future__ import annotations

import pickle
import random
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable
from zoneinfo import ZoneInfo

import pytest

from greensched.triggers.interval import IntervalTrigger

BERLIN = ZoneInfo("Europe/Berlin")
UTC = timezone.utc
START = datetime(2024, 6, 3, 12, 0, tzinfo=BERLIN)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@pytest.fixture
def fixed_jitter(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    """Make every jitter delay ``fraction * jitter`` (0: none, 1: the largest)."""

    def set_fraction(fraction: float) -> None:
        monkeypatch.setattr(random, "uniform", lambda low, high: low + (high - low) * fraction)

    return set_fraction


# --- the interval ---------------------------------------------------------------------------


def test_interval_is_the_sum_of_the_lengths() -> None:
    trigger = IntervalTrigger(weeks=1, days=2, hours=3, minutes=4, seconds=5.5, start_date=START)
    assert trigger.interval == timedelta(days=9, hours=3, minutes=4, seconds=5.5)
    assert trigger.interval_length == trigger.interval.total_seconds()


def test_zero_interval_becomes_one_second() -> None:
    # APScheduler 3.11 does the same
    trigger = IntervalTrigger(start_date=START)
    assert trigger.interval == timedelta(seconds=1)
    assert trigger.interval_length == 1
    assert trigger.get_next_fire_time(START, START) == START + timedelta(seconds=1)


@pytest.mark.parametrize("name", ["weeks", "days", "hours", "minutes", "seconds"])
def test_negative_length_is_rejected(name: str) -> None:
    with pytest.raises(ValueError, match=rf"^{name} must be zero or more, got: -5$"):
        IntervalTrigger(start_date=START, **{name: -5})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "shown"), [(float("inf"), "inf"), (float("nan"), "nan")], ids=["inf", "nan"]
)
def test_non_finite_length_is_rejected(value: float, shown: str) -> None:
    with pytest.raises(ValueError, match=rf"^hours must be a finite number, got: {shown}$"):
        IntervalTrigger(hours=value, start_date=START)


@pytest.mark.parametrize(
    ("value", "shown"),
    [("5", r"'5'"), (None, "None"), (True, "True")],
    ids=["str", "none", "bool"],
)
def test_length_that_is_not_a_number_is_rejected(value: Any, shown: str) -> None:
    with pytest.raises(TypeError, match=rf"^minutes must be a number, got: {shown}$"):
        IntervalTrigger(minutes=value, start_date=START)


def test_interval_too_long_for_a_timedelta_is_rejected() -> None:
    with pytest.raises(
        ValueError,
        match=r"^interval must be at most 999999999 days, 23:59:59.999999, got: weeks=1e\+300$",
    ):
        IntervalTrigger(weeks=1e300, start_date=START)


# --- jitter validation ------------------------------------------------------------------------


@pytest.mark.parametrize("jitter", [None, 0, 5, 2.5], ids=["none", "zero", "int", "float"])
def test_jitter_is_kept_as_given(jitter: float | None) -> None:
    trigger = IntervalTrigger(minutes=1, start_date=START, jitter=jitter)
    assert trigger.jitter == jitter
    assert type(trigger.jitter) is type(jitter)


def test_negative_jitter_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"^jitter must be zero or more seconds, got: -1$"):
        IntervalTrigger(minutes=1, start_date=START, jitter=-1)


def test_infinite_jitter_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"^jitter must be a finite number of seconds, got: inf$"):
        IntervalTrigger(minutes=1, start_date=START, jitter=float("inf"))


def test_jitter_that_is_not_a_number_is_rejected() -> None:
    with pytest.raises(TypeError, match=r"^jitter must be a number of seconds, got: '5'$"):
        IntervalTrigger(minutes=1, start_date=START, jitter="5")  # type: ignore[arg-type]


# --- time zone and dates ----------------------------------------------------------------------


def test_explicit_timezone_wins() -> None:
    trigger = IntervalTrigger(minutes=1, start_date=START, timezone="America/New_York")
    assert trigger.timezone == ZoneInfo("America/New_York")
    assert trigger.start_date == START  # an aware start_date keeps its own zone
    next_fire_time = trigger.get_next_fire_time(None, START - timedelta(hours=1))
    assert next_fire_time == START
    assert next_fire_time is not None
    assert next_fire_time.tzinfo == ZoneInfo("America/New_York")


def test_timezone_defaults_to_that_of_an_aware_start_date() -> None:
    assert IntervalTrigger(minutes=1, start_date=START).timezone is BERLIN


def test_timezone_defaults_to_that_of_an_aware_end_date() -> None:
    # as in APScheduler 3.11: start_date is naive, end_date is aware
    end_date = datetime(2024, 6, 4, tzinfo=BERLIN)
    trigger = IntervalTrigger(minutes=1, start_date="2024-06-03 12:00", end_date=end_date)
    assert trigger.timezone is BERLIN
    assert trigger.start_date == START


def test_timezone_defaults_to_the_local_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    local = ZoneInfo("Asia/Tokyo")
    monkeypatch.setattr("greensched.triggers.base.get_localzone", lambda: local)
    trigger = IntervalTrigger(minutes=1, start_date=datetime(2024, 6, 3, 12, 0))
    assert trigger.timezone is local
    assert trigger.start_date == datetime(2024, 6, 3, 12, 0, tzinfo=local)


@pytest.mark.parametrize(
    "start_date",
    [datetime(2024, 6, 3, 12, 0), "2024-06-03 12:00:00", "2024-06-03T12:00"],
    ids=["naive", "string", "string-no-seconds"],
)
def test_naive_start_date_takes_the_timezone(start_date: datetime | str) -> None:
    trigger = IntervalTrigger(minutes=1, start_date=start_date, timezone="Europe/Berlin")
    assert trigger.start_date == START
    assert trigger.start_date.tzinfo == BERLIN


def test_date_start_and_end_mean_midnight() -> None:
    trigger = IntervalTrigger(
        hours=1, start_date=date(2024, 6, 3), end_date=date(2024, 6, 4), timezone=BERLIN
    )
    assert trigger.start_date == datetime(2024, 6, 3, tzinfo=BERLIN)
    assert trigger.end_date == datetime(2024, 6, 4, tzinfo=BERLIN)


def test_omitted_start_date_is_unset_until_filled_in_from_now() -> None:
    trigger = IntervalTrigger(minutes=5, timezone=BERLIN)
    assert trigger.start_date is None
    assert repr(trigger) == (
        "<IntervalTrigger (interval=datetime.timedelta(seconds=300), timezone='Europe/Berlin')>"
    )
    trigger.fill_defaults(utc(2024, 6, 3, 10, 0, 0))
    assert trigger.start_date == datetime(2024, 6, 3, 12, 5, tzinfo=BERLIN)
    assert trigger.start_date.tzinfo is BERLIN
    trigger.fill_defaults(utc(2024, 6, 4))  # only the first call has an effect
    assert trigger.start_date == datetime(2024, 6, 3, 12, 5, tzinfo=BERLIN)
    assert trigger.get_next_fire_time(None, utc(2024, 6, 3, 10, 0, 0)) == trigger.start_date


def test_first_call_without_start_date_starts_the_grid_one_interval_after_now(
    fixed_jitter: Callable[[float], None],
) -> None:
    fixed_jitter(0.5)
    trigger = IntervalTrigger(minutes=5, timezone="UTC", jitter=60)
    now = utc(2024, 6, 3, 10, 0, 0)
    first = trigger.get_next_fire_time(None, now)
    assert first == utc(2024, 6, 3, 10, 5, 30)
    assert trigger.start_date == utc(2024, 6, 3, 10, 5)
    # the grid stays where the first call put it
    later = utc(2024, 6, 3, 10, 7)
    assert trigger.get_next_fire_time(first, later) == utc(2024, 6, 3, 10, 10, 30)


def test_unset_start_date_stays_unset_through_pickling() -> None:
    restored = pickle.loads(pickle.dumps(IntervalTrigger(hours=1, timezone="UTC")))
    assert restored.start_date is None
    assert restored.get_next_fire_time(None, utc(2024, 6, 3)) == utc(2024, 6, 3, 1)


def test_unknown_timezone_is_rejected() -> None:
    with pytest.raises(
        ValueError, match=r"^timezone must be a known IANA zone name, got: 'Mars/Olympus'$"
    ):
        IntervalTrigger(minutes=1, start_date=START, timezone="Mars/Olympus")


def test_unparseable_start_date_is_rejected() -> None:
    with pytest.raises(
        ValueError,
        match=r"^start_date must be an ISO 8601 date or datetime string, got: 'tomorrow'$",
    ):
        IntervalTrigger(minutes=1, start_date="tomorrow", timezone=BERLIN)


def test_unparseable_end_date_is_rejected() -> None:
    with pytest.raises(
        ValueError,
        match=r"^end_date must be an ISO 8601 date or datetime string, got: '2024-13-01'$",
    ):
        IntervalTrigger(minutes=1, start_date=START, end_date="2024-13-01")


def test_start_date_of_a_wrong_type_is_rejected() -> None:
    with pytest.raises(
        TypeError,
        match=r"^Unsupported type for start_date: float "
        r"\(expected a datetime, a date or a string\)$",
    ):
        IntervalTrigger(minutes=1, start_date=1.5, timezone=BERLIN)  # type: ignore[arg-type]


# --- fire times -------------------------------------------------------------------------------


def test_first_fire_time_is_start_date_when_it_is_ahead() -> None:
    trigger = IntervalTrigger(minutes=10, start_date=START)
    assert trigger.get_next_fire_time(None, START - timedelta(days=3)) == START


def test_first_fire_time_is_now_when_now_is_on_the_grid() -> None:
    trigger = IntervalTrigger(minutes=10, start_date=START)
    assert trigger.get_next_fire_time(None, START) == START
    assert trigger.get_next_fire_time(None, START + timedelta(minutes=30)) == START + timedelta(
        minutes=30
    )


def test_first_fire_time_with_a_past_start_keeps_the_grid() -> None:
    # missed grid points are not replayed; the next one at or after now is returned
    trigger = IntervalTrigger(minutes=10, start_date=START)
    now = START + timedelta(hours=5, minutes=3, seconds=1)
    assert trigger.get_next_fire_time(None, now) == START + timedelta(hours=5, minutes=10)


def test_first_fire_time_grid_with_microseconds() -> None:
    trigger = IntervalTrigger(seconds=1.5, start_date=START)
    now = START + timedelta(seconds=3, microseconds=1)
    assert trigger.get_next_fire_time(None, now) == START + timedelta(seconds=4.5)


def test_now_in_another_zone_is_compared_as_an_instant() -> None:
    trigger = IntervalTrigger(hours=1, start_date=START)
    now = utc(2024, 6, 3, 10, 30)  # 12:30 in Berlin
    result = trigger.get_next_fire_time(None, now)
    assert result == datetime(2024, 6, 3, 13, 0, tzinfo=BERLIN)
    assert result is not None
    assert result.tzinfo is BERLIN


def test_next_fire_time_is_previous_plus_interval() -> None:
    trigger = IntervalTrigger(hours=1, minutes=30, start_date=START)
    previous = START + timedelta(hours=3)
    assert trigger.get_next_fire_time(previous, previous) == previous + timedelta(hours=1.5)


def test_previous_off_the_grid_without_jitter_is_followed() -> None:
    # as in APScheduler 3.11: a job's next_run_time set by hand shifts the schedule
    trigger = IntervalTrigger(hours=1, start_date=START)
    previous = START + timedelta(minutes=30)
    assert trigger.get_next_fire_time(previous, previous) == START + timedelta(minutes=90)


def test_schedule_ends_at_end_date() -> None:
    end_date = START + timedelta(minutes=20)
    trigger = IntervalTrigger(minutes=10, start_date=START, end_date=end_date)
    fire_times = []
    previous = None
    while (previous := trigger.get_next_fire_time(previous, START)) is not None:
        fire_times.append(previous)
    assert fire_times == [START, START + timedelta(minutes=10), end_date]


def test_nothing_fires_when_start_is_after_end() -> None:
    trigger = IntervalTrigger(minutes=10, start_date=START, end_date=START - timedelta(seconds=1))
    assert trigger.get_next_fire_time(None, START - timedelta(hours=1)) is None


def test_first_grid_point_after_end_date_gives_none() -> None:
    trigger = IntervalTrigger(minutes=10, start_date=START, end_date=START + timedelta(minutes=15))
    assert trigger.get_next_fire_time(None, START + timedelta(minutes=11)) is None


# --- daylight saving time (Europe/Berlin 2024: 03-31 02:00 -> 03:00, 10-27 03:00 -> 02:00) ----


def test_interval_is_elapsed_time_across_spring_forward() -> None:
    # Pinned to APScheduler 3.11, which adds the interval to the POSIX timestamp:
    # hours=24 from 12:00 CET on 03-30 is 13:00 CEST on 03-31 (24 h later, not 12:00).
    trigger = IntervalTrigger(hours=24, start_date=datetime(2024, 3, 30, 12, 0, tzinfo=BERLIN))
    previous = datetime(2024, 3, 30, 12, 0, tzinfo=BERLIN)
    result = trigger.get_next_fire_time(previous, previous)
    assert result is not None
    assert (result.replace(tzinfo=None), result.utcoffset()) == (
        datetime(2024, 3, 31, 13, 0),
        timedelta(hours=2),
    )
    assert result.astimezone(UTC) - previous.astimezone(UTC) == timedelta(hours=24)


def test_interval_is_elapsed_time_across_fall_back() -> None:
    # Pinned to APScheduler 3.11: 12:00 CEST on 10-26 plus 24 h is 11:00 CET on 10-27.
    trigger = IntervalTrigger(hours=24, start_date=datetime(2024, 10, 26, 12, 0, tzinfo=BERLIN))
    previous = datetime(2024, 10, 26, 12, 0, tzinfo=BERLIN)
    result = trigger.get_next_fire_time(previous, previous)
    assert result is not None
    assert (result.replace(tzinfo=None), result.utcoffset()) == (
        datetime(2024, 10, 27, 11, 0),
        timedelta(hours=1),
    )


def test_fire_times_skip_the_spring_forward_gap() -> None:
    trigger = IntervalTrigger(minutes=30, start_date=datetime(2024, 3, 31, 1, 0, tzinfo=BERLIN))
    previous = None
    walls = []
    for _ in range(4):
        previous = trigger.get_next_fire_time(previous, trigger.start_date)
        assert previous is not None
        walls.append(previous.strftime("%H:%M %Z"))
    assert walls == ["01:00 CET", "01:30 CET", "03:00 CEST", "03:30 CEST"]


def test_fire_times_repeat_wall_times_in_the_fall_back_overlap() -> None:
    trigger = IntervalTrigger(minutes=30, start_date=datetime(2024, 10, 27, 2, 0, tzinfo=BERLIN))
    previous = None
    walls = []
    for _ in range(5):
        previous = trigger.get_next_fire_time(previous, trigger.start_date)
        assert previous is not None
        walls.append(previous.strftime("%H:%M %Z"))
    assert walls == ["02:00 CEST", "02:30 CEST", "02:00 CET", "02:30 CET", "03:00 CET"]


def test_grid_from_a_past_start_across_the_gap() -> None:
    # pinned to APScheduler 3.11: the grid is elapsed time from start_date
    trigger = IntervalTrigger(minutes=10, start_date=datetime(2024, 3, 31, 1, 0, tzinfo=BERLIN))
    result = trigger.get_next_fire_time(None, datetime(2024, 3, 31, 3, 5, tzinfo=BERLIN))
    assert result == datetime(2024, 3, 31, 3, 10, tzinfo=BERLIN)


def test_naive_start_date_in_the_gap_moves_to_the_end_of_the_gap() -> None:
    trigger = IntervalTrigger(hours=1, start_date=datetime(2024, 3, 31, 2, 30), timezone=BERLIN)
    assert trigger.start_date.astimezone(UTC) == utc(2024, 3, 31, 1, 0)
    result = trigger.get_next_fire_time(None, utc(2024, 3, 30))
    assert result is not None
    assert result.strftime("%H:%M %Z") == "03:00 CEST"


# --- jitter -----------------------------------------------------------------------------------


def test_jitter_delays_the_first_fire_time(fixed_jitter: Callable[[float], None]) -> None:
    fixed_jitter(1.0)
    trigger = IntervalTrigger(minutes=1, start_date=START, jitter=5)
    assert trigger.get_next_fire_time(None, START) == START + timedelta(seconds=5)


def test_jittered_schedule_does_not_drift_over_1000_fires(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # APScheduler 3.x adds the interval to the previous *jittered* time; after 1000 fires its
    # schedule would be about 1000 * jitter / 2 seconds late. Ours stays on the grid.
    monkeypatch.setattr(random, "uniform", random.Random(1234).uniform)
    interval, jitter = timedelta(minutes=1), 20.0
    trigger = IntervalTrigger(minutes=1, start_date=START, jitter=jitter)
    previous = None
    delays = []
    for index in range(1000):
        previous = trigger.get_next_fire_time(previous, START)
        assert previous is not None
        grid_point = START + index * interval
        delay = (previous - grid_point).total_seconds()
        assert 0 <= delay <= jitter, (index, previous)
        delays.append(delay)
    assert previous is not None
    assert previous.tzinfo is BERLIN
    assert len(set(delays)) > 900  # the delays really were random


def test_largest_jitter_every_time_does_not_drift(fixed_jitter: Callable[[float], None]) -> None:
    fixed_jitter(1.0)
    trigger = IntervalTrigger(seconds=10, start_date=START, jitter=9.999)
    previous = None
    for _ in range(1000):
        previous = trigger.get_next_fire_time(previous, START)
    assert previous == START + timedelta(seconds=9990 + 9.999)


def test_jitter_larger_than_interval_skips_grid_points(
    fixed_jitter: Callable[[float], None],
) -> None:
    # a delay past the next grid point makes that grid point the one recovered, so it is skipped
    fixed_jitter(0.75)
    trigger = IntervalTrigger(seconds=10, start_date=START, jitter=20)
    fire_times = []
    previous = None
    for _ in range(3):
        previous = trigger.get_next_fire_time(previous, START)
        assert previous is not None
        fire_times.append((previous - START).total_seconds())
    assert fire_times == [15, 35, 55]  # grid points 0, 20, 40 (10 and 30 skipped), each + 15 s


def test_jittered_previous_before_start_date_gives_start_date(
    fixed_jitter: Callable[[float], None],
) -> None:
    fixed_jitter(0.0)
    trigger = IntervalTrigger(minutes=10, start_date=START, jitter=5)
    previous = START - timedelta(hours=2, minutes=3)
    assert trigger.get_next_fire_time(previous, previous) == START


def test_zero_jitter_is_no_jitter() -> None:
    trigger = IntervalTrigger(minutes=1, start_date=START, jitter=0)
    previous = START + timedelta(seconds=30)  # off the grid: followed, as without jitter
    assert trigger.get_next_fire_time(previous, previous) == START + timedelta(seconds=90)


def test_jitter_across_the_gap_is_elapsed_time(fixed_jitter: Callable[[float], None]) -> None:
    # 01:59:58 CET + 5 s is 03:00:03 CEST, never the non-existent 02:00:03
    fixed_jitter(1.0)
    start_date = datetime(2024, 3, 31, 1, 59, 58, tzinfo=BERLIN)
    trigger = IntervalTrigger(hours=1, start_date=start_date, jitter=5)
    result = trigger.get_next_fire_time(None, start_date)
    assert result is not None
    assert result.strftime("%H:%M:%S %Z") == "03:00:03 CEST"
    assert result.astimezone(UTC) == utc(2024, 3, 31, 1, 0, 3)


def test_jitter_past_end_date_ends_the_schedule(fixed_jitter: Callable[[float], None]) -> None:
    # as in APScheduler 3.11: end_date is the latest time the trigger may fire on
    end_date = START + timedelta(minutes=1, seconds=2)
    trigger = IntervalTrigger(minutes=1, start_date=START, end_date=end_date, jitter=5)
    fixed_jitter(0.2)
    assert trigger.get_next_fire_time(START, START) == START + timedelta(minutes=1, seconds=1)
    fixed_jitter(1.0)
    assert trigger.get_next_fire_time(START, START) is None


def test_jitter_is_checked_against_end_date_as_an_instant(
    fixed_jitter: Callable[[float], None],
) -> None:
    # 02:40 CEST (00:40 UTC) is before end_date 02:30 CET (01:30 UTC), though its wall time is later
    fixed_jitter(1.0)
    start_date = datetime(2024, 10, 27, 2, 20, tzinfo=BERLIN)
    end_date = datetime(2024, 10, 27, 2, 30, fold=1, tzinfo=BERLIN)
    trigger = IntervalTrigger(hours=1, start_date=start_date, end_date=end_date, jitter=1200)
    result = trigger.get_next_fire_time(None, start_date)
    assert result is not None
    assert result.astimezone(UTC) == utc(2024, 10, 27, 0, 40)


# --- str, repr, state -------------------------------------------------------------------------


def test_str() -> None:
    assert str(IntervalTrigger(minutes=1, start_date=START)) == "interval[0:01:00]"
    assert str(IntervalTrigger(days=2, seconds=1.5, start_date=START)) == (
        "interval[2 days, 0:00:01.500000]"
    )


def test_repr() -> None:
    trigger = IntervalTrigger(minutes=1, start_date=datetime(2020, 1, 1, 10, 0, tzinfo=BERLIN))
    assert repr(trigger) == (
        "<IntervalTrigger (interval=datetime.timedelta(seconds=60), "
        "start_date='2020-01-01 10:00:00 CET', timezone='Europe/Berlin')>"
    )


def test_repr_with_end_date_and_jitter() -> None:
    trigger = IntervalTrigger(
        minutes=1,
        start_date=datetime(2020, 1, 1, 10, 0, tzinfo=BERLIN),
        end_date="2020-02-01",
        jitter=5,
    )
    assert repr(trigger) == (
        "<IntervalTrigger (interval=datetime.timedelta(seconds=60), "
        "start_date='2020-01-01 10:00:00 CET', end_date='2020-02-01 00:00:00 CET', jitter=5, "
        "timezone='Europe/Berlin')>"
    )


def test_state_is_versioned() -> None:
    trigger = IntervalTrigger(minutes=1, start_date=START, end_date="2024-07-01", jitter=2.5)
    assert trigger.__getstate__() == {
        "version": 2,
        "timezone": BERLIN,
        "start_date": START,
        "end_date": datetime(2024, 7, 1, tzinfo=BERLIN),
        "interval": timedelta(minutes=1),
        "jitter": 2.5,
    }


@pytest.mark.parametrize("jitter", [None, 3], ids=["no-jitter", "jitter"])
def test_pickle_round_trip(jitter: float | None, fixed_jitter: Callable[[float], None]) -> None:
    fixed_jitter(0.5)
    trigger = IntervalTrigger(
        hours=2, start_date=START, end_date="2024-07-01", timezone="UTC", jitter=jitter
    )
    restored = pickle.loads(pickle.dumps(trigger))
    assert type(restored) is IntervalTrigger
    assert restored.__getstate__() == trigger.__getstate__()
    assert restored.interval_length == 7200
    assert repr(restored) == repr(trigger)
    now = START + timedelta(hours=3)
    assert restored.get_next_fire_time(None, now) == trigger.get_next_fire_time(None, now)


def test_version_1_state_has_no_jitter() -> None:
    trigger = IntervalTrigger.__new__(IntervalTrigger)
    trigger.__setstate__(
        {
            "version": 1,
            "timezone": BERLIN,
            "start_date": START,
            "end_date": None,
            "interval": timedelta(seconds=90),
        }
    )
    assert trigger.jitter is None
    assert trigger.interval_length == 90
    assert trigger.get_next_fire_time(START, START) == START + timedelta(seconds=90)


def test_state_from_a_newer_release_is_rejected() -> None:
    state = IntervalTrigger(minutes=1, start_date=START).__getstate__()
    state["version"] = 3
    trigger = IntervalTrigger.__new__(IntervalTrigger)
    with pytest.raises(
        ValueError,
        match=r"^Cannot restore IntervalTrigger from state version 3: this release of "
        r"greensched reads versions up to 2 \(the state was saved by a newer release\)$",
    ):
        trigger.__setstate__(state)


def test_has_no_instance_dict() -> None:
    assert not hasattr(IntervalTrigger(minutes=1, start_date=START), "__dict__")


NO_ROOM = (
    r"^interval must leave room for a second fire time before the year 10000, "
    r"got: 999999999 days, 0:00:00 from "
)


def test_interval_without_room_after_start_date_is_rejected() -> None:
    start = datetime(2026, 12, 2, tzinfo=timezone.utc)
    with pytest.raises(ValueError, match=NO_ROOM + r"start_date 2026-12-02 00:00:00\+00:00$"):
        IntervalTrigger(days=999999999, start_date=start, timezone="UTC")


def test_interval_without_room_after_now_is_rejected_when_filled_in() -> None:
    trigger = IntervalTrigger(days=999999999, timezone="UTC")
    with pytest.raises(ValueError, match=NO_ROOM + r"now$"):
        trigger.fill_defaults(datetime(2026, 12, 2, tzinfo=timezone.utc))


def test_schedule_ends_where_dates_end() -> None:
    trigger = IntervalTrigger(days=2_000_000, start_date=datetime(2026, 1, 1), timezone="UTC")
    first = trigger.get_next_fire_time(None, datetime(2026, 1, 1, tzinfo=timezone.utc))
    assert first == datetime(2026, 1, 1, tzinfo=timezone.utc)
    second = trigger.get_next_fire_time(first, first)
    assert second == datetime(7501, 10, 26, tzinfo=timezone.utc)
    assert trigger.get_next_fire_time(second, second) is None
