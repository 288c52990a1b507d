"""The loop's waker as a wait: set before or during it, its timer (as long as asked, counted
from now)."""

from __future__ import annotations

from typing import Any

import gevent
import pytest

from greensched.schedulers._waker import _FOREVER, MIN_WAIT, Waker
from greensched.testing import MockClock
from tests.support import PATIENCE


class RecordingLoop:
    """The hub's loop, recording the timeout of each timer the waker starts, and each refresh
    of its time, in order."""

    def __init__(self, loop: Any) -> None:
        self._loop = loop
        self.calls: list[str | float] = []

    @property
    def timeouts(self) -> list[float]:
        return [call for call in self.calls if not isinstance(call, str)]

    def timer(self, timeout: float) -> Any:
        self.calls.append(timeout)
        return self._loop.timer(timeout)

    def update_now(self) -> None:
        self.calls.append("update_now")
        self._loop.update_now()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loop, name)


@pytest.fixture
def waker() -> Waker:
    return Waker()


def test_wait_returns_at_once_when_set_before(waker: Waker) -> None:
    waker.set()
    with gevent.Timeout(1):
        waker.wait(None)
    waker.wait(None)  # still set until cleared


def test_set_from_another_greenlet_wakes_the_wait(waker: Waker) -> None:
    gevent.spawn(waker.set)
    with gevent.Timeout(1):
        waker.wait(None)


def test_clear_forgets_the_set(waker: Waker) -> None:
    waker.set()
    waker.clear()
    with pytest.raises(gevent.Timeout), gevent.Timeout(0.05):
        waker.wait(None)


@pytest.mark.parametrize(
    ("timeout", "timer"),
    [(None, _FOREVER), (0, 0), (MIN_WAIT / 10, MIN_WAIT / 10), (0.5, 0.5)],
    ids=["none", "zero", "short", "long"],
)
def test_the_timer_lasts_the_timeout_asked(
    waker: Waker, timeout: float | None, timer: float
) -> None:
    """However short: the loop paces its rounds itself (a wait shorter than MIN_WAIT is not
    lengthened, as it was before the loop measured the rate of due runs)."""
    loop = RecordingLoop(waker._loop)
    waker._loop = loop
    gevent.spawn_later(0.01, waker.set)  # ends the longer waits
    waker.wait(timeout)
    assert loop.timeouts == [timer]


def test_the_timeout_counts_from_now(waker: Waker) -> None:
    """The hub's time is refreshed before the timer is armed: the time its loop last woke is
    older, and a timer counted from it fires early, for a round that finds nothing due."""
    loop = RecordingLoop(waker._loop)
    waker._loop = loop
    waker.wait(MIN_WAIT / 10)
    assert loop.calls == ["update_now", MIN_WAIT / 10]


def test_a_wait_of_zero_lets_ready_timers_run(waker: Waker) -> None:
    fired: list[bool] = []
    timer = gevent.get_hub().loop.timer(0)
    timer.start(lambda: fired.append(True))
    try:
        waker.wait(0)
        assert fired == [True]
    finally:
        timer.close()


def test_a_wait_ended_by_an_exception_leaves_no_waiter(waker: Waker) -> None:
    with pytest.raises(gevent.Timeout), gevent.Timeout(0.01):
        waker.wait(None)
    assert waker._waiter is None
    waker.set()  # nothing to wake: no error, and the next wait returns at once
    waker.wait(None)


def test_a_wait_on_a_mock_clock_lasts_until_mock_time_reaches_its_end() -> None:
    clock = MockClock()
    waker = Waker(clock)
    waiter = gevent.spawn(waker.wait, 5)
    gevent.idle()
    clock.jump(4.9)
    gevent.idle()
    assert not waiter.dead
    clock.jump(0.1)
    waiter.join(PATIENCE)
    assert waiter.successful()


def test_a_wait_on_a_mock_clock_still_ends_when_set() -> None:
    waker = Waker(MockClock())
    waiter = gevent.spawn(waker.wait, 5)
    gevent.idle()
    waker.set()
    waiter.join(PATIENCE)
    assert waiter.successful()


def test_wait_tells_whether_it_was_set(waker: Waker) -> None:
    assert waker.wait(MIN_WAIT / 10) is False  # the timeout ended it
    gevent.spawn(waker.set)
    with gevent.Timeout(PATIENCE):
        assert waker.wait(None) is True
    assert waker.wait(0.5) is True  # set before: at once
    waker.clear()
    assert waker.wait(0) is False
