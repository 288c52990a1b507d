"""Tests for greensched._clock (the real clock) and greensched.testing.MockClock."""

from __future__ import annotations

import re
import threading
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import gevent
import gevent.event
import pytest

from greensched._clock import (
    SYSTEM_CLOCK,
    Clock,
    SystemClock,
    current_clock,
    using_clock,
)
from greensched.testing import _MIN_SWEEP, MockClock
from tests.support import PATIENCE, start_thread

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


# Waiting: SystemClock (real time, so marked slow) and MockClock (mock time)


@pytest.mark.slow
def test_system_clock_timeout_interrupts_a_wait() -> None:
    with pytest.raises(gevent.Timeout) as raised, SYSTEM_CLOCK.timeout(0.01):
        gevent.event.Event().wait()
    assert raised.value.seconds == 0.01


@pytest.mark.slow
def test_system_clock_wait_reports_whether_the_event_is_set() -> None:
    event = gevent.event.Event()
    assert SYSTEM_CLOCK.wait(event, 0.01) is False
    gevent.spawn(event.set)
    assert SYSTEM_CLOCK.wait(event, PATIENCE) is True


@pytest.mark.slow
def test_system_clock_sleep_and_timer_wait_real_time() -> None:
    fired = gevent.event.Event()
    timer = SYSTEM_CLOCK.timer(0.01)
    timer.start(fired.set)
    started = SYSTEM_CLOCK.monotonic()
    SYSTEM_CLOCK.sleep(0.02)
    assert SYSTEM_CLOCK.monotonic() - started >= 0.015
    assert fired.is_set()
    timer.close()


def test_mock_timer_fires_when_a_jump_reaches_its_deadline() -> None:
    clock = MockClock()
    fired: list[float] = []
    timer = clock.timer(5)
    timer.start(lambda: fired.append(clock.monotonic()))
    assert timer.active
    clock.jump(4.5)
    gevent.idle()
    assert fired == []
    clock.jump(0.5)
    assert timer.pending  # its callback runs from the hub
    gevent.idle()
    assert fired == [5.0]
    assert not timer.active
    assert not timer.pending


def test_mock_timers_fire_in_deadline_order() -> None:
    clock = MockClock()
    fired: list[str] = []
    for name, seconds in [("c", 3), ("a", 1), ("b", 2)]:
        clock.timer(seconds).start(fired.append, name)
    clock.jump(10)
    gevent.idle()
    assert fired == ["a", "b", "c"]


def test_stopped_mock_timer_does_not_fire_even_once_due() -> None:
    clock = MockClock()
    fired: list[int] = []
    stopped, due_then_stopped = clock.timer(1), clock.timer(1)
    stopped.start(fired.append, 1)
    due_then_stopped.start(fired.append, 2)
    stopped.stop()
    clock.jump(1)
    due_then_stopped.close()  # fired, but its callback had yet to run
    gevent.idle()
    assert fired == []


def test_mock_timer_cannot_start_twice() -> None:
    timer = MockClock().timer(1)
    timer.start(lambda: None)
    with pytest.raises(RuntimeError, match=r"^timer must be stopped before it is started again$"):
        timer.start(lambda: None)


def test_stopped_mock_timers_are_swept_from_the_heap() -> None:
    clock = MockClock()
    for _ in range(10 * _MIN_SWEEP):
        timer = clock.timer(60)
        timer.start(lambda: None)
        timer.stop()
    assert len(clock._timers) <= _MIN_SWEEP + 1


def test_mock_sleep_returns_once_time_has_moved_on() -> None:
    clock = MockClock()
    sleeper = gevent.spawn(clock.sleep, 60)
    gevent.idle()
    clock.jump(59)
    gevent.idle()
    assert not sleeper.dead
    clock.jump(1)
    sleeper.join(PATIENCE)
    assert sleeper.successful()


def test_mock_sleep_of_zero_lets_others_run() -> None:
    clock = MockClock()
    ran = gevent.spawn(lambda: None)
    clock.sleep(0)
    assert ran.dead


def test_mock_timeout_raises_in_the_waiting_greenlet() -> None:
    clock = MockClock()
    event = gevent.event.Event()

    def wait() -> None:
        with clock.timeout(30):
            event.wait()

    waiter = gevent.spawn(wait)
    gevent.idle()
    clock.jump(30)
    waiter.join(PATIENCE)
    assert isinstance(waiter.exception, gevent.Timeout)
    assert str(waiter.exception) == "30 seconds"


def test_mock_timeout_that_is_closed_in_time_never_raises() -> None:
    clock = MockClock()
    timeout = clock.timeout(30, TimeoutError("too slow"))
    timeout.start()
    assert timeout.pending
    timeout.close()
    clock.jump(60)
    gevent.idle()  # would raise here if the timeout fired


def test_mock_timeout_of_none_never_expires() -> None:
    timeout = MockClock().timeout(None)
    timeout.start()
    assert not timeout.pending


def test_mock_wait_reports_whether_the_event_is_set() -> None:
    clock = MockClock(autojump=True)
    event = gevent.event.Event()
    assert clock.wait(event, 10) is False
    assert clock.monotonic() == 10
    gevent.spawn(event.set)
    assert clock.wait(event, 10) is True
    assert clock.monotonic() == 10


def test_autojump_jumps_to_each_deadline_once_everything_is_idle() -> None:
    clock = MockClock(datetime(2024, 1, 1, tzinfo=timezone.utc), autojump=True)
    log: list[tuple[str, float]] = []

    def sleeper(name: str, seconds: float) -> None:
        clock.sleep(seconds)
        log.append((name, clock.monotonic()))

    def busy() -> None:
        for _ in range(100):
            gevent.sleep(0)  # ready to run all along: no jump meanwhile
        log.append(("busy", clock.monotonic()))

    gevent.joinall(
        [gevent.spawn(sleeper, "a", 5), gevent.spawn(sleeper, "b", 2), gevent.spawn(busy)]
    )
    assert log == [("busy", 0.0), ("b", 2.0), ("a", 5.0)]
    assert clock.now() == datetime(2024, 1, 1, 0, 0, 5, tzinfo=timezone.utc)


def test_autojump_reaches_deadlines_closer_than_a_microsecond() -> None:
    """A gap a timedelta rounds to zero (or a float sum falls short of) still ends: the clock
    jumps to the deadline itself, not by the rounded gap (it used to spin there forever)."""
    clock = MockClock(datetime(2024, 1, 1, tzinfo=timezone.utc), autojump=True)
    with gevent.Timeout(60):  # a safety net (real time): the bug spun, it did not fail
        clock.sleep(0.3)
        clock.sleep(4e-7)  # under half a microsecond
        for _ in range(1000):
            clock.sleep(0.04)  # tenths and hundredths a float cannot hold exactly
    assert clock.monotonic() == pytest.approx(40.3000004)
    assert clock.now() == datetime(2024, 1, 1, 0, 0, 40, 300000, tzinfo=timezone.utc)


def test_without_autojump_time_stands_still() -> None:
    clock = MockClock()
    sleeper = gevent.spawn(clock.sleep, 1)
    gevent.idle()
    gevent.idle()
    assert not sleeper.dead
    assert clock.monotonic() == 0
    sleeper.kill()


def test_mock_timer_started_in_another_thread_fires_in_that_thread() -> None:
    clock = MockClock()
    started, fired_in = threading.Event(), []

    def other() -> None:
        done = gevent.event.Event()
        timer = clock.timer(5)
        timer.start(lambda: (fired_in.append(threading.get_ident()), done.set()))
        started.set()
        done.wait(PATIENCE)

    thread = start_thread(other)
    assert started.wait(PATIENCE)
    clock.jump(5)
    thread.join(PATIENCE)
    assert fired_in == [thread.ident]
