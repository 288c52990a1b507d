"""The schedulers in monkey-patched programs, each in a subprocess so patching never leaks."""

from __future__ import annotations

import textwrap

import pytest

from tests.support.processes import run_python

pytestmark = pytest.mark.slow

PRELUDE = """
from gevent import monkey
monkey.patch_all()
import threading, time
from datetime import datetime, timedelta, timezone
import gevent
from greensched._clock import SYSTEM_CLOCK
from tests.support import PATIENCE, hub_wait_until

def soon(seconds=0.0):
    return SYSTEM_CLOCK.now() + timedelta(seconds=seconds)
"""


def run_patched(body: str) -> list[str]:
    """Run ``body`` after ``monkey.patch_all()`` in a fresh interpreter (where ``PATIENCE`` and
    ``hub_wait_until`` of :mod:`tests.support` are at hand); return its output lines."""
    result = run_python("-c", PRELUDE + textwrap.dedent(body))
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_gevent_scheduler_overlaps_jobs_that_block_on_patched_calls() -> None:
    lines = run_patched(
        """
        from greensched.schedulers.gevent import GeventScheduler
        scheduler = GeventScheduler(timezone="UTC")
        order = []
        def sleeper(name):
            order.append(name + " start")
            time.sleep(0.1)  # patched: yields to the hub
            order.append(name + " end")
        loop = scheduler.start()
        when = soon(0.05)
        scheduler.add_job(sleeper, "date", run_date=when, args=["a"], id="a")
        scheduler.add_job(sleeper, "date", run_date=when, args=["b"], id="b")
        hub_wait_until(lambda: len(order) == 4)
        scheduler.shutdown()
        print(",".join(order))
        """
    )
    assert lines == ["a start,b start,a end,b end"]


def test_wakeup_from_a_real_os_thread() -> None:
    lines = run_patched(
        """
        from gevent.monkey import get_original
        from greensched.schedulers.gevent import GeventScheduler

        class Counting(GeventScheduler):
            rounds = 0
            def _process_jobs(self):
                wait = super()._process_jobs()
                self.rounds += 1  # the loop now goes to sleep
                return wait

        scheduler = Counting(timezone="UTC")
        scheduler.start()
        hub_wait_until(lambda: scheduler.rounds >= 1)
        before = scheduler.rounds
        start_new_thread = get_original("_thread", "start_new_thread")
        start_new_thread(scheduler.wakeup, ())
        hub_wait_until(lambda: scheduler.rounds > before)
        print(scheduler.rounds - before)
        scheduler.shutdown()
        """
    )
    assert lines == ["1"]


def test_blocking_scheduler_when_patched() -> None:
    lines = run_patched(
        """
        from greensched.schedulers.blocking import BlockingScheduler
        scheduler = BlockingScheduler(timezone="UTC")
        runs = []
        def job():
            runs.append(1)
            if len(runs) == 2:
                scheduler.shutdown(wait=False)
        scheduler.add_job(job, "interval", seconds=0.02)
        scheduler.start()
        print("runs", len(runs))
        """
    )
    assert lines == ["runs 2"]


def test_background_scheduler_when_patched() -> None:
    lines = run_patched(
        """
        from greensched.schedulers.background import BackgroundScheduler
        scheduler = BackgroundScheduler(timezone="UTC")
        ran = threading.Event()
        scheduler.start()
        scheduler.add_job(ran.set, "date", run_date=soon(0.01))
        print("ran", ran.wait(PATIENCE))
        scheduler.shutdown()
        print("running", scheduler.running)
        """
    )
    assert lines == ["ran True", "running False"]


def test_the_readme_example_runs() -> None:
    result = run_python("examples/basic.py", "3.5")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.count("tick from every second") >= 2
    assert "tick from every 2 s" in out
    assert "tick from cron" in out
    assert "the one-off date job ran" in out
    assert "event: job 'every-second' done" in out
    assert out.rstrip().endswith("scheduler shut down")


def test_background_scheduler_when_patched_is_a_greenlet_and_logs_it() -> None:
    lines = run_patched(
        """
        import io, logging
        from gevent.monkey import get_original
        from greensched.schedulers.background import BackgroundScheduler
        get_ident = get_original("_thread", "get_ident")
        log = io.StringIO()
        handler = logging.StreamHandler(log)
        logger = logging.getLogger("greensched.scheduler")
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
        scheduler = BackgroundScheduler(timezone="UTC")
        ran_in = []
        done = threading.Event()
        def job():
            ran_in.append(get_ident())
            done.set()
        scheduler.start()
        scheduler.add_job(job, "date", run_date=soon())
        print("ran", done.wait(PATIENCE))
        print("same OS thread", ran_in == [get_ident()])
        scheduler.shutdown()
        print("greenlet logged", "background thread is a greenlet" in log.getvalue())
        """
    )
    assert lines == ["ran True", "same OS thread True", "greenlet logged True"]


def test_gevent_scheduler_takes_jobs_from_real_os_threads_when_patched() -> None:
    lines = run_patched(
        """
        from gevent.monkey import get_original
        from greensched.events import EVENT_JOB_EXECUTED
        from greensched.schedulers.gevent import GeventScheduler
        start_new_thread, allocate_lock = get_original(
            "_thread", ["start_new_thread", "allocate_lock"]
        )
        scheduler = GeventScheduler(timezone="UTC")
        executed = set()
        scheduler.add_listener(lambda event: executed.add(event.job_id), EVENT_JOB_EXECUTED)
        scheduler.add_job(lambda: None, "interval", seconds=0.01, id="background")
        scheduler.start()
        errors, finished = [], []
        guard = allocate_lock()
        def body(index):
            try:
                for i in range(30):
                    job_id = f"{index}-{i}"
                    # due after the modify_job below even when this thread waits its turn
                    # for the scheduler's lock behind the loop (the lock is fair)
                    scheduler.add_job(
                        time.sleep, "date", run_date=soon(0.5), args=[0.01], id=job_id,
                        misfire_grace_time=None,
                    )
                    scheduler.modify_job(job_id, name="renamed")
                    scheduler.get_jobs()
                    extra = scheduler.add_job(lambda: None, "interval", seconds=1, id="x" + job_id)
                    extra.remove()
            except BaseException as exc:
                errors.append(exc)
            finally:
                with guard:
                    finished.append(index)
        for index in range(4):
            start_new_thread(body, (index,))
        expected = {f"{index}-{i}" for index in range(4) for i in range(30)}
        hub_wait_until(lambda: len(finished) == 4 and expected <= executed)
        print("errors", errors)
        print("all ran", expected <= executed)
        print("left", sorted(job.id for job in scheduler.get_jobs()))
        scheduler.shutdown()
        """
    )
    assert lines == ["errors []", "all ran True", "left ['background']"]
