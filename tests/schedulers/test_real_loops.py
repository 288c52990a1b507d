"""The schedulers' real loops with real greenlets and threads, unpatched, in this process.

These wait on the wall clock, each for well under a second; the monkey-patched variants run in
subprocesses (``test_patched.py``) so that patching never leaks into other tests.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import gevent
import gevent.event
import pytest

from greensched._clock import SYSTEM_CLOCK
from greensched.events import EVENT_JOB_EXECUTED, SchedulerEvent
from greensched.schedulers import SchedulerAlreadyRunningError
from greensched.schedulers.background import BackgroundScheduler
from greensched.schedulers.blocking import BlockingScheduler
from greensched.schedulers.gevent import GeventScheduler
from tests.support import PATIENCE, hub_wait_until

pytestmark = pytest.mark.slow


class CountingRounds:
    """Counts the processing loop's rounds; a round is counted once it is done, when the loop
    goes on to sleep."""

    rounds = 0

    def _process_jobs(self) -> float | None:
        wait: float | None = super()._process_jobs()  # type: ignore[misc]
        self.rounds += 1
        return wait


class CountingGeventScheduler(CountingRounds, GeventScheduler):
    pass


class CountingBackgroundScheduler(CountingRounds, BackgroundScheduler):
    pass


def soon(seconds: float = 0.0) -> datetime:
    return SYSTEM_CLOCK.now() + timedelta(seconds=seconds)


def test_gevent_scheduler_runs_jobs_in_greenlets() -> None:
    scheduler = GeventScheduler(timezone="UTC")
    done = gevent.event.Event()
    ran_in: list[Any] = []

    def job() -> None:
        ran_in.append(gevent.getcurrent())
        done.set()

    loop = scheduler.start()
    assert isinstance(loop, gevent.Greenlet)
    scheduler.add_job(job, "date", run_date=soon(0.02))
    assert done.wait(PATIENCE)
    assert ran_in[0] is not loop
    assert ran_in[0] is not gevent.getcurrent()
    scheduler.shutdown()
    assert loop.dead


def test_interval_job_fires_repeatedly() -> None:
    scheduler = GeventScheduler(timezone="UTC")
    executed: list[SchedulerEvent] = []
    three = gevent.event.Event()

    def listener(event: SchedulerEvent) -> None:
        executed.append(event)
        if len(executed) == 3:
            three.set()

    scheduler.add_listener(listener, EVENT_JOB_EXECUTED)
    scheduler.add_job(lambda: None, "interval", seconds=0.02, id="fast")
    scheduler.start()
    assert three.wait(PATIENCE)
    scheduler.shutdown()


def test_wakeup_from_another_os_thread_wakes_the_loop() -> None:
    """APScheduler 3.11's GeventScheduler cannot be woken from a real thread."""
    scheduler = CountingGeventScheduler(timezone="UTC")
    scheduler.start()
    hub_wait_until(lambda: scheduler.rounds >= 1)
    rounds = scheduler.rounds  # the loop now sleeps with nothing to wait for
    thread = threading.Thread(target=scheduler.wakeup)
    thread.start()
    hub_wait_until(lambda: scheduler.rounds > rounds, what="the loop to wake")
    thread.join(PATIENCE)
    assert scheduler.rounds == rounds + 1
    scheduler.shutdown()


def test_shutdown_waits_for_running_jobs() -> None:
    """APScheduler 3.11's gevent executor abandons running jobs on shutdown."""
    scheduler = GeventScheduler(timezone="UTC")
    started = gevent.event.Event()
    finished: list[bool] = []

    def slow_job() -> None:
        started.set()
        gevent.sleep(0.1)
        finished.append(True)

    scheduler.start()
    scheduler.add_job(slow_job, "date", run_date=soon())
    assert started.wait(PATIENCE)
    scheduler.shutdown(wait=True)
    assert finished == [True]


def test_shutdown_without_wait_returns_while_jobs_run() -> None:
    scheduler = GeventScheduler(timezone="UTC")
    started = gevent.event.Event()
    release = gevent.event.Event()
    finished = gevent.event.Event()

    def blocked_job() -> None:
        started.set()
        release.wait()
        finished.set()

    scheduler.start()
    scheduler.add_job(blocked_job, "date", run_date=soon())
    assert started.wait(PATIENCE)
    scheduler.shutdown(wait=False)
    assert not finished.is_set()
    release.set()
    assert finished.wait(PATIENCE)  # the job goes on after the shutdown


def test_blocking_scheduler_runs_until_a_job_shuts_it_down() -> None:
    scheduler = BlockingScheduler(timezone="UTC")
    runs: list[int] = []

    def job() -> None:
        runs.append(1)
        if len(runs) == 3:
            scheduler.shutdown(wait=False)

    scheduler.add_job(job, "interval", seconds=0.01)
    with gevent.Timeout(PATIENCE):
        scheduler.start()  # returns once the job has shut the scheduler down
    assert len(runs) == 3
    assert not scheduler.running


def test_background_scheduler_runs_jobs_in_its_own_thread() -> None:
    scheduler = BackgroundScheduler(timezone="UTC")
    ran = threading.Event()
    threads: list[threading.Thread] = []

    def job() -> None:
        threads.append(threading.current_thread())
        ran.set()

    scheduler.start()
    scheduler.add_job(job, "date", run_date=soon(0.01))  # from the main thread
    assert ran.wait(PATIENCE)
    assert threads[0] is not threading.main_thread()
    scheduler.shutdown(wait=True)
    assert not scheduler._thread.is_alive()  # type: ignore[union-attr]


def test_background_shutdown_waits_for_running_job() -> None:
    scheduler = BackgroundScheduler(timezone="UTC")
    started = threading.Event()
    finished: list[bool] = []

    def slow_job() -> None:
        started.set()
        gevent.sleep(0.1)
        finished.append(True)

    scheduler.start()
    scheduler.add_job(slow_job, "date", run_date=soon())
    assert started.wait(PATIENCE)
    scheduler.shutdown(wait=True)
    assert finished == [True]


def test_background_start_error_is_raised_in_the_caller() -> None:
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_job(lambda: None, "interval", seconds=1, jobstore="nowhere")
    with pytest.raises(KeyError, match="No such job store: 'nowhere'"):
        scheduler.start()
    assert not scheduler.running


def test_aware_run_date_in_another_zone() -> None:
    scheduler = GeventScheduler(timezone="Asia/Tokyo")
    done = gevent.event.Event()
    scheduler.start()
    scheduler.add_job(done.set, "date", run_date=soon().astimezone(timezone.utc))
    assert done.wait(PATIENCE)
    scheduler.shutdown()


@pytest.mark.parametrize(
    "scheduler_class",
    [CountingGeventScheduler, CountingBackgroundScheduler],
    ids=["gevent", "background"],
)
def test_second_start_is_refused_and_the_loop_still_wakes(scheduler_class: type) -> None:
    scheduler = scheduler_class(timezone="UTC")
    scheduler.start()
    hub_wait_until(lambda: scheduler.rounds >= 1)  # the loop is now asleep, waiting for a wakeup
    with pytest.raises(SchedulerAlreadyRunningError, match=r"^Scheduler is already running$"):
        scheduler.start()
    ran = threading.Event()
    scheduler.add_job(ran.set, "date", run_date=soon())
    hub_wait_until(ran.is_set, what="the job to run")
    scheduler.shutdown()


def test_unpatched_a_job_that_blocks_holds_up_the_hub_and_a_greenlet_job_does_not() -> None:
    """What GeventScheduler's docstring says: without monkey-patching, ``time.sleep`` in a job
    blocks the hub, so two such jobs run one after the other; ``gevent.sleep`` yields."""
    scheduler = GeventScheduler(timezone="UTC")
    order: list[str] = []

    def job(name: str, sleep: Any) -> None:
        order.append(f"{name} start")
        sleep(0.05)
        order.append(f"{name} end")

    scheduler.start()
    when = soon(0.02)
    scheduler.add_job(job, "date", run_date=when, args=["a", time.sleep], id="a")
    scheduler.add_job(job, "date", run_date=when, args=["b", time.sleep], id="b")
    when = soon(0.2)
    scheduler.add_job(job, "date", run_date=when, args=["c", gevent.sleep], id="c")
    scheduler.add_job(job, "date", run_date=when, args=["d", gevent.sleep], id="d")
    hub_wait_until(lambda: len(order) == 8, what="the four jobs")
    scheduler.shutdown()
    blocking, yielding = order[:4], order[4:]
    assert blocking == ["a start", "a end", "b start", "b end"]
    assert yielding == ["c start", "d start", "c end", "d end"]
