"""Small helpers shared by test modules."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

import gevent

from greensched._clock import SYSTEM_CLOCK
from greensched.triggers.base import BaseTrigger

#: the longest a test waits, on the wall clock, for something that should take well under a
#: second (generous: the suite must pass on a busy 2-core machine)
PATIENCE = 10.0


def start_thread(target: Callable[[], None]) -> threading.Thread:
    """Start ``target`` in a daemon thread (a real OS thread where nothing is patched)."""
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def assert_another_thread_can_take(lock: Any) -> None:
    """Assert that an OS thread other than this one takes ``lock`` (a context manager), and
    lets it go, within :data:`PATIENCE`."""
    took_it = threading.Event()

    def take() -> None:
        with lock:
            took_it.set()

    thread = start_thread(take)
    assert took_it.wait(PATIENCE)
    thread.join(PATIENCE)


def hub_wait_until(predicate: Callable[[], bool], timeout: float = PATIENCE) -> None:
    """Let this thread's hub run until ``predicate()`` holds (or fail after ``timeout``), for
    what is seen only by looking: a change made by another OS thread."""
    deadline = SYSTEM_CLOCK.monotonic() + timeout
    while not predicate():
        assert SYSTEM_CLOCK.monotonic() < deadline, "timed out"
        gevent.sleep(0.001)


class NeverTrigger(BaseTrigger):
    """A trigger with no more fire times: for jobs whose trigger the code under test never
    consults (stores, executors)."""

    __slots__ = ()

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        return None

    def __str__(self) -> str:
        return "never"
