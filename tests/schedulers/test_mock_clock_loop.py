"""A real GeventScheduler loop driven by a MockClock: days of schedule, no waiting."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import gevent

from greensched.events import (
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
    SchedulerEvent,
)
from greensched.jobstores.memory import MemoryJobStore
from greensched.schedulers.gevent import GeventScheduler
from greensched.testing import MockClock

runs: list[datetime] = []


def report(clock: MockClock) -> None:
    runs.append(clock.now())


def settle() -> None:
    """Let the loop and the job greenlets run (no time passes on the mock clock)."""
    gevent.idle()


def test_a_week_of_daily_runs_without_waiting() -> None:
    runs.clear()
    clock = MockClock(datetime(2024, 6, 3, 6, 0, tzinfo=timezone.utc))
    scheduler = GeventScheduler(clock=clock, timezone="UTC")
    events: list[SchedulerEvent] = []
    scheduler.add_listener(events.append, EVENT_JOB_EXECUTED | EVENT_JOB_MISSED)
    scheduler.add_job(report, "interval", days=1, args=[clock], id="daily")
    gevent.get_hub().loop.update_now()  # the cached loop time is stale after a slow test
    started = gevent.get_hub().loop.now()
    scheduler.start()
    settle()
    assert runs == []
    for _ in range(7):
        clock.jump(timedelta(days=1))
        settle()
    scheduler.shutdown()
    assert runs == [datetime(2024, 6, 3 + day, 6, 0, tzinfo=timezone.utc) for day in range(1, 8)]
    assert [event.code for event in events] == [EVENT_JOB_EXECUTED] * 7
    assert gevent.get_hub().loop.now() - started < 5  # real seconds: nothing waited a day


def test_a_jump_past_several_runs_coalesces_them() -> None:
    runs.clear()
    clock = MockClock(datetime(2024, 6, 3, tzinfo=timezone.utc))
    scheduler = GeventScheduler(clock=clock, timezone="UTC")
    scheduler.add_job(report, "interval", hours=1, args=[clock], id="hourly")
    scheduler.start()
    settle()
    clock.jump(timedelta(hours=5))
    settle()
    scheduler.shutdown()
    assert runs == [clock.now()]  # one run for the five due ones (coalesce=True)


def test_shutdown_unsubscribes_from_the_clock() -> None:
    clock = MockClock()
    scheduler = GeventScheduler(clock=clock, timezone="UTC")
    scheduler.start()
    scheduler.shutdown()
    assert clock._listeners == []


class YieldingStore(MemoryJobStore):
    """A memory store that yields to the hub whenever it is asked for its next run time, as a
    store doing I/O does."""

    def get_next_run_time(self) -> datetime | None:
        gevent.sleep(0)
        return super().get_next_run_time()


def test_a_run_reports_after_its_submission_when_the_store_yields() -> None:
    clock = MockClock(datetime(2024, 6, 3, tzinfo=timezone.utc))
    scheduler = GeventScheduler(
        clock=clock, timezone="UTC", jobstores={"default": YieldingStore()}
    )
    events: list[SchedulerEvent] = []
    scheduler.add_listener(events.append, EVENT_JOB_SUBMITTED | EVENT_JOB_EXECUTED)
    scheduler.add_job(report, "interval", seconds=1, args=[clock], id="tick")
    scheduler.start()
    for _ in range(3):
        clock.jump(1)
        settle()
    scheduler.shutdown()
    assert [event.code for event in events] == [EVENT_JOB_SUBMITTED, EVENT_JOB_EXECUTED] * 3
