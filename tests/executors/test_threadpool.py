"""ThreadPoolExecutor: jobs in native threads that never block the hub, reporting in the hub's
thread, max_instances, the bound on threads, misfires, shutdown."""

from __future__ import annotations

import inspect
import logging
import re
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import gevent
import pytest

from greensched.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    JobExecutionEvent,
)
from greensched.executors.base import MaxInstancesReachedError
from greensched.executors.pool import BasePoolExecutor, ThreadPoolExecutor
from greensched.job import Job
from tests.executors.conftest import FakeScheduler
from tests.support import PATIENCE, hub_wait_until

ROOT = Path(__file__).resolve().parents[2]


class Gates:
    """Real (unpatched) threading events that thread jobs block on; all are opened at the end
    of the test, so that no job thread is left blocked."""

    def __init__(self) -> None:
        self._events: list[threading.Event] = []

    def new(self) -> threading.Event:
        event = threading.Event()
        self._events.append(event)
        return event

    def open_all(self) -> None:
        for event in self._events:
            event.set()


@pytest.fixture
def gates() -> Gates:
    return Gates()


@pytest.fixture
def make_executor(
    scheduler: FakeScheduler, gates: Gates
) -> Iterator[Callable[..., ThreadPoolExecutor]]:
    """Build started executors; at the end, open every gate and shut them down."""
    executors: list[ThreadPoolExecutor] = []

    def make(*args: Any, **kwargs: Any) -> ThreadPoolExecutor:
        executor = ThreadPoolExecutor(*args, **kwargs)
        executor.start(scheduler, "default")  # type: ignore[arg-type]
        executors.append(executor)
        return executor

    yield make
    gates.open_all()
    with gevent.Timeout(PATIENCE):
        for executor in executors:
            executor.shutdown(wait=True)


@pytest.fixture
def executor(make_executor: Callable[..., ThreadPoolExecutor]) -> ThreadPoolExecutor:
    return make_executor()


def codes(scheduler: FakeScheduler) -> list[int]:
    return [event.code for event in scheduler.events]


# Construction


def test_plugin_alias() -> None:
    (entry_point,) = entry_points(group="greensched.executors", name="threadpool")
    assert entry_point.load() is ThreadPoolExecutor


def test_signature_matches_apscheduler() -> None:
    pool = pytest.importorskip("apscheduler.executors.pool")
    theirs = inspect.signature(pool.ThreadPoolExecutor)
    ours = inspect.signature(ThreadPoolExecutor)
    assert [(p.name, p.default) for p in ours.parameters.values()] == [
        (p.name, p.default) for p in theirs.parameters.values()
    ]


def test_defaults() -> None:
    executor = ThreadPoolExecutor()
    assert executor.max_workers == 10
    assert isinstance(executor, BasePoolExecutor)


def test_max_workers_from_a_configuration_string() -> None:
    """APScheduler's documented configuration passes ``'max_workers': '20'``."""
    assert ThreadPoolExecutor("20").max_workers == 20
    assert ThreadPoolExecutor(max_workers=" 3 ").max_workers == 3


@pytest.mark.parametrize(
    ("value", "exc_type"),
    [
        (0, ValueError),
        (-2, ValueError),
        ("0", ValueError),
        ("many", TypeError),
        (2.5, TypeError),
        (True, TypeError),
        (None, TypeError),
    ],
    ids=["zero", "negative", "zero-string", "word", "float", "bool", "none"],
)
def test_invalid_max_workers(value: Any, exc_type: type[Exception]) -> None:
    message = f"max_workers must be a positive integer, got: {value!r}"
    with pytest.raises(exc_type, match=rf"^{re.escape(message)}$"):
        ThreadPoolExecutor(value)


@pytest.mark.parametrize(
    ("pool_kwargs", "message"),
    [
        (
            {"max_workers": 3, "nope": 1},
            (
                "pool_kwargs may only hold thread_name_prefix, initializer, initargs, "
                "got: max_workers, nope"
            ),
        ),
        ([("initializer", print)], "pool_kwargs must be a dict or None, got: [('initializer', "),
        ({"initializer": 5}, "initializer must be callable or None, got: 5"),
        ({"initargs": "abc"}, "initargs must be a sequence, got: 'abc'"),
        ({"thread_name_prefix": 7}, "thread_name_prefix must be a string, got: 7"),
    ],
    ids=["unknown-keys", "not-a-dict", "initializer", "initargs", "prefix"],
)
def test_invalid_pool_kwargs(pool_kwargs: Any, message: str) -> None:
    with pytest.raises(TypeError, match=rf"^{re.escape(message)}"):
        ThreadPoolExecutor(2, pool_kwargs)


# Running jobs


def test_jobs_blocking_in_time_sleep_do_not_block_other_greenlets(
    executor: ThreadPoolExecutor, scheduler: FakeScheduler, make_job: Callable[..., Job]
) -> None:
    """Three jobs sleep with the real, unpatched time.sleep until a greenlet of the hub has
    seen all three asleep at once: that greenlet can only run if none of them blocks the hub."""
    lock = threading.Lock()
    asleep = [0]
    all_seen_asleep = threading.Event()

    def sleeper() -> bool:
        with lock:
            asleep[0] += 1
        deadline = time.monotonic() + PATIENCE
        while not all_seen_asleep.is_set() and time.monotonic() < deadline:
            time.sleep(0.005)
        with lock:
            asleep[0] -= 1
        return all_seen_asleep.is_set()

    ticks = [0]

    def ticker() -> None:
        while not all_seen_asleep.is_set():
            ticks[0] += 1
            if asleep[0] == 3:
                all_seen_asleep.set()
            gevent.sleep(0.001)

    ticking = gevent.spawn(ticker)
    for number in range(3):
        executor.submit_job(make_job(sleeper, id=f"sleeper{number}"), [scheduler.clock.now()])
    hub_wait_until(lambda: len(scheduler.events) == 3)
    ticking.join()
    assert [event.retval for event in scheduler.events] == [True, True, True]
    assert ticks[0] > 0


def test_jobs_run_in_other_threads_and_listeners_in_the_hub_thread(
    executor: ThreadPoolExecutor,
    scheduler: FakeScheduler,
    make_job: Callable[..., Job],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "greensched.executors")
    hub_thread = threading.get_ident()
    job_threads: list[int] = []
    listener_threads: list[int] = []
    scheduler.on_event = lambda event: listener_threads.append(threading.get_ident())

    def job_func(x: int) -> int:
        job_threads.append(threading.get_ident())
        return x * 2

    run_time = scheduler.clock.now()
    job = make_job(job_func, args=[21])
    executor.submit_job(job, [run_time])
    hub_wait_until(lambda: len(scheduler.events) == 1)

    (event,) = scheduler.events
    assert (event.code, event.retval, event.scheduled_run_time) == (
        EVENT_JOB_EXECUTED,
        42,
        run_time,
    )
    assert event.jobstore == "store"
    assert len(job_threads) == 1
    assert job_threads[0] != hub_thread
    assert listener_threads == [hub_thread]
    # The run is logged from the hub's thread too (no logging lock is taken in a worker)
    assert [(r.getMessage()[:12], r.thread) for r in caplog.records] == [
        ("Running job ", hub_thread),
        (f"Job '{job.id}"[:12], hub_thread),
    ]


def test_exception_gives_an_error_event_with_traceback(
    executor: ThreadPoolExecutor, scheduler: FakeScheduler, make_job: Callable[..., Job]
) -> None:
    def broken_job() -> None:
        raise KeyError("missing")

    executor.submit_job(make_job(broken_job), [scheduler.clock.now()])
    hub_wait_until(lambda: len(scheduler.events) == 1)
    (event,) = scheduler.events
    assert event.code == EVENT_JOB_ERROR
    assert isinstance(event.exception, KeyError)
    assert "broken_job" in event.traceback
    assert executor._instances == {}


def test_system_exit_in_a_thread_is_an_error_event(
    executor: ThreadPoolExecutor, scheduler: FakeScheduler, make_job: Callable[..., Job]
) -> None:
    """In a worker thread nothing else is aimed at: the job's SystemExit is its outcome."""

    def exiting_job() -> None:
        raise SystemExit(2)

    executor.submit_job(make_job(exiting_job), [scheduler.clock.now()])
    hub_wait_until(lambda: len(scheduler.events) == 1)
    (event,) = scheduler.events
    assert event.code == EVENT_JOB_ERROR
    assert isinstance(event.exception, SystemExit)


def test_each_run_time_gives_one_event(
    executor: ThreadPoolExecutor,
    scheduler: FakeScheduler,
    make_job: Callable[..., Job],
) -> None:
    now = scheduler.clock.now()
    run_times = [now - timedelta(seconds=2), now - timedelta(seconds=1), now]
    executor.submit_job(make_job(lambda: "done"), run_times)
    hub_wait_until(lambda: len(scheduler.events) == 3)
    assert [(event.code, event.scheduled_run_time) for event in scheduler.events] == [
        (EVENT_JOB_EXECUTED, run_time) for run_time in run_times
    ]


def test_max_instances(
    executor: ThreadPoolExecutor,
    scheduler: FakeScheduler,
    make_job: Callable[..., Job],
    gates: Gates,
) -> None:
    gate = gates.new()
    job = make_job(lambda: gate.wait(PATIENCE), max_instances=1)
    executor.submit_job(job, [scheduler.clock.now()])
    with pytest.raises(MaxInstancesReachedError):
        executor.submit_job(job, [scheduler.clock.now()])
    gate.set()
    hub_wait_until(lambda: len(scheduler.events) == 1)
    assert executor._instances == {}
    executor.submit_job(job, [scheduler.clock.now()])  # the instance is free again
    hub_wait_until(lambda: len(scheduler.events) == 2)
    assert codes(scheduler) == [EVENT_JOB_EXECUTED, EVENT_JOB_EXECUTED]


def test_max_workers_bounds_the_threads_and_waiting_runs_go_in_order(
    make_executor: Callable[..., ThreadPoolExecutor],
    scheduler: FakeScheduler,
    make_job: Callable[..., Job],
    gates: Gates,
) -> None:
    executor = make_executor(2)
    started: list[str] = []
    lock = threading.Lock()
    job_gates = {name: gates.new() for name in "abcd"}

    def blocker(name: str) -> str:
        with lock:
            started.append(name)
        job_gates[name].wait(PATIENCE)
        return name

    for name in "abcd":
        executor.submit_job(make_job(blocker, args=[name], id=name), [scheduler.clock.now()])
    hub_wait_until(lambda: len(started) == 2)
    gevent.sleep(0.05)  # give a (wrongly) free thread time to start a third job
    assert sorted(started) == ["a", "b"]

    job_gates["b"].set()
    hub_wait_until(lambda: len(started) == 3)
    assert started[2] == "c"
    for gate in job_gates.values():
        gate.set()
    hub_wait_until(lambda: len(scheduler.events) == 4)
    assert sorted(event.retval for event in scheduler.events) == ["a", "b", "c", "d"]


def test_run_that_waited_too_long_for_a_thread_is_missed(
    make_executor: Callable[..., ThreadPoolExecutor],
    scheduler: FakeScheduler,
    make_job: Callable[..., Job],
    gates: Gates,
) -> None:
    executor = make_executor(1)
    gate = gates.new()
    ran: list[str] = []
    executor.submit_job(make_job(lambda: gate.wait(PATIENCE), id="first"), [scheduler.clock.now()])
    late = make_job(lambda: ran.append("late"), id="late", misfire_grace_time=1)
    executor.submit_job(late, [scheduler.clock.now()])
    scheduler.clock.jump(5)
    gate.set()
    hub_wait_until(lambda: len(scheduler.events) == 2)
    assert [(event.job_id, event.code) for event in scheduler.events] == [
        ("first", EVENT_JOB_EXECUTED),
        ("late", EVENT_JOB_MISSED),
    ]
    assert ran == []


def test_initializer_and_thread_names(
    make_executor: Callable[..., ThreadPoolExecutor],
    scheduler: FakeScheduler,
    make_job: Callable[..., Job],
) -> None:
    initialized: list[str] = []
    executor = make_executor(
        1,
        {
            "thread_name_prefix": "fetcher",
            "initializer": initialized.append,
            "initargs": ("ready",),
        },
    )

    def job_func() -> str:
        return threading.current_thread().name

    for _ in range(2):
        executor.submit_job(make_job(job_func), [scheduler.clock.now()])
        hub_wait_until(lambda: not executor._instances)
    assert [event.retval for event in scheduler.events] == ["fetcher_0", "fetcher_0"]
    assert initialized == ["ready"]  # once per thread


def test_failing_initializer_fails_the_run(
    make_executor: Callable[..., ThreadPoolExecutor],
    scheduler: FakeScheduler,
    make_job: Callable[..., Job],
) -> None:
    def initializer() -> None:
        raise RuntimeError("no connection")

    executor = make_executor(1, {"initializer": initializer})
    executor.submit_job(make_job(lambda: 1), [scheduler.clock.now()])
    hub_wait_until(lambda: len(scheduler.events) == 1)
    (event,) = scheduler.events
    assert event.code == EVENT_JOB_ERROR
    assert str(event.exception) == "no connection"


def test_a_run_is_timed_from_the_hub(
    executor: ThreadPoolExecutor,
    scheduler: FakeScheduler,
    make_job: Callable[..., Job],
    gates: Gates,
) -> None:
    clock = scheduler.clock
    running = threading.Event()
    finish = gates.new()

    def job_func() -> None:
        running.set()
        finish.wait(PATIENCE)

    scheduled = clock.now()
    clock.jump(0.5)
    executor.submit_job(make_job(job_func), [scheduled])
    hub_wait_until(running.is_set)
    clock.jump(3)  # while the job runs in its thread
    finish.set()
    hub_wait_until(lambda: len(scheduler.events) == 1)
    (event,) = scheduler.events
    assert event.code == EVENT_JOB_EXECUTED
    assert event.started == scheduled + timedelta(seconds=0.5)
    assert event.duration == pytest.approx(3.0)


# Shutdown


def test_shutdown_waits_for_running_jobs(
    executor: ThreadPoolExecutor,
    scheduler: FakeScheduler,
    make_job: Callable[..., Job],
    gates: Gates,
) -> None:
    gate = gates.new()
    started = threading.Event()

    def job_func() -> str:
        started.set()
        gate.wait(PATIENCE)
        return "finished"

    executor.submit_job(make_job(job_func), [scheduler.clock.now()])
    hub_wait_until(started.is_set)
    gevent.spawn_later(0.05, gate.set)
    with gevent.Timeout(PATIENCE):
        executor.shutdown(wait=True)
    assert [(event.code, event.retval) for event in scheduler.events] == [
        (EVENT_JOB_EXECUTED, "finished")
    ]


def test_shutdown_without_waiting_returns_at_once(
    make_executor: Callable[..., ThreadPoolExecutor],
    scheduler: FakeScheduler,
    make_job: Callable[..., Job],
    gates: Gates,
) -> None:
    executor = make_executor(1)
    gate = gates.new()
    started = threading.Event()

    def job_func() -> None:
        started.set()
        gate.wait(PATIENCE)

    executor.submit_job(make_job(job_func, id="running"), [scheduler.clock.now()])
    executor.submit_job(make_job(lambda: 1, id="waiting"), [scheduler.clock.now()])
    hub_wait_until(started.is_set)

    executor.shutdown(wait=False)  # returns although a job is blocked
    assert scheduler.events == []
    hub_wait_until(lambda: "waiting" not in executor._instances)  # dropped, instance released
    gate.set()
    hub_wait_until(lambda: len(scheduler.events) == 1)
    assert [(event.job_id, event.code) for event in scheduler.events] == [
        ("running", EVENT_JOB_EXECUTED)
    ]


def test_submit_after_shutdown_is_refused_until_restarted(
    executor: ThreadPoolExecutor, scheduler: FakeScheduler, make_job: Callable[..., Job]
) -> None:
    executor.shutdown()
    job = make_job(lambda: 1, id="late")
    with pytest.raises(
        RuntimeError, match=r'^Cannot submit job "late": the executor has been shut down$'
    ):
        executor.submit_job(job, [scheduler.clock.now()])
    assert executor._instances == {}
    executor.start(scheduler, "default")  # type: ignore[arg-type]
    executor.submit_job(job, [scheduler.clock.now()])
    hub_wait_until(lambda: len(scheduler.events) == 1)
    assert isinstance(scheduler.events[0], JobExecutionEvent)
    assert scheduler.events[0].retval == 1


# A monkey-patched program


@pytest.mark.slow
def test_works_in_a_monkey_patched_program() -> None:
    """Patched, ``threading`` makes greenlets: the pool's threads must still be real ones."""
    script = textwrap.dedent(
        """
        from gevent import monkey
        monkey.patch_all()
        import logging, sys, threading, time
        import gevent
        from gevent.monkey import get_original
        from greensched.schedulers.gevent import GeventScheduler

        logging.basicConfig(level=logging.INFO, stream=sys.stderr)  # logging from the threads
        real_sleep = get_original("time", "sleep")
        real_ident = get_original("_thread", "get_ident")
        main_ident = real_ident()
        asleep = []
        all_asleep = []  # a plain flag: patched threading primitives are greenlet-bound

        def blocking_job(name):
            asleep.append(name)
            deadline = time.monotonic() + 30
            while not all_asleep and time.monotonic() < deadline:
                real_sleep(0.005)  # blocks its OS thread, never the hub
            time.sleep(0.01)  # patched: works in a worker thread too
            return real_ident() != main_ident

        scheduler = GeventScheduler(timezone="UTC", executors={"default": {"type": "threadpool"}})
        results, listener_threads = {}, set()

        def listener(event):
            listener_threads.add(real_ident())
            results[event.job_id] = (event.retval, event.exception)

        scheduler.add_listener(listener, 4096 | 8192)  # EVENT_JOB_EXECUTED | EVENT_JOB_ERROR
        scheduler.start()
        for name in ("a", "b", "c"):
            scheduler.add_job(blocking_job, args=[name], id=name)
        ticks = 0
        with gevent.Timeout(30):
            while len(results) < 3:
                ticks += 1
                if len(asleep) == 3:
                    all_asleep.append(True)
                gevent.sleep(0.001)
        scheduler.shutdown()
        print(sorted(results.items()))
        print(listener_threads == {main_ident}, ticks > 0)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        check=False,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "[('a', (True, None)), ('b', (True, None)), ('c', (True, None))]",
        "True True",
    ]
    assert (
        "Job 'c' (\"blocking_job\") executed successfully" in result.stderr
    )  # logged, from the hub
