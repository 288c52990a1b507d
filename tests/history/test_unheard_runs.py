"""Runs whose ``EVENT_JOB_EXECUTED`` event nobody listens for (the scheduler's usual case, where
no event is made for a run that returns) are recorded as fully as the others: their return
value, their failure, a run ended by ``SystemExit``, and the runs of a scheduler started again
while a run of its previous start still goes on."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from gevent.event import Event

from greensched.events import EVENT_JOB_ERROR, JobExecutionEvent
from greensched.history import OUTCOME_ERROR, OUTCOME_EXECUTED, OUTCOME_RUNNING
from greensched.history._records import REPR_LIMIT
from tests.history.conftest import EXECUTORS, T0
from tests.support import hub_wait_until

#: the executors that call the job in a greenlet of the scheduler's hub (JobRun.run_here)
IN_THE_HUB = ["gevent", "debug"]


#: set by the jobs below when they are called (reset before each test)
CALLED = Event()


@pytest.fixture(autouse=True)
def _reset_called() -> None:
    CALLED.clear()


def returning(value: Any) -> Any:
    CALLED.set()
    return value


class BrokenRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


def test_a_run_nobody_listens_to_is_recorded_from_its_start_to_its_end(
    make_scheduler: Any,
) -> None:
    scheduler = make_scheduler()
    started, release = Event(), Event()

    def answer() -> dict[str, int]:
        started.set()
        release.wait()
        return {"answer": 42}

    scheduler.add_job(answer, id="answer", name="Answer")
    scheduler.start()
    started.wait()

    [running] = scheduler.get_runs()
    assert running.outcome == OUTCOME_RUNNING
    assert (running.job_id, running.job_name, running.scheduled) == ("answer", "Answer", T0)
    assert running.started == T0
    assert running.run_id.startswith(running.owner + "-")
    assert running.host
    assert running.pid
    assert scheduler.get_runs(outcome=OUTCOME_RUNNING) == [running]

    release.set()
    scheduler.shutdown()  # waits for the run to be reported

    [record] = scheduler.get_runs()
    assert record.run_id == running.run_id
    assert record.outcome == OUTCOME_EXECUTED
    assert record.retval == "{'answer': 42}"
    assert record.duration == 0.0  # mock time stood still
    assert record.ended == T0
    assert record.exc_type is record.exc_message is record.traceback is None
    assert (record.host, record.pid, record.owner) == (running.host, running.pid, running.owner)


@pytest.mark.parametrize("name", IN_THE_HUB)
def test_a_run_nobody_listens_to_is_recorded_with_its_return_value(
    make_scheduler: Any, name: str
) -> None:
    scheduler = make_scheduler(EXECUTORS[name]())
    scheduler.add_job(returning, args=({"answer": 42},), id="answer", name="Answer")
    scheduler.start()
    CALLED.wait()
    scheduler.shutdown()  # waits for the run to be reported

    [record] = scheduler.get_runs()
    assert (record.job_id, record.job_name, record.scheduled) == ("answer", "Answer", T0)
    assert record.outcome == OUTCOME_EXECUTED
    assert record.retval == "{'answer': 42}"
    assert (record.started, record.duration) == (T0, 0.0)
    assert record.run_id.startswith(record.owner + "-")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "None"),
        ("y" * 10_000, "'" + "y" * (REPR_LIMIT - 2) + "…"),
        (BrokenRepr(), "<repr failed: builtins.RuntimeError>"),
    ],
    ids=["none", "long", "broken-repr"],
)
def test_the_return_value_of_a_run_nobody_listens_to_is_kept_as_its_cut_repr(
    make_scheduler: Any, value: Any, expected: str
) -> None:
    scheduler = make_scheduler()
    scheduler.add_job(returning, args=(value,), id="value")
    scheduler.start()
    CALLED.wait()
    scheduler.shutdown()

    [record] = scheduler.get_runs()
    assert record.outcome == OUTCOME_EXECUTED
    assert record.retval == expected


@pytest.mark.parametrize("name", IN_THE_HUB)
def test_a_failed_run_with_only_an_error_listener_is_recorded_and_dispatched(
    make_scheduler: Any, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    scheduler = make_scheduler(EXECUTORS[name]())
    errors: list[JobExecutionEvent] = []
    scheduler.add_listener(errors.append, EVENT_JOB_ERROR)

    def failing() -> None:
        raise ValueError("no such file")

    scheduler.add_job(failing, id="failing")
    scheduler.add_job(returning, args=("fine",), id="fine")
    scheduler.start()
    CALLED.wait()
    scheduler.shutdown()

    records = {record.job_id: record for record in scheduler.get_runs()}
    assert records["fine"].outcome == OUTCOME_EXECUTED
    assert records["fine"].retval == "'fine'"
    failed = records["failing"]
    assert failed.outcome == OUTCOME_ERROR
    assert (failed.exc_type, failed.exc_message) == ("builtins.ValueError", "no such file")
    assert failed.traceback is not None
    assert 'raise ValueError("no such file")' in failed.traceback
    assert failed.retval is None
    [event] = errors
    assert (event.job_id, type(event.exception)) == ("failing", ValueError)
    assert event.traceback is not None  # the listener's, as with any listener
    assert event.duration == failed.duration
    assert any(
        r.levelno == logging.ERROR
        and r.getMessage().startswith("Job 'failing' (")
        and r.getMessage().endswith(" raised an exception")
        for r in caplog.records
    )


def test_a_run_ended_by_system_exit_is_recorded_as_an_error(
    make_scheduler: Any, caplog: pytest.LogCaptureFixture
) -> None:
    scheduler = make_scheduler()

    def exiting() -> None:
        CALLED.set()
        raise SystemExit(3)

    scheduler.add_job(exiting, id="exiting")
    scheduler.start()
    CALLED.wait()
    scheduler.shutdown()

    [record] = scheduler.get_runs()
    assert record.outcome == OUTCOME_ERROR
    assert (record.exc_type, record.exc_message) == ("builtins.SystemExit", "3")
    assert record.duration == 0.0
    assert any(r.getMessage() == "Error running job 'exiting'" for r in caplog.records)


def test_a_run_of_a_previous_start_still_going_is_recorded_apart_from_the_new_runs(
    make_scheduler: Any,
) -> None:
    """A scheduler shut down without waiting and started again records its runs anew (its run
    numbers start over): the run still going from before keeps its own record."""
    scheduler = make_scheduler()
    started, release = Event(), Event()

    def slow() -> str:
        started.set()
        release.wait()
        return "slow"

    scheduler.add_job(slow, id="slow")
    scheduler.start()
    started.wait()
    [before] = scheduler.get_runs()
    scheduler.shutdown(wait=False)

    scheduler.add_job(lambda: "quick", id="quick")
    scheduler.start()
    hub_wait_until(
        lambda: [run.outcome for run in scheduler.get_runs("quick")] == [OUTCOME_EXECUTED],
        what="the quick run to be recorded",
    )
    assert [run.outcome for run in scheduler.get_runs("slow")] == [OUTCOME_RUNNING]
    release.set()
    scheduler.shutdown()

    [slow_run] = scheduler.get_runs("slow")
    [quick_run] = scheduler.get_runs("quick")
    assert (slow_run.run_id, slow_run.outcome, slow_run.retval) == (
        before.run_id,
        OUTCOME_EXECUTED,
        "'slow'",
    )
    assert (quick_run.outcome, quick_run.retval) == (OUTCOME_EXECUTED, "'quick'")
    assert quick_run.owner != slow_run.owner
    assert quick_run.run_id.startswith(quick_run.owner + "-")
