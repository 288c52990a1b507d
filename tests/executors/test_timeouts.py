"""Job timeouts in every executor: the greenlet executors stop an overrunning run, the thread
pool reports it (threads cannot be stopped), the process pool kills the worker."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import gevent
import pytest

from greensched._clock import SYSTEM_CLOCK
from greensched.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED
from greensched.executors.debug import DebugExecutor
from greensched.executors.gevent import GeventExecutor
from greensched.executors.pool import ProcessPoolExecutor, ThreadPoolExecutor
from greensched.job import Job
from tests.executors import pooljobs
from tests.executors.conftest import FakeScheduler
from tests.support import PATIENCE, NeverTrigger, hub_wait_until

#: the longest a test waits for something a new worker process has to start up for
PROCESS_PATIENCE = 3 * PATIENCE


def timeout_message(job_id: str, seconds: float) -> str:
    message = f'Run of job "{job_id}" timed out after {seconds:g} seconds'
    return rf"^{re.escape(message)}$"


@pytest.fixture
def timed_job(make_job: Callable[..., Job]) -> Callable[..., Job]:
    """Like make_job, with a timeout."""

    def make(func: Callable[..., Any], timeout: float, **options: Any) -> Job:
        job = make_job(func, **options)
        job._modify(timeout=timeout)
        return job

    return make


# GeventExecutor


@pytest.fixture
def gevent_executor(scheduler: FakeScheduler) -> Iterator[GeventExecutor]:
    executor = GeventExecutor()
    executor.start(scheduler, "default")  # type: ignore[arg-type]
    yield executor
    executor.shutdown(wait=False)


def test_greenlet_overrun_is_stopped_and_reported(
    gevent_executor: GeventExecutor,
    scheduler: FakeScheduler,
    timed_job: Callable[..., Job],
) -> None:
    reached_the_end: list[bool] = []

    def hung_fetch() -> None:
        gevent.sleep(PROCESS_PATIENCE)
        reached_the_end.append(True)

    job = timed_job(hung_fetch, 0.05, id="hung")
    gevent_executor.submit_job(job, [scheduler.clock.now()])
    hub_wait_until(lambda: len(scheduler.events) == 1, PROCESS_PATIENCE)

    (event,) = scheduler.events
    assert event.code == EVENT_JOB_ERROR
    assert isinstance(event.exception, TimeoutError)
    assert re.match(timeout_message("hung", 0.05), str(event.exception))
    assert "in hung_fetch" in event.traceback  # where the run was stuck
    assert gevent_executor._instances == {}  # the max_instances slot is free
    assert not gevent_executor._started  # its greenlet has ended
    assert reached_the_end == []


def test_a_job_catching_exception_cannot_swallow_the_timeout(
    gevent_executor: GeventExecutor,
    scheduler: FakeScheduler,
    timed_job: Callable[..., Job],
) -> None:
    def stubborn() -> str:
        try:
            gevent.sleep(PROCESS_PATIENCE)
        except Exception:  # noqa: BLE001 (what the test is about)
            return "swallowed"
        return "finished"

    gevent_executor.submit_job(timed_job(stubborn, 0.05, id="stubborn"), [scheduler.clock.now()])
    hub_wait_until(lambda: len(scheduler.events) == 1, PROCESS_PATIENCE)
    assert isinstance(scheduler.events[0].exception, TimeoutError)


def test_the_jobs_own_timeout_is_not_ours(
    gevent_executor: GeventExecutor,
    scheduler: FakeScheduler,
    timed_job: Callable[..., Job],
) -> None:
    def careful() -> str:
        with scheduler.clock.timeout(0.01, False):  # gives up quietly
            scheduler.clock.sleep(PROCESS_PATIENCE)
        return "gave up"

    own_timeout = scheduler.clock.timeout(0.01)

    def careless() -> None:
        with own_timeout:
            gevent.sleep(PROCESS_PATIENCE)

    gevent_executor.submit_job(
        timed_job(careful, PROCESS_PATIENCE, id="careful"), [scheduler.clock.now()]
    )
    gevent_executor.submit_job(
        timed_job(careless, PROCESS_PATIENCE, id="careless"), [scheduler.clock.now()]
    )
    hub_wait_until(lambda: len(scheduler.events) == 2, PROCESS_PATIENCE)
    events = {event.job_id: event for event in scheduler.events}
    assert (events["careful"].code, events["careful"].retval) == (EVENT_JOB_EXECUTED, "gave up")
    # The job's own Timeout escaping is the job's failure, not an overrun of the job timeout
    assert events["careless"].code == EVENT_JOB_ERROR
    assert events["careless"].exception is own_timeout


def test_a_run_in_time_is_not_disturbed_later(
    gevent_executor: GeventExecutor,
    scheduler: FakeScheduler,
    timed_job: Callable[..., Job],
) -> None:
    def quick() -> str:
        gevent.sleep(0)
        return "done"

    gevent_executor.submit_job(timed_job(quick, 0.2, id="quick"), [scheduler.clock.now()])
    hub_wait_until(lambda: len(scheduler.events) == 1, PROCESS_PATIENCE)
    scheduler.clock.sleep(0.25)  # past the timeout: its timer was cancelled
    assert [(e.code, e.retval) for e in scheduler.events] == [(EVENT_JOB_EXECUTED, "done")]


def test_each_run_time_has_its_own_timeout(
    gevent_executor: GeventExecutor,
    scheduler: FakeScheduler,
    timed_job: Callable[..., Job],
) -> None:
    calls: list[int] = []

    def first_call_hangs() -> int:
        calls.append(1)
        if len(calls) == 1:
            gevent.sleep(PROCESS_PATIENCE)
        return len(calls)

    now = scheduler.clock.now()
    run_times = [now - timedelta(seconds=1), now]
    gevent_executor.submit_job(timed_job(first_call_hangs, 0.05, id="twice"), run_times)
    hub_wait_until(lambda: len(scheduler.events) == 2, PROCESS_PATIENCE)
    assert [(e.code, e.retval, e.scheduled_run_time) for e in scheduler.events] == [
        (EVENT_JOB_ERROR, None, run_times[0]),
        (EVENT_JOB_EXECUTED, 2, run_times[1]),
    ]


def test_a_timed_out_run_frees_its_instance_for_the_next_run(
    gevent_executor: GeventExecutor,
    scheduler: FakeScheduler,
    timed_job: Callable[..., Job],
) -> None:
    job = timed_job(lambda: gevent.sleep(PROCESS_PATIENCE), 0.02, id="crawler", max_instances=1)
    gevent_executor.submit_job(job, [scheduler.clock.now()])
    hub_wait_until(lambda: len(scheduler.events) == 1, PROCESS_PATIENCE)
    gevent_executor.submit_job(job, [scheduler.clock.now()])  # no MaxInstancesReachedError
    hub_wait_until(lambda: len(scheduler.events) == 2, PROCESS_PATIENCE)
    assert [e.code for e in scheduler.events] == [EVENT_JOB_ERROR, EVENT_JOB_ERROR]


# DebugExecutor


def test_debug_executor_stops_an_overrun(
    scheduler: FakeScheduler, timed_job: Callable[..., Job]
) -> None:
    executor = DebugExecutor()
    executor.start(scheduler, "default")  # type: ignore[arg-type]
    executor.submit_job(
        timed_job(lambda: gevent.sleep(PROCESS_PATIENCE), 0.02, id="inline"),
        [scheduler.clock.now()],
    )
    (event,) = scheduler.events
    assert event.code == EVENT_JOB_ERROR
    assert re.match(timeout_message("inline", 0.02), str(event.exception))
    assert executor._instances == {}


# ThreadPoolExecutor: threads run on real time, and so do their timeouts


@pytest.fixture
def real_scheduler() -> FakeScheduler:
    return FakeScheduler(SYSTEM_CLOCK)


@pytest.fixture
def gate() -> Iterator[threading.Event]:
    """A real threading event for a thread job to block on; set at the end of the test."""
    event = threading.Event()
    yield event
    event.set()


@pytest.fixture
def thread_executor(
    real_scheduler: FakeScheduler, gate: threading.Event
) -> Iterator[ThreadPoolExecutor]:
    executor = ThreadPoolExecutor(1)
    executor.start(real_scheduler, "default")  # type: ignore[arg-type]
    yield executor
    gate.set()
    with gevent.Timeout(PROCESS_PATIENCE):
        executor.shutdown(wait=True)


def test_thread_overrun_is_reported_and_the_instance_freed(
    thread_executor: ThreadPoolExecutor,
    real_scheduler: FakeScheduler,
    timed_job: Callable[..., Job],
    gate: threading.Event,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def blocked_in_c_code() -> str:
        gate.wait(PROCESS_PATIENCE)
        return "late"

    job = timed_job(blocked_in_c_code, 0.05, id="blocked", max_instances=1)
    thread_executor.submit_job(job, [real_scheduler.clock.now()])
    hub_wait_until(lambda: len(real_scheduler.events) == 1, PROCESS_PATIENCE)

    (event,) = real_scheduler.events
    assert event.code == EVENT_JOB_ERROR
    assert re.match(timeout_message("blocked", 0.05), str(event.exception))
    assert "in blocked_in_c_code" in event.traceback  # where the thread is
    assert thread_executor._instances == {}
    assert not gate.is_set()  # the thread is still at it

    # The thread runs on; its late outcome is logged, not reported again
    caplog.set_level(logging.WARNING)
    gate.set()
    hub_wait_until(lambda: not thread_executor._late, PROCESS_PATIENCE)
    assert len(real_scheduler.events) == 1
    (record,) = [r for r in caplog.records if "has now ended" in r.getMessage()]
    assert record.getMessage().endswith("has now ended: it returned 'late'")


def test_overrunning_thread_keeps_its_place_in_the_pool(
    thread_executor: ThreadPoolExecutor,
    real_scheduler: FakeScheduler,
    timed_job: Callable[..., Job],
    make_job: Callable[..., Job],
    gate: threading.Event,
) -> None:
    """max_workers=1: the next job waits for the overrunning thread to finish."""
    thread_executor.submit_job(
        timed_job(lambda: gate.wait(PROCESS_PATIENCE), 0.02, id="slow"),
        [real_scheduler.clock.now()],
    )
    hub_wait_until(lambda: len(real_scheduler.events) == 1, PROCESS_PATIENCE)
    ran: list[bool] = []
    thread_executor.submit_job(
        make_job(lambda: ran.append(True), id="next"), [real_scheduler.clock.now()]
    )
    gevent.sleep(0.05)
    assert ran == []
    gate.set()
    hub_wait_until(lambda: len(real_scheduler.events) == 2, PROCESS_PATIENCE)
    assert ran == [True]


def test_shutdown_waits_for_an_overrunning_thread(
    thread_executor: ThreadPoolExecutor,
    real_scheduler: FakeScheduler,
    timed_job: Callable[..., Job],
    gate: threading.Event,
) -> None:
    finished = threading.Event()

    def job_func() -> None:
        gate.wait(PROCESS_PATIENCE)
        finished.set()

    thread_executor.submit_job(timed_job(job_func, 0.02, id="slow"), [real_scheduler.clock.now()])
    hub_wait_until(lambda: len(real_scheduler.events) == 1, PROCESS_PATIENCE)
    gevent.spawn_later(0.05, gate.set)
    with gevent.Timeout(PROCESS_PATIENCE):
        thread_executor.shutdown(wait=True)
    assert finished.is_set()


# ProcessPoolExecutor


@pytest.fixture(scope="module")
def process_scheduler() -> FakeScheduler:
    return FakeScheduler(SYSTEM_CLOCK)  # processes run on real time, and so do their timeouts


@pytest.fixture(scope="module")
def process_executor(process_scheduler: FakeScheduler) -> Iterator[ProcessPoolExecutor]:
    # The initializer makes every worker slow to start: a timeout counts from the job's start
    executor = ProcessPoolExecutor(
        1, {"initializer": pooljobs.sleep_then_return, "initargs": (1.0, None)}
    )
    executor.start(process_scheduler, "default")  # type: ignore[arg-type]
    yield executor
    with gevent.Timeout(PROCESS_PATIENCE):
        executor.shutdown(wait=True)


def process_job(
    scheduler: FakeScheduler, func: Callable[..., Any], timeout: float, id: str
) -> Job:
    job = Job(
        scheduler,
        id=id,
        func=func,
        trigger=NeverTrigger(),
        executor="default",
        max_instances=1,
        misfire_grace_time=None,
        coalesce=True,
        next_run_time=None,
        timeout=timeout,
    )
    job._jobstore_alias = "store"
    return job


def test_process_overrun_kills_the_worker_and_is_reported(
    process_executor: ProcessPoolExecutor, process_scheduler: FakeScheduler
) -> None:
    process_scheduler.events.clear()
    job = process_job(process_scheduler, pooljobs.spin_forever, 0.3, "spinner")
    process_executor.submit_job(job, [process_scheduler.clock.now()])
    hub_wait_until(lambda: process_executor._workers != set(), PROCESS_PATIENCE)
    (worker,) = process_executor._workers
    hub_wait_until(lambda: len(process_scheduler.events) == 1, PROCESS_PATIENCE)

    (event,) = process_scheduler.events
    assert event.code == EVENT_JOB_ERROR
    assert re.match(timeout_message("spinner", 0.3), str(event.exception))
    assert worker.exitcode == -9  # killed
    assert worker not in process_executor._workers
    assert process_executor._instances == {}


def test_process_timeout_counts_from_the_start_of_the_job(
    process_executor: ProcessPoolExecutor, process_scheduler: FakeScheduler
) -> None:
    """A new worker spends 1 s in its initializer; a 0.6 s timeout still lets the job run."""
    process_scheduler.events.clear()
    process_executor._close_workers(wait=True)  # the next run needs a new worker
    job = process_job(process_scheduler, pooljobs.initialized, 0.6, "quick")
    process_executor.submit_job(job, [process_scheduler.clock.now()])
    hub_wait_until(lambda: len(process_scheduler.events) == 1, PROCESS_PATIENCE)
    (event,) = process_scheduler.events
    assert (event.code, event.retval) == (EVENT_JOB_EXECUTED, [])
