"""The loop's waker set from other threads: one hub callback until the loop's next round, and
a set soon after a round began is held back until MIN_WAIT after it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import gevent
import pytest

from greensched.schedulers._waker import MIN_WAIT, Waker
from tests.support import PATIENCE

#: the longest a test waits for something that should take milliseconds


class RecordingLoop:
    """The hub's loop, recording the thread-safe callbacks and the timers the waker starts;
    its time (``now()``) stands still unless the test moves it."""

    def __init__(self, loop: Any) -> None:
        self._loop = loop
        self.threadsafe_callbacks = 0
        self.timeouts: list[float] = []
        self.time = 1000.0

    def now(self) -> float:
        return self.time

    def update_now(self) -> None:
        pass

    def run_callback_threadsafe(self, func: Callable[..., Any], *args: Any) -> Any:
        self.threadsafe_callbacks += 1
        return self._loop.run_callback_threadsafe(func, *args)

    def timer(self, timeout: float) -> Any:
        self.timeouts.append(timeout)
        return self._loop.timer(timeout)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loop, name)


def in_thread(target: Callable[[], None]) -> None:
    """Run ``target`` in another OS thread, to its end (this hub does not run meanwhile)."""
    thread = threading.Thread(target=target)
    thread.start()
    thread.join(PATIENCE)
    assert not thread.is_alive()


def test_sets_from_another_thread_until_the_next_round_cost_one_callback() -> None:
    waker = Waker()
    loop = waker._loop = RecordingLoop(waker._loop)

    def many_sets() -> None:
        for _ in range(100):
            waker.set()

    in_thread(many_sets)
    with gevent.Timeout(PATIENCE):
        waker.wait(None)
    assert loop.threadsafe_callbacks == 1
    in_thread(many_sets)  # before clear(): the round has not started, nothing to add
    assert loop.threadsafe_callbacks == 1
    waker.clear()  # the round starts: what is set from now on needs another one
    in_thread(many_sets)
    assert loop.threadsafe_callbacks == 2
    with gevent.Timeout(PATIENCE):
        waker.wait(None)


def test_a_set_from_another_thread_soon_after_a_round_began_is_held_back() -> None:
    waker = Waker()
    loop = waker._loop = RecordingLoop(waker._loop)
    waker.set()
    waker.wait(None)  # a round begins
    waker.clear()
    in_thread(waker.set)
    with gevent.Timeout(PATIENCE):
        waker.wait(None)  # ends MIN_WAIT after the round began, not at once
    assert loop.timeouts[1:] == [pytest.approx(MIN_WAIT)]  # [0]: the wait's own timer


def test_a_set_from_another_thread_later_after_a_round_began_takes_effect_at_once() -> None:
    waker = Waker()
    loop = waker._loop = RecordingLoop(waker._loop)
    waker.set()
    waker.wait(None)  # a round begins
    waker.clear()
    loop.time += MIN_WAIT
    in_thread(waker.set)
    with gevent.Timeout(PATIENCE):
        waker.wait(None)
    assert len(loop.timeouts) == 1  # the wait's own timer, none held back


def test_a_set_from_the_owners_thread_takes_effect_at_once() -> None:
    waker = Waker()
    loop = waker._loop = RecordingLoop(waker._loop)
    waker.set()
    waker.wait(None)
    waker.clear()
    gevent.spawn(waker.set)
    with gevent.Timeout(PATIENCE):
        waker.wait(None)
    assert len(loop.timeouts) == 1  # the wait's own timer, none held back
