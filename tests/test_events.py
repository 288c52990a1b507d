"""Tests for greensched.events: APScheduler 3.x's codes and event classes."""

from __future__ import annotations

from datetime import datetime, timezone
from functools import reduce
from operator import or_
from typing import Any

import pytest

from greensched import events
from greensched.events import (
    EVENT_ALL,
    EVENT_JOB_ADDED,
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_SUBMITTED,
    EVENT_JOBSTORE_ADDED,
    EVENT_SCHEDULER_START,
    EVENT_SCHEDULER_STARTED,
    JobEvent,
    JobExecutionEvent,
    JobSubmissionEvent,
    SchedulerEvent,
)

RUN_TIME = datetime(2024, 1, 1, 12, 0, tzinfo=timezone.utc)

#: The codes and values APScheduler 3.x documents
EXPECTED_CODES = {
    "EVENT_SCHEDULER_STARTED": 1,
    "EVENT_SCHEDULER_START": 1,
    "EVENT_SCHEDULER_SHUTDOWN": 2,
    "EVENT_SCHEDULER_PAUSED": 4,
    "EVENT_SCHEDULER_RESUMED": 8,
    "EVENT_EXECUTOR_ADDED": 16,
    "EVENT_EXECUTOR_REMOVED": 32,
    "EVENT_JOBSTORE_ADDED": 64,
    "EVENT_JOBSTORE_REMOVED": 128,
    "EVENT_ALL_JOBS_REMOVED": 256,
    "EVENT_JOB_ADDED": 512,
    "EVENT_JOB_REMOVED": 1024,
    "EVENT_JOB_MODIFIED": 2048,
    "EVENT_JOB_EXECUTED": 4096,
    "EVENT_JOB_ERROR": 8192,
    "EVENT_JOB_MISSED": 16384,
    "EVENT_JOB_SUBMITTED": 32768,
    "EVENT_JOB_MAX_INSTANCES": 65536,
}
#: greensched's own codes, after APScheduler's and outside EVENT_ALL
GREENSCHED_CODES = {"EVENT_JOB_CLAIM_LOST": 131072}


def _event_names(module: Any) -> dict[str, int]:
    return {name: getattr(module, name) for name in dir(module) if name.startswith("EVENT_")}


def test_codes_have_the_documented_values() -> None:
    assert _event_names(events) == {**EXPECTED_CODES, **GREENSCHED_CODES, "EVENT_ALL": EVENT_ALL}


def test_codes_match_apscheduler() -> None:
    aps_events = pytest.importorskip("apscheduler.events")
    ours = {
        name: code for name, code in _event_names(events).items() if name not in GREENSCHED_CODES
    }
    assert ours == _event_names(aps_events)


def test_codes_are_distinct_powers_of_two() -> None:
    every = {**EXPECTED_CODES, **GREENSCHED_CODES}
    codes = {value for name, value in every.items() if name != "EVENT_SCHEDULER_START"}
    assert len(codes) == len(every) - 1
    assert all(code > 0 and code & (code - 1) == 0 for code in codes)


def test_scheduler_start_is_an_alias_of_started() -> None:
    assert EVENT_SCHEDULER_START == EVENT_SCHEDULER_STARTED


def test_event_all_is_every_code() -> None:
    assert reduce(or_, EXPECTED_CODES.values()) == EVENT_ALL
    assert EVENT_ALL == 2**17 - 1
    assert not any(code & EVENT_ALL for code in GREENSCHED_CODES.values())


def test_event_all_matches_apscheduler() -> None:
    aps_events = pytest.importorskip("apscheduler.events")
    assert EVENT_ALL == aps_events.EVENT_ALL


def test_masks_combine_like_apscheduler_listeners_expect() -> None:
    mask = EVENT_JOB_EXECUTED | EVENT_JOB_ERROR
    assert EVENT_JOB_ERROR & mask
    assert not EVENT_JOB_ADDED & mask


# Event classes


def test_scheduler_event() -> None:
    event = SchedulerEvent(EVENT_JOBSTORE_ADDED, "default")
    assert (event.code, event.alias) == (EVENT_JOBSTORE_ADDED, "default")
    assert repr(event) == "<SchedulerEvent (code=64)>"


def test_scheduler_event_alias_defaults_to_none() -> None:
    assert SchedulerEvent(EVENT_SCHEDULER_STARTED).alias is None


def test_job_event() -> None:
    event = JobEvent(EVENT_JOB_ADDED, "job1", "default")
    assert isinstance(event, SchedulerEvent)
    assert (event.code, event.job_id, event.jobstore, event.alias) == (
        EVENT_JOB_ADDED,
        "job1",
        "default",
        None,
    )
    assert repr(event) == "<JobEvent (code=512)>"


def test_job_submission_event() -> None:
    event = JobSubmissionEvent(EVENT_JOB_SUBMITTED, "job1", "default", [RUN_TIME])
    assert isinstance(event, JobEvent)
    assert (event.code, event.job_id, event.jobstore) == (EVENT_JOB_SUBMITTED, "job1", "default")
    assert event.scheduled_run_times == [RUN_TIME]
    assert repr(event) == "<JobSubmissionEvent (code=32768)>"


def test_job_execution_event_defaults() -> None:
    event = JobExecutionEvent(EVENT_JOB_EXECUTED, "job1", "default", RUN_TIME)
    assert isinstance(event, JobEvent)
    assert (event.code, event.job_id, event.jobstore) == (EVENT_JOB_EXECUTED, "job1", "default")
    assert event.scheduled_run_time == RUN_TIME
    assert (event.retval, event.exception, event.traceback) == (None, None, None)
    assert repr(event) == "<JobExecutionEvent (code=4096)>"


def test_job_execution_event_with_result_and_error() -> None:
    error = RuntimeError("boom")
    event = JobExecutionEvent(
        EVENT_JOB_ERROR, "job1", None, RUN_TIME, retval=5, exception=error, traceback="tb"
    )
    assert (event.retval, event.exception, event.traceback) == (5, error, "tb")
    assert event.jobstore is None


def test_job_execution_event_positional_arguments_like_apscheduler() -> None:
    # APScheduler 3.x executors build these positionally
    error = ValueError("x")
    event = JobExecutionEvent(EVENT_JOB_ERROR, "job1", "store", RUN_TIME, None, error, "tb")
    assert (event.retval, event.exception, event.traceback) == (None, error, "tb")


@pytest.mark.parametrize(
    ("cls", "args"),
    [
        (SchedulerEvent, (EVENT_SCHEDULER_STARTED, "alias")),
        (JobEvent, (EVENT_JOB_ADDED, "job1", "default")),
        (JobSubmissionEvent, (EVENT_JOB_SUBMITTED, "job1", "default", [RUN_TIME])),
        (JobExecutionEvent, (EVENT_JOB_MAX_INSTANCES, "job1", "default", RUN_TIME, 1, None, None)),
    ],
    ids=["scheduler", "job", "submission", "execution"],
)
def test_event_classes_take_apscheduler_arguments(cls: type, args: tuple[Any, ...]) -> None:
    aps_events = pytest.importorskip("apscheduler.events")
    ours, theirs = cls(*args), getattr(aps_events, cls.__name__)(*args)
    attributes = vars(ours)
    if cls is JobExecutionEvent:  # greensched's run timing, unknown when not given
        assert (attributes.pop("started"), attributes.pop("duration")) == (None, None)
    assert attributes == vars(theirs)


def _raise_and_catch() -> BaseException:
    try:
        raise KeyError("missing")
    except KeyError as exc:
        return exc


def test_deferred_traceback_is_formatted_on_first_read_and_kept() -> None:
    import traceback

    error = _raise_and_catch()
    event = JobExecutionEvent(EVENT_JOB_ERROR, "job1", "store", RUN_TIME, exception=error)
    events._defer_traceback(event, error.__traceback__)  # type: ignore[arg-type]
    assert "traceback" not in vars(event)
    text = event.traceback
    assert text == "".join(traceback.format_tb(error.__traceback__))
    assert 'raise KeyError("missing")' in text
    assert vars(event)["traceback"] is text
    assert "_traceback_source" not in vars(event)


def test_deferred_stack_is_formatted_like_format_stack() -> None:
    import sys
    import traceback

    def capture() -> tuple[traceback.StackSummary, str]:
        # The caller's frame, which stays on one line meanwhile, as the pool's timed-out thread
        frame = sys._getframe(1)
        stack = traceback.StackSummary.extract(traceback.walk_stack(frame), lookup_lines=False)
        stack.reverse()
        return stack, "".join(traceback.format_stack(frame))

    stack, expected = capture()
    event = JobExecutionEvent(EVENT_JOB_ERROR, "job1", "store", RUN_TIME)
    events._defer_traceback(event, stack)
    assert event.traceback == expected


def test_traceback_of_the_class_is_its_descriptor() -> None:
    assert isinstance(JobExecutionEvent.traceback, events._LazyTraceback)


def test_pickled_execution_event_keeps_its_attributes() -> None:
    import pickle

    event = JobExecutionEvent(EVENT_JOB_ERROR, "job1", "store", RUN_TIME, None, None, "tb")
    clone = pickle.loads(pickle.dumps(event))
    assert vars(clone) == vars(event)
    assert clone.traceback == "tb"
