"""GeventExecutor: runs in greenlets, the bounded pool, reporting, max_instances, shutdown."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from importlib.metadata import entry_points
from typing import Any

import gevent
import pytest
from gevent.event import Event

from greensched.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED
from greensched.executors.base import MaxInstancesReachedError
from greensched.executors.gevent import GeventExecutor
from greensched.job import Job
from greensched.testing import MockClock
from tests.executors.conftest import FakeScheduler, wait_until

LOGGER = "greensched.executors.default"


@pytest.fixture
def make_executor(scheduler: FakeScheduler) -> Iterator[Callable[..., GeventExecutor]]:
    """Build started executors; shut them down (without waiting) at the end of the test."""
    executors: list[GeventExecutor] = []

    def make(**options: Any) -> GeventExecutor:
        executor = GeventExecutor(**options)
        executor.start(scheduler, "default")
        executors.append(executor)
        return executor

    yield make
    for executor in executors:
        executor.shutdown(wait=False)


@pytest.fixture
def executor(make_executor: Callable[..., GeventExecutor]) -> GeventExecutor:
    return make_executor()


@pytest.fixture
def gate() -> Iterator[Callable[[], Event]]:
    """Make events that jobs wait on; all are set at the end, so no job greenlet is left over."""
    events: list[Event] = []

    def make() -> Event:
        event = Event()
        events.append(event)
        return event

    yield make
    for event in events:
        event.set()
    gevent.sleep(0)


def error_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.levelno >= logging.ERROR]


# Construction


@pytest.mark.parametrize(
    ("pool_size", "exc_type", "message"),
    [
        (0, ValueError, "pool_size must be a positive integer or None, got: 0"),
        (-3, ValueError, "pool_size must be a positive integer or None, got: -3"),
        ("2", TypeError, "pool_size must be a positive integer or None, got: '2'"),
        (2.0, TypeError, "pool_size must be a positive integer or None, got: 2.0"),
        (True, TypeError, "pool_size must be a positive integer or None, got: True"),
    ],
    ids=["zero", "negative", "str", "float", "bool"],
)
def test_invalid_pool_size(pool_size: Any, exc_type: type[Exception], message: str) -> None:
    with pytest.raises(exc_type, match=rf"^{message}$"):
        GeventExecutor(pool_size=pool_size)


def test_pool_size_is_keyword_only() -> None:
    with pytest.raises(TypeError, match=r"takes 1 positional argument but 2 were given$"):
        GeventExecutor(2)  # type: ignore[misc]


def test_plugin_alias() -> None:
    (entry_point,) = entry_points(group="greensched.executors", name="gevent")
    assert entry_point.load() is GeventExecutor


# Running and reporting


def test_run_in_own_greenlet_gives_executed_event(
    executor: GeventExecutor, scheduler: FakeScheduler, make_job: Callable[..., Job]
) -> None:
    greenlets: list[Any] = []

    def job_func(x: int) -> int:
        greenlets.append(gevent.getcurrent())
        return x * 2

    job = make_job(job_func, args=[21])
    run_time = scheduler.clock.now()
    executor.submit_job(job, [run_time])
    assert greenlets == []  # submit_job only starts the greenlet

    wait_until(lambda: len(scheduler.events) == 1)
    (event,) = scheduler.events
    assert event.code == EVENT_JOB_EXECUTED
    assert (event.job_id, event.jobstore, event.scheduled_run_time) == (job.id, "store", run_time)
    assert event.retval == 42
    assert event.exception is None
    assert greenlets[0] is not gevent.getcurrent()


def test_job_exception_gives_error_event(
    executor: GeventExecutor, scheduler: FakeScheduler, make_job: Callable[..., Job]
) -> None:
    def failing_job() -> None:
        raise ValueError("boom")

    job = make_job(failing_job)
    executor.submit_job(job, [scheduler.clock.now()])

    wait_until(lambda: len(scheduler.events) == 1)
    (event,) = scheduler.events
    assert event.code == EVENT_JOB_ERROR
    assert isinstance(event.exception, ValueError)
    assert str(event.exception) == "boom"
    assert "in failing_job" in event.traceback
    assert 'raise ValueError("boom")' in event.traceback


def test_several_run_times_run_in_order(
    executor: GeventExecutor, scheduler: FakeScheduler, make_job: Callable[..., Job]
) -> None:
    calls: list[int] = []
    job = make_job(lambda: calls.append(len(calls)) or len(calls), misfire_grace_time=30)
    now = scheduler.clock.now()
    run_times = [now - timedelta(seconds=45), now - timedelta(seconds=15), now]
    executor.submit_job(job, run_times)

    wait_until(lambda: len(scheduler.events) == 3)
    assert [(e.code, e.scheduled_run_time) for e in scheduler.events] == [
        (EVENT_JOB_MISSED, run_times[0]),  # 45 s late: beyond the 30 s grace time
        (EVENT_JOB_EXECUTED, run_times[1]),
        (EVENT_JOB_EXECUTED, run_times[2]),
    ]
    assert [e.retval for e in scheduler.events[1:]] == [1, 2]
    assert calls == [0, 1]


def test_failure_outside_the_job_is_reported_as_error(
    executor: GeventExecutor,
    scheduler: FakeScheduler,
    make_job: Callable[..., Job],
    caplog: pytest.LogCaptureFixture,
) -> None:
    job = make_job(lambda: None, misfire_grace_time=1)
    # A naive run time cannot be compared with the clock: run_job itself raises TypeError
    executor.submit_job(job, [datetime(2024, 6, 3, 10, 0)])

    wait_until(lambda: bool(error_records(caplog)))
    (record,) = error_records(caplog)
    assert record.name == LOGGER
    assert record.getMessage() == f"Error running job '{job.id}'"
    assert record.exc_info is not None
    assert record.exc_info[0] is TypeError
    assert scheduler.events == []
    executor.submit_job(job, [scheduler.clock.now()])  # the instance was released


# max_instances


def test_max_instances_reached(
    executor: GeventExecutor,
    scheduler: FakeScheduler,
    make_job: Callable[..., Job],
    gate: Callable[[], Event],
) -> None:
    release = gate()
    job = make_job(release.wait, id="busy", max_instances=2)
    now = scheduler.clock.now()
    executor.submit_job(job, [now])
    executor.submit_job(job, [now])
    message = r'^Job "busy" has already reached its maximum number of instances \(2\)$'
    with pytest.raises(MaxInstancesReachedError, match=message):
        executor.submit_job(job, [now])

    release.set()
    wait_until(lambda: len(scheduler.events) == 2)
    executor.submit_job(job, [now])
    wait_until(lambda: len(scheduler.events) == 3)


def test_error_frees_the_instance(
    executor: GeventExecutor, scheduler: FakeScheduler, make_job: Callable[..., Job]
) -> None:
    job = make_job(lambda: 1 / 0, max_instances=1)
    executor.submit_job(job, [scheduler.clock.now()])
    wait_until(lambda: len(scheduler.events) == 1)
    assert scheduler.events[0].code == EVENT_JOB_ERROR

    executor.submit_job(job, [scheduler.clock.now()])
    wait_until(lambda: len(scheduler.events) == 2)


def test_runs_waiting_for_a_slot_count_as_instances(
    make_executor: Callable[..., GeventExecutor],
    scheduler: FakeScheduler,
    make_job: Callable[..., Job],
    gate: Callable[[], Event],
) -> None:
    executor = make_executor(pool_size=1)
    release = gate()
    now = scheduler.clock.now()
    executor.submit_job(make_job(release.wait), [now])
    waiting = make_job(lambda: None, id="waiting")
    executor.submit_job(waiting, [now])
    message = r'^Job "waiting" has already reached its maximum number of instances \(1\)$'
    with pytest.raises(MaxInstancesReachedError, match=message):
        executor.submit_job(waiting, [now])

    release.set()
    wait_until(lambda: len(scheduler.events) == 2)
    executor.submit_job(waiting, [now])
    wait_until(lambda: len(scheduler.events) == 3)


# The pool


def test_bounded_pool_never_blocks_and_runs_in_submission_order(
    make_executor: Callable[..., GeventExecutor],
    scheduler: FakeScheduler,
    make_job: Callable[..., Job],
    gate: Callable[[], Event],
) -> None:
    executor = make_executor(pool_size=2)
    releases = [gate() for _ in range(5)]
    started: list[int] = []
    running = [0]
    most_running = [0]

    def job_func(index: int) -> int:
        started.append(index)
        running[0] += 1
        most_running[0] = max(most_running[0], running[0])
        releases[index].wait()
        running[0] -= 1
        return index

    now = scheduler.clock.now()
    for index in range(5):
        executor.submit_job(make_job(job_func, args=[index]), [now])
    # Had a submission blocked on the full pool, the hub would have run the first jobs already
    assert started == []

    wait_until(lambda: len(started) == 2)
    gevent.sleep(0)
    assert started == [0, 1]
    # Release out of order: each freed slot still goes to the oldest waiting run
    releases[1].set()
    wait_until(lambda: len(started) == 3)
    assert started == [0, 1, 2]
    releases[2].set()
    wait_until(lambda: len(started) == 4)
    assert started == [0, 1, 2, 3]
    releases[3].set()
    wait_until(lambda: len(started) == 5)
    releases[0].set()
    releases[4].set()
    wait_until(lambda: len(scheduler.events) == 5)

    assert started == [0, 1, 2, 3, 4]
    assert most_running[0] == 2
    assert [e.retval for e in scheduler.events] == [1, 2, 3, 0, 4]
    assert {e.code for e in scheduler.events} == {EVENT_JOB_EXECUTED}


def test_unbounded_pool_runs_everything_at_once(
    executor: GeventExecutor,
    scheduler: FakeScheduler,
    make_job: Callable[..., Job],
    gate: Callable[[], Event],
) -> None:
    release = gate()
    started: list[int] = []

    def job_func(index: int) -> None:
        started.append(index)
        release.wait()

    for index in range(20):
        executor.submit_job(make_job(job_func, args=[index]), [scheduler.clock.now()])
    wait_until(lambda: len(started) == 20)
    release.set()
    wait_until(lambda: len(scheduler.events) == 20)


def test_run_that_waited_past_its_grace_time_is_missed(
    make_executor: Callable[..., GeventExecutor],
    scheduler: FakeScheduler,
    clock: MockClock,
    make_job: Callable[..., Job],
    gate: Callable[[], Event],
) -> None:
    executor = make_executor(pool_size=1)
    release = gate()
    calls: list[str] = []
    run_time = clock.now()
    executor.submit_job(make_job(release.wait, id="blocker"), [run_time])
    late = make_job(lambda: calls.append("late"), id="late", misfire_grace_time=5)
    patient = make_job(lambda: calls.append("patient"), id="patient", misfire_grace_time=60)
    executor.submit_job(late, [run_time])
    executor.submit_job(patient, [run_time])

    wait_until(lambda: executor._slots_used == 1)
    clock.jump(10)  # while both wait for the pool's only slot
    release.set()
    wait_until(lambda: len(scheduler.events) == 3)

    assert [(e.job_id, e.code) for e in scheduler.events] == [
        ("blocker", EVENT_JOB_EXECUTED),
        ("late", EVENT_JOB_MISSED),
        ("patient", EVENT_JOB_EXECUTED),
    ]
    assert calls == ["patient"]


# Killed runs and errors around the job


def test_killed_run_is_reported_as_error_and_frees_its_slot(
    make_executor: Callable[..., GeventExecutor],
    scheduler: FakeScheduler,
    make_job: Callable[..., Job],
    gate: Callable[[], Event],
    caplog: pytest.LogCaptureFixture,
) -> None:
    executor = make_executor(pool_size=1)
    greenlets: list[Any] = []

    def stuck() -> None:
        greenlets.append(gevent.getcurrent())
        gate().wait()

    job = make_job(stuck, max_instances=1)
    now = scheduler.clock.now()
    executor.submit_job(job, [now])
    executor.submit_job(make_job(lambda: "next", id="next"), [now])
    wait_until(lambda: bool(greenlets))

    greenlets[0].kill()
    wait_until(lambda: len(scheduler.events) == 1)
    assert (scheduler.events[0].job_id, scheduler.events[0].retval) == ("next", "next")
    (record,) = [r for r in caplog.records if r.getMessage() == f"Error running job '{job.id}'"]
    assert record.exc_info is not None
    assert record.exc_info[0] is gevent.GreenletExit
    executor.submit_job(job, [now])  # its instance was released


def test_system_exit_in_a_job_is_reported_not_raised_in_the_hub(
    executor: GeventExecutor,
    scheduler: FakeScheduler,
    make_job: Callable[..., Job],
    caplog: pytest.LogCaptureFixture,
) -> None:
    def exiting() -> None:
        raise SystemExit(3)

    job = make_job(exiting)
    executor.submit_job(job, [scheduler.clock.now()])

    wait_until(
        lambda: any(r.getMessage() == f"Error running job '{job.id}'" for r in caplog.records)
    )
    record = error_records(caplog)[-1]
    assert record.exc_info is not None
    assert record.exc_info[0] is SystemExit
    # The hub_errors fixture checks that the hub never saw it


def test_failing_report_is_logged_never_raised_into_the_hub(
    executor: GeventExecutor,
    scheduler: FakeScheduler,
    make_job: Callable[..., Job],
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken_dispatch(event: Any) -> None:
        raise RuntimeError("listener machinery broke")

    scheduler.on_event = broken_dispatch
    job = make_job(lambda: None, max_instances=1)
    executor.submit_job(job, [scheduler.clock.now()])

    wait_until(lambda: bool(error_records(caplog)))
    (record,) = error_records(caplog)
    assert record.getMessage() == f"Error reporting the run of job '{job.id}'"
    assert record.exc_info is not None
    assert record.exc_info[0] is RuntimeError
    scheduler.on_event = None
    executor.submit_job(job, [scheduler.clock.now()])  # the instance was released first
    wait_until(lambda: len(scheduler.events) == 2)


def test_hub_errors_fixture_sees_greenlet_errors(hub_errors: list[tuple[Any, ...]]) -> None:
    def failing() -> None:
        raise ValueError("reaches the hub")

    gevent.spawn(failing).join()
    assert len(hub_errors) == 1
    hub_errors.clear()


# Shutdown


def test_shutdown_waits_for_running_job(
    executor: GeventExecutor,
    scheduler: FakeScheduler,
    make_job: Callable[..., Job],
    gate: Callable[[], Event],
) -> None:
    release = gate()
    order: list[str] = []
    scheduler.on_event = lambda event: order.append("event")
    executor.submit_job(make_job(release.wait), [scheduler.clock.now()])

    def shut_down() -> None:
        executor.shutdown(wait=True)
        order.append("shutdown returned")

    shutter = gevent.spawn(shut_down)
    for _ in range(20):
        gevent.sleep(0)
    assert not shutter.dead
    release.set()
    wait_until(lambda: shutter.dead)
    assert order == ["event", "shutdown returned"]


def test_shutdown_waits_for_runs_waiting_for_a_slot(
    make_executor: Callable[..., GeventExecutor],
    scheduler: FakeScheduler,
    make_job: Callable[..., Job],
    gate: Callable[[], Event],
) -> None:
    executor = make_executor(pool_size=1)
    release = gate()
    now = scheduler.clock.now()
    executor.submit_job(make_job(release.wait, id="first"), [now])
    executor.submit_job(make_job(lambda: None, id="second"), [now])
    shutter = gevent.spawn(executor.shutdown, True)
    gevent.sleep(0)

    release.set()
    wait_until(lambda: shutter.dead)
    assert [e.job_id for e in scheduler.events] == ["first", "second"]


def test_shutdown_without_wait_returns_at_once_and_drops_waiting_runs(
    make_executor: Callable[..., GeventExecutor],
    scheduler: FakeScheduler,
    make_job: Callable[..., Job],
    gate: Callable[[], Event],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, LOGGER)
    executor = make_executor(pool_size=1)
    release = gate()
    started: list[str] = []
    now = scheduler.clock.now()
    executor.submit_job(make_job(release.wait, id="running"), [now])
    waiting = make_job(lambda: started.append("waiting"), id="waiting", max_instances=1)
    executor.submit_job(waiting, [now])
    wait_until(lambda: executor._slots_used == 1)

    executor.shutdown(wait=False)
    dropped = f"""Dropped a run of job 'waiting' ("{waiting.name}") waiting for a slot"""
    assert [r.getMessage() for r in caplog.records if r.name == LOGGER] == [
        f"{dropped}: the executor was shut down"
    ]
    release.set()  # the running job goes on
    wait_until(lambda: len(scheduler.events) == 1)
    assert scheduler.events[0].job_id == "running"
    gevent.sleep(0)
    assert started == []

    executor.start(scheduler, "default")
    executor.submit_job(waiting, [now])  # its instance was released when it was dropped
    wait_until(lambda: started == ["waiting"])


def test_submit_after_shutdown_raises(
    executor: GeventExecutor, scheduler: FakeScheduler, make_job: Callable[..., Job]
) -> None:
    job = make_job(lambda: "ran", id="late", max_instances=1)
    executor.shutdown()
    message = r'^Cannot submit job "late": the executor has been shut down$'
    with pytest.raises(RuntimeError, match=message):
        executor.submit_job(job, [scheduler.clock.now()])

    # Started again (a restarted scheduler), it takes jobs, and the refused run took no instance
    executor.start(scheduler, "default")
    executor.submit_job(job, [scheduler.clock.now()])
    wait_until(lambda: len(scheduler.events) == 1)
    assert scheduler.events[0].retval == "ran"


def test_shutdown_from_inside_a_job_waits_for_the_others_only(
    executor: GeventExecutor,
    scheduler: FakeScheduler,
    make_job: Callable[..., Job],
    gate: Callable[[], Event],
) -> None:
    release_other = gate()
    order: list[str] = []

    def other() -> None:
        release_other.wait()
        order.append("other done")

    def stopper() -> None:
        executor.shutdown(wait=True)
        order.append("shutdown returned")

    now = scheduler.clock.now()
    executor.submit_job(make_job(other, id="other"), [now])
    executor.submit_job(make_job(stopper, id="stopper"), [now])
    for _ in range(20):
        gevent.sleep(0)
    assert order == []
    release_other.set()
    wait_until(lambda: len(scheduler.events) == 2)
    assert order == ["other done", "shutdown returned"]
    assert [e.code for e in scheduler.events] == [EVENT_JOB_EXECUTED] * 2


def test_shutdown_from_inside_a_job_holding_the_only_slot(
    make_executor: Callable[..., GeventExecutor],
    scheduler: FakeScheduler,
    make_job: Callable[..., Job],
) -> None:
    executor = make_executor(pool_size=1)
    order: list[str] = []

    def stopper() -> None:
        executor.shutdown(wait=True)
        order.append("shutdown returned")

    now = scheduler.clock.now()
    executor.submit_job(make_job(stopper, id="stopper"), [now])
    executor.submit_job(make_job(lambda: order.append("waiting ran"), id="waiting"), [now])
    # The waiting run needs the stopper's slot: it starts once the stopper has returned
    wait_until(lambda: len(scheduler.events) == 2)
    assert order == ["shutdown returned", "waiting ran"]
    assert [e.job_id for e in scheduler.events] == ["stopper", "waiting"]


def test_shutdown_from_a_listener_does_not_wait_for_its_own_run(
    executor: GeventExecutor,
    scheduler: FakeScheduler,
    make_job: Callable[..., Job],
    gate: Callable[[], Event],
) -> None:
    release_other = gate()
    order: list[str] = []

    def listener(event: Any) -> None:
        if event.job_id == "first":
            executor.shutdown(wait=True)
            order.append("shutdown returned")

    scheduler.on_event = listener
    now = scheduler.clock.now()
    executor.submit_job(make_job(release_other.wait, id="other"), [now])
    executor.submit_job(make_job(lambda: None, id="first"), [now])
    wait_until(lambda: len(scheduler.events) == 1)
    for _ in range(20):
        gevent.sleep(0)
    assert order == []  # waits for "other", not for "first", whose listener it runs in

    release_other.set()
    wait_until(lambda: order == ["shutdown returned"])
    assert [e.job_id for e in scheduler.events] == ["first", "other"]
