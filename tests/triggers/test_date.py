"""Tests for greensched.triggers.date."""

from __future__ import annotations

import pickle
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from greensched.triggers import date as date_module
from greensched.triggers.date import DateTrigger

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2024, 6, 3, 12, 0, tzinfo=BERLIN)


def test_fires_once_on_run_date() -> None:
    run_date = datetime(2024, 6, 3, 15, 30, tzinfo=BERLIN)
    trigger = DateTrigger(run_date)
    assert trigger.get_next_fire_time(None, NOW) == run_date
    assert trigger.get_next_fire_time(run_date, NOW) is None


def test_run_date_in_the_past_is_still_returned() -> None:
    # the scheduler, not the trigger, decides whether a past run time is a misfire
    run_date = datetime(2020, 1, 1, 10, 0, tzinfo=BERLIN)
    assert DateTrigger(run_date).get_next_fire_time(None, NOW) == run_date


def test_aware_run_date_keeps_its_zone() -> None:
    run_date = datetime(2024, 6, 3, 15, 30, tzinfo=timezone(timedelta(hours=5)))
    trigger = DateTrigger(run_date, timezone="Europe/Berlin")
    assert trigger.run_date == run_date
    assert trigger.run_date.utcoffset() == timedelta(hours=5)


@pytest.mark.parametrize("zone", ["Europe/Berlin", BERLIN], ids=["name", "tzinfo"])
def test_naive_run_date_takes_the_timezone(zone: str | ZoneInfo) -> None:
    trigger = DateTrigger(datetime(2024, 6, 3, 15, 30), timezone=zone)
    assert trigger.run_date == datetime(2024, 6, 3, 15, 30, tzinfo=BERLIN)
    assert trigger.run_date.tzinfo == BERLIN


def test_naive_run_date_defaults_to_the_local_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    local = ZoneInfo("America/New_York")
    monkeypatch.setattr(date_module, "get_localzone", lambda: local)
    trigger = DateTrigger(datetime(2024, 6, 3, 15, 30))
    assert trigger.run_date == datetime(2024, 6, 3, 15, 30, tzinfo=local)


def test_date_means_midnight_in_the_timezone() -> None:
    trigger = DateTrigger(date(2024, 6, 3), timezone=BERLIN)
    assert trigger.run_date == datetime(2024, 6, 3, tzinfo=BERLIN)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-06-03", datetime(2024, 6, 3, tzinfo=BERLIN)),
        ("2024-06-03 15:30:05", datetime(2024, 6, 3, 15, 30, 5, tzinfo=BERLIN)),
        ("2024-06-03T15:30:05.250", datetime(2024, 6, 3, 15, 30, 5, 250000, tzinfo=BERLIN)),
        ("2024-06-03T15:30:05Z", datetime(2024, 6, 3, 15, 30, 5, tzinfo=timezone.utc)),
        (
            "2024-06-03 15:30:05+05:00",
            datetime(2024, 6, 3, 15, 30, 5, tzinfo=timezone(timedelta(hours=5))),
        ),
    ],
    ids=["date", "datetime", "microseconds", "utc", "offset"],
)
def test_iso_8601_string_run_date(text: str, expected: datetime) -> None:
    trigger = DateTrigger(text, timezone=BERLIN)
    assert trigger.run_date == expected
    assert trigger.run_date.utcoffset() == expected.utcoffset()


def test_omitted_run_date_is_unset_until_filled_in_from_now() -> None:
    trigger = DateTrigger(timezone="Europe/Berlin")
    assert trigger.run_date is None
    assert str(trigger) == "date[now]"
    assert repr(trigger) == "<DateTrigger (run_date='now')>"
    now = datetime(2024, 6, 3, 10, 0, 0, 123456, tzinfo=timezone.utc)
    trigger.fill_defaults(now)
    assert trigger.run_date == now
    assert trigger.run_date.tzinfo == BERLIN
    assert str(trigger) == "date[2024-06-03 12:00:00 CEST]"
    trigger.fill_defaults(now + timedelta(days=1))  # only the first call has an effect
    assert trigger.run_date == now


def test_first_call_without_run_date_fires_now() -> None:
    trigger = DateTrigger(timezone="Europe/Berlin")
    now = datetime(2024, 6, 3, 10, tzinfo=timezone.utc)
    assert trigger.get_next_fire_time(None, now) == now
    assert trigger.get_next_fire_time(now, now) is None


def test_unset_run_date_keeps_its_zone_through_pickling() -> None:
    restored = pickle.loads(pickle.dumps(DateTrigger(timezone="Europe/Berlin")))
    assert restored.run_date is None
    restored.fill_defaults(datetime(2024, 6, 3, 10, tzinfo=timezone.utc))
    assert restored.run_date == datetime(2024, 6, 3, 12, tzinfo=BERLIN)
    assert restored.run_date.tzinfo == BERLIN


def test_naive_run_date_in_a_dst_gap_moves_to_the_end_of_the_gap() -> None:
    # 2024-03-31 02:30 does not exist in Berlin (02:00 CET -> 03:00 CEST)
    trigger = DateTrigger(datetime(2024, 3, 31, 2, 30), timezone=BERLIN)
    assert trigger.run_date == datetime(2024, 3, 31, 3, 0, tzinfo=BERLIN)
    assert trigger.run_date.utcoffset() == timedelta(hours=2)


def test_aware_run_date_in_a_dst_gap_moves_to_the_end_of_the_gap() -> None:
    # APScheduler 3.11 keeps this one as given and fires on a wall time that never happens
    trigger = DateTrigger(datetime(2024, 3, 31, 2, 30, tzinfo=BERLIN))
    assert trigger.run_date.astimezone(timezone.utc) == datetime(
        2024, 3, 31, 1, 0, tzinfo=timezone.utc
    )
    assert str(trigger) == "date[2024-03-31 03:00:00 CEST]"


@pytest.mark.parametrize(
    ("fold", "expected_utc"), [(0, 0), (1, 1)], ids=["first-pass", "second-pass"]
)
def test_run_date_in_a_dst_overlap_keeps_its_fold(fold: int, expected_utc: int) -> None:
    # 02:30 happens twice on 2024-10-27 in Berlin: at 00:30 UTC (CEST) and 01:30 UTC (CET)
    trigger = DateTrigger(datetime(2024, 10, 27, 2, 30, fold=fold, tzinfo=BERLIN))
    assert trigger.run_date.astimezone(timezone.utc) == datetime(
        2024, 10, 27, expected_utc, 30, tzinfo=timezone.utc
    )


def test_str_and_repr() -> None:
    trigger = DateTrigger(datetime(2020, 1, 1, 10, 0), timezone=BERLIN)
    assert str(trigger) == "date[2020-01-01 10:00:00 CET]"
    assert repr(trigger) == "<DateTrigger (run_date='2020-01-01 10:00:00 CET')>"


def test_state_is_versioned() -> None:
    run_date = datetime(2020, 1, 1, 10, 0, tzinfo=BERLIN)
    assert DateTrigger(run_date).__getstate__() == {"version": 1, "run_date": run_date}


def test_pickle_round_trip() -> None:
    trigger = DateTrigger(datetime(2024, 3, 31, 3, 0), timezone=BERLIN)
    restored = pickle.loads(pickle.dumps(trigger))
    assert type(restored) is DateTrigger
    assert restored.__getstate__() == trigger.__getstate__()
    assert restored.get_next_fire_time(None, NOW) == trigger.run_date
    assert restored.get_next_fire_time(trigger.run_date, NOW) is None
    assert repr(restored) == repr(trigger)


def test_state_without_version_is_version_1() -> None:
    run_date = datetime(2020, 1, 1, 10, 0, tzinfo=BERLIN)
    trigger = DateTrigger.__new__(DateTrigger)
    trigger.__setstate__({"run_date": run_date})
    assert trigger.run_date == run_date


def test_state_from_a_newer_release_is_rejected() -> None:
    trigger = DateTrigger.__new__(DateTrigger)
    state = {"version": 2, "run_date": NOW}
    with pytest.raises(
        ValueError,
        match=r"^Cannot restore DateTrigger from state version 2: this release of greensched "
        r"reads versions up to 1 \(the state was saved by a newer release\)$",
    ):
        trigger.__setstate__(state)


@pytest.mark.parametrize("version", [0, "1", True, None], ids=["zero", "str", "bool", "none"])
def test_state_with_an_invalid_version_is_rejected(version: object) -> None:
    trigger = DateTrigger.__new__(DateTrigger)
    with pytest.raises(
        ValueError,
        match=rf"^DateTrigger state version must be a positive integer, got: {version!r}$",
    ):
        trigger.__setstate__({"version": version, "run_date": NOW})


def test_state_that_is_not_a_dict_is_rejected() -> None:
    trigger = DateTrigger.__new__(DateTrigger)
    with pytest.raises(TypeError, match=r"^DateTrigger state must be a dict, got: \(1, 2\)$"):
        trigger.__setstate__((1, 2))  # type: ignore[arg-type]


def test_unknown_timezone_is_rejected() -> None:
    with pytest.raises(
        ValueError, match=r"^timezone must be a known IANA zone name, got: 'Mars/Olympus'$"
    ):
        DateTrigger(datetime(2024, 6, 3), timezone="Mars/Olympus")


def test_timezone_of_a_wrong_type_is_rejected() -> None:
    with pytest.raises(TypeError, match=r"^timezone must be a tzinfo or a zone name, got: 5$"):
        DateTrigger(datetime(2024, 6, 3), timezone=5)  # type: ignore[arg-type]


def test_unparseable_run_date_is_rejected() -> None:
    with pytest.raises(
        ValueError,
        match=r"^run_date must be an ISO 8601 date or datetime string, got: 'next tuesday'$",
    ):
        DateTrigger("next tuesday", timezone=BERLIN)


def test_run_date_of_a_wrong_type_is_rejected() -> None:
    with pytest.raises(
        TypeError,
        match=r"^Unsupported type for run_date: int \(expected a datetime, a date or a string\)$",
    ):
        DateTrigger(1717408800, timezone=BERLIN)  # type: ignore[arg-type]


def test_has_no_instance_dict() -> None:
    trigger = DateTrigger(NOW)
    assert not hasattr(trigger, "__dict__")
