"""Every outcome of a run is recorded with its fields, with each executor, in the memory store."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import gevent
import pytest
from gevent.event import Event

from greensched.history import (
    OUTCOME_ERROR,
    OUTCOME_EXECUTED,
    OUTCOME_MAX_INSTANCES,
    OUTCOME_MISSED,
    OUTCOME_RUNNING,
    OUTCOME_TIMEOUT,
)
from greensched.history._records import REPR_LIMIT, TRACEBACK_LIMIT
from greensched.testing import MockClock
from tests.executors import pooljobs
from tests.history.conftest import EXECUTORS, T0, Ends
from tests.support import hub_wait_until


def deep_failure(depth: int) -> None:
    """Raise a ValueError under ``depth`` frames that alternate (Python collapses repeated
    ones): a traceback longer than a record keeps."""
    if depth:
        other_frame(depth - 1)
    raise ValueError("bad input " + "x" * (2 * REPR_LIMIT))


def other_frame(depth: int) -> None:
    deep_failure(depth)


def test_runs_by_job_are_each_jobs_newest_from_every_store(
    make_scheduler: Any, clock: MockClock
) -> None:
    scheduler = make_scheduler(EXECUTORS["gevent"]())
    scheduler.add_jobstore("memory", "other")
    ends = Ends(scheduler)
    scheduler.add_job(pooljobs.sleep_then_return, args=(0, 1), id="a")
    scheduler.add_job(pooljobs.sleep_then_return, args=(0, 2), id="b", jobstore="other")
    scheduler.add_job(pooljobs.sleep_then_return, args=(0, 3), id="a", jobstore="other")
    scheduler.start()
    ends.wait(3)
    found = scheduler.get_runs_by_job(["a", "b", "c"])
    assert sorted(found) == ["a", "b", "c"]
    assert found["a"] == scheduler.get_runs("a")
    assert len(found["a"]) == 2
    assert [record.retval for record in found["b"]] == ["2"]
    assert found["c"] == []
    assert scheduler.get_runs_by_job(["a"], "other", limit=1) == {
        "a": scheduler.get_runs("a", "other")
    }


@pytest.mark.parametrize("name", EXECUTORS)
def test_an_executed_run_is_recorded_with_its_return_value(
    make_scheduler: Any, clock: MockClock, name: str
) -> None:
    scheduler = make_scheduler(EXECUTORS[name]())
    ends = Ends(scheduler)
    scheduler.add_job(
        pooljobs.sleep_then_return, args=(0, {"answer": 42}), id="answer", name="Answer"
    )
    scheduler.start()
    ends.wait(1)

    [record] = scheduler.get_runs("answer")
    assert record.outcome == OUTCOME_EXECUTED
    assert (record.job_id, record.job_name) == ("answer", "Answer")
    assert record.scheduled == T0
    assert record.started == T0  # mock time stood still
    assert record.ended == T0
    assert record.duration == 0.0
    assert record.lateness == 0.0
    assert record.retval == "{'answer': 42}"
    assert record.exc_type is record.exc_message is record.traceback is None
    assert record.host
    assert record.pid
    assert record.owner
    assert record.run_id.startswith(record.owner)


@pytest.mark.parametrize("name", EXECUTORS)
def test_a_failed_run_is_recorded_with_its_exception_and_traceback(
    make_scheduler: Any, name: str
) -> None:
    scheduler = make_scheduler(EXECUTORS[name]())
    ends = Ends(scheduler)
    scheduler.add_job(pooljobs.fail, args=("no such file",), id="failing")
    scheduler.start()
    ends.wait(1)

    [record] = scheduler.get_runs()
    assert record.outcome == OUTCOME_ERROR
    assert record.exc_type == "builtins.ValueError"
    assert record.exc_message == "no such file"
    assert record.traceback is not None
    assert "in fail" in record.traceback  # where it was raised
    assert record.retval is None
    assert record.duration is not None


def test_long_messages_and_tracebacks_are_cut_keeping_where_it_was_raised(
    make_scheduler: Any,
) -> None:
    scheduler = make_scheduler()
    ends = Ends(scheduler)
    scheduler.add_job(deep_failure, args=(200,), id="deep")
    scheduler.start()
    ends.wait(1)

    [record] = scheduler.get_runs()
    assert record.exc_message is not None
    assert len(record.exc_message) == REPR_LIMIT
    assert record.exc_message.startswith("bad input x")
    assert record.traceback is not None
    assert len(record.traceback) == TRACEBACK_LIMIT
    assert record.traceback.startswith("…")
    assert record.traceback.endswith('raise ValueError("bad input " + "x" * (2 * REPR_LIMIT))\n')


def test_a_long_return_value_is_cut(make_scheduler: Any) -> None:
    scheduler = make_scheduler()
    ends = Ends(scheduler)
    scheduler.add_job(lambda: "y" * 10_000, id="long")
    scheduler.start()
    ends.wait(1)

    [record] = scheduler.get_runs()
    assert record.retval is not None
    assert len(record.retval) == REPR_LIMIT
    assert record.retval.startswith("'yyy")
    assert record.retval.endswith("…")


@pytest.mark.parametrize("name", ["gevent", "debug"])
def test_a_run_that_overruns_its_timeout_is_recorded_as_timeout_in_a_greenlet(
    make_scheduler: Any, clock: MockClock, name: str
) -> None:
    scheduler = make_scheduler(EXECUTORS[name]())
    ends = Ends(scheduler)
    started = Event()

    def stuck() -> None:
        started.set()
        Event().wait()  # until the timeout interrupts it

    scheduler.add_job(stuck, id="stuck", timeout=5)
    scheduler.start()
    started.wait()
    clock.jump(5)
    ends.wait(1)

    [record] = scheduler.get_runs()
    assert record.outcome == OUTCOME_TIMEOUT
    assert record.exc_type == "greensched.executors._runpath.JobTimeoutError"
    assert record.exc_message == 'Run of job "stuck" timed out after 5 seconds'
    assert record.duration == 5.0


def test_a_run_that_overruns_its_timeout_is_recorded_as_timeout_in_a_thread(
    make_scheduler: Any, clock: MockClock
) -> None:
    scheduler = make_scheduler(EXECUTORS["threadpool"]())
    ends = Ends(scheduler)
    started, release = threading.Event(), threading.Event()

    def stuck() -> None:
        started.set()
        release.wait()

    scheduler.add_job(stuck, id="stuck", timeout=5)
    scheduler.start()
    try:
        hub_wait_until(started.is_set, what="the job to start in its thread")
        clock.jump(5)
        ends.wait(1)
    finally:
        release.set()

    [record] = scheduler.get_runs()
    assert record.outcome == OUTCOME_TIMEOUT
    assert record.exc_type == "greensched.executors._runpath.JobTimeoutError"


@pytest.mark.parametrize("name", EXECUTORS)
def test_a_missed_run_is_recorded_with_its_lateness(make_scheduler: Any, name: str) -> None:
    scheduler = make_scheduler(EXECUTORS[name]())
    ends = Ends(scheduler)
    scheduler.add_job(
        pooljobs.sleep_then_return,
        "interval",
        args=(0, None),
        hours=1,
        next_run_time=T0 - timedelta(seconds=10),
        misfire_grace_time=1,
        id="late",
    )
    scheduler.start()
    ends.wait(1)

    [record] = scheduler.get_runs("late")
    assert record.outcome == OUTCOME_MISSED
    assert record.scheduled == T0 - timedelta(seconds=10)
    assert record.lateness == 10.0
    assert record.started is record.ended is record.duration is None
    assert record.sort_time == record.scheduled


@pytest.mark.parametrize("name", ["gevent", "threadpool"])
def test_a_run_is_visible_as_running_while_it_runs_then_max_instances_is_recorded(
    make_scheduler: Any, clock: MockClock, name: str
) -> None:
    scheduler = make_scheduler(EXECUTORS[name]())
    ends = Ends(scheduler)
    started, release = threading.Event(), threading.Event()

    def long_job() -> str:
        started.set()
        while not release.is_set():  # in a greenlet or a thread, without blocking the hub
            gevent.sleep(0.001) if name == "gevent" else release.wait()
        return "done"

    scheduler.add_job(long_job, "interval", seconds=10, next_run_time=T0, id="long")
    scheduler.start()
    hub_wait_until(started.is_set, what="the job to start")

    [running] = scheduler.get_runs("long")
    assert running.outcome == OUTCOME_RUNNING
    assert running.started == T0
    assert running.ended is running.duration is None
    assert scheduler.get_runs(outcome="running") == [running]

    clock.jump(10)  # due again while it runs: max_instances is 1
    ends.wait(1)
    release.set()
    ends.wait(2)

    skipped, executed = scheduler.get_runs("long")
    assert skipped.outcome == OUTCOME_MAX_INSTANCES
    assert skipped.scheduled == T0 + timedelta(seconds=10)
    assert skipped.lateness == 0.0
    assert executed.run_id == running.run_id
    assert executed.outcome == OUTCOME_EXECUTED
    assert executed.retval == "'done'"
    assert scheduler.get_runs(outcome=["executed", "max_instances"]) == [skipped, executed]
