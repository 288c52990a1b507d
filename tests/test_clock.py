"""Tests for greensched._clock (the real clock) and greensched.testing.MockClock."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from greensched._clock import (
    SYSTEM_CLOCK,
    Clock,
    SystemClock,
    current_clock,
    using_clock,
)
from greensched.testing import MockClock

BERLIN = ZoneInfo("Europe/Berlin")

# SystemClock: the only tests that read the real clock


def test_system_clock_now_is_aware_utc() -> None:
    now = SystemClock().now()
    assert now.tzinfo is not None
    assert now.utcoffset() == timedelta(0)


def test_system_clock_monotonic_never_goes_back() -> None:
    clock = SystemClock()
    readings = [clock.monotonic() for _ in range(1000)]
    assert readings == sorted(readings)


def test_system_clock_repr() -> None:
    assert repr(SystemClock()) == "SystemClock()"


@pytest.mark.parametrize("clock", [SYSTEM_CLOCK, MockClock()], ids=["system", "mock"])
def test_clocks_satisfy_the_protocol(clock: object) -> None:
    assert isinstance(clock, Clock)


# current_clock / using_clock


def test_current_clock_defaults_to_the_system_clock() -> None:
    assert current_clock() is SYSTEM_CLOCK


def test_using_clock_sets_and_restores() -> None:
    outer, inner = MockClock(), MockClock()
    with using_clock(outer) as entered:
        assert entered is outer
        assert current_clock() is outer
        with using_clock(inner):
            assert current_clock() is inner
        assert current_clock() is outer
    assert current_clock() is SYSTEM_CLOCK


def test_using_clock_restores_after_an_exception() -> None:
    with pytest.raises(RuntimeError, match=r"^boom$"), using_clock(MockClock()):
        raise RuntimeError("boom")
    assert current_clock() is SYSTEM_CLOCK


# MockClock


def test_mock_clock_default_start() -> None:
    clock = MockClock()
    assert clock.now() == datetime(2020, 1, 1, tzinfo=timezone.utc)
    assert clock.now().tzinfo is timezone.utc
    assert clock.monotonic() == 0.0


def test_mock_clock_aware_start_is_kept() -> None:
    start = datetime(2024, 3, 31, 1, 30, tzinfo=BERLIN)
    clock = MockClock(start)
    assert clock.now() is start


def test_mock_clock_naive_start_is_utc() -> None:
    clock = MockClock(datetime(2024, 1, 1, 12, 0))
    assert clock.now() == datetime(2024, 1, 1, 12, 0, tzinfo=timezone.utc)
    assert clock.now().tzinfo is timezone.utc


def test_mock_clock_rejects_a_start_that_is_not_a_datetime() -> None:
    with pytest.raises(TypeError, match=r"^start must be a datetime, got: '2024-01-01'$"):
        MockClock("2024-01-01")  # type: ignore[arg-type]


def test_mock_clock_does_not_move_by_itself() -> None:
    clock = MockClock()
    assert clock.now() == clock.now()
    assert clock.monotonic() == clock.monotonic()


def test_mock_clock_jump_seconds() -> None:
    clock = MockClock()
    clock.jump(90)
    assert clock.now() == datetime(2020, 1, 1, 0, 1, 30, tzinfo=timezone.utc)
    clock.jump(0.5)
    assert clock.now() == datetime(2020, 1, 1, 0, 1, 30, 500000, tzinfo=timezone.utc)
    assert clock.monotonic() == 90.5


def test_mock_clock_jump_timedelta() -> None:
    clock = MockClock()
    clock.jump(timedelta(hours=1, microseconds=1))
    assert clock.now() == datetime(2020, 1, 1, 1, 0, 0, 1, tzinfo=timezone.utc)
    assert clock.monotonic() == 3600.000001


def test_mock_clock_jump_zero() -> None:
    clock = MockClock()
    clock.jump(0)
    clock.jump(timedelta(0))
    assert clock.now() == datetime(2020, 1, 1, tzinfo=timezone.utc)
    assert clock.monotonic() == 0.0


@pytest.mark.parametrize(
    "amount", [-1, -0.000001, timedelta(seconds=-1)], ids=["int", "tiny", "timedelta"]
)
def test_mock_clock_jump_backwards(amount: float | timedelta) -> None:
    clock = MockClock()
    with pytest.raises(ValueError, match=r"^time can't go backwards$"):
        clock.jump(amount)
    assert clock.now() == datetime(2020, 1, 1, tzinfo=timezone.utc)
    assert clock.monotonic() == 0.0


def test_mock_clock_jump_across_dst_counts_real_seconds() -> None:
    # One real hour after 01:30 CET on the spring-forward day is 03:30 CEST
    clock = MockClock(datetime(2024, 3, 31, 1, 30, tzinfo=BERLIN))
    clock.jump(3600)
    assert clock.now().astimezone(BERLIN).replace(tzinfo=None) == datetime(2024, 3, 31, 3, 30)
    assert (
        clock.now().timestamp() - datetime(2024, 3, 31, 0, 30, tzinfo=timezone.utc).timestamp()
        == 3600
    )


def test_mock_clock_jump_through_fall_back_overlap() -> None:
    # One real hour after 02:30 CEST on the fall-back day is the second 02:30 (CET)
    clock = MockClock(datetime(2024, 10, 27, 2, 30, tzinfo=BERLIN))
    clock.jump(timedelta(hours=1))
    now = clock.now()
    assert (now.replace(tzinfo=None), now.fold, now.utcoffset()) == (
        datetime(2024, 10, 27, 2, 30),
        1,
        timedelta(hours=1),
    )
    assert now.astimezone(timezone.utc) == datetime(2024, 10, 27, 1, 30, tzinfo=timezone.utc)


def test_mock_clock_set_across_dst_in_the_same_zone() -> None:
    # 01:30 CET to 03:30 CEST on the spring-forward day is one real hour, not two
    clock = MockClock(datetime(2024, 3, 31, 1, 30, tzinfo=BERLIN))
    clock.set(datetime(2024, 3, 31, 3, 30, tzinfo=BERLIN))
    assert clock.monotonic() == 3600.0
    assert clock.now().replace(tzinfo=None) == datetime(2024, 3, 31, 3, 30)


def test_mock_clock_set_forward() -> None:
    clock = MockClock()
    target = datetime(2020, 1, 2, 1, 0, tzinfo=BERLIN)  # 2020-01-02 00:00 UTC
    clock.set(target)
    assert clock.now() == target
    assert clock.monotonic() == 86400.0


def test_mock_clock_set_to_now_is_allowed() -> None:
    clock = MockClock()
    clock.set(datetime(2020, 1, 1, tzinfo=timezone.utc))
    assert clock.monotonic() == 0.0


def test_mock_clock_set_backwards() -> None:
    clock = MockClock()
    with pytest.raises(ValueError, match=r"^time can't go backwards$"):
        clock.set(datetime(2019, 12, 31, 23, 59, 59, tzinfo=timezone.utc))
    assert clock.now() == datetime(2020, 1, 1, tzinfo=timezone.utc)


def test_mock_clock_set_naive() -> None:
    clock = MockClock()
    naive = datetime(2020, 1, 2)
    with pytest.raises(
        ValueError, match=rf"^when must be an aware datetime, got: {re.escape(repr(naive))}$"
    ):
        clock.set(naive)


def test_mock_clock_monotonic_follows_jumps() -> None:
    clock = MockClock()
    readings = [clock.monotonic()]
    for amount in (1, 0, 2.5, timedelta(minutes=1)):
        clock.jump(amount)
        readings.append(clock.monotonic())
    assert readings == [0.0, 1.0, 1.0, 3.5, 63.5]


def test_mock_clock_repr() -> None:
    assert repr(MockClock()) == "MockClock(2020-01-01T00:00:00+00:00)"


def test_mock_clock_calls_subscribers_after_each_move() -> None:
    clock = MockClock(datetime(2024, 1, 1, tzinfo=timezone.utc))
    seen: list[datetime] = []

    def listener() -> None:
        seen.append(clock.now())

    clock.subscribe(listener)
    clock.jump(10)
    clock.set(datetime(2024, 1, 2, tzinfo=timezone.utc))
    clock.unsubscribe(listener)
    clock.unsubscribe(listener)  # not subscribed any more: nothing happens
    clock.jump(10)
    assert seen == [
        datetime(2024, 1, 1, 0, 0, 10, tzinfo=timezone.utc),
        datetime(2024, 1, 2, tzinfo=timezone.utc),
    ]
