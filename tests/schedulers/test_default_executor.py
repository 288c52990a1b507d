"""Which executor a scheduler uses by default: a thread pool in an unpatched program (as in
APScheduler 3.x), the greenlet pool under monkey-patching and always for GeventScheduler.

This process is not monkey-patched; the patched cases run in a subprocess.
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from greensched.events import EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobExecutionEvent
from greensched.executors.gevent import GeventExecutor
from greensched.executors.pool import ThreadPoolExecutor
from greensched.schedulers.background import BackgroundScheduler
from greensched.schedulers.blocking import BlockingScheduler
from greensched.schedulers.gevent import GeventScheduler
from tests.schedulers.test_patched import run_patched
from tests.support import PATIENCE


@pytest.mark.parametrize(
    ("scheduler_class", "executor_class"),
    [
        pytest.param(BlockingScheduler, ThreadPoolExecutor, id="blocking"),
        pytest.param(BackgroundScheduler, ThreadPoolExecutor, id="background"),
        pytest.param(GeventScheduler, GeventExecutor, id="gevent"),
    ],
)
def test_default_executor_unpatched(scheduler_class: type, executor_class: type) -> None:
    scheduler = scheduler_class(timezone="UTC")
    executor = scheduler._create_default_executor()
    assert type(executor) is executor_class
    if isinstance(executor, ThreadPoolExecutor):
        assert executor._max_workers == 10  # APScheduler 3.x's default


def test_configured_default_executor_wins() -> None:
    scheduler = BackgroundScheduler(timezone="UTC", executors={"default": {"type": "gevent"}})
    scheduler.start()
    try:
        assert type(scheduler._lookup_executor("default")) is GeventExecutor
    finally:
        scheduler.shutdown()


@pytest.mark.slow
def test_default_executor_patched() -> None:
    lines = run_patched(
        """
        from greensched.schedulers.background import BackgroundScheduler
        from greensched.schedulers.blocking import BlockingScheduler
        from greensched.schedulers.gevent import GeventScheduler
        for cls in (BlockingScheduler, BackgroundScheduler, GeventScheduler):
            print(type(cls(timezone="UTC")._create_default_executor()).__name__)
        """
    )
    assert lines == ["GeventExecutor"] * 3


@pytest.mark.slow
def test_a_blocking_job_does_not_hold_up_the_others_unpatched() -> None:
    """A job that blocks its thread (a C call, an unpatched socket or sleep) while another job
    keeps its 0.1 s schedule: with the greenlet pool, the first would stop the hub."""
    release = threading.Event()
    blocker_started = threading.Event()
    ticked_enough = threading.Event()
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def blocker() -> None:
        blocker_started.set()
        release.wait(PATIENCE)  # a real, unpatched block of this OS thread

    def tick() -> None:
        pass

    def listener(event: JobExecutionEvent) -> None:
        with lock:
            outcomes[
                f"{event.job_id} {'missed' if event.code == EVENT_JOB_MISSED else 'ran'}"
            ] += 1
            if outcomes["tick ran"] >= 5 and blocker_started.is_set():
                ticked_enough.set()

    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_listener(listener, EVENT_JOB_EXECUTED | EVENT_JOB_MISSED)
    scheduler.add_job(blocker, id="blocker")
    scheduler.add_job(tick, "interval", seconds=0.1, id="tick")
    scheduler.start()
    try:
        assert blocker_started.wait(PATIENCE)
        assert ticked_enough.wait(PATIENCE), outcomes
        assert not release.is_set()  # every tick counted ran while the blocker blocked
    finally:
        release.set()
        scheduler.shutdown()
    assert outcomes["tick missed"] == 0
    assert outcomes["blocker ran"] == 1
