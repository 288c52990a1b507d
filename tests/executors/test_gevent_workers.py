"""GeventExecutor's reusable workers: reuse, isolation of runs, waiting runs, idle workers, and
no events made for nobody."""

from __future__ import annotations

import contextvars
from typing import Any, Callable

import gevent
import gevent.local
import pytest
from gevent.event import Event

from greensched.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED
from greensched.executors import gevent as gevent_executor
from greensched.executors.gevent import GeventExecutor
from greensched.job import Job
from tests.executors.conftest import FakeScheduler, wait_until
from tests.executors.test_gevent import executor, gate, make_executor

__all__ = ("executor", "gate", "make_executor")  # fixtures used here

VARIABLE: contextvars.ContextVar[str] = contextvars.ContextVar("VARIABLE", default="unset")


def run_one(executor: GeventExecutor, scheduler: FakeScheduler, job: Job) -> None:
    """Submit one run of ``job`` and wait for its report."""
    reported = len(scheduler.events)
    executor.submit_job(job, [scheduler.clock.now()])
    wait_until(lambda: len(scheduler.events) > reported)


def test_runs_one_after_the_other_reuse_one_worker(
    executor: GeventExecutor, scheduler: FakeScheduler, make_job: Callable[..., Job]
) -> None:
    ran_in: list[Any] = []
    job = make_job(lambda: ran_in.append(gevent.getcurrent()))
    for _ in range(3):
        run_one(executor, scheduler, job)
    assert ran_in[0] is ran_in[1] is ran_in[2]
    assert ran_in[0] is not gevent.getcurrent()
    assert len(executor._idle) == 1  # the worker waits for more runs
    assert not ran_in[0].dead


def test_a_waiting_run_does_not_hold_up_the_runs_behind_it(
    executor: GeventExecutor,
    scheduler: FakeScheduler,
    make_job: Callable[..., Job],
    gate: Callable[[], Event],
) -> None:
    release = gate()
    ran_in: dict[str, Any] = {}

    def waiting() -> None:
        ran_in["waiting"] = gevent.getcurrent()
        release.wait()

    now = scheduler.clock.now()
    executor.submit_job(make_job(waiting, id="waiting"), [now])
    for name in ("second", "third"):
        executor.submit_job(make_job(lambda name=name: ran_in.setdefault(name, 1), id=name), [now])
    wait_until(lambda: [event.job_id for event in scheduler.events] == ["second", "third"])
    release.set()
    wait_until(lambda: len(scheduler.events) == 3)
    assert scheduler.events[2].job_id == "waiting"
    assert {event.code for event in scheduler.events} == {EVENT_JOB_EXECUTED}


def test_each_run_starts_with_an_empty_context(
    executor: GeventExecutor, scheduler: FakeScheduler, make_job: Callable[..., Job]
) -> None:
    seen: list[str] = []
    greenlets: list[Any] = []

    def job_func() -> None:
        seen.append(VARIABLE.get())
        greenlets.append(gevent.getcurrent())
        VARIABLE.set("set by a run")

    job = make_job(job_func)
    run_one(executor, scheduler, job)
    run_one(executor, scheduler, job)
    assert seen == ["unset", "unset"]
    assert greenlets[0] is greenlets[1]  # the same worker, a fresh context


def test_a_run_that_keeps_greenlet_local_data_ends_its_worker(
    executor: GeventExecutor, scheduler: FakeScheduler, make_job: Callable[..., Job]
) -> None:
    local = gevent.local.local()
    seen: list[Any] = []
    greenlets: list[Any] = []

    def job_func() -> None:
        seen.append(getattr(local, "session", None))
        greenlets.append(gevent.getcurrent())
        local.session = "the previous run's"

    job = make_job(job_func)
    run_one(executor, scheduler, job)
    run_one(executor, scheduler, job)
    assert seen == [None, None]
    assert greenlets[0] is not greenlets[1]
    gevent.sleep(0)
    assert greenlets[0].dead


def test_idle_workers_are_kept_up_to_the_limit(
    executor: GeventExecutor,
    scheduler: FakeScheduler,
    make_job: Callable[..., Job],
    gate: Callable[[], Event],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(gevent_executor, "MAX_IDLE_WORKERS", 2)
    release = gate()
    now = scheduler.clock.now()
    for index in range(5):
        executor.submit_job(make_job(release.wait, id=f"waiting{index}"), [now])
    wait_until(lambda: len({event for event in executor._started if event.owner}) == 5)
    release.set()
    wait_until(lambda: len(scheduler.events) == 5)
    gevent.sleep(0)
    assert len(executor._idle) == 2


def test_shutdown_ends_the_idle_workers(
    executor: GeventExecutor, scheduler: FakeScheduler, make_job: Callable[..., Job]
) -> None:
    ran_in: list[Any] = []
    run_one(executor, scheduler, make_job(lambda: ran_in.append(gevent.getcurrent())))
    executor.shutdown(wait=True)
    assert executor._idle == []
    gevent.sleep(0)
    assert ran_in[0].dead


def test_no_event_is_made_for_codes_nobody_listens_for(
    executor: GeventExecutor, scheduler: FakeScheduler, make_job: Callable[..., Job]
) -> None:
    scheduler.listened_events = EVENT_JOB_ERROR
    ran: list[int] = []
    job = make_job(lambda: ran.append(1))
    executor.submit_job(job, [scheduler.clock.now()])
    wait_until(lambda: ran == [1] and not executor._started)
    assert scheduler.events == []
    executor.submit_job(make_job(lambda: 1 / 0, id="failing"), [scheduler.clock.now()])
    wait_until(lambda: len(scheduler.events) == 1)
    assert scheduler.events[0].code == EVENT_JOB_ERROR
    executor.submit_job(job, [scheduler.clock.now()])  # the first run's instance was released
    wait_until(lambda: ran == [1, 1])
