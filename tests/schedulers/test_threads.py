"""A running GeventScheduler (and BlockingScheduler) driven from real OS threads of an unpatched program: the job API,
wakeup() and shutdown() from threads while the loop runs and jobs fire.

This process is not monkey-patched: ``threading.Thread`` is a real OS thread. Every wait is
bounded; the main thread keeps its hub running (``gevent.sleep``) while it waits, except where
a test blocks it on purpose.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import gevent
import gevent.event
import pytest

from greensched._clock import SYSTEM_CLOCK
from greensched.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    EVENT_SCHEDULER_STARTED,
    JobExecutionEvent,
)
from greensched.jobstores.base import JobLookupError
from greensched.schedulers import SchedulerNotRunningError
from greensched.schedulers.blocking import BlockingScheduler
from greensched.schedulers.gevent import GeventScheduler
from tests.support import PATIENCE, hub_wait_until, wait_until

pytestmark = pytest.mark.slow


def soon(seconds: float = 0.0) -> datetime:
    return SYSTEM_CLOCK.now() + timedelta(seconds=seconds)


class Outcomes:
    """Job events by job id, recorded from whatever thread dispatches them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.executed: Counter[str] = Counter()
        self.failed: list[JobExecutionEvent] = []

    def listener(self, event: JobExecutionEvent) -> None:
        with self._lock:
            if event.code == EVENT_JOB_EXECUTED:
                self.executed[event.job_id] += 1
            else:
                self.failed.append(event)


@pytest.fixture
def scheduler() -> Any:
    scheduler = GeventScheduler(timezone="UTC")
    yield scheduler
    if scheduler.running:
        scheduler.shutdown(wait=False)


def run_threads(count: int, body: Callable[[int], None]) -> list[BaseException]:
    """Run ``body(index)`` in ``count`` real threads while this hub runs; return their errors."""
    errors: list[BaseException] = []

    def guarded(index: int) -> None:
        try:
            body(index)
        except BaseException as exc:  # noqa: BLE001 (reported by the test)
            errors.append(exc)

    threads = [
        threading.Thread(target=guarded, args=(index,), daemon=True) for index in range(count)
    ]
    for thread in threads:
        thread.start()
    hub_wait_until(lambda: not any(thread.is_alive() for thread in threads))
    return errors


def test_threads_add_modify_and_remove_jobs_while_jobs_fire(scheduler: GeventScheduler) -> None:
    outcomes = Outcomes()
    scheduler.add_listener(
        outcomes.listener,
        EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES,
    )
    ticks: Counter[str] = Counter()
    ticks_lock = threading.Lock()

    def tick(name: str) -> None:
        with ticks_lock:
            ticks[name] += 1

    scheduler.add_job(tick, "interval", seconds=0.01, args=["background"], id="background")
    scheduler.start()
    threads, per_thread = 6, 40

    def body(index: int) -> None:
        for i in range(per_thread):
            # one-off jobs that must each run exactly once
            scheduler.add_job(
                tick,
                "date",
                run_date=soon(0.02),
                args=[f"once-{index}-{i}"],
                id=f"once-{index}-{i}",
                misfire_grace_time=None,
            )
            # a short-lived interval job: modified, paused, resumed, rescheduled, removed
            job_id = f"every-{index}-{i}"
            scheduler.add_job(tick, "interval", seconds=0.01, args=[job_id], id=job_id)
            scheduler.modify_job(job_id, name=f"renamed {job_id}")
            scheduler.pause_job(job_id)
            scheduler.resume_job(job_id)
            scheduler.reschedule_job(job_id, trigger="interval", seconds=0.005)
            assert scheduler.get_job(job_id) is not None
            scheduler.get_jobs()
            scheduler.wakeup()
            scheduler.remove_job(job_id)
            with pytest.raises(JobLookupError):
                scheduler.remove_job(job_id)

    errors = run_threads(threads, body)
    assert errors == []
    once = {f"once-{index}-{i}" for index in range(threads) for i in range(per_thread)}
    hub_wait_until(lambda: once <= set(outcomes.executed))
    assert [job.id for job in scheduler.get_jobs()] == ["background"]
    scheduler.shutdown()  # waits for the running jobs: nothing runs a second time after this
    assert all(outcomes.executed[job_id] == 1 for job_id in once)
    assert all(ticks[job_id] == 1 for job_id in once)
    assert ticks["background"] > 0
    assert [event for event in outcomes.failed if event.job_id in once] == []


def test_threads_add_jobs_while_the_loops_thread_is_blocked(scheduler: GeventScheduler) -> None:
    """The calls do not need the scheduler's hub: they return while its thread is blocked
    (here in a real ``Thread.join``), and the jobs run once it runs again."""
    outcomes = Outcomes()
    scheduler.add_listener(outcomes.listener, EVENT_JOB_EXECUTED)
    scheduler.add_job(lambda: None, "date", run_date=soon(), id="first")
    scheduler.start()
    hub_wait_until(lambda: outcomes.executed["first"] == 1)  # the loop now waits for work
    added: list[str] = []

    def body() -> None:
        for i in range(50):
            job = scheduler.add_job(lambda: None, "date", run_date=soon(), id=f"job-{i}")
            added.append(job.id)
        scheduler.pause()
        scheduler.resume()

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    thread.join(PATIENCE)  # blocks this thread, and its hub, for real
    assert not thread.is_alive()
    assert len(added) == 50
    hub_wait_until(lambda: len(outcomes.executed) == 1 + 50)
    scheduler.shutdown()


def test_shutdown_from_another_thread_waits_for_running_jobs(scheduler: GeventScheduler) -> None:
    started = threading.Event()
    finished: list[str] = []

    def slow_job() -> None:
        started.set()
        gevent.sleep(0.2)
        finished.append("job")

    loop = scheduler.start()
    scheduler.add_job(slow_job, "date", run_date=soon())
    hub_wait_until(started.is_set)

    def stop() -> None:
        scheduler.shutdown(wait=True)
        finished.append("shutdown returned")

    errors = run_threads(1, lambda _: stop())
    assert errors == []
    assert finished == ["job", "shutdown returned"]
    hub_wait_until(lambda: bool(loop.dead))
    assert not scheduler.running
    with pytest.raises(SchedulerNotRunningError):
        scheduler.shutdown()


def test_shutdown_from_another_thread_without_wait_returns_at_once(
    scheduler: GeventScheduler,
) -> None:
    started = threading.Event()
    release = gevent.event.Event()
    finished: list[str] = []

    def blocked_job() -> None:
        started.set()
        release.wait()
        finished.append("job")

    loop = scheduler.start()
    scheduler.add_job(blocked_job, "date", run_date=soon())
    hub_wait_until(started.is_set)
    thread = threading.Thread(target=scheduler.shutdown, kwargs={"wait": False})
    thread.start()
    thread.join(PATIENCE)  # returns without this hub running
    assert not thread.is_alive()
    hub_wait_until(lambda: bool(loop.dead))  # wait=False: the loop did not wait for the job
    assert finished == []
    release.set()
    hub_wait_until(lambda: finished == ["job"])  # which goes on in the hub


def test_shutdown_from_another_thread_when_stopped_is_refused(scheduler: GeventScheduler) -> None:
    loop = scheduler.start()
    scheduler.shutdown()
    assert loop.dead
    errors = run_threads(1, lambda _: scheduler.shutdown())
    assert [type(error) for error in errors] == [SchedulerNotRunningError]


def test_blocking_scheduler_takes_jobs_from_a_thread_that_then_shuts_it_down() -> None:
    scheduler = BlockingScheduler(timezone="UTC")
    outcomes = Outcomes()
    scheduler.add_listener(outcomes.listener, EVENT_JOB_EXECUTED)
    errors: list[BaseException] = []
    returned: list[str] = []

    def body() -> None:
        try:
            for i in range(20):
                scheduler.add_job(lambda: None, "date", run_date=soon(), id=f"job-{i}")
            # a real thread: this blocks only itself
            wait_until(lambda: len(outcomes.executed) == 20, what="the 20 jobs")
            scheduler.shutdown(wait=True)
            returned.append("shutdown")
        except BaseException as exc:  # noqa: BLE001 (reported by the test)
            errors.append(exc)

    thread = threading.Thread(target=body, daemon=True)
    scheduler.add_listener(lambda event: thread.start(), EVENT_SCHEDULER_STARTED)
    with gevent.Timeout(PATIENCE):
        scheduler.start()  # runs the loop here until the thread shuts it down
    thread.join(PATIENCE)
    assert errors == []
    assert returned == ["shutdown"]
    assert len(outcomes.executed) == 20
    assert not scheduler.running


def test_concurrent_shutdowns_from_threads_each_get_an_answer(scheduler: GeventScheduler) -> None:
    started = gevent.event.Event()

    def job() -> None:
        started.set()
        gevent.sleep(0.05)  # still running when the shutdowns come

    loop = scheduler.start()
    scheduler.add_job(job, "date", run_date=soon())
    assert started.wait(PATIENCE)
    errors = run_threads(5, lambda _: scheduler.shutdown(wait=True))
    assert [type(error) for error in errors] == [SchedulerNotRunningError] * 4
    hub_wait_until(lambda: bool(loop.dead))
