"""ProcessPoolExecutor: CPU-bound jobs in worker processes, a killed worker replaced and
reported, unpicklable jobs refused at submit, pool options, shutdown, and a monkey-patched
program (in a subprocess).

Worker processes take a moment to start, so most tests share one module-wide executor."""

from __future__ import annotations

import inspect
import os
import pickle
import re
import subprocess
import sys
import textwrap
import threading
import types
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta, timezone
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import gevent
import pytest

from greensched.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    JobExecutionEvent,
)
from greensched.executors.base import MaxInstancesReachedError
from greensched.executors.pool import BasePoolExecutor, ProcessPoolExecutor
from greensched.job import Job
from greensched.schedulers.gevent import GeventScheduler
from greensched.testing import MockClock
from tests.executors import pooljobs
from tests.executors.conftest import FakeScheduler
from tests.support import PATIENCE, NeverTrigger, hub_wait_until

ROOT = Path(__file__).resolve().parents[2]

#: the longest a test waits for something a new worker process has to start up for
PROCESS_PATIENCE = 3 * PATIENCE


@pytest.fixture(scope="module")
def pool_scheduler() -> FakeScheduler:
    return FakeScheduler(MockClock(datetime(2024, 6, 3, 10, 0, tzinfo=timezone.utc)))


@pytest.fixture(scope="module")
def shared_executor(pool_scheduler: FakeScheduler) -> Iterator[ProcessPoolExecutor]:
    """One pool for the module: its two workers are started once."""
    executor = ProcessPoolExecutor(2)
    executor.start(pool_scheduler, "default")  # type: ignore[arg-type]
    yield executor
    with gevent.Timeout(PROCESS_PATIENCE):
        executor.shutdown(wait=True)


@pytest.fixture
def executor(
    shared_executor: ProcessPoolExecutor, pool_scheduler: FakeScheduler
) -> Iterator[ProcessPoolExecutor]:
    pool_scheduler.events.clear()
    yield shared_executor
    # No test leaves a run behind
    hub_wait_until(lambda: not shared_executor._runs, PROCESS_PATIENCE)
    assert shared_executor._instances == {}


@pytest.fixture
def make_executor(
    pool_scheduler: FakeScheduler,
) -> Iterator[Callable[..., ProcessPoolExecutor]]:
    """Build started executors of their own; shut them down at the end of the test."""
    executors: list[ProcessPoolExecutor] = []

    def make(*args: Any, **kwargs: Any) -> ProcessPoolExecutor:
        executor = ProcessPoolExecutor(*args, **kwargs)
        executor.start(pool_scheduler, "default")  # type: ignore[arg-type]
        executors.append(executor)
        return executor

    pool_scheduler.events.clear()
    yield make
    with gevent.Timeout(PROCESS_PATIENCE):
        for executor in executors:
            executor.shutdown(wait=True)


def make_job(
    scheduler: FakeScheduler,
    func: Callable[..., Any] | str,
    args: Sequence[Any] = (),
    *,
    id: str = "job",
    **options: Any,
) -> Job:
    settings: dict[str, Any] = {
        "trigger": NeverTrigger(),
        "executor": "default",
        "max_instances": 1,
        "misfire_grace_time": None,
        "coalesce": True,
        "next_run_time": None,
    }
    settings.update(options)
    job = Job(scheduler, id=id, func=func, args=args, **settings)
    job._jobstore_alias = "store"
    return job


def run(
    executor: ProcessPoolExecutor,
    scheduler: FakeScheduler,
    func: Callable[..., Any] | str,
    args: Sequence[Any] = (),
    **options: Any,
) -> JobExecutionEvent:
    """Submit one run of a new job, wait for its event and return it."""
    job = make_job(scheduler, func, args, **options)
    count = len(scheduler.events)
    executor.submit_job(job, [scheduler.clock.now()])
    hub_wait_until(lambda: len(scheduler.events) > count, PROCESS_PATIENCE)
    event = scheduler.events[-1]
    assert event.job_id == job.id
    return event


# Construction (no process is started)


def test_plugin_alias() -> None:
    (entry_point,) = entry_points(group="greensched.executors", name="processpool")
    assert entry_point.load() is ProcessPoolExecutor


def test_signature_matches_apscheduler() -> None:
    pool = pytest.importorskip("apscheduler.executors.pool")
    theirs = inspect.signature(pool.ProcessPoolExecutor)
    ours = inspect.signature(ProcessPoolExecutor)
    assert [(p.name, p.default) for p in ours.parameters.values()] == [
        (p.name, p.default) for p in theirs.parameters.values()
    ]


def test_defaults() -> None:
    executor = ProcessPoolExecutor()
    assert executor.max_workers == 10
    assert executor._context.get_start_method() == "spawn"  # as APScheduler 3.11
    assert isinstance(executor, BasePoolExecutor)


@pytest.mark.parametrize(
    ("value", "exc_type"),
    [(0, ValueError), ("-1", ValueError), (1.5, TypeError), ("ten", TypeError)],
    ids=["zero", "negative-string", "float", "word"],
)
def test_invalid_max_workers(value: Any, exc_type: type[Exception]) -> None:
    message = f"max_workers must be a positive integer, got: {value!r}"
    with pytest.raises(exc_type, match=rf"^{re.escape(message)}$"):
        ProcessPoolExecutor(value)


@pytest.mark.parametrize(
    ("pool_kwargs", "exc_type", "message"),
    [
        (
            {"thread_name_prefix": "x"},
            TypeError,
            (
                "pool_kwargs may only hold mp_context, initializer, initargs, "
                "max_tasks_per_child, got: thread_name_prefix"
            ),
        ),
        (
            {"mp_context": 5},
            TypeError,
            "mp_context must be a multiprocessing context or a start method name, got: 5",
        ),
        (
            {"max_tasks_per_child": 0},
            ValueError,
            "max_tasks_per_child must be a positive integer or None, got: 0",
        ),
        (
            {"initializer": "setup"},
            TypeError,
            "initializer must be callable or None, got: 'setup'",
        ),
    ],
    ids=["unknown-key", "context-type", "max-tasks", "initializer"],
)
def test_invalid_pool_kwargs(pool_kwargs: Any, exc_type: type[Exception], message: str) -> None:
    with pytest.raises(exc_type, match=rf"^{re.escape(message)}$"):
        ProcessPoolExecutor(2, pool_kwargs)


def test_start_method_by_name() -> None:
    assert ProcessPoolExecutor(1, {"mp_context": "fork"})._context.get_start_method() == "fork"


# Unpicklable jobs are refused at submit


def nested_job_factory() -> Callable[[], int]:
    def nested() -> int:
        return 1

    return nested


def local_instance_method() -> Callable[[], int]:
    class Local:
        def method(self) -> int:
            return 1

    return Local().method


@pytest.mark.parametrize(
    "func",
    [lambda: 1, nested_job_factory(), local_instance_method()],
    ids=["lambda", "nested-function", "method-of-a-local-class"],
)
def test_job_without_a_reference_is_refused_at_submit(
    executor: ProcessPoolExecutor, pool_scheduler: FakeScheduler, func: Callable[..., Any]
) -> None:
    job = make_job(pool_scheduler, func, id="unsendable")
    message = (
        f'Job "unsendable" cannot be sent to a worker process: its callable {func!r} has no '
        "importable module:name reference (a lambda, a nested function or a method of a class "
        "defined in a function cannot be used)"
    )
    with pytest.raises(ValueError, match=rf"^{re.escape(message)}$"):
        executor.submit_job(job, [pool_scheduler.clock.now()])
    assert executor._instances == {}
    assert not executor._runs


def test_bound_method_of_an_instance_runs_on_a_copy_of_the_instance(
    executor: ProcessPoolExecutor, pool_scheduler: FakeScheduler
) -> None:
    # sent as APScheduler 3.x pickles it: the function's reference, the instance first in args
    event = run(executor, pool_scheduler, pooljobs.Holder(41).method)
    assert (event.code, event.retval) == (EVENT_JOB_EXECUTED, 42)


def test_job_with_unpicklable_arguments_is_refused_at_submit(
    executor: ProcessPoolExecutor, pool_scheduler: FakeScheduler
) -> None:
    job = make_job(pool_scheduler, pooljobs.initialize, [threading.Lock()], id="locked")
    message = (
        'Job "locked" cannot be sent to a worker process: it cannot be pickled '
        "(TypeError: cannot pickle '_thread.lock' object)"
    )
    with pytest.raises(TypeError, match=rf"^{re.escape(message)}$"):
        executor.submit_job(job, [pool_scheduler.clock.now()])
    assert executor._instances == {}


def test_the_job_is_sent_as_its_state_without_the_scheduler(
    pool_scheduler: FakeScheduler,
) -> None:
    job = make_job(pool_scheduler, pooljobs.fail, ["x"], id="state")
    received = pickle.loads(ProcessPoolExecutor(1)._prepare(job))
    assert isinstance(received, Job)
    state = received.__getstate__()
    del state["trigger"]  # a copy
    expected = job.__getstate__()
    del expected["trigger"]
    assert state == expected
    assert received.func is pooljobs.fail
    assert not hasattr(received, "_scheduler")


# Running jobs


def test_cpu_bound_job_returns_its_value(
    executor: ProcessPoolExecutor, pool_scheduler: FakeScheduler
) -> None:
    event = run(executor, pool_scheduler, pooljobs.collatz_steps, [3000])
    assert event.code == EVENT_JOB_EXECUTED
    assert event.retval == pooljobs.collatz_steps(3000)
    assert event.jobstore == "store"
    assert event.scheduled_run_time == pool_scheduler.clock.now()


def test_job_runs_in_another_process_and_is_reported_in_the_hub_thread(
    executor: ProcessPoolExecutor, pool_scheduler: FakeScheduler
) -> None:
    threads: list[int] = []
    pool_scheduler.on_event = lambda event: threads.append(threading.get_ident())
    try:
        event = run(executor, pool_scheduler, os.getpid)
    finally:
        pool_scheduler.on_event = None
    assert event.retval != os.getpid()
    assert threads == [threading.get_ident()]


def test_job_exception_gives_an_error_event(
    executor: ProcessPoolExecutor, pool_scheduler: FakeScheduler
) -> None:
    event = run(executor, pool_scheduler, pooljobs.fail, ["bad input"])
    assert event.code == EVENT_JOB_ERROR
    assert isinstance(event.exception, ValueError)
    assert str(event.exception) == "bad input"
    assert "in fail" in event.traceback


def test_system_exit_in_a_worker_is_an_error_event(
    executor: ProcessPoolExecutor, pool_scheduler: FakeScheduler
) -> None:
    event = run(executor, pool_scheduler, pooljobs.exit_process)
    assert event.code == EVENT_JOB_ERROR
    assert isinstance(event.exception, SystemExit)
    assert run(executor, pool_scheduler, pooljobs.collatz_steps, [10]).code == EVENT_JOB_EXECUTED


def test_unpicklable_return_value_gives_an_error_event(
    executor: ProcessPoolExecutor, pool_scheduler: FakeScheduler
) -> None:
    event = run(executor, pool_scheduler, pooljobs.return_unpicklable, id="locker")
    assert event.code == EVENT_JOB_ERROR
    assert str(event.exception) == (
        'The return value of job "locker" could not be sent from the worker process: '
        "TypeError: cannot pickle '_thread.lock' object"
    )


def test_job_the_worker_cannot_import_gives_an_error_event(
    executor: ProcessPoolExecutor,
    pool_scheduler: FakeScheduler,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A callable that only the parent process has (here: a module made at run time; in real
    life: one defined in ``__main__`` of ``python -c``)."""
    module = types.ModuleType("greensched_parent_only")
    module.job = pooljobs.collatz_steps  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "greensched_parent_only", module)
    event = run(executor, pool_scheduler, "greensched_parent_only:job", [3])
    assert event.code == EVENT_JOB_ERROR
    assert isinstance(event.exception, LookupError)
    assert "greensched_parent_only:job" in str(event.exception)


def test_killed_worker_is_reported_and_replaced(
    executor: ProcessPoolExecutor, pool_scheduler: FakeScheduler
) -> None:
    from concurrent.futures.process import BrokenProcessPool

    event = run(executor, pool_scheduler, pooljobs.kill_own_process, id="killer")
    assert event.code == EVENT_JOB_ERROR
    assert isinstance(event.exception, BrokenProcessPool)
    assert re.fullmatch(
        r'The worker process \(pid \d+\) running job "killer" was killed by SIGKILL',
        str(event.exception),
    )
    # Later jobs run on a new worker
    later = run(executor, pool_scheduler, pooljobs.collatz_steps, [10])
    assert later.retval == pooljobs.collatz_steps(10)


def test_max_instances(executor: ProcessPoolExecutor, pool_scheduler: FakeScheduler) -> None:
    job = make_job(pool_scheduler, pooljobs.sleep_then_return, [0.2, "slept"], id="sleeper")
    executor.submit_job(job, [pool_scheduler.clock.now()])
    with pytest.raises(MaxInstancesReachedError):
        executor.submit_job(job, [pool_scheduler.clock.now()])
    hub_wait_until(lambda: len(pool_scheduler.events) == 1, PROCESS_PATIENCE)
    assert pool_scheduler.events[0].retval == "slept"


def test_several_run_times_run_one_after_the_other(
    executor: ProcessPoolExecutor, pool_scheduler: FakeScheduler
) -> None:
    now = pool_scheduler.clock.now()
    run_times = [now - timedelta(seconds=1), now]
    executor.submit_job(make_job(pool_scheduler, os.getpid, coalesce=False), run_times)
    hub_wait_until(lambda: len(pool_scheduler.events) == 2, PROCESS_PATIENCE)
    assert [(e.code, e.scheduled_run_time) for e in pool_scheduler.events] == [
        (EVENT_JOB_EXECUTED, run_time) for run_time in run_times
    ]


def test_the_hub_keeps_running_during_a_cpu_bound_job(
    executor: ProcessPoolExecutor, pool_scheduler: FakeScheduler
) -> None:
    ticks: list[int] = []
    done = [False]

    def ticker() -> None:
        while not done[0]:
            ticks.append(1)
            gevent.sleep(0.001)

    ticking = gevent.spawn(ticker)
    event = run(executor, pool_scheduler, pooljobs.sleep_then_return, [0.1, "done"])
    done[0] = True
    ticking.join()
    assert event.retval == "done"
    assert len(ticks) > 1


def test_a_run_is_timed_on_the_schedulers_clock(
    executor: ProcessPoolExecutor, pool_scheduler: FakeScheduler
) -> None:
    clock = pool_scheduler.clock
    scheduled = clock.now()
    clock.jump(0.5)
    job = make_job(pool_scheduler, pooljobs.sleep_then_return, [0.3, "done"])
    executor.submit_job(job, [scheduled])
    gevent.idle()  # the run has started (its start is noted); it takes 0.3 s in its worker
    clock.jump(4)
    hub_wait_until(lambda: len(pool_scheduler.events) == 1, PROCESS_PATIENCE)
    (event,) = pool_scheduler.events
    assert event.retval == "done"
    assert event.started == scheduled + timedelta(seconds=0.5)
    assert event.duration == pytest.approx(4.0)


# Pool options (executors of their own)


def test_initializer_runs_in_each_worker(
    make_executor: Callable[..., ProcessPoolExecutor], pool_scheduler: FakeScheduler
) -> None:
    executor = make_executor(
        1, {"initializer": pooljobs.initialize, "initargs": ("connected",), "mp_context": "fork"}
    )
    event = run(executor, pool_scheduler, pooljobs.initialized)
    assert event.retval == ["connected"]


def test_failing_initializer_fails_the_runs(
    make_executor: Callable[..., ProcessPoolExecutor], pool_scheduler: FakeScheduler
) -> None:
    executor = make_executor(1, {"initializer": pooljobs.initialize_badly, "mp_context": "fork"})
    event = run(executor, pool_scheduler, pooljobs.collatz_steps, [3])
    assert event.code == EVENT_JOB_ERROR
    assert str(event.exception).startswith(
        "The initializer of this worker process failed: RuntimeError('no database')"
    )


def test_max_tasks_per_child_replaces_workers(
    make_executor: Callable[..., ProcessPoolExecutor], pool_scheduler: FakeScheduler
) -> None:
    executor = make_executor(1, {"max_tasks_per_child": 1, "mp_context": "fork"})
    first = run(executor, pool_scheduler, os.getpid).retval
    second = run(executor, pool_scheduler, os.getpid).retval
    assert first != second


def test_fork_context_kill_and_replace(
    make_executor: Callable[..., ProcessPoolExecutor], pool_scheduler: FakeScheduler
) -> None:
    """Forked workers inherit each other's sockets: a death still shows, through its sentinel."""
    executor = make_executor(2, {"mp_context": "fork"})
    assert run(executor, pool_scheduler, os.getpid, id="a").code == EVENT_JOB_EXECUTED
    pool_scheduler.events.clear()
    executor.submit_job(
        make_job(pool_scheduler, pooljobs.sleep_then_return, [0.2, 1], id="b"),
        [pool_scheduler.clock.now()],
    )
    event = run(executor, pool_scheduler, pooljobs.kill_own_process, id="killer")
    assert event.code == EVENT_JOB_ERROR
    assert "was killed by SIGKILL" in str(event.exception)
    hub_wait_until(lambda: len(pool_scheduler.events) == 2, PROCESS_PATIENCE)
    assert run(executor, pool_scheduler, os.getpid, id="c").code == EVENT_JOB_EXECUTED


def test_shutdown_waits_and_stops_the_workers(
    make_executor: Callable[..., ProcessPoolExecutor], pool_scheduler: FakeScheduler
) -> None:
    executor = make_executor(2, {"mp_context": "fork"})
    executor.submit_job(
        make_job(pool_scheduler, pooljobs.sleep_then_return, [0.1, "last"]),
        [pool_scheduler.clock.now()],
    )
    processes = [worker.process for worker in executor._workers]
    with gevent.Timeout(PROCESS_PATIENCE):
        executor.shutdown(wait=True)
    assert [event.retval for event in pool_scheduler.events] == ["last"]
    assert executor._workers == set()
    for process in processes:
        with pytest.raises(ValueError, match="process object is closed"):
            process.is_alive()


# Through a scheduler


def test_unpicklable_pending_job_fails_the_start_and_stays_pending() -> None:
    """The scheduler asks the executor before storing a job: a process pool refuses a lambda
    at add time (here, at start for a pending job), so nothing is stored and nothing runs."""
    clock = MockClock(datetime(2024, 6, 3, tzinfo=timezone.utc))
    executor = ProcessPoolExecutor(1)
    scheduler = GeventScheduler(clock=clock, timezone="UTC", executors={"default": executor})
    job = scheduler.add_job(lambda: 1, "interval", minutes=1, id="lambda")
    with pytest.raises(ValueError, match=r'^Job "lambda" cannot be sent to a worker process'):
        scheduler.start()
    assert not scheduler.running
    assert scheduler.get_jobs() == [job]
    assert job.pending
    assert executor._instances == {}


# A monkey-patched program


@pytest.mark.slow
def test_works_in_a_monkey_patched_program() -> None:
    script = textwrap.dedent(
        """
        from gevent import monkey
        monkey.patch_all()
        import gevent
        from greensched.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED
        from greensched.schedulers.gevent import GeventScheduler
        from tests.executors import pooljobs

        if __name__ == "__main__":
            # no misfire limit: on a busy machine a run may wait seconds for a free worker
            scheduler = GeventScheduler(
                timezone="UTC",
                executors={"default": {"type": "processpool", "max_workers": 2}},
                job_defaults={"misfire_grace_time": None},
            )
            events = {}
            scheduler.add_listener(
                lambda e: events.__setitem__(e.job_id, e), EVENT_JOB_EXECUTED | EVENT_JOB_ERROR
            )
            ticks = []

            def tick():
                while True:
                    ticks.append(1)
                    gevent.sleep(0.001)

            ticker = gevent.spawn(tick)
            scheduler.start()
            scheduler.add_job(pooljobs.collatz_steps, args=[3000], id="cpu")
            scheduler.add_job(pooljobs.kill_own_process, id="killer")
            scheduler.add_job(pooljobs.spin_forever, id="spinner", timeout=0.5)
            with gevent.Timeout(60):
                while len(events) < 3:
                    gevent.sleep(0.01)
                scheduler.add_job(pooljobs.collatz_steps, args=[10], id="after")
                while len(events) < 4:
                    gevent.sleep(0.01)
            scheduler.shutdown()
            ticker.kill()
            for job_id in ("cpu", "killer", "spinner", "after"):
                event = events[job_id]
                print(job_id, event.code, type(event.exception).__name__, event.retval)
            print("ticked", len(ticks) > 10)
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
        f"cpu {EVENT_JOB_EXECUTED} NoneType {pooljobs.collatz_steps(3000)}",
        f"killer {EVENT_JOB_ERROR} BrokenProcessPool None",
        f"spinner {EVENT_JOB_ERROR} JobTimeoutError None",
        f"after {EVENT_JOB_EXECUTED} NoneType {pooljobs.collatz_steps(10)}",
        "ticked True",
    ]
