"""A GeventScheduler on a mock clock with the executor under test, and a way to wait for the
end of its runs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import gevent
import pytest
from gevent.event import Event

from greensched.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    JobEvent,
)
from greensched.executors.base import BaseExecutor
from greensched.executors.debug import DebugExecutor
from greensched.executors.gevent import GeventExecutor
from greensched.executors.pool import ProcessPoolExecutor, ThreadPoolExecutor
from greensched.schedulers.gevent import GeventScheduler
from greensched.testing import MockClock
from tests.support import PATIENCE

#: the start of the mock time
T0 = datetime(2024, 6, 3, 10, 0, tzinfo=timezone.utc)

#: the executors every outcome is recorded with, by name
EXECUTORS = {
    "gevent": GeventExecutor,
    "debug": DebugExecutor,
    "threadpool": ThreadPoolExecutor,
    "processpool": ProcessPoolExecutor,
}

#: the events that end a run time (or skip it)
ENDS = EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES


class Ends:
    """The events that ended (or skipped) run times, and waiting for a number of them."""

    def __init__(self, scheduler: GeventScheduler) -> None:
        self.events: list[JobEvent] = []
        self._changed = Event()
        scheduler.add_listener(self._add, ENDS)

    def _add(self, event: JobEvent) -> None:
        self.events.append(event)
        self._changed.set()

    def wait(self, number: int) -> list[JobEvent]:
        """Wait (the hub running) until ``number`` events came in all; return them."""
        with gevent.Timeout(PATIENCE, AssertionError(f"fewer than {number} run ends")):
            while len(self.events) < number:
                self._changed.clear()
                self._changed.wait()
        return self.events


@pytest.fixture
def clock() -> MockClock:
    """Mock time that moves only when a test jumps it (a thread pool's job runs in real
    time: autojump would jump past its timeout)."""
    return MockClock(T0)


@pytest.fixture
def make_scheduler(clock: MockClock) -> Iterator[Any]:
    """``make_scheduler(executor=None, **options)``: a GeventScheduler on the mock clock in UTC,
    shut down after the test."""
    made: list[GeventScheduler] = []

    def make(executor: BaseExecutor | None = None, **options: Any) -> GeventScheduler:
        executors = {"default": executor} if executor is not None else {}
        scheduler = GeventScheduler(clock=clock, timezone="UTC", executors=executors, **options)
        made.append(scheduler)
        return scheduler

    yield make
    for scheduler in made:
        if scheduler.running:
            scheduler.shutdown()
