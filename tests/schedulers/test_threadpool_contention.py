"""A BackgroundScheduler with a thread pool, unpatched, while other OS threads hold its lock or
call its API back to back, and while jobs call its API from their pool threads.

This process is not monkey-patched: the scheduler's thread and the pool's threads are real
OS threads. Every wait is bounded and waits on an event or a condition, never a fixed time.
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import gevent
import pytest

from greensched._clock import SYSTEM_CLOCK
from greensched.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    JobExecutionEvent,
    JobSubmissionEvent,
)
from greensched.jobstores.base import JobLookupError
from greensched.schedulers.background import BackgroundScheduler
from greensched.schedulers.blocking import BlockingScheduler
from tests.support import PATIENCE

pytestmark = pytest.mark.slow


def wait_until(predicate: Callable[[], bool], timeout: float = PATIENCE) -> bool:
    """Poll ``predicate`` from this (plain) thread; ``False`` if it never held."""
    deadline = SYSTEM_CLOCK.monotonic() + timeout
    pause = threading.Event()
    while not predicate():
        if SYSTEM_CLOCK.monotonic() > deadline:
            return False
        pause.wait(0.001)
    return True


class Outcomes:
    """The job events of a scheduler, by kind, recorded from whatever thread dispatches them."""

    def __init__(self, scheduler: BackgroundScheduler) -> None:
        self._lock = threading.Lock()
        self.executed: list[JobExecutionEvent] = []
        self.failures: list[Any] = []
        scheduler.add_listener(
            self.listener,
            EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES,
        )

    def listener(self, event: JobExecutionEvent | JobSubmissionEvent) -> None:
        with self._lock:
            if event.code == EVENT_JOB_EXECUTED:
                self.executed.append(event)  # type: ignore[arg-type]
            else:
                self.failures.append(event)

    def ran(self, job_id: str) -> int:
        with self._lock:
            return sum(1 for event in self.executed if event.job_id == job_id)


@pytest.fixture
def scheduler() -> Iterator[BackgroundScheduler]:
    scheduler = BackgroundScheduler(
        timezone="UTC",
        executors={"default": {"type": "threadpool"}, "gevent": {"type": "gevent"}},
    )
    yield scheduler
    if scheduler.running:
        scheduler.shutdown(wait=True)


def test_the_loop_waits_for_a_thread_holding_the_lock_without_blocking_its_hub(
    scheduler: BackgroundScheduler,
) -> None:
    """While this thread holds the scheduler's lock, a greenlet of the scheduler's thread
    that calls the scheduler's API waits for it, and the scheduler's other greenlets (here a
    ticking job) go on meanwhile. So does a job calling the API from its pool thread, which
    completes once the lock is free."""
    outcomes = Outcomes(scheduler)
    ticks = [0]
    stop = threading.Event()
    go = threading.Event()
    calling = threading.Event()
    pool_job_started = threading.Event()
    pool_job_go = threading.Event()
    pool_job_calling = threading.Event()

    def ticker() -> None:  # a greenlet of the scheduler's hub
        while not stop.is_set():
            ticks[0] += 1
            gevent.sleep(0.001)

    def getter() -> None:  # another one, which calls the API once told to
        while not go.is_set():
            gevent.sleep(0.001)
        calling.set()  # no yield from here to the lock
        scheduler.get_jobs()

    def pool_job() -> None:  # in a pool thread
        pool_job_started.set()
        pool_job_go.wait(PATIENCE)
        pool_job_calling.set()
        assert scheduler.get_job("pool_job") is not None
        scheduler.modify_job("pool_job", name="renamed from its own run")
        assert scheduler.get_job("pool_job").name == "renamed from its own run"  # type: ignore[union-attr]

    scheduler.start()
    scheduler.add_job(ticker, executor="gevent", id="ticker")
    scheduler.add_job(getter, executor="gevent", id="getter")
    try:
        assert wait_until(lambda: ticks[0] > 0)
        with scheduler._jobstores_lock:
            go.set()
            assert calling.wait(PATIENCE)  # the getter now waits for the lock
            seen = ticks[0]
            assert wait_until(lambda: ticks[0] >= seen + 3), "the scheduler's hub is blocked"
            assert outcomes.ran("getter") == 0
        assert wait_until(lambda: outcomes.ran("getter") == 1)

        # A pool job calling the API while this thread holds the lock
        scheduler.add_job(
            pool_job, "interval", hours=1, next_run_time=SYSTEM_CLOCK.now(), id="pool_job"
        )
        assert pool_job_started.wait(PATIENCE)
        with scheduler._jobstores_lock:
            pool_job_go.set()
            assert pool_job_calling.wait(PATIENCE)
            seen = ticks[0]
            assert wait_until(lambda: ticks[0] >= seen + 3), "the scheduler's hub is blocked"
        assert wait_until(lambda: outcomes.ran("pool_job") == 1)
    finally:
        stop.set()
    assert wait_until(lambda: outcomes.ran("ticker") == 1)
    assert outcomes.failures == []


def test_a_run_ending_while_a_thread_holds_the_lock_is_reported_meanwhile(
    scheduler: BackgroundScheduler,
) -> None:
    """A greenlet of the scheduler's thread waits for the lock, which this thread holds, and
    a pool job that ends meanwhile is reported meanwhile: its instance is free for its next
    run as soon as the loop can submit one."""
    outcomes = Outcomes(scheduler)
    gate = threading.Event()
    started = threading.Event()
    go = threading.Event()
    calling = threading.Event()

    def blocker() -> str:  # in a pool thread
        started.set()
        gate.wait(PATIENCE)
        return "done"

    def getter() -> None:  # a greenlet of the scheduler's hub
        while not go.is_set():
            gevent.sleep(0.001)
        calling.set()  # no yield from here to the lock
        scheduler.get_jobs()

    scheduler.start()
    scheduler.add_job(blocker, id="blocker")
    scheduler.add_job(getter, executor="gevent", id="getter")
    assert started.wait(PATIENCE)
    with scheduler._jobstores_lock:
        go.set()
        assert calling.wait(PATIENCE)
        gate.set()
        assert wait_until(lambda: outcomes.ran("blocker") == 1), "not reported meanwhile"
        assert outcomes.ran("getter") == 0
    assert wait_until(lambda: outcomes.ran("getter") == 1)
    assert outcomes.failures == []


def test_threads_calling_the_api_back_to_back_do_not_starve_the_runs(
    scheduler: BackgroundScheduler,
) -> None:
    """Four threads call modify_job back to back, and jobs call get_job and modify_job from
    their pool threads: every due run time of every job runs once, in order, and the
    threads get through too."""
    outcomes = Outcomes(scheduler)
    stop = threading.Event()
    calls = Counter[int]()
    runs: dict[str, list[Any]] = {f"job{index}": [] for index in range(3)}

    def job_func(job_id: str) -> None:
        runs[job_id].append(SYSTEM_CLOCK.now())
        if scheduler.get_job(job_id) is not None:  # gone once its last run time is planned
            with contextlib.suppress(JobLookupError):
                scheduler.modify_job(job_id, name=f"{job_id} run {len(runs[job_id])}")

    def hammer(index: int) -> None:
        job_id = f"target{index}"
        while not stop.is_set():
            scheduler.modify_job(job_id, name=f"{job_id} {calls[index]}")
            calls[index] += 1

    scheduler.start(paused=True)
    for index in range(4):
        scheduler.add_job(
            job_func, "interval", hours=1, args=["-"], id=f"target{index}", next_run_time=None
        )
    start = SYSTEM_CLOCK.now() + timedelta(seconds=0.05)
    for job_id in runs:
        scheduler.add_job(
            job_func,
            "interval",
            seconds=0.02,
            start_date=start,
            end_date=start + timedelta(seconds=0.39),  # 20 run times each
            args=[job_id],
            id=job_id,
            coalesce=False,  # a late round submits every run time it finds due
            misfire_grace_time=None,
            max_instances=20,
        )
    threads = [threading.Thread(target=hammer, args=(index,), daemon=True) for index in range(4)]
    for thread in threads:
        thread.start()
    scheduler.resume()
    try:
        assert wait_until(lambda: sum(len(times) for times in runs.values()) == 60)
    finally:
        stop.set()
        for thread in threads:
            thread.join(PATIENCE)
    assert wait_until(lambda: len(outcomes.executed) == 60)
    assert outcomes.failures == []
    assert Counter(event.job_id for event in outcomes.executed) == dict.fromkeys(runs, 20)
    for job_id in runs:
        scheduled = [
            event.scheduled_run_time for event in outcomes.executed if event.job_id == job_id
        ]
        assert sorted(scheduled) == [start + timedelta(seconds=0.02 * k) for k in range(20)]
    assert min(calls.values()) > 0


def test_a_pool_job_may_shut_its_background_scheduler_down(
    scheduler: BackgroundScheduler,
) -> None:
    """shutdown() (wait=True) from a job in a pool thread returns at once, instead of waiting
    for the running jobs, its own among them; the scheduler's thread then shuts down."""
    returned = threading.Event()

    def job() -> None:
        scheduler.shutdown()
        returned.set()

    outcomes = Outcomes(scheduler)
    scheduler.start()
    scheduler.add_job(job, id="stopper")
    assert returned.wait(PATIENCE)
    thread = scheduler._thread
    assert thread is not None
    thread.join(PATIENCE)
    assert not thread.is_alive()
    assert not scheduler.running
    assert outcomes.ran("stopper") == 1  # reported before the executor was shut down


def test_a_pool_job_may_shut_its_blocking_scheduler_down() -> None:
    scheduler = BlockingScheduler(timezone="UTC", executors={"default": {"type": "threadpool"}})
    runs: list[str] = []

    def job() -> None:
        runs.append("before")
        scheduler.shutdown()  # wait=True
        runs.append("after")

    scheduler.add_job(job, "interval", seconds=0.01)
    with gevent.Timeout(PATIENCE):
        scheduler.start()  # returns once the job has shut the scheduler down
    assert runs == ["before", "after"]
    assert not scheduler.running


def test_a_background_scheduler_restarted_in_a_new_thread_runs_pool_jobs_again(
    scheduler: BackgroundScheduler,
) -> None:
    """Each start() runs the loop in a new thread with a hub of its own: the thread pool's
    side in the hub follows, after a shutdown that waited and after one that did not."""
    outcomes = Outcomes(scheduler)
    for number, wait in enumerate([True, False, True]):
        ran = threading.Event()
        scheduler.start()
        scheduler.add_job(ran.set, id=f"run{number}")
        assert ran.wait(PATIENCE), f"start number {number + 1}"
        assert wait_until(lambda: outcomes.ran(f"run{number}") == 1)  # noqa: B023
        scheduler.shutdown(wait=wait)
        thread = scheduler._thread
        assert thread is not None
        thread.join(PATIENCE)
    assert outcomes.failures == []
