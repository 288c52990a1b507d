"""The greenlet executors (gevent, debug) tell when each run started and how long it took
(``started`` and ``duration`` of its ``EVENT_JOB_EXECUTED``/``EVENT_JOB_ERROR`` events), on the
scheduler's clock; a missed run has neither. The pools' timing is tested with their other
tests (``test_threadpool.py``, ``test_processpool.py``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

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
from greensched.job import Job
from greensched.testing import MockClock
from tests.executors.conftest import FakeScheduler
from tests.support import hub_wait_until


@pytest.fixture(params=[GeventExecutor, DebugExecutor], ids=["gevent", "debug"])
def greenlet_executor(
    request: pytest.FixtureRequest, scheduler: FakeScheduler
) -> Iterator[BaseExecutor]:
    executor: BaseExecutor = request.param()
    executor.start(scheduler, "default")  # type: ignore[arg-type]
    yield executor
    executor.shutdown(wait=True)


def only_event(scheduler: FakeScheduler) -> JobExecutionEvent:
    hub_wait_until(lambda: len(scheduler.events) == 1)
    (event,) = scheduler.events
    return event


@pytest.mark.parametrize(
    ("outcome", "code"), [("return", EVENT_JOB_EXECUTED), ("raise", EVENT_JOB_ERROR)]
)
def test_a_greenlet_run_is_timed(
    greenlet_executor: BaseExecutor,
    scheduler: FakeScheduler,
    clock: MockClock,
    make_job: Callable[..., Job],
    outcome: str,
    code: int,
) -> None:
    def job_func() -> None:
        clock.jump(1.5)  # the job takes 1.5 s
        if outcome == "raise":
            raise ValueError("boom")

    scheduled = clock.now()
    clock.jump(0.25)  # and starts 0.25 s late
    greenlet_executor.submit_job(make_job(job_func), [scheduled])
    event = only_event(scheduler)
    assert event.code == code
    assert event.started == scheduled + timedelta(seconds=0.25)
    assert event.duration == pytest.approx(1.5)


def test_each_run_time_of_a_submission_is_timed_on_its_own(
    greenlet_executor: BaseExecutor,
    scheduler: FakeScheduler,
    clock: MockClock,
    make_job: Callable[..., Job],
) -> None:
    first = clock.now()
    second = first + timedelta(seconds=10)
    clock.jump(20)
    greenlet_executor.submit_job(make_job(lambda: clock.jump(2)), [first, second])
    hub_wait_until(lambda: len(scheduler.events) == 2)
    starts = [event.started for event in scheduler.events]
    assert starts == [first + timedelta(seconds=20), first + timedelta(seconds=22)]
    assert [event.duration for event in scheduler.events] == [2.0, 2.0]


def test_a_missed_run_has_no_start_nor_duration(
    greenlet_executor: BaseExecutor,
    scheduler: FakeScheduler,
    clock: MockClock,
    make_job: Callable[..., Job],
) -> None:
    scheduled = clock.now()
    clock.jump(60)
    greenlet_executor.submit_job(make_job(lambda: None, misfire_grace_time=1), [scheduled])
    event = only_event(scheduler)
    assert (event.code, event.started, event.duration) == (EVENT_JOB_MISSED, None, None)
