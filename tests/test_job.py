"""Tests for greensched.job.Job, built with a stub scheduler and a stub trigger, including its
share of the processing loop's fast path and of memory per job."""

from __future__ import annotations

import pickle
import re
import threading
import weakref
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from greensched.job import Job
from greensched.triggers.base import BaseTrigger

BERLIN = ZoneInfo("Europe/Berlin")
NOON = datetime(2024, 7, 1, 12, 0, tzinfo=BERLIN)


class StubScheduler:
    """Just what a Job uses of its scheduler: ``timezone`` and the job methods (recorded)."""

    timezone = BERLIN

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def modify_job(self, job_id: str, jobstore: str | None = None, **changes: Any) -> None:
        self.calls.append(("modify_job", job_id, jobstore, changes))

    def reschedule_job(
        self, job_id: str, jobstore: str | None = None, trigger: Any = None, **trigger_args: Any
    ) -> None:
        self.calls.append(("reschedule_job", job_id, jobstore, trigger, trigger_args))

    def pause_job(self, job_id: str, jobstore: str | None = None) -> None:
        self.calls.append(("pause_job", job_id, jobstore))

    def resume_job(self, job_id: str, jobstore: str | None = None) -> None:
        self.calls.append(("resume_job", job_id, jobstore))

    def remove_job(self, job_id: str, jobstore: str | None = None) -> None:
        self.calls.append(("remove_job", job_id, jobstore))


class StubTrigger(BaseTrigger):
    """Fires every ``interval`` seconds (elapsed time) after the previous fire time, until
    ``end``."""

    def __init__(self, interval: float = 10, end: datetime | None = None) -> None:
        self.interval = interval
        self.end = end

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        start = previous_fire_time or now
        result = (start.astimezone(timezone.utc) + timedelta(seconds=self.interval)).astimezone(
            start.tzinfo
        )
        if self.end is not None and result > self.end:
            return None
        return result

    def __eq__(self, other: object) -> bool:
        if isinstance(other, StubTrigger):
            return (self.interval, self.end) == (other.interval, other.end)
        return NotImplemented

    def __str__(self) -> str:
        return f"stub[{self.interval}s]"


# Module-level callables, so that jobs get a textual reference and can be pickled


def job_func(a: int, b: int = 2, *, c: int = 3) -> int:
    return a + b + c


def no_args() -> None:
    pass


NOT_CALLABLE = 5


class Owner:
    """Its bound methods are job callables; instances are equal by value, so that a copy
    restored from a pickled state can be compared."""

    def __init__(self, value: int = 1) -> None:
        self.value = value

    def method(self, a: int = 0, *, b: int = 0) -> tuple[int, int, int]:
        return (self.value, a, b)

    @classmethod
    def class_method(cls) -> str:
        return cls.__name__

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Owner):
            return self.value == other.value
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]


class SubOwner(Owner):
    """Inherits ``method``: its reference names the instance's class, as in APScheduler 3.x."""


class Aliased:
    """Has ``renamed`` only under another name than its function's: no reference resolves."""

    def _impl(self) -> None:
        pass

    renamed = _impl
    del _impl


#: a module-level instance, for textual references to its bound method
OWNER = Owner(7)


@pytest.fixture
def scheduler() -> StubScheduler:
    return StubScheduler()


def make_job(scheduler: Any = None, **options: Any) -> Job:
    """A fully specified job (as a scheduler builds it after applying its job defaults)."""
    kwargs: dict[str, Any] = {
        "id": "job1",
        "func": job_func,
        "args": (1,),
        "kwargs": {"c": 4},
        "trigger": StubTrigger(),
        "executor": "default",
        "misfire_grace_time": 1,
        "coalesce": True,
        "max_instances": 1,
        "next_run_time": NOON,
    }
    kwargs.update(options)
    return Job(scheduler or StubScheduler(), **kwargs)


_ATTRIBUTES = (
    "id",
    "name",
    "func",
    "func_ref",
    "args",
    "kwargs",
    "trigger",
    "executor",
    "misfire_grace_time",
    "coalesce",
    "max_instances",
    "next_run_time",
)


def attributes(job: Job) -> dict[str, Any]:
    return {name: getattr(job, name) for name in _ATTRIBUTES if hasattr(job, name)}


# id


def test_id_is_generated(scheduler: StubScheduler) -> None:
    first = Job(scheduler, func=no_args, trigger=StubTrigger())
    second = Job(scheduler, func=no_args, trigger=StubTrigger())
    assert re.fullmatch(r"[0-9a-f]{32}", first.id)
    assert first.id != second.id


def test_empty_id_is_generated(scheduler: StubScheduler) -> None:
    job = Job(scheduler, id="", func=no_args, trigger=StubTrigger())
    assert re.fullmatch(r"[0-9a-f]{32}", job.id)


def test_given_id_is_kept() -> None:
    assert make_job(id="my-job").id == "my-job"


def test_id_must_be_a_string(scheduler: StubScheduler) -> None:
    with pytest.raises(TypeError, match=r"^id must be a string, got: 5$"):
        Job(scheduler, id=5, func=no_args, trigger=StubTrigger())  # type: ignore[arg-type]


def test_id_cannot_be_changed() -> None:
    job = make_job()
    with pytest.raises(
        ValueError, match=r"^The job ID may not be changed \(job 'job1', got: 'other'\)$"
    ):
        job._modify(id="other")
    assert job.id == "job1"


def test_same_id_is_not_a_change() -> None:
    job = make_job()
    job._modify(id="job1", name="renamed")
    assert (job.id, job.name) == ("job1", "renamed")


# func


def test_func_callable() -> None:
    job = make_job()
    assert job.func is job_func
    assert job.func_ref == f"{__name__}:job_func"
    assert job.name == "job_func"


def test_func_reference_string() -> None:
    job = make_job(func=f"{__name__}:job_func")
    assert job.func is job_func
    assert job.func_ref == f"{__name__}:job_func"
    assert job.name == "job_func"


def test_func_without_reference_has_no_func_ref(scheduler: StubScheduler) -> None:
    job = Job(scheduler, func=lambda: None, trigger=StubTrigger())
    assert job.func_ref is None
    assert job.name == "test_func_without_reference_has_no_func_ref.<locals>.<lambda>"


def test_func_bound_method_gets_the_reference_of_its_class_function() -> None:
    # as in APScheduler 3.x: the bound method itself is kept until the job is saved
    owner = Owner()
    job = make_job(func=owner.method, args=(5,), kwargs={"b": 6})
    assert job.func == owner.method
    assert job.func.__self__ is owner
    assert (job.func_ref, job.args, job.kwargs) == (f"{__name__}:Owner.method", (5,), {"b": 6})
    assert job.name == "Owner.method"


def test_func_inherited_bound_method_names_the_instance_class() -> None:
    job = make_job(func=SubOwner().method, args=(), kwargs={})
    assert (job.func_ref, job.name) == (f"{__name__}:SubOwner.method", "SubOwner.method")


def test_func_class_method_reference_is_unchanged() -> None:
    job = make_job(func=Owner.class_method, args=(), kwargs={})
    assert job.func_ref == f"{__name__}:Owner.class_method"


def make_local_instance_method() -> Any:
    class Local:
        def method(self) -> None:
            pass

    return Local().method


@pytest.mark.parametrize(
    "func",
    [make_local_instance_method(), Aliased().renamed],
    ids=["local-class", "function-not-on-the-class-under-its-name"],
)
def test_func_bound_method_without_a_reference(scheduler: StubScheduler, func: Any) -> None:
    job = Job(scheduler, func=func, trigger=StubTrigger())
    assert job.func is func
    assert job.func_ref is None


def test_name_given_is_kept() -> None:
    assert make_job(name="nightly report").name == "nightly report"


def test_name_none_defaults_to_the_callable_name() -> None:
    # APScheduler 3.x's add_job() passes name=None when no name is given
    assert make_job(name=None).name == "job_func"


def test_name_none_on_an_existing_job_is_rejected() -> None:
    job = make_job()
    with pytest.raises(TypeError, match=r"^name must be a string, got: None$"):
        job._modify(name=None)
    assert job.name == "job_func"


def test_changing_func_keeps_the_name() -> None:
    job = make_job()
    job._modify(func=no_args, args=(), kwargs={})
    assert (job.func, job.func_ref, job.name) == (no_args, f"{__name__}:no_args", "job_func")


@pytest.mark.parametrize("func", [42, None, [job_func]], ids=["int", "none", "list"])
def test_func_not_callable(func: Any) -> None:
    with pytest.raises(
        TypeError,
        match=rf"^func must be a callable or a 'module:name' reference, got: {re.escape(repr(func))}$",
    ):
        make_job(func=func)


def test_func_reference_to_a_non_callable() -> None:
    ref = f"{__name__}:NOT_CALLABLE"
    with pytest.raises(
        TypeError,
        match=rf"^func reference {re.escape(repr(ref))} does not point to a callable, got: 5$",
    ):
        make_job(func=ref)


def test_func_reference_invalid() -> None:
    with pytest.raises(ValueError, match=r"^Invalid reference 'job_func'"):
        make_job(func="job_func")


def test_func_reference_unresolvable() -> None:
    with pytest.raises(
        LookupError,
        match=r"^Error resolving reference greensched_nope:f: could not import module$",
    ):
        make_job(func="greensched_nope:f")


# args and kwargs


def test_args_are_stored_as_a_tuple_and_kwargs_as_a_copy() -> None:
    kwargs = {"c": 4}
    job = make_job(args=[1, 2], kwargs=kwargs)
    kwargs["c"] = 5
    assert (job.args, job.kwargs) == ((1, 2), {"c": 4})


def test_args_and_kwargs_none_mean_empty(scheduler: StubScheduler) -> None:
    job = Job(scheduler, func=no_args, args=None, kwargs=None, trigger=StubTrigger())
    assert (job.args, job.kwargs) == ((), {})


@pytest.mark.parametrize("args", ["ab", b"ab", 5], ids=["str", "bytes", "int"])
def test_args_must_be_a_non_string_iterable(args: Any) -> None:
    with pytest.raises(
        TypeError, match=rf"^args must be a non-string iterable, got: {re.escape(repr(args))}$"
    ):
        make_job(args=args)


@pytest.mark.parametrize("kwargs", [[("c", 1)], "c", 5], ids=["list", "str", "int"])
def test_kwargs_must_be_a_mapping(kwargs: Any) -> None:
    with pytest.raises(
        TypeError, match=rf"^kwargs must be a dict-like object, got: {re.escape(repr(kwargs))}$"
    ):
        make_job(kwargs=kwargs)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((), {}, "The following arguments have not been supplied: a"),
        (
            (1, 2, 3),
            {},
            (
                "The list of positional arguments is longer than the target callable can handle "
                "(allowed: 2, given in args: 3)"
            ),
        ),
        ((1,), {"d": 1}, "The target callable does not accept the following keyword arguments: d"),
        ((1,), {"a": 1}, "The following arguments are supplied in both args and kwargs: a"),
    ],
    ids=["missing", "too-many", "unknown-keyword", "both"],
)
def test_args_must_match_the_signature(
    args: tuple[Any, ...], kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=rf"^{re.escape(message)}$"):
        make_job(args=args, kwargs=kwargs)


def test_changing_args_is_checked_against_the_current_func() -> None:
    job = make_job()
    with pytest.raises(ValueError, match=r"^The following arguments have not been supplied: a$"):
        job._modify(args=())
    assert job.args == (1,)


def test_changing_func_is_checked_against_the_current_args() -> None:
    job = make_job()
    with pytest.raises(
        ValueError,
        match=r"^The list of positional arguments is longer than the target callable can handle "
        r"\(allowed: 0, given in args: 1\)$",
    ):
        job._modify(func=no_args)
    assert job.func is job_func


# Options


@pytest.mark.parametrize(
    ("option", "value", "exc_type", "message"),
    [
        (
            "misfire_grace_time",
            0,
            ValueError,
            "misfire_grace_time must be a positive integer or None, got: 0",
        ),
        (
            "misfire_grace_time",
            -1,
            ValueError,
            "misfire_grace_time must be a positive integer or None, got: -1",
        ),
        (
            "misfire_grace_time",
            1.5,
            TypeError,
            "misfire_grace_time must be a positive integer or None, got: 1.5",
        ),
        (
            "misfire_grace_time",
            True,
            TypeError,
            "misfire_grace_time must be a positive integer or None, got: True",
        ),
        ("max_instances", 0, ValueError, "max_instances must be a positive integer, got: 0"),
        ("max_instances", None, TypeError, "max_instances must be a positive integer, got: None"),
        ("max_instances", "3", TypeError, "max_instances must be a positive integer, got: '3'"),
        ("coalesce", 1, TypeError, "coalesce must be a bool, got: 1"),
        ("coalesce", "true", TypeError, "coalesce must be a bool, got: 'true'"),
        ("name", "", ValueError, "name must be a non-empty string, got: ''"),
        ("name", 5, TypeError, "name must be a string, got: 5"),
        ("executor", "", ValueError, "executor must be a non-empty string, got: ''"),
        ("executor", None, TypeError, "executor must be a string, got: None"),
        (
            "trigger",
            "interval",
            TypeError,
            "trigger must be a BaseTrigger instance, got: 'interval'",
        ),
        ("trigger", None, TypeError, "trigger must be a BaseTrigger instance, got: None"),
        (
            "timeout",
            0,
            ValueError,
            "timeout must be a positive finite number of seconds or None, got: 0",
        ),
        (
            "timeout",
            "10",
            TypeError,
            "timeout must be a positive finite number of seconds or None, got: '10'",
        ),
    ],
    ids=[
        "misfire-zero",
        "misfire-negative",
        "misfire-float",
        "misfire-bool",
        "max-instances-zero",
        "max-instances-none",
        "max-instances-string",
        "coalesce-int",
        "coalesce-string",
        "name-empty",
        "name-int",
        "executor-empty",
        "executor-none",
        "trigger-alias",
        "trigger-none",
        "timeout-zero",
        "timeout-string",
    ],
)
def test_option_validation(
    option: str, value: Any, exc_type: type[Exception], message: str
) -> None:
    with pytest.raises(exc_type, match=rf"^{re.escape(message)}$"):
        make_job(**{option: value})
    job = make_job()
    before = attributes(job)
    with pytest.raises(exc_type, match=rf"^{re.escape(message)}$"):
        job._modify(**{option: value})
    assert attributes(job) == before


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("misfire_grace_time", None),
        ("misfire_grace_time", 30),
        ("max_instances", 3),
        ("coalesce", False),
        ("executor", "threadpool"),
        ("trigger", StubTrigger(60)),
        ("timeout", None),
        ("timeout", 0.5),
    ],
    ids=[
        "misfire-none",
        "misfire",
        "max-instances",
        "coalesce",
        "executor",
        "trigger",
        "timeout-none",
        "timeout",
    ],
)
def test_option_accepted(option: str, value: Any) -> None:
    job = make_job()
    job._modify(**{option: value})
    assert getattr(job, option) == value


def test_unknown_attributes() -> None:
    job = make_job()
    before = attributes(job)
    with pytest.raises(
        AttributeError, match=r"^The following are not modifiable attributes of Job: bar, foo$"
    ):
        job._modify(name="renamed", foo=1, bar=2)
    assert attributes(job) == before


def test_func_ref_is_not_modifiable() -> None:
    with pytest.raises(
        AttributeError, match=r"^The following are not modifiable attributes of Job: func_ref$"
    ):
        make_job()._modify(func_ref="os:getcwd")


@pytest.mark.parametrize(
    "changes",
    [
        {"name": "renamed", "max_instances": 0},
        {"func": no_args, "args": (), "kwargs": {}, "coalesce": "yes"},
        {"next_run_time": datetime(2030, 1, 1, tzinfo=BERLIN), "trigger": "cron"},
        {
            "coalesce": False,
            "executor": "pool",
            "misfire_grace_time": 5,
            "next_run_time": "garbage",
        },
        {"args": (1, 2), "kwargs": {"c": 9}, "name": ""},
        {"max_instances": 4, "args": ()},
    ],
    ids=["name", "func", "next-run-time", "bad-next-run-time", "args", "bad-args"],
)
def test_modify_is_all_or_nothing(changes: dict[str, Any]) -> None:
    job = make_job()
    before = attributes(job)
    with pytest.raises((TypeError, ValueError)):
        job._modify(**changes)
    assert attributes(job) == before


# next_run_time


def test_next_run_time_naive_takes_the_scheduler_timezone() -> None:
    job = make_job(next_run_time=datetime(2024, 7, 1, 12, 0))
    assert job.next_run_time == NOON
    assert job.next_run_time.tzinfo is BERLIN


def test_next_run_time_string() -> None:
    assert make_job(next_run_time="2024-07-01 12:00:00").next_run_time == NOON
    assert make_job(next_run_time="2024-07-01T10:00:00Z").next_run_time == NOON


def test_next_run_time_aware_is_kept() -> None:
    value = datetime(2024, 7, 1, 10, 0, tzinfo=timezone.utc)
    assert make_job(next_run_time=value).next_run_time is value


def test_next_run_time_none_means_paused() -> None:
    assert make_job(next_run_time=None).next_run_time is None


def test_next_run_time_in_a_dst_gap_moves_past_it() -> None:
    job = make_job(next_run_time=datetime(2024, 3, 31, 2, 30))
    assert job.next_run_time.astimezone(timezone.utc) == datetime(
        2024, 3, 31, 1, 0, tzinfo=timezone.utc
    )


def test_next_run_time_bad_string() -> None:
    with pytest.raises(
        ValueError,
        match=r"^next_run_time must be an ISO 8601 date or datetime string, got: 'soon'$",
    ):
        make_job(next_run_time="soon")


def test_next_run_time_bad_type() -> None:
    with pytest.raises(TypeError, match=r"^Unsupported type for next_run_time: int"):
        make_job(next_run_time=5)


# _get_run_times


def test_get_run_times_up_to_now_inclusive() -> None:
    job = make_job()
    now = NOON + timedelta(seconds=30)
    assert job._get_run_times(now) == [NOON + timedelta(seconds=s) for s in (0, 10, 20, 30)]


def test_get_run_times_before_next_run_time() -> None:
    assert make_job()._get_run_times(NOON - timedelta(microseconds=1)) == []


def test_get_run_times_paused_job() -> None:
    assert make_job(next_run_time=None)._get_run_times(NOON + timedelta(hours=1)) == []


def test_get_run_times_stops_when_the_trigger_is_done() -> None:
    job = make_job(trigger=StubTrigger(10, end=NOON + timedelta(seconds=15)))
    assert job._get_run_times(NOON + timedelta(minutes=5)) == [NOON, NOON + timedelta(seconds=10)]


def test_get_run_times_now_in_another_zone() -> None:
    now = datetime(2024, 7, 1, 10, 0, 10, tzinfo=timezone.utc)  # 12:00:10 in Berlin
    assert make_job()._get_run_times(now) == [NOON, NOON + timedelta(seconds=10)]


def test_get_run_times_compares_instants_across_fall_back() -> None:
    # 02:30 CET (the second 02:30, 01:30 UTC) is not due at 02:45 CEST (the first, 00:45 UTC),
    # although its wall time is earlier
    next_run_time = datetime(2024, 10, 27, 2, 30, fold=1, tzinfo=BERLIN)
    job = make_job(next_run_time=next_run_time)
    assert job._get_run_times(datetime(2024, 10, 27, 2, 45, fold=0, tzinfo=BERLIN)) == []
    run_times = job._get_run_times(datetime(2024, 10, 27, 2, 30, 10, fold=1, tzinfo=BERLIN))
    assert [run_time.astimezone(timezone.utc) for run_time in run_times] == [
        datetime(2024, 10, 27, 1, 30, tzinfo=timezone.utc),
        datetime(2024, 10, 27, 1, 30, 10, tzinfo=timezone.utc),
    ]


# State and pickling


def test_getstate() -> None:
    trigger = StubTrigger(5)
    job = make_job(trigger=trigger, name="report", max_instances=2)
    assert job.__getstate__() == {
        "version": 1,
        "id": "job1",
        "func": f"{__name__}:job_func",
        "trigger": trigger,
        "executor": "default",
        "args": (1,),
        "kwargs": {"c": 4},
        "name": "report",
        "misfire_grace_time": 1,
        "coalesce": True,
        "max_instances": 2,
        "next_run_time": NOON,
    }


def test_getstate_has_apschedulers_keys() -> None:
    aps_job = pytest.importorskip("apscheduler.job")
    aps_date = pytest.importorskip("apscheduler.triggers.date")
    theirs = aps_job.Job(
        StubScheduler(),
        id="job1",
        func=job_func,
        args=(1,),
        kwargs={},
        trigger=aps_date.DateTrigger(NOON),
        executor="default",
        misfire_grace_time=1,
        coalesce=True,
        max_instances=1,
        next_run_time=NOON,
    )
    assert set(make_job().__getstate__()) == set(theirs.__getstate__())


def test_setstate_round_trip() -> None:
    job = make_job()
    restored = Job.__new__(Job)
    restored.__setstate__(job.__getstate__())
    assert attributes(restored) == attributes(job)


def test_setstate_without_version_is_version_1() -> None:
    state = make_job().__getstate__()
    del state["version"]
    restored = Job.__new__(Job)
    restored.__setstate__(state)
    assert restored.id == "job1"


def test_setstate_newer_version() -> None:
    state = make_job().__getstate__()
    state["version"] = 3
    with pytest.raises(
        ValueError,
        match=r"^Cannot restore Job from state version 3: this release of greensched reads "
        r"versions up to 2 \(the state was saved by a newer release\)$",
    ):
        Job.__new__(Job).__setstate__(state)


def test_getstate_with_a_timeout_is_version_2() -> None:
    trigger = StubTrigger(5)
    state = make_job(trigger=trigger, timeout=2.5).__getstate__()
    assert state == {
        "version": 2,
        "id": "job1",
        "func": f"{__name__}:job_func",
        "trigger": trigger,
        "executor": "default",
        "args": (1,),
        "kwargs": {"c": 4},
        "name": "job_func",
        "misfire_grace_time": 1,
        "coalesce": True,
        "max_instances": 1,
        "next_run_time": NOON,
        "timeout": 2.5,
    }


def test_getstate_without_a_timeout_is_apschedulers_version_1() -> None:
    state = make_job(timeout=None).__getstate__()
    assert state["version"] == 1
    assert "timeout" not in state


def test_setstate_version_1_has_no_timeout() -> None:
    state = make_job().__getstate__()
    assert state["version"] == 1
    restored = Job.__new__(Job)
    restored.__setstate__(state)
    assert restored.timeout is None


@pytest.mark.parametrize("timeout", [None, 30, 0.25], ids=["none", "int", "float"])
def test_state_round_trip_keeps_the_timeout(timeout: float | None) -> None:
    job = make_job(timeout=timeout)
    restored = Job.__new__(Job)
    restored.__setstate__(job.__getstate__())
    assert restored.timeout == timeout
    assert pickle.loads(pickle.dumps(job)).timeout == timeout


def test_job_without_timeout_is_readable_by_apscheduler() -> None:
    """States of jobs without a timeout stay in APScheduler 3.x's format."""
    aps_job = pytest.importorskip("apscheduler.job")
    theirs = aps_job.Job.__new__(aps_job.Job)
    theirs.__setstate__(make_job(func=f"{__name__}:job_func").__getstate__())
    assert theirs.id == "job1"
    with pytest.raises(ValueError, match="version 2"):
        aps_job.Job.__new__(aps_job.Job).__setstate__(make_job(timeout=5).__getstate__())


@pytest.mark.parametrize("protocol", range(2, pickle.HIGHEST_PROTOCOL + 1))
def test_pickle_round_trip(protocol: int) -> None:
    job = make_job(func=f"{__name__}:job_func", name="report")
    restored = pickle.loads(pickle.dumps(job, protocol))
    assert attributes(restored) == attributes(job)
    assert restored.func is job_func
    assert restored.trigger == job.trigger


# Bound methods of instances in the state (APScheduler 3.x's format)


def test_bound_method_state_holds_the_function_reference_and_the_instance() -> None:
    owner = Owner(3)
    job = make_job(func=owner.method, args=(5,), kwargs={"b": 6})
    state = job.__getstate__()
    assert (state["func"], state["args"], state["kwargs"]) == (
        f"{__name__}:Owner.method",
        (owner, 5),
        {"b": 6},
    )
    assert state["args"][0] is owner
    assert state["version"] == 1
    assert (job.func, job.args) == (owner.method, (5,))  # the job itself is unchanged


def test_bound_method_round_trip_gives_the_function_and_the_instance_first() -> None:
    job = make_job(func=Owner(3).method, args=(5,), kwargs={"b": 6})
    restored = pickle.loads(pickle.dumps(job))
    assert restored.func is Owner.method
    assert (restored.func_ref, restored.args, restored.kwargs) == (
        f"{__name__}:Owner.method",
        (Owner(3), 5),
        {"b": 6},
    )
    assert restored.name == "Owner.method"
    assert restored.func(*restored.args, **restored.kwargs) == (3, 5, 6)
    # saved again, the restored job keeps the same state: the instance is not added twice
    assert restored.__getstate__()["args"] == (Owner(3), 5)
    assert pickle.loads(pickle.dumps(restored)).args == (Owner(3), 5)


def test_inherited_bound_method_round_trip() -> None:
    job = make_job(func=SubOwner(4).method, args=(), kwargs={})
    restored = pickle.loads(pickle.dumps(job))
    assert restored.func is Owner.method
    assert restored.func_ref == f"{__name__}:SubOwner.method"
    assert type(restored.args[0]) is SubOwner
    assert restored.func(*restored.args) == (4, 0, 0)


def test_modified_args_of_a_bound_method_job_are_saved_after_the_instance() -> None:
    owner = Owner(3)
    job = make_job(func=owner.method, args=(5,), kwargs={})
    job._modify(args=(8,))
    assert (job.func_ref, job.args) == (f"{__name__}:Owner.method", (8,))
    assert job.__getstate__()["args"] == (owner, 8)


def test_textual_reference_to_a_bound_method_is_saved_as_given() -> None:
    # the reference itself resolves to the bound method again: the instance is not stored
    ref = f"{__name__}:OWNER.method"
    job = make_job(func=ref, args=(5,), kwargs={})
    assert job.func == OWNER.method
    job._modify(args=(6,))
    assert job.func_ref == ref  # modifying the arguments keeps the reference
    state = job.__getstate__()
    assert (state["func"], state["args"]) == (ref, (6,))
    restored = pickle.loads(pickle.dumps(job))
    assert restored.func == OWNER.method
    assert restored.func(*restored.args) == (7, 6, 0)


def test_class_method_state_has_no_instance() -> None:
    job = make_job(func=Owner.class_method, args=(), kwargs={})
    assert job.__getstate__()["args"] == ()
    assert pickle.loads(pickle.dumps(job)).func == Owner.class_method


def test_getstate_of_a_bound_method_of_an_unpicklable_instance() -> None:
    owner = Owner()
    owner.lock = threading.Lock()  # type: ignore[attr-defined]
    job = make_job(func=owner.method, args=(), kwargs={})
    message = (
        f"This Job cannot be serialized since the instance its callable ({owner.method!r}) is "
        "bound to cannot be pickled (TypeError: cannot pickle '_thread.lock' object)"
    )
    with pytest.raises(ValueError, match=rf"^{re.escape(message)}$"):
        job.__getstate__()


def test_getstate_of_a_bound_method_of_a_local_class(scheduler: StubScheduler) -> None:
    func = make_local_instance_method()
    job = Job(scheduler, func=func, trigger=StubTrigger(), executor="default")
    message = (
        f"This Job cannot be serialized since the reference to its callable ({func!r}) could not "
        "be determined. Consider giving a textual reference (module:function name) instead."
    )
    with pytest.raises(ValueError, match=rf"^{re.escape(message)}$"):
        job.__getstate__()


def aps_bound_method_job(aps_job: Any, func: Any) -> Any:
    from apscheduler.triggers.date import DateTrigger as APSDateTrigger

    return aps_job.Job(
        StubScheduler(),
        id="job1",
        func=func,
        trigger=APSDateTrigger(NOON),
        executor="default",
        args=(5,),
        kwargs={"b": 6},
        name=None,
        misfire_grace_time=1,
        coalesce=True,
        max_instances=1,
        next_run_time=NOON,
    )


def test_bound_method_state_is_the_one_apscheduler_writes() -> None:
    aps_job = pytest.importorskip("apscheduler.job")
    owner = Owner(3)
    theirs = aps_bound_method_job(aps_job, owner.method)
    ours = make_job(func=owner.method, args=(5,), kwargs={"b": 6})
    assert (theirs.func, theirs.func_ref, theirs.args, theirs.name) == (
        ours.func,
        ours.func_ref,
        ours.args,
        ours.name,
    )
    their_state = theirs.__getstate__()
    our_state = ours.__getstate__()
    for key in ("version", "func", "args", "kwargs", "name"):
        assert our_state[key] == their_state[key], key


def test_bound_method_state_written_by_apscheduler_loads_and_runs() -> None:
    aps_job = pytest.importorskip("apscheduler.job")
    state = aps_bound_method_job(aps_job, Owner(3).method).__getstate__()
    state["trigger"] = StubTrigger()
    restored = Job.__new__(Job)
    restored.__setstate__(pickle.loads(pickle.dumps(state)))
    assert (restored.func, restored.args, restored.kwargs) == (
        Owner.method,
        (Owner(3), 5),
        {"b": 6},
    )
    assert restored.func(*restored.args, **restored.kwargs) == (3, 5, 6)


def test_bound_method_state_written_by_greensched_loads_in_apscheduler() -> None:
    aps_job = pytest.importorskip("apscheduler.job")
    state = make_job(func=Owner(3).method, args=(5,), kwargs={"b": 6}).__getstate__()
    theirs = aps_job.Job.__new__(aps_job.Job)
    theirs.__setstate__(pickle.loads(pickle.dumps(state)))
    assert (theirs.func, theirs.func_ref, theirs.args, theirs.kwargs) == (
        Owner.method,
        f"{__name__}:Owner.method",
        (Owner(3), 5),
        {"b": 6},
    )
    assert theirs.func(*theirs.args, **theirs.kwargs) == (3, 5, 6)


def test_getstate_without_func_ref(scheduler: StubScheduler) -> None:
    func = lambda: None
    job = Job(scheduler, func=func, trigger=StubTrigger(), executor="default")
    message = (
        f"This Job cannot be serialized since the reference to its callable ({func!r}) could not "
        "be determined. Consider giving a textual reference (module:function name) instead."
    )
    with pytest.raises(ValueError, match=rf"^{re.escape(message)}$"):
        job.__getstate__()
    with pytest.raises(ValueError, match=rf"^{re.escape(message)}$"):
        pickle.dumps(job)


# str and repr


def test_str_pending(scheduler: StubScheduler) -> None:
    job = Job(scheduler, func=job_func, args=(1,), trigger=StubTrigger())
    assert str(job) == "job_func (trigger: stub[10s], pending)"


def test_str_paused() -> None:
    assert str(make_job(next_run_time=None)) == "job_func (trigger: stub[10s], paused)"


def test_str_scheduled() -> None:
    assert (
        str(make_job()) == "job_func (trigger: stub[10s], next run at: 2024-07-01 12:00:00 CEST)"
    )


def test_repr() -> None:
    assert repr(make_job(name="report")) == "<Job (id=job1 name=report)>"


# Equality, hashing, slots


def test_jobs_are_equal_by_id() -> None:
    assert make_job() == make_job(name="other", max_instances=5)
    assert make_job() != make_job(id="job2")


def test_job_is_not_equal_to_other_objects() -> None:
    job = make_job()
    assert job != "job1"
    assert job.__eq__("job1") is NotImplemented


def test_hash_is_the_id_hash() -> None:
    job = make_job()
    assert hash(job) == hash("job1")
    assert len({job, make_job(name="other"), make_job(id="job2")}) == 2


def test_slots_and_weakref() -> None:
    job = make_job()
    assert not hasattr(job, "__dict__")
    assert weakref.ref(job)() is job


# Pending jobs


def test_pending_job_lacks_unset_attributes(scheduler: StubScheduler) -> None:
    job = Job(scheduler, func=job_func, args=(1,), trigger=StubTrigger())
    assert job.pending
    for name in ("executor", "misfire_grace_time", "coalesce", "max_instances", "next_run_time"):
        assert not hasattr(job, name), name


def test_job_in_a_store_is_not_pending() -> None:
    job = make_job()
    job._jobstore_alias = "default"
    assert not job.pending


# Delegation to the scheduler


@pytest.mark.parametrize("alias", [None, "default"], ids=["pending", "stored"])
def test_methods_delegate_to_the_scheduler(alias: str | None, scheduler: StubScheduler) -> None:
    job = make_job(scheduler)
    job._jobstore_alias = alias
    assert job.modify(name="renamed", max_instances=2) is job
    assert job.reschedule("interval", seconds=5) is job
    assert job.pause() is job
    assert job.resume() is job
    assert job.remove() is None
    assert scheduler.calls == [
        ("modify_job", "job1", alias, {"name": "renamed", "max_instances": 2}),
        ("reschedule_job", "job1", alias, "interval", {"seconds": 5}),
        ("pause_job", "job1", alias),
        ("resume_job", "job1", alias),
        ("remove_job", "job1", alias),
    ]
    assert job.name == "job_func"  # the job itself is changed by the scheduler, not by modify()


def test_due_run_times_come_with_the_next_run_time_after_them() -> None:
    job = make_job()
    assert job._get_due_run_times(NOON + timedelta(seconds=25)) == (
        [NOON, NOON + timedelta(seconds=10), NOON + timedelta(seconds=20)],
        NOON + timedelta(seconds=30),
    )


def test_with_nothing_due_the_next_run_time_is_the_jobs_own() -> None:
    job = make_job()
    assert job._get_due_run_times(NOON - timedelta(seconds=1)) == ([], NOON)


def test_with_the_trigger_done_there_is_no_next_run_time() -> None:
    job = make_job(trigger=StubTrigger(10, end=NOON + timedelta(seconds=5)))
    assert job._get_due_run_times(NOON + timedelta(minutes=1)) == ([NOON], None)


def test_jobs_of_one_function_share_its_reference_string() -> None:
    first = make_job(id="first")
    second = make_job(id="second")
    assert first.func_ref == "tests.test_job:job_func"
    assert first.func_ref is second.func_ref
