"""The processing loop's fast paths: a burst handled in rounds, events made only for listeners,
the trigger asked once per fire time, a trigger's naive time localized."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from greensched.events import (
    EVENT_JOB_ADDED,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_REMOVED,
    EVENT_JOB_SUBMITTED,
    JobEvent,
    JobSubmissionEvent,
    SchedulerEvent,
)
from greensched.jobstores.memory import ACQUIRE_LIMIT
from greensched.schedulers import _loop
from greensched.testing import MockClock
from greensched.triggers.base import BaseTrigger
from greensched.triggers.interval import IntervalTrigger

from .conftest import RecordingExecutor, RecordingScheduler


def noop() -> None:
    pass


@pytest.fixture
def quiet(mock_clock: MockClock, timezone: Any, executor: RecordingExecutor) -> RecordingScheduler:
    """A started scheduler with no listener."""
    scheduler = RecordingScheduler(
        clock=mock_clock, timezone=timezone, executors={"default": executor}
    )
    scheduler.start()
    return scheduler


def test_a_burst_is_submitted_in_rounds_earliest_first(
    scheduler: RecordingScheduler, executor: RecordingExecutor, mock_clock: MockClock
) -> None:
    scheduler.start()
    now = mock_clock.now()
    count = ACQUIRE_LIMIT + 5
    for index in range(count):
        run_date = now + timedelta(microseconds=count - index)  # the last added is due first
        scheduler.add_job(noop, "date", run_date=run_date, id=f"j{index:05d}")
    mock_clock.jump(1)
    assert scheduler._process_jobs() == 0.0  # more are due: the next round comes at once
    assert len(executor.submitted) == ACQUIRE_LIMIT
    assert scheduler._process_jobs() is None  # all done, no job left
    submitted = [job_id for job_id, _ in executor.submitted]
    assert submitted == [f"j{index:05d}" for index in reversed(range(count))]


def test_no_event_is_made_for_codes_nobody_listens_for(
    quiet: RecordingScheduler,
    executor: RecordingExecutor,
    mock_clock: MockClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[SchedulerEvent] = []

    class CountedSubmission(JobSubmissionEvent):
        def __init__(self, *args: Any) -> None:
            super().__init__(*args)
            made.append(self)

    class CountedJobEvent(JobEvent):
        def __init__(self, *args: Any) -> None:
            super().__init__(*args)
            if self.code != EVENT_JOB_ADDED:  # made by add_job, not by the loop
                made.append(self)

    monkeypatch.setattr(_loop, "JobSubmissionEvent", CountedSubmission)
    monkeypatch.setattr(_loop, "JobEvent", CountedJobEvent)
    quiet.add_job(noop, "interval", seconds=5, id="busy", max_instances=1)
    quiet.add_job(noop, "date", run_date=mock_clock.now() + timedelta(seconds=5), id="once")
    mock_clock.jump(5)
    quiet._process_jobs()
    mock_clock.jump(5)
    quiet._process_jobs()  # "busy" is still running: max instances
    assert [job_id for job_id, _ in executor.submitted] == ["busy", "once"]
    assert made == []

    received: list[SchedulerEvent] = []
    quiet.add_listener(
        received.append, EVENT_JOB_SUBMITTED | EVENT_JOB_MAX_INSTANCES | EVENT_JOB_REMOVED
    )
    quiet.add_job(noop, "date", run_date=mock_clock.now() + timedelta(seconds=5), id="twice")
    mock_clock.jump(5)
    quiet._process_jobs()
    assert [(event.code, event.job_id) for event in made] == [  # type: ignore[attr-defined]
        (EVENT_JOB_MAX_INSTANCES, "busy"),
        (EVENT_JOB_SUBMITTED, "twice"),
        (EVENT_JOB_REMOVED, "twice"),
    ]
    assert received == made


class CountingTrigger(IntervalTrigger):
    __slots__ = ("calls",)

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        self.calls = getattr(self, "calls", 0) + 1
        return super().get_next_fire_time(previous_fire_time, now)


def test_the_trigger_is_asked_once_per_fire_time(
    quiet: RecordingScheduler, executor: RecordingExecutor, mock_clock: MockClock
) -> None:
    trigger = CountingTrigger(seconds=10, start_date=mock_clock.now() + timedelta(seconds=10))
    job = quiet.add_job(noop, trigger, id="tick", coalesce=False)
    first = job.next_run_time
    assert first is not None
    trigger.calls = 0
    mock_clock.jump(25)  # two run times due
    quiet._process_jobs()
    assert executor.submitted == [("tick", [first, first + timedelta(seconds=10)])]
    assert job.next_run_time == first + timedelta(seconds=20)
    assert trigger.calls == 2


class NaiveTrigger(BaseTrigger):
    """Fires once at a naive time (a third-party trigger that forgot the zone)."""

    __slots__ = ("times",)

    def __init__(self, *times: datetime) -> None:
        self.times = list(times)

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        return self.times.pop(0) if self.times else None


def test_a_naive_next_fire_time_is_taken_in_the_scheduler_zone(
    quiet: RecordingScheduler, mock_clock: MockClock, timezone: Any
) -> None:
    now = mock_clock.now()
    trigger = NaiveTrigger(
        now.replace(tzinfo=None) + timedelta(seconds=1),
        now.replace(tzinfo=None) + timedelta(hours=1),
    )
    job = quiet.add_job(noop, trigger, id="naive")
    mock_clock.jump(1)
    quiet._process_jobs()
    assert job.next_run_time == (now + timedelta(hours=1)).replace(tzinfo=timezone)
    assert job.next_run_time.tzinfo is timezone  # type: ignore[union-attr]
