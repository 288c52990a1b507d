"""A real GeventScheduler loop driven by a MockClock: days of schedule, no waiting."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Callable

import gevent
import gevent.event
import pytest

from greensched.events import (
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
    SchedulerEvent,
)
from greensched.job import Job
from greensched.jobstores.memory import MemoryJobStore
from greensched.schedulers.gevent import GeventScheduler
from greensched.testing import MockClock
from greensched.triggers.base import BaseTrigger
from greensched.triggers.calendarinterval import CalendarIntervalTrigger
from greensched.triggers.combining import OrTrigger
from greensched.triggers.date import DateTrigger
from greensched.triggers.interval import IntervalTrigger
from tests.support import PATIENCE

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


START = datetime(2024, 6, 3, 6, 0, tzinfo=timezone.utc)


def noop() -> None:
    pass


@pytest.mark.parametrize(
    "add",
    [
        pytest.param(lambda s: s.add_job(noop, "interval", seconds=5), id="alias"),
        pytest.param(lambda s: s.add_job(noop, IntervalTrigger(seconds=5)), id="instance"),
    ],
)
def test_an_interval_job_first_runs_one_interval_after_it_is_added_on_the_clock(
    add: Callable[[GeventScheduler], Job],
) -> None:
    clock = MockClock(START)
    scheduler = GeventScheduler(clock=clock, timezone="UTC")
    job = add(scheduler)
    assert job.trigger.start_date == START + timedelta(seconds=5)  # type: ignore[attr-defined]
    clock.jump(62)  # the scheduler starts a minute after the job was added
    scheduler.start(paused=True)
    scheduler.shutdown()
    # the first point at or after now of the grid from START + 5 s
    assert job.next_run_time == START + timedelta(seconds=65)


@pytest.mark.parametrize(
    ("trigger", "attribute", "expected"),
    [
        pytest.param(DateTrigger, "run_date", START, id="date"),
        pytest.param(
            lambda: CalendarIntervalTrigger(days=1, hour=9, timezone="UTC"),
            "start_date",
            START.date(),
            id="calendarinterval",
        ),
        pytest.param(
            lambda: OrTrigger([IntervalTrigger(hours=1), DateTrigger()]),
            "triggers",
            [START + timedelta(hours=1), START],
            id="or",
        ),
    ],
)
def test_trigger_instances_take_their_now_defaults_from_the_scheduler_clock(
    trigger: Callable[[], BaseTrigger], attribute: str, expected: object
) -> None:
    scheduler = GeventScheduler(clock=MockClock(START), timezone="UTC")
    job = scheduler.add_job(noop, trigger())
    value = getattr(job.trigger, attribute)
    if attribute == "triggers":
        value = [getattr(inner, "start_date", None) or inner.run_date for inner in value]
    assert value == expected


def test_reschedule_job_takes_the_now_defaults_from_the_scheduler_clock() -> None:
    clock = MockClock(START)
    scheduler = GeventScheduler(clock=clock, timezone="UTC")
    scheduler.add_job(noop, "date", run_date=START + timedelta(days=1), id="once")
    scheduler.start(paused=True)
    clock.jump(30)
    job = scheduler.reschedule_job("once", trigger=IntervalTrigger(minutes=1))
    scheduler.shutdown()
    assert job.next_run_time == START + timedelta(seconds=90)


def test_with_autojump_the_loop_runs_a_day_of_schedule_by_itself() -> None:
    clock = MockClock(START, autojump=True)
    scheduler = GeventScheduler(clock=clock, timezone="UTC")
    times: list[datetime] = []
    done = gevent.event.Event()

    def tick() -> None:
        times.append(clock.now())
        if len(times) == 24:
            done.set()

    scheduler.add_job(tick, "interval", hours=1)
    scheduler.start()
    assert done.wait(PATIENCE)  # a real-time guard: mock time moves only when all is idle
    scheduler.shutdown()
    assert times == [START + timedelta(hours=hour) for hour in range(1, 25)]


def test_modify_job_fills_in_a_new_trigger_defaults_from_the_scheduler_clock() -> None:
    clock = MockClock(START)
    scheduler = GeventScheduler(clock=clock, timezone="UTC")
    job = scheduler.add_job(noop, "date", run_date=START + timedelta(days=1), id="once")
    clock.jump(30)
    trigger = IntervalTrigger(minutes=1)
    scheduler.modify_job("once", trigger=trigger)
    assert job.trigger is trigger
    assert trigger.start_date == START + timedelta(seconds=90)
