"""Every executor runs a job along the same path: each run time's misfire check on the
scheduler's clock, the run's start and duration on that clock, the same events (only those a
listener wants) and the same log messages; the executors differ only in where the job is
called."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from greensched.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    JobExecutionEvent,
)
from greensched.executors.base import BaseExecutor
from greensched.executors.debug import DebugExecutor
from greensched.executors.gevent import GeventExecutor
from greensched.executors.pool import ProcessPoolExecutor, ThreadPoolExecutor
from greensched.job import Job
from greensched.testing import MockClock
from tests.executors import pooljobs
from tests.executors.conftest import FakeScheduler
from tests.support import PATIENCE, NeverTrigger, hub_wait_until

GRACE = 5  # the jobs' misfire_grace_time


@pytest.fixture(
    params=[
        DebugExecutor,
        GeventExecutor,
        pytest.param(ThreadPoolExecutor, marks=pytest.mark.slow),
        pytest.param(ProcessPoolExecutor, marks=pytest.mark.slow),
    ],
    ids=["debug", "gevent", "threadpool", "processpool"],
)
def executor(request: pytest.FixtureRequest, scheduler: FakeScheduler) -> Iterator[BaseExecutor]:
    executor: BaseExecutor = request.param()
    executor.start(scheduler, "default")  # type: ignore[arg-type]
    yield executor
    executor.shutdown(wait=True)


def pool_job(scheduler: FakeScheduler, func: Any, args: Any = ()) -> Job:
    """A job a worker process can import too (its callable is a module-level function)."""
    job = Job(
        scheduler,
        id="path",
        name="path",
        func=func,
        args=args,
        trigger=NeverTrigger(),
        executor="default",
        max_instances=1,
        misfire_grace_time=GRACE,
        coalesce=False,
        next_run_time=None,
    )
    job._jobstore_alias = "store"
    return job


def run(
    executor: BaseExecutor, scheduler: FakeScheduler, job: Job, run_times: list[Any]
) -> list[JobExecutionEvent]:
    """Submit, and return the events once the run has been reported."""
    executor.submit_job(job, run_times)
    hub_wait_until(lambda: not executor._instances, PATIENCE)
    return scheduler.events


def test_missed_then_executed(
    executor: BaseExecutor, scheduler: FakeScheduler, clock: MockClock
) -> None:
    scheduled = clock.now()
    too_late = scheduled - timedelta(seconds=30)
    clock.jump(2)  # within the grace time of the second run time, not of the first
    events = run(
        executor, scheduler, pool_job(scheduler, pooljobs.sleep_then_return, [0, "ok"]),
        [too_late, scheduled],
    )  # fmt: skip
    assert [(event.code, event.scheduled_run_time) for event in events] == [
        (EVENT_JOB_MISSED, too_late),
        (EVENT_JOB_EXECUTED, scheduled),
    ]
    missed, executed = events
    assert (missed.started, missed.duration) == (None, None)
    assert executed.retval == "ok"
    assert executed.jobstore == "store"
    # Timed on the scheduler's clock, which did not move during the run
    assert executed.started == scheduled + timedelta(seconds=2)
    assert executed.duration == 0.0


def test_a_failure_is_an_error_event_timed_on_the_schedulers_clock(
    executor: BaseExecutor, scheduler: FakeScheduler, clock: MockClock
) -> None:
    scheduled = clock.now()
    clock.jump(1)
    (event,) = run(executor, scheduler, pool_job(scheduler, pooljobs.fail, ["boom"]), [scheduled])
    assert event.code == EVENT_JOB_ERROR
    assert isinstance(event.exception, ValueError)
    assert str(event.exception) == "boom"
    assert "raise ValueError(message)" in (event.traceback or "")
    assert (event.started, event.duration) == (scheduled + timedelta(seconds=1), 0.0)


def test_only_the_events_a_listener_wants_are_dispatched(
    executor: BaseExecutor, scheduler: FakeScheduler, clock: MockClock
) -> None:
    scheduler.listened_events = EVENT_JOB_MISSED | EVENT_JOB_ERROR
    scheduled = clock.now()
    too_late = scheduled - timedelta(seconds=30)
    events = run(
        executor, scheduler, pool_job(scheduler, pooljobs.sleep_then_return, [0, "ok"]),
        [too_late, scheduled],
    )  # fmt: skip
    assert [event.code for event in events] == [EVENT_JOB_MISSED]


def test_the_same_log_messages(
    executor: BaseExecutor,
    scheduler: FakeScheduler,
    clock: MockClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    scheduled = clock.now()
    too_late = scheduled - timedelta(seconds=30)
    caplog.set_level(logging.INFO, logger="greensched.executors")
    run(
        executor, scheduler, pool_job(scheduler, pooljobs.sleep_then_return, [0, "ok"]),
        [too_late, scheduled],
    )  # fmt: skip
    messages = [
        (record.levelname, record.getMessage())
        for record in caplog.records
        if record.name.startswith("greensched.executors") and "worker" not in record.getMessage()
    ]
    assert messages == [
        ("WARNING", "Run time of job 'path' was missed by 30.000000s"),
        ("INFO", f"Running job 'path' (scheduled at {scheduled})"),
        ("INFO", "Job 'path' executed successfully"),
    ]
