"""Tests for greensched.triggers.cron.CronTrigger: the next fire time, dates, jitter, zones,
text forms, pickling and the cost of the computation."""

from __future__ import annotations

import io
import pickle
import random
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable
from zoneinfo import ZoneInfo

import pytest

from greensched.triggers.cron import CronTrigger
from greensched.triggers.cron.fields import BaseField

BERLIN = ZoneInfo("Europe/Berlin")
UTC = timezone.utc


@pytest.fixture
def fixed_jitter(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    """Make every jitter delay ``fraction * jitter`` (0: none, 1: the largest)."""

    def set_fraction(fraction: float) -> None:
        monkeypatch.setattr(random, "uniform", lambda low, high: low + (high - low) * fraction)

    return set_fraction


def series(trigger: CronTrigger, now: datetime, count: int) -> list[datetime | None]:
    result: list[datetime | None] = []
    previous = None
    for _ in range(count):
        previous = trigger.get_next_fire_time(previous, now)
        result.append(previous)
        if previous is None:
            break
    return result


# --- the first fire time and the next ones ----------------------------------------------------


def test_first_fire_time_may_be_now() -> None:
    trigger = CronTrigger(minute="*/5", timezone=BERLIN)
    now = datetime(2024, 6, 3, 12, 10, tzinfo=BERLIN)
    assert trigger.get_next_fire_time(None, now) == now


def test_now_is_rounded_up_to_a_whole_second() -> None:
    trigger = CronTrigger(second="*", timezone=BERLIN)
    now = datetime(2024, 6, 3, 12, 10, 0, 1, tzinfo=BERLIN)
    assert trigger.get_next_fire_time(None, now) == datetime(2024, 6, 3, 12, 10, 1, tzinfo=BERLIN)


def test_next_fire_time_is_after_the_previous_one() -> None:
    trigger = CronTrigger(second="*/10", timezone=BERLIN)
    previous = datetime(2024, 6, 3, 12, 0, 0, tzinfo=BERLIN)
    assert trigger.get_next_fire_time(previous, previous) == previous + timedelta(seconds=10)
    # a previous fire time with a fraction of a second (a jittered one)
    assert trigger.get_next_fire_time(previous.replace(microsecond=500_000), previous) == (
        previous + timedelta(seconds=10)
    )


def test_now_is_ignored_when_there_is_a_previous_fire_time() -> None:
    trigger = CronTrigger(second="*/10", timezone=BERLIN)
    previous = datetime(2024, 6, 3, 12, 0, 0, tzinfo=BERLIN)
    earlier = previous - timedelta(hours=1)
    later = previous + timedelta(hours=1)
    expected = previous + timedelta(seconds=10)
    assert trigger.get_next_fire_time(previous, earlier) == expected
    assert trigger.get_next_fire_time(previous, later) == expected


def test_apscheduler_can_return_a_time_before_the_previous_one() -> None:
    # the difference pinned: APScheduler 3.11 starts from ``now`` when it is earlier
    apscheduler_cron = pytest.importorskip("apscheduler.triggers.cron")
    theirs = apscheduler_cron.CronTrigger(second="*/10", timezone=BERLIN)
    previous = datetime(2024, 6, 3, 12, 0, 0, tzinfo=BERLIN)
    earlier = previous - timedelta(hours=1)
    assert theirs.get_next_fire_time(previous, earlier) == earlier


def test_fire_times_are_returned_in_the_trigger_zone() -> None:
    trigger = CronTrigger(hour=9, minute=30, timezone="America/New_York")
    now = datetime(2024, 6, 3, 12, tzinfo=BERLIN)  # 06:00 in New York
    fire_time = trigger.get_next_fire_time(None, now)
    assert fire_time == datetime(2024, 6, 3, 9, 30, tzinfo=ZoneInfo("America/New_York"))
    assert fire_time is not None
    assert fire_time.tzinfo == ZoneInfo("America/New_York")


# --- start_date and end_date ------------------------------------------------------------------


def test_no_start_date_by_default_starts_from_now() -> None:
    trigger = CronTrigger(hour=5, timezone=BERLIN)
    assert trigger.start_date is None
    now = datetime(2024, 6, 3, 12, tzinfo=BERLIN)
    assert trigger.get_next_fire_time(None, now) == datetime(2024, 6, 4, 5, tzinfo=BERLIN)


def test_start_date_later_than_now() -> None:
    trigger = CronTrigger(minute="*/15", start_date="2024-06-03 12:07", timezone=BERLIN)
    now = datetime(2024, 6, 1, tzinfo=BERLIN)
    assert trigger.start_date == datetime(2024, 6, 3, 12, 7, tzinfo=BERLIN)
    assert trigger.get_next_fire_time(None, now) == datetime(2024, 6, 3, 12, 15, tzinfo=BERLIN)


def test_start_date_is_inclusive() -> None:
    start = datetime(2024, 6, 3, 12, 15, tzinfo=BERLIN)
    trigger = CronTrigger(minute="*/15", start_date=start)
    assert trigger.get_next_fire_time(None, start - timedelta(days=1)) == start


def test_start_date_holds_with_a_previous_fire_time() -> None:
    start = datetime(2024, 6, 3, 13, tzinfo=BERLIN)
    trigger = CronTrigger(minute="*/5", start_date=start)
    previous = datetime(2024, 6, 3, 12, tzinfo=BERLIN)
    assert trigger.get_next_fire_time(previous, previous) == start
    # APScheduler 3.11 ignores start_date once there is a previous fire time
    apscheduler_cron = pytest.importorskip("apscheduler.triggers.cron")
    theirs = apscheduler_cron.CronTrigger(minute="*/5", start_date=start)
    assert theirs.get_next_fire_time(previous, previous) == previous + timedelta(minutes=5)


def test_date_start_date_is_midnight() -> None:
    trigger = CronTrigger(hour="*/6", start_date=date(2024, 6, 3), timezone=BERLIN)
    assert trigger.start_date == datetime(2024, 6, 3, tzinfo=BERLIN)


def test_start_date_inside_a_gap_moves_to_the_end_of_the_gap() -> None:
    trigger = CronTrigger(hour="*", start_date="2024-03-31 02:30", timezone=BERLIN)
    assert trigger.start_date is not None
    assert trigger.start_date.astimezone(UTC) == datetime(2024, 3, 31, 1, tzinfo=UTC)  # 03:00


def test_end_date_is_inclusive_and_ends_the_schedule() -> None:
    end = datetime(2024, 6, 3, 12, 10, tzinfo=BERLIN)
    trigger = CronTrigger(minute="*/5", end_date=end)
    now = datetime(2024, 6, 3, 12, 1, tzinfo=BERLIN)
    assert series(trigger, now, 4) == [
        datetime(2024, 6, 3, 12, 5, tzinfo=BERLIN),
        end,
        None,
    ]


def test_end_date_is_compared_as_an_instant_in_an_overlap() -> None:
    # 02:30 CEST is before 02:15 CET: a wall-clock comparison would get this wrong
    end = datetime(2024, 10, 27, 2, 15, fold=1, tzinfo=BERLIN)
    trigger = CronTrigger(minute="*/15", end_date=end)
    now = datetime(2024, 10, 27, 2, 30, tzinfo=BERLIN)
    times = series(trigger, now, 8)
    assert [t.astimezone(UTC).strftime("%H:%M") if t else None for t in times] == [
        "00:30",
        "00:45",
        "01:00",
        "01:15",
        None,
    ]


# --- time zones -------------------------------------------------------------------------------


def test_explicit_timezone_wins() -> None:
    trigger = CronTrigger(hour=5, start_date=datetime(2024, 6, 3, tzinfo=BERLIN), timezone="UTC")
    assert trigger.timezone is UTC


def test_timezone_defaults_to_that_of_an_aware_start_date() -> None:
    assert CronTrigger(hour=5, start_date=datetime(2024, 6, 3, tzinfo=BERLIN)).timezone is BERLIN


def test_timezone_defaults_to_that_of_an_aware_end_date() -> None:
    trigger = CronTrigger(
        hour=5, start_date="2024-06-03", end_date=datetime(2024, 7, 1, tzinfo=BERLIN)
    )
    assert trigger.timezone is BERLIN
    assert trigger.start_date == datetime(2024, 6, 3, tzinfo=BERLIN)


def test_timezone_defaults_to_the_local_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    local = ZoneInfo("Asia/Tokyo")
    monkeypatch.setattr("greensched.triggers.base.get_localzone", lambda: local)
    assert CronTrigger(hour=5).timezone is local


def test_unknown_zone_name_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"^timezone must be a known IANA zone name"):
        CronTrigger(hour=5, timezone="Mars/Olympus_Mons")


def test_fixed_offset_zone() -> None:
    zone = timezone(timedelta(hours=5, minutes=30))
    trigger = CronTrigger(hour=9, timezone=zone)
    fire_time = trigger.get_next_fire_time(None, datetime(2024, 6, 3, tzinfo=UTC))
    assert fire_time == datetime(2024, 6, 3, 9, tzinfo=zone)
    assert fire_time is not None
    assert fire_time.tzinfo is zone


def test_pytz_zone_becomes_zoneinfo() -> None:
    pytz = pytest.importorskip("pytz")
    zone = pytz.timezone("Europe/Berlin")
    trigger = CronTrigger(hour=2, minute=30, timezone=zone)
    assert trigger.timezone == BERLIN  # as APScheduler 3.11 does
    now = zone.localize(datetime(2024, 3, 30, 12))
    first, second, _ = series(trigger, now, 3)
    assert first is not None
    assert second is not None
    assert first == zone.localize(datetime(2024, 3, 31, 3))  # after the gap: 03:00 CEST
    assert first.utcoffset() == timedelta(hours=2)
    assert second == zone.localize(datetime(2024, 4, 1, 2, 30))
    assert repr(trigger) == "<CronTrigger (hour='2', minute='30', timezone='Europe/Berlin')>"


def test_zone_of_a_pytz_start_date_becomes_zoneinfo() -> None:
    pytz = pytest.importorskip("pytz")
    start = pytz.timezone("Europe/Berlin").localize(datetime(2024, 6, 3))
    trigger = CronTrigger(hour=5, start_date=start)
    assert trigger.timezone == BERLIN
    assert trigger.get_next_fire_time(None, start) == datetime(2024, 6, 3, 5, tzinfo=BERLIN)


def test_pytz_utc_and_fixed_offset() -> None:
    pytz = pytest.importorskip("pytz")
    for zone in (pytz.utc, pytz.FixedOffset(90)):
        trigger = CronTrigger(hour=9, timezone=zone)
        fire_time = trigger.get_next_fire_time(None, datetime(2024, 6, 3, tzinfo=UTC))
        assert fire_time is not None
        assert fire_time.replace(tzinfo=None) == datetime(2024, 6, 3, 9)
        assert fire_time.utcoffset() == zone.utcoffset(datetime(2024, 6, 3))


# --- no fire time -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"month": 2, "day": 30},
        {"month": "4,6,9,11", "day": 31},
        {"year": 2020},
        {"day": "5th mon", "month": 2, "year": "2025-2027"},  # none of these Februaries has one
        {"week": 53, "month": 6},
    ],
    ids=["feb-30", "short-months-31st", "past-year", "no-5th-monday", "week-53-in-june"],
)
def test_impossible_schedule_returns_none_quickly(fields: dict[str, Any]) -> None:
    trigger = CronTrigger(timezone=UTC, **fields)
    assert trigger.get_next_fire_time(None, datetime(2024, 6, 3, tzinfo=UTC)) is None


def test_last_fire_time_before_year_10000() -> None:
    trigger = CronTrigger(month=12, day=31, hour=23, minute=59, second=59, timezone=UTC)
    now = datetime(9999, 6, 1, tzinfo=UTC)
    assert series(trigger, now, 3) == [datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC), None]


def test_end_of_time_in_a_zone_west_of_utc() -> None:
    zone = ZoneInfo("America/New_York")
    trigger = CronTrigger(month=12, day=31, hour=23, timezone=zone)
    # 9999-12-31 23:00 in New York is in the year 10000 in UTC: no such datetime
    assert trigger.get_next_fire_time(None, datetime(9999, 6, 1, tzinfo=UTC)) is None


# --- jitter -----------------------------------------------------------------------------------


def test_jitter_delays_the_fire_time(fixed_jitter: Callable[[float], None]) -> None:
    fixed_jitter(0.5)
    trigger = CronTrigger(minute="*/5", jitter=60, timezone=BERLIN)
    now = datetime(2024, 6, 3, 12, 1, tzinfo=BERLIN)
    assert trigger.get_next_fire_time(None, now) == datetime(2024, 6, 3, 12, 5, 30, tzinfo=BERLIN)


def test_jitter_is_elapsed_time_across_a_gap(fixed_jitter: Callable[[float], None]) -> None:
    fixed_jitter(1)
    trigger = CronTrigger(hour=1, minute=59, jitter=120, timezone=BERLIN)
    now = datetime(2024, 3, 31, tzinfo=BERLIN)
    fire_time = trigger.get_next_fire_time(None, now)
    assert fire_time is not None
    assert fire_time.astimezone(UTC) == datetime(2024, 3, 31, 1, 1, tzinfo=UTC)  # 03:01 CEST
    assert fire_time.utcoffset() == timedelta(hours=2)


def test_jittered_time_past_end_date_ends_the_schedule(
    fixed_jitter: Callable[[float], None],
) -> None:
    fixed_jitter(1)
    end = datetime(2024, 6, 3, 12, 10, tzinfo=BERLIN)
    trigger = CronTrigger(minute="*/5", end_date=end, jitter=600)
    previous = datetime(2024, 6, 3, 12, 5, tzinfo=BERLIN)
    assert trigger.get_next_fire_time(previous, previous) is None
    # APScheduler 3.11 fires at end_date instead
    apscheduler_cron = pytest.importorskip("apscheduler.triggers.cron")
    theirs = apscheduler_cron.CronTrigger(minute="*/5", end_date=end, jitter=600)
    assert theirs.get_next_fire_time(previous, previous) == end


def test_zero_jitter_is_no_jitter(fixed_jitter: Callable[[float], None]) -> None:
    fixed_jitter(1)
    trigger = CronTrigger(minute="*/5", jitter=0, timezone=BERLIN)
    now = datetime(2024, 6, 3, 12, 1, tzinfo=BERLIN)
    assert trigger.get_next_fire_time(None, now) == datetime(2024, 6, 3, 12, 5, tzinfo=BERLIN)


@pytest.mark.parametrize(
    ("jitter", "error", "message"),
    [
        (-1, ValueError, r"^jitter must be zero or more seconds, got: -1$"),
        (float("inf"), ValueError, r"^jitter must be a finite number of seconds, got: inf$"),
        ("5", TypeError, r"^jitter must be a number of seconds, got: '5'$"),
    ],
    ids=["negative", "infinite", "string"],
)
def test_invalid_jitter_is_rejected(jitter: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        CronTrigger(hour=5, jitter=jitter, timezone=BERLIN)


# --- text forms -------------------------------------------------------------------------------


def test_str_and_repr() -> None:
    trigger = CronTrigger(
        month="6-8,11-12",
        day="3rd fri",
        hour="0-3",
        timezone=BERLIN,
        start_date="2024-01-01",
        end_date="2025-01-01 10:00:00",
        jitter=5,
    )
    assert str(trigger) == "cron[month='6-8,11-12', day='3rd fri', hour='0-3']"
    assert repr(trigger) == (
        "<CronTrigger (month='6-8,11-12', day='3rd fri', hour='0-3', "
        "start_date='2024-01-01 00:00:00 CET', end_date='2025-01-01 10:00:00 CET', jitter=5, "
        "timezone='Europe/Berlin')>"
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"month": "6-8,11-12", "day": "3rd fri", "hour": "0-3"},
        {"hour": 5, "start_date": "2024-01-01", "end_date": "2025-01-01 10:00:00", "jitter": 5},
        {"day_of_week": "mon-fri", "minute": "*/5", "timezone": "UTC"},
    ],
)
def test_str_and_repr_match_apscheduler(kwargs: dict[str, Any]) -> None:
    apscheduler_cron = pytest.importorskip("apscheduler.triggers.cron")
    kwargs = {"timezone": BERLIN, **kwargs}
    ours = CronTrigger(**kwargs)
    theirs = apscheduler_cron.CronTrigger(**kwargs)
    assert str(ours) == str(theirs)
    assert repr(ours) == repr(theirs)


def test_repr_without_fields() -> None:
    trigger = CronTrigger(timezone=BERLIN)
    assert str(trigger) == "cron[]"
    # APScheduler 3.11 shows "<CronTrigger (, timezone='Europe/Berlin')>"
    assert repr(trigger) == "<CronTrigger (timezone='Europe/Berlin')>"


# --- pickling ---------------------------------------------------------------------------------


def test_state_keys_follow_apscheduler() -> None:
    trigger = CronTrigger(day="last", hour=5, timezone=BERLIN, jitter=3)
    state = trigger.__getstate__()
    assert state["version"] == 2
    assert set(state) == {
        "version",
        "timezone",
        "start_date",
        "end_date",
        "fields",
        "jitter",
        "crontab",
    }
    assert state["crontab"] is False
    assert [field.name for field in state["fields"]] == list(CronTrigger.FIELD_NAMES)
    apscheduler_cron = pytest.importorskip("apscheduler.triggers.cron")
    theirs = apscheduler_cron.CronTrigger(day="last", hour=5, timezone=BERLIN, jitter=3)
    assert set(theirs.__getstate__()) == set(state) - {"crontab"}


@pytest.mark.parametrize(
    "trigger",
    [
        CronTrigger(day="last fri", hour="9-17/2", timezone=BERLIN, jitter=2.5),
        CronTrigger(
            month="jan-mar/2",
            start_date="2024-01-01",
            end_date="2030-01-01",
            timezone="America/New_York",
        ),
        CronTrigger(week="*/2", day_of_week="mon-fri/2", timezone=UTC),
    ],
    ids=["day-position", "dates", "week"],
)
def test_pickle_round_trip(trigger: CronTrigger, fixed_jitter: Callable[[float], None]) -> None:
    fixed_jitter(0.5)
    copy = pickle.loads(pickle.dumps(trigger))
    assert repr(copy) == repr(trigger)
    assert copy.__getstate__() == trigger.__getstate__()
    now = datetime(2024, 6, 3, tzinfo=UTC)
    assert series(copy, now, 20) == series(trigger, now, 20)


def test_state_from_a_newer_release_is_rejected() -> None:
    trigger = CronTrigger(hour=5, timezone=BERLIN)
    state = {**trigger.__getstate__(), "version": 3}
    with pytest.raises(ValueError, match=r"^Cannot restore CronTrigger from state version 3"):
        trigger.__setstate__(state)


class _MappingUnpickler(pickle.Unpickler):
    """Loads APScheduler 3.x pickles with its classes mapped to greensched's, as a migration
    of a persistent store would."""

    def find_class(self, module: str, name: str) -> Any:
        if module.startswith("apscheduler."):
            module = "greensched." + module[len("apscheduler.") :]
        return super().find_class(module, name)


def test_apscheduler_pickle_loads_with_mapped_classes() -> None:
    apscheduler_cron = pytest.importorskip("apscheduler.triggers.cron")
    kwargs: dict[str, Any] = {
        "month": "jan-mar,jul",
        "day": "last fri,1st mon,15",
        "hour": "*/4",
        "minute": 30,
        "timezone": BERLIN,
        "start_date": "2024-01-01",
        "jitter": 3,
    }
    data = pickle.dumps(apscheduler_cron.CronTrigger(**kwargs))
    loaded = _MappingUnpickler(io.BytesIO(data)).load()
    assert type(loaded) is CronTrigger
    ours = CronTrigger(**kwargs)
    assert repr(loaded) == repr(ours)
    assert loaded.__getstate__() == ours.__getstate__()


# --- the cost of the computation --------------------------------------------------------------


@pytest.fixture
def steps(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count the calls of the field arithmetic (each one is O(1): a table look-up, or one
    call per expression of a field)."""
    counts = {"value": 0, "day": 0, "time": 0}
    next_value = BaseField._next_value
    next_day = CronTrigger._next_day
    next_time = CronTrigger._next_time

    def count_value(self: BaseField, value: int, high: int) -> int | None:
        counts["value"] += 1
        return next_value(self, value, high)

    def count_day(self: CronTrigger, year: int, month: int, day: int) -> int | None:
        counts["day"] += 1
        return next_day(self, year, month, day)

    def count_time(
        self: CronTrigger, hour: int, minute: int, second: int
    ) -> tuple[int, int, int] | None:
        counts["time"] += 1
        return next_time(self, hour, minute, second)

    monkeypatch.setattr(BaseField, "_next_value", count_value)
    monkeypatch.setattr(CronTrigger, "_next_day", count_day)
    monkeypatch.setattr(CronTrigger, "_next_time", count_time)
    return counts


@pytest.mark.parametrize(
    ("expr", "now", "rounds", "limit"),
    [
        ("*/5 * * * *", datetime(2024, 6, 3, 12, 3, 17), 1, 10),
        ("*/5 * * * *", datetime(2024, 12, 31, 23, 59, 1), 4, 30),  # to the next year
        ("0 9 * * mon-fri", datetime(2024, 6, 7, 10, 0, 0), 2, 20),  # Friday after 9: Monday
        ("0 0 L * *", datetime(2024, 2, 29, 0, 0, 1), 3, 30),
        ("0 0 1 1 *", datetime(2024, 1, 1, 0, 0, 1), 3, 30),
        ("30 2 29 2 *", datetime(2025, 3, 1), 5, 40),  # three years without a February 29
    ],
)
def test_next_fire_time_takes_a_handful_of_steps(
    steps: dict[str, int], expr: str, now: datetime, rounds: int, limit: int
) -> None:
    # a minute-by-minute scan would take up to hundreds of thousands of steps here
    trigger = CronTrigger.from_crontab(expr, timezone=BERLIN)
    fire_time = trigger.get_next_fire_time(None, now.replace(tzinfo=BERLIN))
    assert fire_time is not None
    assert steps["day"] <= rounds, steps  # one day look-up per round of the field arithmetic
    assert steps["value"] + steps["day"] + steps["time"] <= limit, steps


def test_impossible_schedule_takes_bounded_steps(steps: dict[str, int]) -> None:
    # every year is tried once per residue of the 400-year calendar cycle, at most
    trigger = CronTrigger(month=2, day=30, timezone=UTC)
    assert trigger.get_next_fire_time(None, datetime(2024, 6, 3, tzinfo=UTC)) is None
    assert steps["day"] <= 401
