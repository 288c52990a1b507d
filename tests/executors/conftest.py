"""A fake scheduler with just what executors use, a job factory and greenlet helpers."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timezone
from typing import Any

import gevent
import gevent.lock
import pytest

from greensched._clock import Clock
from greensched.events import EVENT_ALL, JobExecutionEvent
from greensched.job import Job
from greensched.testing import MockClock
from tests.support import NeverTrigger


class FakeScheduler:
    """The scheduler services executors use (``SchedulerServices``); records dispatched
    events."""

    timezone = timezone.utc
    #: no run history
    run_history = None

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        #: the mask of the events some listener wants (a test may narrow it)
        self.listened_events = EVENT_ALL
        self.events: list[JobExecutionEvent] = []
        #: called with each event after it is recorded (a test can make it block or raise)
        self.on_event: Callable[[JobExecutionEvent], Any] | None = None

    def create_lock(self) -> gevent.lock.RLock:
        return gevent.lock.RLock()

    def dispatch_event(self, event: JobExecutionEvent) -> None:
        self.events.append(event)
        if self.on_event is not None:
            self.on_event(event)

    def wakeup(self) -> None:
        pass


def wait_until(predicate: Callable[[], bool], max_switches: int = 200) -> None:
    """Yield to the hub (no wall-clock sleeping) until ``predicate()`` is true."""
    for _ in range(max_switches):
        if predicate():
            return
        gevent.sleep(0)
    raise AssertionError(f"condition still false after {max_switches} switches")


@pytest.fixture
def clock() -> MockClock:
    """The scheduler's clock: mock time, which moves by itself to the next deadline (a job's
    timeout) whenever the hub has nothing else to do."""
    return MockClock(datetime(2024, 6, 3, 10, 0, tzinfo=timezone.utc), autojump=True)


@pytest.fixture
def scheduler(clock: MockClock) -> FakeScheduler:
    return FakeScheduler(clock)


@pytest.fixture
def make_job(scheduler: FakeScheduler) -> Callable[..., Job]:
    """Build a job bound to the fake scheduler, stored in a store aliased "store"."""

    def make(
        func: Callable[..., Any],
        args: Sequence[Any] = (),
        *,
        id: str | None = None,
        max_instances: int = 1,
        misfire_grace_time: int | None = None,
    ) -> Job:
        job = Job(
            scheduler,
            id=id,
            func=func,
            args=args,
            trigger=NeverTrigger(),
            executor="default",
            max_instances=max_instances,
            misfire_grace_time=misfire_grace_time,
            coalesce=True,
            next_run_time=None,
        )
        job._jobstore_alias = "store"
        return job

    return make


@pytest.fixture(autouse=True)
def hub_errors(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[Any, ...]]]:
    """Record what reaches the hub's error handler instead of printing it; every test fails if
    anything did (executor callbacks must never raise into the hub)."""
    errors: list[tuple[Any, ...]] = []
    monkeypatch.setattr(gevent.get_hub(), "handle_error", lambda *args: errors.append(args))
    yield errors
    assert errors == []
