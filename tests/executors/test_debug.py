"""DebugExecutor: runs each job inline, in the submitting greenlet."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from importlib.metadata import entry_points
from typing import Any

import gevent
import pytest

from greensched.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED
from greensched.executors.base import MaxInstancesReachedError
from greensched.executors.debug import DebugExecutor
from greensched.job import Job
from greensched.testing import MockClock
from tests.executors.conftest import FakeScheduler

LOGGER = "greensched.executors.default"


@pytest.fixture
def executor(scheduler: FakeScheduler) -> DebugExecutor:
    executor = DebugExecutor()
    executor.start(scheduler, "default")
    return executor


def messages(caplog: pytest.LogCaptureFixture, level: int = logging.ERROR) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno >= level]


def test_plugin_alias() -> None:
    (entry_point,) = entry_points(group="greensched.executors", name="debug")
    assert entry_point.load() is DebugExecutor


def test_runs_inline_and_reports_before_returning(
    executor: DebugExecutor, scheduler: FakeScheduler, make_job: Callable[..., Job]
) -> None:
    greenlets: list[Any] = []

    def job_func(x: int) -> int:
        greenlets.append(gevent.getcurrent())
        return x + 1

    job = make_job(job_func, args=[41])
    run_time = scheduler.clock.now()
    executor.submit_job(job, [run_time])

    assert greenlets == [gevent.getcurrent()]
    (event,) = scheduler.events
    assert event.code == EVENT_JOB_EXECUTED
    assert (event.job_id, event.jobstore, event.scheduled_run_time) == (job.id, "store", run_time)
    assert event.retval == 42


def test_job_exception_gives_error_event(
    executor: DebugExecutor, scheduler: FakeScheduler, make_job: Callable[..., Job]
) -> None:
    def failing_job() -> None:
        raise KeyError("missing")

    executor.submit_job(make_job(failing_job), [scheduler.clock.now()])

    (event,) = scheduler.events
    assert event.code == EVENT_JOB_ERROR
    assert isinstance(event.exception, KeyError)
    assert "in failing_job" in event.traceback
    assert 'raise KeyError("missing")' in event.traceback


def test_instance_is_released_after_each_run(
    executor: DebugExecutor, scheduler: FakeScheduler, make_job: Callable[..., Job]
) -> None:
    job = make_job(lambda: None, max_instances=1)
    for _ in range(3):
        executor.submit_job(job, [scheduler.clock.now()])
    assert [e.code for e in scheduler.events] == [EVENT_JOB_EXECUTED] * 3
    assert executor._instances == {}


def test_running_run_counts_as_an_instance(
    executor: DebugExecutor, scheduler: FakeScheduler, make_job: Callable[..., Job]
) -> None:
    refused: list[BaseException] = []

    def resubmit() -> None:
        try:
            executor.submit_job(job, [scheduler.clock.now()])
        except MaxInstancesReachedError as exc:
            refused.append(exc)

    job = make_job(resubmit, id="self-submitting", max_instances=1)
    executor.submit_job(job, [scheduler.clock.now()])

    assert [str(exc) for exc in refused] == [
        'Job "self-submitting" has already reached its maximum number of instances (1)'
    ]
    assert executor._instances == {}


def test_several_run_times_and_misfire(
    executor: DebugExecutor,
    scheduler: FakeScheduler,
    clock: MockClock,
    make_job: Callable[..., Job],
) -> None:
    calls: list[str] = []
    job = make_job(lambda: calls.append("ran"), misfire_grace_time=5)
    run_times = [clock.now() - timedelta(seconds=10), clock.now() - timedelta(seconds=2)]
    executor.submit_job(job, run_times)

    assert [(e.code, e.scheduled_run_time) for e in scheduler.events] == [
        (EVENT_JOB_MISSED, run_times[0]),
        (EVENT_JOB_EXECUTED, run_times[1]),
    ]
    assert calls == ["ran"]


def test_failure_outside_the_job_is_logged(
    executor: DebugExecutor,
    scheduler: FakeScheduler,
    make_job: Callable[..., Job],
    caplog: pytest.LogCaptureFixture,
) -> None:
    job = make_job(lambda: None, misfire_grace_time=1)
    # A naive run time cannot be compared with the clock: run_job itself raises TypeError
    executor.submit_job(job, [datetime(2024, 6, 3, 10, 0)])

    assert messages(caplog) == [f"Error running job '{job.id}'"]
    assert scheduler.events == []
    assert executor._instances == {}


@pytest.mark.parametrize(
    "exc_type",
    [gevent.GreenletExit, KeyboardInterrupt, SystemExit],
    ids=["GreenletExit", "KeyboardInterrupt", "SystemExit"],
)
def test_exit_exceptions_reach_the_caller(
    executor: DebugExecutor,
    scheduler: FakeScheduler,
    make_job: Callable[..., Job],
    exc_type: type[BaseException],
) -> None:
    def exiting() -> None:
        raise exc_type("stop")

    job = make_job(exiting, max_instances=1)
    with pytest.raises(exc_type, match=r"^stop$"):
        executor.submit_job(job, [scheduler.clock.now()])
    assert scheduler.events == []
    assert executor._instances == {}


def test_failing_report_is_logged_not_raised(
    executor: DebugExecutor,
    scheduler: FakeScheduler,
    make_job: Callable[..., Job],
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken_dispatch(event: Any) -> None:
        raise RuntimeError("listener machinery broke")

    scheduler.on_event = broken_dispatch
    job = make_job(lambda: None, max_instances=1)
    executor.submit_job(job, [scheduler.clock.now()])

    assert messages(caplog) == [f"""Error reporting the run of job '{job.id}' ("{job.name}")"""]
    assert executor._instances == {}


@pytest.mark.parametrize("fails", [False, True], ids=["executed", "error"])
def test_scheduler_announces_the_submission_before_the_runs_end(fails: bool) -> None:
    from greensched.events import EVENT_JOB_SUBMITTED
    from greensched.schedulers.gevent import GeventScheduler

    codes: list[int] = []

    def job_func() -> None:
        if fails:
            raise RuntimeError("boom")

    scheduler = GeventScheduler(
        clock=MockClock(), timezone="UTC", executors={"default": DebugExecutor()}
    )
    scheduler.add_listener(
        lambda event: codes.append(event.code),
        EVENT_JOB_SUBMITTED | EVENT_JOB_EXECUTED | EVENT_JOB_ERROR,
    )
    scheduler.add_job(job_func, id="once")
    scheduler.start()
    try:
        gevent.idle()
    finally:
        scheduler.shutdown()
    assert codes == [EVENT_JOB_SUBMITTED, EVENT_JOB_ERROR if fails else EVENT_JOB_EXECUTED]
