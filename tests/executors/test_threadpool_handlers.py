"""ThreadPoolExecutor: the greenlets that do the hub's side of the runs (collecting what the
threads have done, starting waiting runs, reporting) go on when a listener yields, and the
threads' outcomes, however many at once, are each reported once."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator

import gevent
import gevent.event
import pytest

from greensched.events import EVENT_JOB_EXECUTED, JobExecutionEvent
from greensched.executors.pool import ThreadPoolExecutor
from greensched.job import Job
from tests.executors.conftest import FakeScheduler
from tests.support import PATIENCE, hub_wait_until


@pytest.fixture
def executor(scheduler: FakeScheduler) -> Iterator[ThreadPoolExecutor]:
    executor = ThreadPoolExecutor(4)
    executor.start(scheduler, "default")  # type: ignore[arg-type]
    yield executor
    with gevent.Timeout(PATIENCE):
        executor.shutdown(wait=True)


def test_a_listener_that_yields_does_not_hold_up_other_reports(
    executor: ThreadPoolExecutor, scheduler: FakeScheduler, make_job: Callable[..., Job]
) -> None:
    """The listener of the first run waits until the second run has been reported."""
    second_reported = gevent.event.Event()

    def on_event(event: JobExecutionEvent) -> None:
        if event.job_id == "first":
            executor.submit_job(make_job(lambda: 2, id="second"), [scheduler.clock.now()])
            assert second_reported.wait(PATIENCE)
        else:
            second_reported.set()

    scheduler.on_event = on_event
    executor.submit_job(make_job(lambda: 1, id="first"), [scheduler.clock.now()])
    hub_wait_until(lambda: len(scheduler.events) == 2)
    hub_wait_until(lambda: not executor._runs)
    assert [(event.job_id, event.retval) for event in scheduler.events] == [
        ("first", 1),
        ("second", 2),
    ]


def test_shutdown_from_a_listener_waits_for_the_other_runs_only(
    executor: ThreadPoolExecutor, scheduler: FakeScheduler, make_job: Callable[..., Job]
) -> None:
    gate = threading.Event()
    shut_down: list[str] = []

    def slow() -> str:
        gate.wait(PATIENCE)
        return "slow"

    def on_event(event: JobExecutionEvent) -> None:
        if event.job_id == "quick":
            gate.set()  # the slow run ends while this waits
            executor.shutdown(wait=True)  # the slow run only: this one is being reported
            shut_down.append(" ".join(event.job_id for event in scheduler.events))

    scheduler.on_event = on_event
    executor.submit_job(make_job(slow, id="slow"), [scheduler.clock.now()])
    executor.submit_job(make_job(lambda: "quick", id="quick"), [scheduler.clock.now()])
    hub_wait_until(lambda: bool(shut_down))
    assert shut_down == ["quick slow"]


def test_many_runs_ending_at_once_are_each_reported_once(
    executor: ThreadPoolExecutor, scheduler: FakeScheduler, make_job: Callable[..., Job]
) -> None:
    """Runs end in four threads at once, many per wake-up of the hub."""
    calls = Counter[str]()
    lock = threading.Lock()

    def job_func(name: str) -> str:
        with lock:
            calls[name] += 1
        return name

    names = [f"job{index}" for index in range(200)]
    for name in names:
        executor.submit_job(make_job(job_func, args=[name], id=name), [scheduler.clock.now()])
    hub_wait_until(lambda: len(scheduler.events) == len(names))
    hub_wait_until(lambda: not executor._runs)
    assert sorted(event.retval for event in scheduler.events) == sorted(names)
    assert {event.code for event in scheduler.events} == {EVENT_JOB_EXECUTED}
    assert calls == Counter(names)
    assert executor._instances == {}
