"""The processing loop's contract with stores shared by several processes: a round's results are
stored (``release_due_jobs``) before any run is submitted, lost claims are not run, a failed
release runs nothing, and a store's ``poll_interval`` bounds the wait."""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta, timezone

import gevent
import gevent.event
import pytest

from greensched.events import (
    EVENT_ALL,
    EVENT_JOB_CLAIM_LOST,
    EVENT_JOB_REMOVED,
    EVENT_JOB_SUBMITTED,
    JobEvent,
    SchedulerEvent,
)
from greensched.job import Job
from greensched.jobstores.memory import MemoryJobStore
from greensched.schedulers.gevent import GeventScheduler
from greensched.testing import MockClock

from .conftest import RecordingExecutor, RecordingScheduler


def noop() -> None:
    pass


class ClaimingStore(MemoryJobStore):
    """A memory store that records the loop's calls, and can lose claims or fail to release."""

    def __init__(self, executor: RecordingExecutor) -> None:
        super().__init__()
        self.executor = executor
        self.lose: set[str] = set()
        self.fail_release = False
        self.releases: list[tuple[list[str], list[str], int]] = []

    def release_due_jobs(self, updated: Sequence[Job], removed: Sequence[Job]) -> Collection[str]:
        # what had been submitted when the results were stored
        self.releases.append(
            (
                [job.id for job in updated],
                [job.id for job in removed],
                len(self.executor.submitted),
            )
        )
        if self.fail_release:
            raise ConnectionError("server closed the connection")
        kept = [job for job in updated if job.id not in self.lose]
        gone = [job for job in removed if job.id not in self.lose]
        super().release_due_jobs(kept, gone)
        return set(self.lose)


@pytest.fixture
def store(scheduler: RecordingScheduler, executor: RecordingExecutor) -> ClaimingStore:
    store = ClaimingStore(executor)
    scheduler.add_jobstore(store, "default")
    scheduler.start()
    return store


def job_codes(events: list[SchedulerEvent]) -> list[tuple[int, str]]:
    return [
        (event.code, event.job_id)
        for event in events
        if isinstance(event, JobEvent) and event.code in (EVENT_JOB_SUBMITTED, EVENT_JOB_REMOVED)
    ]


def test_results_are_stored_before_any_run_is_submitted(
    scheduler: RecordingScheduler,
    executor: RecordingExecutor,
    store: ClaimingStore,
    mock_clock: MockClock,
) -> None:
    start = mock_clock.now()
    scheduler.add_job(noop, "interval", seconds=5, id="every5")
    scheduler.add_job(noop, "date", run_date=start, id="once")
    mock_clock.jump(5)
    scheduler._process_jobs()
    assert store.releases == [(["every5"], ["once"], 0)]
    assert sorted(job_id for job_id, _ in executor.submitted) == ["every5", "once"]
    job = store.lookup_job("every5")
    assert job is not None
    assert job.next_run_time is not None
    assert job.next_run_time.timestamp() == start.timestamp() + 10


def test_a_lost_claim_is_not_run_and_reported_in_the_log(
    scheduler: RecordingScheduler,
    executor: RecordingExecutor,
    store: ClaimingStore,
    mock_clock: MockClock,
    events: list[SchedulerEvent],
    caplog: pytest.LogCaptureFixture,
) -> None:
    scheduler.add_job(noop, "interval", seconds=5, id="mine")
    scheduler.add_job(noop, "interval", seconds=5, id="taken")
    store.lose = {"taken"}
    mock_clock.jump(5)
    with caplog.at_level(logging.WARNING):
        scheduler._process_jobs()
    assert [job_id for job_id, _ in executor.submitted] == ["mine"]
    assert job_codes(events) == [(EVENT_JOB_SUBMITTED, "mine")]
    taken = """Not running job 'taken' ("noop")"""
    assert caplog.messages == [
        f"{taken}: another process took it over, or it was changed or removed while it was due"
    ]


def test_a_lost_claim_is_an_event_for_those_who_listen_for_it(
    scheduler: RecordingScheduler,
    store: ClaimingStore,
    mock_clock: MockClock,
    events: list[SchedulerEvent],
) -> None:
    lost: list[JobEvent] = []
    scheduler.add_listener(lost.append, EVENT_JOB_CLAIM_LOST)
    scheduler.add_job(noop, "interval", seconds=5, id="mine")
    scheduler.add_job(noop, "interval", seconds=5, id="taken")
    store.lose = {"taken"}
    mock_clock.jump(5)
    scheduler._process_jobs()
    assert [(event.code, event.job_id, event.jobstore) for event in lost] == [
        (EVENT_JOB_CLAIM_LOST, "taken", "default")
    ]
    # greensched's own code: a listener of EVENT_ALL (APScheduler's codes) does not get it
    assert not EVENT_ALL & EVENT_JOB_CLAIM_LOST
    assert all(event.code != EVENT_JOB_CLAIM_LOST for event in events)


def test_a_lost_finished_job_is_neither_run_nor_reported_removed(
    scheduler: RecordingScheduler,
    executor: RecordingExecutor,
    store: ClaimingStore,
    mock_clock: MockClock,
    events: list[SchedulerEvent],
) -> None:
    scheduler.add_job(noop, "date", run_date=mock_clock.now(), id="once")
    store.lose = {"once"}
    scheduler._process_jobs()
    assert executor.submitted == []
    assert job_codes(events) == []


def test_a_failed_release_runs_nothing_and_retries_after_the_retry_interval(
    scheduler: RecordingScheduler,
    executor: RecordingExecutor,
    store: ClaimingStore,
    mock_clock: MockClock,
    events: list[SchedulerEvent],
    caplog: pytest.LogCaptureFixture,
) -> None:
    scheduler.jobstore_retry_interval = 3
    scheduler.add_job(noop, "interval", seconds=60, id="job")
    mock_clock.jump(60)
    store.fail_release = True
    with caplog.at_level(logging.WARNING):
        assert scheduler._process_jobs() == 3.0
    assert executor.submitted == []
    assert job_codes(events) == []
    assert (
        "Error storing the next run times of 1 due job in job store 'default': "
        "server closed the connection" in caplog.text
    )


def test_poll_interval_bounds_the_wait(
    scheduler: RecordingScheduler, store: ClaimingStore, mock_clock: MockClock
) -> None:
    assert scheduler._process_jobs() is None  # no jobs, no polling: wait to be woken
    store.poll_interval = 2.5
    assert scheduler._process_jobs() == 2.5
    scheduler.add_job(noop, "interval", seconds=1)
    assert scheduler._process_jobs() == 1.0


def test_no_due_jobs_means_no_release(
    scheduler: RecordingScheduler, store: ClaimingStore, mock_clock: MockClock
) -> None:
    scheduler.add_job(noop, "interval", seconds=60)
    scheduler._process_jobs()
    assert store.releases == []


class GatedStore(MemoryJobStore):
    """A store whose release waits for a gate, as a remote store waits for its server."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = gevent.event.Event()
        self.releasing = gevent.event.Event()

    def release_due_jobs(self, updated: Sequence[Job], removed: Sequence[Job]) -> Collection[str]:
        self.releasing.set()
        self.gate.wait()
        return super().release_due_jobs(updated, removed)


ran: list[str] = []


def note(value: str) -> None:
    ran.append(value)


def test_shutdown_lets_the_round_in_progress_submit_what_it_recorded(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A run the store has recorded must reach the executor: shutting down in the middle of a
    round waits for the round (other processes will not run that run again)."""
    ran.clear()
    clock = MockClock(datetime(2024, 6, 3, tzinfo=timezone.utc))
    store = GatedStore()
    scheduler = GeventScheduler(clock=clock, timezone="UTC", jobstores={"default": store})
    scheduler.add_job(note, "interval", minutes=1, args=["run"], id="job")
    scheduler.start()
    gevent.idle()
    clock.jump(timedelta(minutes=1))
    store.releasing.wait(timeout=5)
    stopping = gevent.spawn(scheduler.shutdown)
    gevent.idle()
    assert not stopping.dead  # waits for the round
    store.gate.set()
    stopping.join(timeout=5)
    assert ran == ["run"]
    assert "shut down" not in caplog.text
