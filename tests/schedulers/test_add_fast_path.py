"""add_job's fast path (the usual arguments, no re-checking of each value): the jobs it makes
are the jobs the general path makes, and bad values are still refused with the same errors."""

from __future__ import annotations

import copy
import logging
import pickle
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal
from typing import Any

import pytest

from greensched.events import EVENT_ALL, EVENT_JOB_ADDED, EVENT_JOB_REMOVED, JobEvent
from greensched.job import NO_KWARGS, Job
from greensched.schedulers.base import STATE_STOPPED
from greensched.triggers.date import DateTrigger
from greensched.triggers.interval import IntervalTrigger

from .conftest import RecordingScheduler

RUN_OPTIONS = ("misfire_grace_time", "coalesce", "max_instances", "timeout", "next_run_time")


def plain(a: int, b: int = 2, *, c: int = 3) -> None:
    """A module-level function (it has a reference)."""


def no_arguments() -> None:
    """A function without arguments."""


class Base:
    def method(self, x: int) -> None:
        """A method, inherited by Derived."""

    @classmethod
    def klass(cls, x: int) -> None:
        """A class method."""


class Derived(Base):
    pass


def general_job(scheduler: RecordingScheduler, **options: Any) -> Job:
    """The job the general (checking) path makes from the same arguments."""
    options.setdefault("executor", "default")
    return Job(scheduler, **options)


def made_attributes(job: Job) -> dict[str, Any]:
    attributes = job._attributes()
    for name in (*RUN_OPTIONS, "_jobstore_alias"):
        attributes.pop(name, None)
    return attributes


@pytest.mark.parametrize(
    ("func", "args", "kwargs"),
    [
        pytest.param(plain, [1], None, id="function-list-args"),
        pytest.param(plain, (1, 5), {"c": 4}, id="function-kwargs"),
        pytest.param(no_arguments, None, {}, id="function-empty-kwargs"),
        pytest.param(Base().method, (1,), None, id="bound-method"),
        pytest.param(Derived().method, (1,), None, id="inherited-bound-method"),
        pytest.param(Derived.klass, (1,), None, id="classmethod"),
        pytest.param(lambda: None, None, None, id="lambda"),
    ],
)
def test_a_pending_job_is_the_job_the_general_path_makes(
    scheduler: RecordingScheduler, func: Any, args: Any, kwargs: Any
) -> None:
    for _ in range(2):  # the second time, from the facts kept about the callable
        job = scheduler.add_job(func, "date", args, kwargs, id="j", replace_existing=True)
        expected = general_job(
            scheduler, id="j", func=func, args=args, kwargs=kwargs, trigger=job.trigger
        )
        assert made_attributes(job) == made_attributes(expected)
        assert job.pending
        for name in RUN_OPTIONS:  # filled in from the defaults when the job is stored
            assert not hasattr(job, name)


def test_an_inherited_method_has_its_own_class_in_its_reference(
    scheduler: RecordingScheduler,
) -> None:
    base = scheduler.add_job(Base().method, "date", [1])
    derived = scheduler.add_job(Derived().method, "date", [1])
    assert base.func_ref == f"{__name__}:Base.method"
    assert derived.func_ref == f"{__name__}:Derived.method"
    assert (base.name, derived.name) == ("Base.method", "Derived.method")


def test_a_stored_job_gets_the_scheduler_defaults_and_its_first_run_time(
    mock_clock: Any, timezone: Any, executor: Any
) -> None:
    scheduler = RecordingScheduler(
        clock=mock_clock,
        timezone=timezone,
        executors={"default": executor},
        job_defaults={"misfire_grace_time": 7, "coalesce": False, "max_instances": 3},
    )
    scheduler.start()
    job = scheduler.add_job(no_arguments, "interval", seconds=30, id="j")
    assert (job.misfire_grace_time, job.coalesce, job.max_instances, job.timeout) == (
        7,
        False,
        3,
        None,
    )
    assert job.next_run_time == mock_clock.now() + timedelta(seconds=30)
    assert job._jobstore_alias == "default"
    given = scheduler.add_job(
        no_arguments, "interval", seconds=30, id="g", max_instances=5, timeout=2.5
    )
    assert (given.misfire_grace_time, given.max_instances, given.timeout) == (7, 5, 2.5)
    scheduler.shutdown()


@pytest.mark.parametrize("started", [False, True], ids=["pending", "started"])
def test_an_explicit_next_run_time_is_kept(
    scheduler: RecordingScheduler, timezone: Any, started: bool
) -> None:
    if started:
        scheduler.start()
    aware = datetime(2031, 5, 6, 7, 8, tzinfo=dt_timezone.utc)
    assert (
        scheduler.add_job(no_arguments, "interval", hours=1, next_run_time=aware).next_run_time
        is aware
    )
    naive = scheduler.add_job(
        no_arguments, "interval", hours=1, next_run_time=datetime(2031, 5, 6, 7, 8)
    )
    assert naive.next_run_time == datetime(2031, 5, 6, 7, 8, tzinfo=timezone)
    paused = scheduler.add_job(no_arguments, "interval", hours=1, next_run_time=None)
    assert paused.next_run_time is None
    text = scheduler.add_job(no_arguments, "interval", hours=1, next_run_time="2031-05-06 07:08")
    assert text.next_run_time == datetime(2031, 5, 6, 7, 8, tzinfo=timezone)
    if started:
        scheduler.shutdown()


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        pytest.param(
            {"args": [1, 2, 3]},
            ValueError,
            r"^The list of positional arguments is longer",
            id="args",
        ),
        pytest.param(
            {"kwargs": {"d": 1}},
            ValueError,
            r"^The target callable does not accept the following keyword arguments: d$",
            id="kwargs",
        ),
        pytest.param(
            {"args": "ab"},
            ValueError,
            r"^args must be a non-string iterable, got: 'ab'$",
            id="string-args",
        ),
        pytest.param({"id": 5}, TypeError, r"^id must be a string, got: 5$", id="id"),
        pytest.param(
            {"name": ""}, ValueError, r"^name must be a non-empty string, got: ''$", id="name"
        ),
        pytest.param(
            {"executor": 3}, TypeError, r"^executor must be a string, got: 3$", id="executor"
        ),
        pytest.param(
            {"max_instances": 0},
            ValueError,
            r"^max_instances must be a positive integer, got: 0$",
            id="max-instances",
        ),
        pytest.param(
            {"next_run_time": 5},
            TypeError,
            r"^Unsupported type for next_run_time: int",
            id="next-run-time",
        ),
    ],
)
def test_bad_values_are_still_refused_once_the_callable_is_known(
    scheduler: RecordingScheduler, arguments: dict[str, Any], error: type[Exception], message: str
) -> None:
    scheduler.add_job(plain, "date", [1])  # the facts of plain are kept from now on
    options: dict[str, Any] = {"args": [1], **arguments}
    with pytest.raises(error, match=message):
        scheduler.add_job(plain, "date", **options)
    assert len(scheduler.get_jobs()) == 1


def test_a_job_without_kwargs_shares_an_empty_dict_that_refuses_changes(
    scheduler: RecordingScheduler,
) -> None:
    first = scheduler.add_job(no_arguments, "date", id="first")
    second = scheduler.add_job(no_arguments, "date", id="second", kwargs={})
    assert first.kwargs == {}
    assert isinstance(first.kwargs, dict)
    assert first.kwargs is second.kwargs is NO_KWARGS
    with pytest.raises(TypeError, match=r"^the kwargs of a job without keyword arguments"):
        first.kwargs["x"] = 1
    with pytest.raises(TypeError, match=r"^the kwargs of a job without keyword arguments"):
        first.kwargs.update(x=1)
    first.kwargs.update({})  # no change: allowed
    assert second.kwargs == {}
    scheduler.modify_job("first", func=plain, args=[1], kwargs={"c": 1})
    assert first.kwargs == {"c": 1}
    assert second.kwargs == {}
    assert type(copy.copy(second.kwargs)) is dict
    assert type(copy.deepcopy(second.kwargs)) is dict
    assert type(pickle.loads(pickle.dumps(second.kwargs))) is dict


def test_the_state_of_a_job_without_kwargs_holds_a_plain_dict(
    scheduler: RecordingScheduler,
) -> None:
    scheduler.start()
    job = scheduler.add_job(no_arguments, "date", id="j")
    state = job.__getstate__()
    assert type(state["kwargs"]) is dict
    assert state["kwargs"] == {}
    restored = Job.__new__(Job)
    restored.__setstate__(pickle.loads(pickle.dumps(state)))
    assert restored.kwargs is NO_KWARGS
    scheduler.shutdown()


def test_job_added_event_and_log_line(
    scheduler: RecordingScheduler, events: list[Any], caplog: pytest.LogCaptureFixture
) -> None:
    scheduler.start()
    caplog.set_level(logging.INFO, logger=scheduler._logger.name)
    scheduler.add_job(no_arguments, "date", id="j", name="the job")
    added = [event for event in events if event.code == EVENT_JOB_ADDED]
    assert [(event.job_id, event.jobstore) for event in added] == [("j", "default")]
    assert isinstance(added[0], JobEvent)
    assert """Added job 'j' ("the job") to job store 'default'""" in caplog.messages
    scheduler.shutdown()


def test_no_listener_for_added_jobs_gets_nothing(
    mock_clock: Any, timezone: Any, executor: Any
) -> None:
    scheduler = RecordingScheduler(
        clock=mock_clock, timezone=timezone, executors={"default": executor}
    )
    removed: list[Any] = []
    everything: list[Any] = []
    scheduler.add_listener(removed.append, EVENT_JOB_REMOVED)
    scheduler.start()
    scheduler.add_job(no_arguments, "date", id="j")
    assert removed == []
    scheduler.add_listener(everything.append, EVENT_ALL)
    scheduler.add_job(no_arguments, "date", id="k")
    assert [event.job_id for event in everything if event.code == EVENT_JOB_ADDED] == ["k"]
    scheduler.shutdown()


def test_a_job_added_before_start_is_stored_with_its_defaults(
    scheduler: RecordingScheduler, mock_clock: Any
) -> None:
    assert scheduler.state == STATE_STOPPED
    job = scheduler.add_job(no_arguments, "date", run_date=mock_clock.now() + timedelta(hours=1))
    scheduler.start()
    assert (job.misfire_grace_time, job.coalesce, job.max_instances, job.timeout) == (
        1,
        True,
        1,
        None,
    )
    assert job.next_run_time == job.trigger.run_date
    scheduler.shutdown()


@pytest.mark.parametrize("length", [True, Decimal(1), 1.0, "1"])
def test_a_cached_interval_does_not_let_a_bad_length_through(length: Any) -> None:
    assert IntervalTrigger(hours=1).interval == timedelta(hours=1)  # cached
    if isinstance(length, float):
        assert IntervalTrigger(hours=length).interval == timedelta(hours=1)
    else:
        with pytest.raises(TypeError, match=r"^hours must be a number, got: "):
            IntervalTrigger(hours=length)


def test_a_date_trigger_keeps_an_aware_run_date() -> None:
    when = datetime(2031, 1, 2, 3, 4, tzinfo=dt_timezone(timedelta(hours=2)))
    assert DateTrigger(when).run_date is when
