"""The processing loop (``_process_jobs``) driven on a mock clock: no sleeping, no greenlets; its
fast paths (a burst handled in rounds, events made only for listeners, the trigger asked once per
fire time, a trigger's naive time localized)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import gevent
import pytest

from greensched.events import (
    EVENT_JOB_ADDED,
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    EVENT_JOB_REMOVED,
    EVENT_JOB_SUBMITTED,
    JobEvent,
    JobExecutionEvent,
    JobSubmissionEvent,
    SchedulerEvent,
)
from greensched.executors.debug import DebugExecutor
from greensched.job import Job
from greensched.jobstores.memory import ACQUIRE_LIMIT, MemoryJobStore
from greensched.schedulers import _loop
from greensched.schedulers.base import TIMEOUT_MAX
from greensched.testing import MockClock
from greensched.triggers.base import BaseTrigger
from greensched.triggers.interval import IntervalTrigger

from .conftest import RecordingExecutor, RecordingScheduler

calls: list[Any] = []


def record(value: Any = None) -> Any:
    calls.append(value)
    return value


def fail() -> None:
    raise ValueError("job failed")


@pytest.fixture(autouse=True)
def _clear_calls() -> None:
    calls.clear()


def job_codes(events: list[SchedulerEvent]) -> list[tuple[int, str]]:
    """The job events other than EVENT_JOB_ADDED, as (code, job id)."""
    return [
        (event.code, event.job_id)
        for event in events
        if isinstance(event, JobEvent) and event.code != EVENT_JOB_ADDED
    ]


class BrokenStore(MemoryJobStore):
    """A store whose due-job query fails (a database that is down) while ``down``."""

    down = True

    def get_due_jobs(self, now: datetime) -> list[Job]:
        if self.down:
            raise ConnectionError("database is down,\n  says the driver on two lines")
        return super().get_due_jobs(now)


def test_no_jobs_means_no_wakeup(scheduler: RecordingScheduler) -> None:
    scheduler.start()
    assert scheduler._process_jobs() is None


def test_returns_seconds_until_next_run(
    scheduler: RecordingScheduler, mock_clock: MockClock
) -> None:
    scheduler.start()
    scheduler.add_job(record, "interval", seconds=90)
    assert scheduler._process_jobs() == 90.0
    mock_clock.jump(30.5)
    assert scheduler._process_jobs() == 59.5


def test_wait_is_capped(scheduler: RecordingScheduler, mock_clock: MockClock) -> None:
    scheduler.start()
    scheduler.add_job(record, "interval", weeks=100)
    assert scheduler._process_jobs() == TIMEOUT_MAX


def test_due_job_is_submitted_and_rescheduled(
    scheduler: RecordingScheduler,
    executor: RecordingExecutor,
    mock_clock: MockClock,
    events: list[SchedulerEvent],
) -> None:
    scheduler.start()
    job = scheduler.add_job(record, "interval", seconds=10, id="tick")
    first = job.next_run_time
    mock_clock.jump(10)
    assert scheduler._process_jobs() == 10.0
    assert executor.submitted == [("tick", [first])]
    assert job.next_run_time == first + timedelta(seconds=10)
    assert job_codes(events)[-1] == (EVENT_JOB_SUBMITTED, "tick")
    assert events[-1].scheduled_run_times == [first]  # type: ignore[attr-defined]


def test_daily_job_runs_on_the_mock_clock(
    scheduler: RecordingScheduler, executor: RecordingExecutor, mock_clock: MockClock
) -> None:
    """A daily job, driven for a week of mock time without sleeping."""
    scheduler.start()
    scheduler.add_job(record, "interval", days=1, id="daily")
    for _ in range(7):
        wait = scheduler._process_jobs()
        assert wait == 86400.0
        mock_clock.jump(wait)
        scheduler._process_jobs()
        executor.finish("daily")
        mock_clock.jump(0)
    assert len(executor.submitted) == 7


def test_coalesce_submits_only_the_last_missed_run(
    scheduler: RecordingScheduler, executor: RecordingExecutor, mock_clock: MockClock
) -> None:
    scheduler.start()
    job = scheduler.add_job(record, "interval", minutes=1, id="c", coalesce=True)
    start = job.next_run_time
    mock_clock.jump(timedelta(minutes=5, seconds=30))
    scheduler._process_jobs()
    assert executor.submitted == [("c", [start + timedelta(minutes=4)])]
    assert job.next_run_time == start + timedelta(minutes=5)


def test_without_coalesce_every_missed_run_is_submitted(
    scheduler: RecordingScheduler, executor: RecordingExecutor, mock_clock: MockClock
) -> None:
    scheduler.start()
    job = scheduler.add_job(record, "interval", minutes=1, id="n", coalesce=False)
    start = job.next_run_time
    mock_clock.jump(timedelta(minutes=3))
    scheduler._process_jobs()
    assert executor.submitted == [("n", [start + timedelta(minutes=i) for i in range(3)])]


def test_max_instances_reached(
    scheduler: RecordingScheduler,
    executor: RecordingExecutor,
    mock_clock: MockClock,
    events: list[SchedulerEvent],
    caplog: pytest.LogCaptureFixture,
) -> None:
    scheduler.start()
    job = scheduler.add_job(record, "interval", seconds=10, id="m", max_instances=1)
    mock_clock.jump(10)
    scheduler._process_jobs()
    mock_clock.jump(10)
    with caplog.at_level(logging.WARNING):
        scheduler._process_jobs()
    assert len(executor.submitted) == 1
    assert job_codes(events)[-2:] == [(EVENT_JOB_SUBMITTED, "m"), (EVENT_JOB_MAX_INSTANCES, "m")]
    assert "maximum number of running instances reached (1)" in caplog.text
    # the skipped run is not retried: the job moved on to its next run time
    assert job.next_run_time == mock_clock.now() + timedelta(seconds=10)
    executor.finish("m")
    mock_clock.jump(10)
    scheduler._process_jobs()
    assert len(executor.submitted) == 2


def test_job_with_missing_executor_is_removed(
    scheduler: RecordingScheduler,
    mock_clock: MockClock,
    events: list[SchedulerEvent],
    caplog: pytest.LogCaptureFixture,
) -> None:
    scheduler.add_executor(RecordingExecutor(), "temporary")
    scheduler.start()
    scheduler.add_job(record, "interval", seconds=10, id="orphan", executor="temporary")
    scheduler.remove_executor("temporary")
    mock_clock.jump(10)
    with caplog.at_level(logging.ERROR):
        assert scheduler._process_jobs() is None
    assert scheduler.get_job("orphan") is None
    assert job_codes(events)[-1] == (EVENT_JOB_REMOVED, "orphan")
    assert (
        """Executor lookup ('temporary') failed for job 'orphan' ("record") -- removing it from """
        "the job store" in caplog.messages
    )


def test_failing_store_is_retried_after_the_retry_interval(
    scheduler: RecordingScheduler, mock_clock: MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    scheduler.configure(
        clock=mock_clock, jobstore_retry_interval=7, jobstores={"broken": BrokenStore()}
    )
    scheduler.start()
    scheduler.add_job(record, "interval", seconds=60, id="fine")
    with caplog.at_level(logging.WARNING):
        assert scheduler._process_jobs() == 7.0
    assert (
        "Error getting due jobs from job store 'broken': database is down, says the driver on "
        "two lines; retrying every 7 s until it answers"
    ) in caplog.messages


def test_a_store_outage_is_logged_when_it_begins_and_when_it_ends(
    scheduler: RecordingScheduler, mock_clock: MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    store = BrokenStore()
    scheduler.configure(clock=mock_clock, jobstore_retry_interval=7, jobstores={"db": store})
    scheduler.start()
    with caplog.at_level(logging.WARNING):
        for _ in range(4):  # four failing rounds, 7 s apart
            assert scheduler._process_jobs() == 7.0
            mock_clock.jump(7)
        store.down = False
        assert scheduler._process_jobs() is None
        assert scheduler._process_jobs() is None
    assert caplog.messages == [
        (
            "Error getting due jobs from job store 'db': database is down, says the driver on two "
            "lines; retrying every 7 s until it answers"
        ),
        "Job store 'db' answers again, after 28.0 s of failures",
    ]


class NoNextRunTimeStore(MemoryJobStore):
    """A store that hands out its due jobs but cannot say its next run time."""

    def get_next_run_time(self) -> datetime | None:
        raise ConnectionError("connection reset")


def test_a_store_that_cannot_say_its_next_run_time_is_named_and_retried(
    scheduler: RecordingScheduler, mock_clock: MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    scheduler.configure(
        clock=mock_clock, jobstore_retry_interval=5, jobstores={"db": NoNextRunTimeStore()}
    )
    scheduler.start()
    with caplog.at_level(logging.WARNING):
        assert scheduler._process_jobs() == 5.0
    assert caplog.messages == [
        (
            "Error getting the next run time from job store 'db': connection reset; retrying "
            "every 5 s until it answers"
        )
    ]


def test_a_failing_store_does_not_stop_the_others(
    scheduler: RecordingScheduler, executor: RecordingExecutor, mock_clock: MockClock
) -> None:
    scheduler.configure(
        clock=mock_clock,
        executors={"default": executor},
        jobstores={"broken": BrokenStore(), "default": MemoryJobStore()},
    )
    scheduler.start()
    scheduler.add_job(record, "interval", seconds=5, id="fine")
    mock_clock.jump(5)
    scheduler._process_jobs()
    assert [job_id for job_id, _ in executor.submitted] == ["fine"]


def test_finished_date_job_events_come_in_causal_order(
    scheduler: RecordingScheduler, mock_clock: MockClock, events: list[SchedulerEvent]
) -> None:
    """SUBMITTED before the REMOVED of the finished one-off job (APScheduler 3.x has them the
    other way round)."""
    scheduler.start()
    scheduler.add_job(record, "date", run_date=mock_clock.now() + timedelta(seconds=5), id="once")
    mock_clock.jump(5)
    assert scheduler._process_jobs() is None
    assert job_codes(events) == [(EVENT_JOB_SUBMITTED, "once"), (EVENT_JOB_REMOVED, "once")]
    assert scheduler.get_jobs() == []


def test_paused_job_is_not_run(
    scheduler: RecordingScheduler, executor: RecordingExecutor, mock_clock: MockClock
) -> None:
    scheduler.start()
    scheduler.add_job(record, "interval", seconds=5, id="p")
    scheduler.pause_job("p")
    mock_clock.jump(60)
    assert scheduler._process_jobs() is None
    assert executor.submitted == []


def test_submission_error_is_logged_and_the_job_moves_on(
    scheduler: RecordingScheduler, mock_clock: MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    class FailingExecutor(RecordingExecutor):
        def _do_submit_job(self, job: Job, run_times: Any) -> None:
            raise OSError("no workers")

    scheduler.add_executor(FailingExecutor(), "failing")
    scheduler.start()
    job = scheduler.add_job(record, "interval", seconds=5, id="f", executor="failing")
    mock_clock.jump(5)
    with caplog.at_level(logging.ERROR):
        assert scheduler._process_jobs() == 5.0
    assert """Error submitting job 'f' ("record") to executor 'failing'""" in caplog.messages
    assert job.next_run_time == mock_clock.now() + timedelta(seconds=5)


class TestWithDebugExecutor:
    """Runs inline, so the whole path from due job to execution event is visible."""

    @pytest.fixture
    def inline(
        self, mock_clock: MockClock, timezone: Any, events: list[SchedulerEvent]
    ) -> RecordingScheduler:
        scheduler = RecordingScheduler(
            clock=mock_clock, timezone=timezone, executors={"default": DebugExecutor()}
        )
        scheduler.add_listener(events.append)
        scheduler.start()
        return scheduler

    def test_job_runs_with_its_arguments(
        self, inline: RecordingScheduler, mock_clock: MockClock, events: list[SchedulerEvent]
    ) -> None:
        inline.add_job(record, "interval", seconds=1, args=["hello"], id="r")
        mock_clock.jump(1)
        inline._process_jobs()
        assert calls == ["hello"]
        executed = [e for e in events if e.code == EVENT_JOB_EXECUTED]
        assert len(executed) == 1
        assert isinstance(executed[0], JobExecutionEvent)
        assert executed[0].retval == "hello"

    def test_job_error_event_carries_exception_and_traceback(
        self, inline: RecordingScheduler, mock_clock: MockClock, events: list[SchedulerEvent]
    ) -> None:
        inline.add_job(fail, "interval", seconds=1, id="bad")
        mock_clock.jump(1)
        inline._process_jobs()
        errors = [e for e in events if e.code == EVENT_JOB_ERROR]
        assert len(errors) == 1
        assert isinstance(errors[0].exception, ValueError)  # type: ignore[attr-defined]
        assert "job failed" in str(errors[0].exception)  # type: ignore[attr-defined]
        assert 'raise ValueError("job failed")' in errors[0].traceback  # type: ignore[attr-defined]

    def test_runs_later_than_the_grace_time_are_missed(
        self, inline: RecordingScheduler, mock_clock: MockClock, events: list[SchedulerEvent]
    ) -> None:
        job = inline.add_job(
            record, "interval", minutes=1, id="late", coalesce=False, misfire_grace_time=30
        )
        start = job.next_run_time
        mock_clock.jump(timedelta(minutes=3, seconds=10))
        inline._process_jobs()
        outcome = [
            (e.code, e.scheduled_run_time - start)  # type: ignore[attr-defined]
            for e in events
            if e.code in (EVENT_JOB_MISSED, EVENT_JOB_EXECUTED)
        ]
        assert outcome == [
            (EVENT_JOB_MISSED, timedelta(0)),  # 130 s late
            (EVENT_JOB_MISSED, timedelta(minutes=1)),  # 70 s late
            (EVENT_JOB_EXECUTED, timedelta(minutes=2)),  # 10 s late: within the grace time
        ]

    def test_no_grace_limit_runs_however_late(
        self, inline: RecordingScheduler, mock_clock: MockClock
    ) -> None:
        inline.add_job(record, "interval", hours=1, args=["late"], misfire_grace_time=None)
        mock_clock.jump(timedelta(days=3))
        inline._process_jobs()
        assert calls == ["late"]


class FailingAfterFirstTrigger(BaseTrigger):
    """Fires once at ``first``, then raises as an interval past ``datetime.max`` would."""

    def __init__(self, first: datetime) -> None:
        self.first = first

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        if previous_fire_time is None:
            return self.first
        raise OverflowError("date value out of range")

    def __str__(self) -> str:
        return "failing"


def test_a_trigger_that_raises_pauses_its_job_instead_of_spinning(
    scheduler: RecordingScheduler,
    executor: RecordingExecutor,
    mock_clock: MockClock,
    events: list[SchedulerEvent],
    caplog: pytest.LogCaptureFixture,
) -> None:
    scheduler.start()
    first = mock_clock.now() + timedelta(seconds=5)
    job = scheduler.add_job(record, FailingAfterFirstTrigger(first), id="broken")
    scheduler.add_job(record, "interval", seconds=60, id="healthy")
    mock_clock.jump(5)
    with caplog.at_level(logging.ERROR):
        assert scheduler._process_jobs() == 55.0  # the healthy job's, not 0: nothing spins
        assert scheduler._process_jobs() == 55.0
    assert executor.submitted == []
    assert job.next_run_time is None  # paused, in the store too
    assert scheduler.get_job("broken").next_run_time is None
    (record_,) = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert record_.getMessage() == (
        "Error working out the runs of job 'broken' (\"record\") in job store 'default': paused "
        "until it is "
        "modified or resumed"
    )
    (error,) = [e for e in events if e.code == EVENT_JOB_ERROR]
    assert isinstance(error, JobExecutionEvent)
    assert (error.job_id, error.jobstore, error.scheduled_run_time) == ("broken", "default", first)
    assert isinstance(error.exception, OverflowError)
    assert "date value out of range" in error.traceback


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


class LimitedStore(MemoryJobStore):
    """A memory store that hands out at most ``acquire_limit`` due jobs a round (as a shared
    store's claim does) and counts how often the loop asks it for its next run time."""

    acquire_limit = 3

    def __init__(self) -> None:
        super().__init__()
        self.next_asked = 0

    def acquire_due_jobs(self, now: datetime) -> list[Job]:
        return self.get_due_jobs(now)[: self.acquire_limit]

    def get_next_run_time(self) -> datetime | None:
        self.next_asked += 1
        return super().get_next_run_time()


def test_after_a_full_batch_the_next_round_comes_at_once_without_asking_the_next_run_time(
    scheduler: RecordingScheduler, executor: RecordingExecutor, mock_clock: MockClock
) -> None:
    """A store that returns as many due jobs as it hands out at once has more due, likely: the
    loop does not ask it for its next run time (a round trip on a shared store). A round
    that takes fewer asks, and waits for it."""
    store = LimitedStore()
    scheduler.configure(
        clock=mock_clock, executors={"default": executor}, jobstores={"default": store}
    )
    scheduler.start()
    now = mock_clock.now()
    for index in range(7):
        scheduler.add_job(noop, "date", run_date=now + timedelta(seconds=1), id=f"j{index}")
    scheduler.add_job(noop, "date", run_date=now + timedelta(seconds=5), id="later")
    mock_clock.jump(2)
    asked = store.next_asked
    assert scheduler._process_jobs() == 0.0
    assert scheduler._process_jobs() == 0.0
    assert store.next_asked == asked
    assert scheduler._process_jobs() == pytest.approx(3.0)  # one due: the next look is asked
    assert store.next_asked == asked + 1
    assert [job_id for job_id, _ in executor.submitted] == [f"j{index}" for index in range(7)]


class WatchedStore(MemoryJobStore):
    """A memory store that notes, at each step of a round, how many times a watching greenlet
    has run so far."""

    def __init__(self, ticks: list[int]) -> None:
        super().__init__()
        self.ticks = ticks
        self.steps: list[tuple[str, int]] = []

    def acquire_due_jobs(self, now: datetime) -> list[Job]:
        jobs = super().acquire_due_jobs(now)
        self.steps.append(("acquired", len(self.ticks)))
        return jobs

    def release_due_jobs(self, updated: Any, removed: Any) -> Any:
        self.steps.append(("releasing", len(self.ticks)))
        return super().release_due_jobs(updated, removed)


@pytest.mark.parametrize("due", [_loop.SHARE_BATCH - 1, _loop.SHARE_BATCH])
def test_a_large_round_lets_other_greenlets_run_before_storing_its_results(
    scheduler: RecordingScheduler, executor: RecordingExecutor, mock_clock: MockClock, due: int
) -> None:
    """From SHARE_BATCH due jobs on, the loop lets the hub run after taking them and after
    working out their runs (a shared store's batch is costly to restore and to store again),
    and nothing of the round is submitted before the store records it."""
    ticks: list[int] = []

    def watch() -> None:
        while True:
            ticks.append(len(executor.submitted))
            gevent.sleep(0)

    store = WatchedStore(ticks)
    scheduler.configure(
        clock=mock_clock, executors={"default": executor}, jobstores={"default": store}
    )
    scheduler.start()
    now = mock_clock.now()
    for index in range(due):
        scheduler.add_job(noop, "date", run_date=now + timedelta(seconds=1), id=f"j{index:03d}")
    mock_clock.jump(2)
    watcher = gevent.spawn(watch)
    gevent.sleep(0)
    try:
        store.steps.clear()
        scheduler._process_jobs()
    finally:
        watcher.kill()
    (_, at_acquire), (_, at_release) = store.steps
    assert at_release - at_acquire == (2 if due >= _loop.SHARE_BATCH else 0)
    assert ticks[:at_release] == [0] * at_release  # nothing submitted before the release
    assert len(executor.submitted) == due


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


#: a job's period, in the pacing tests: due runs close together (three within BATCH_WAIT)
TICK = _loop.BATCH_WAIT / 3


def add_ticking_job(scheduler: RecordingScheduler) -> Job:
    """A job due every TICK seconds (never held back by max_instances)."""
    return scheduler.add_job(noop, "interval", seconds=TICK, id="tick", max_instances=10**9)


def test_below_the_batch_rate_the_loop_wakes_at_each_run_time(
    quiet: RecordingScheduler, executor: RecordingExecutor, mock_clock: MockClock
) -> None:
    """No minimum wait: runs due TICK apart (well below the batch rate) start on time."""
    add_ticking_job(quiet)
    rounds = 3 * round(_loop.PACE_PERIOD / TICK)  # the rate is measured, and measured again
    for _ in range(rounds):
        wait = quiet._process_jobs()
        assert wait == pytest.approx(TICK, abs=1e-6)
        mock_clock.jump(wait)
    assert len(executor.submitted) == rounds - 1  # the first round came before the first run


def add_burst(scheduler: RecordingScheduler, count: int, run_date: datetime) -> None:
    for index in range(count):
        scheduler.add_job(noop, "date", run_date=run_date, id=f"burst{index:05d}")


def test_from_the_batch_rate_on_rounds_are_batch_wait_apart(
    quiet: RecordingScheduler, executor: RecordingExecutor, mock_clock: MockClock
) -> None:
    """Once the loop has counted BATCH_RATE due runs a second over PACE_PERIOD, a wait shorter
    than BATCH_WAIT lasts BATCH_WAIT; a wait of zero (more due at once) stays zero; and once
    the rate has fallen for a period, the loop wakes at each run time again."""
    add_ticking_job(quiet)
    now = mock_clock.now()
    burst = round(1.1 * _loop.BATCH_RATE * _loop.PACE_PERIOD)  # above the batch rate
    add_burst(quiet, burst, now + timedelta(seconds=_loop.PACE_PERIOD / 2))
    assert quiet._process_jobs() == pytest.approx(TICK, abs=1e-6)  # starts the first count
    mock_clock.jump(_loop.PACE_PERIOD / 2)
    while (wait := quiet._process_jobs()) == 0.0:  # the burst, in rounds of ACQUIRE_LIMIT
        pass
    assert wait == pytest.approx(TICK, abs=1e-6)  # not batching yet: the period goes on
    mock_clock.jump(_loop.PACE_PERIOD / 2 + TICK)
    assert quiet._process_jobs() == _loop.BATCH_WAIT  # the period ends: batching
    assert {job_id for job_id, _ in executor.submitted} >= {f"burst{i:05d}" for i in range(burst)}

    add_burst(quiet, ACQUIRE_LIMIT + 1, mock_clock.now())
    assert quiet._process_jobs() == 0.0  # more due at once: no wait at all

    rounds = 0
    while (wait := quiet._process_jobs()) == _loop.BATCH_WAIT:  # about 8000 due/s still
        mock_clock.jump(wait)
        rounds += 1
    assert wait == pytest.approx(TICK, abs=1e-6)  # the rate has fallen: on time again
    # The period that saw the last burst, then one of ticks only (3 in each BATCH_WAIT)
    assert rounds <= 2 * _loop.PACE_PERIOD / _loop.BATCH_WAIT + 1


class CountingStore(MemoryJobStore):
    """A memory store that counts how often the loop asks it for due jobs."""

    def __init__(self) -> None:
        super().__init__()
        self.asked = 0

    def acquire_due_jobs(self, now: datetime) -> list[Job]:
        self.asked += 1
        return super().acquire_due_jobs(now)


def test_a_round_only_the_timer_woke_asks_only_the_stores_with_something_due(
    quiet: RecordingScheduler, executor: RecordingExecutor, mock_clock: MockClock
) -> None:
    """A store beside a busy one is asked when its own next run time comes, or when the loop
    is woken (a job added, changed...), not at each of the busy store's run times."""
    other = CountingStore()
    quiet.add_jobstore(other, "other")
    add_ticking_job(quiet)
    later = quiet.add_job(noop, "interval", seconds=1, id="later", jobstore="other")
    assert quiet._process_jobs() == pytest.approx(TICK, abs=1e-6)  # woken: every store asked
    assert other.asked == 1
    quiet._timer_round = True
    for _ in range(round(1 / TICK) - 1):
        mock_clock.jump(quiet._process_jobs() or 0)
    assert other.asked == 1
    mock_clock.set(later.next_run_time)  # type: ignore[arg-type]
    quiet._process_jobs()
    assert other.asked == 2
    assert executor.submitted[-1][0] == "later"
    quiet._process_jobs()
    assert other.asked == 2
    quiet._timer_round = False  # woken by wakeup(): something may have changed anywhere
    quiet._process_jobs()
    assert other.asked == 3


def test_a_failing_store_is_retried_after_the_retry_interval_only(
    scheduler: RecordingScheduler, executor: RecordingExecutor, mock_clock: MockClock
) -> None:
    """Not at each round of a busy store beside it (unless the loop is woken)."""
    broken = BrokenStore()
    scheduler.configure(
        clock=mock_clock,
        executors={"default": executor},
        jobstore_retry_interval=0.7,
        jobstores={"broken": broken},
    )
    scheduler.start()
    add_ticking_job(scheduler)
    asked: list[float] = []
    original = broken.get_due_jobs

    def get_due_jobs(now: datetime) -> list[Job]:
        asked.append(mock_clock.monotonic())
        return original(now)

    broken.get_due_jobs = get_due_jobs  # type: ignore[method-assign]
    scheduler._timer_round = True
    start = mock_clock.monotonic()
    while mock_clock.monotonic() - start < 1.5:
        mock_clock.jump(scheduler._process_jobs() or 0)
    assert asked == pytest.approx([start, start + 0.7, start + 1.4], abs=2 * TICK)
    assert len(executor.submitted) > 1000  # the ticking job ran meanwhile


def test_a_clock_set_back_starts_a_new_count_of_due_runs(quiet: RecordingScheduler) -> None:
    """The rate is counted on the rounds' wall time: set back, it counts again from there,
    neither batching on a negative span nor waiting for the clock to catch up."""
    start = 1_000_000.0
    quiet._pace(0, start)
    set_back = start - 3600
    assert quiet._pace(_loop.BATCH_RATE, set_back) is False
    two_periods = 2 * _loop.PACE_PERIOD
    assert quiet._pace(round(_loop.BATCH_RATE * two_periods), set_back + two_periods) is True
