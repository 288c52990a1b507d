"""The job states the persistent stores write: APScheduler 3.x's class paths and states where it
has the class (it loads them with plain ``pickle.loads``), read back by greensched as its own.

APScheduler 3.11 is installed here (with greensched): ``pickle.loads`` gives its classes, and
fire times are compared with its own code."""

from __future__ import annotations

import importlib
import io
import logging
import pickle
import pickletools
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.calendarinterval import (
    CalendarIntervalTrigger as APSCalendarIntervalTrigger,
)
from apscheduler.triggers.combining import OrTrigger as APSOrTrigger
from apscheduler.triggers.cron import CronTrigger as APSCronTrigger
from apscheduler.triggers.date import DateTrigger as APSDateTrigger
from apscheduler.triggers.interval import IntervalTrigger as APSIntervalTrigger

from greensched.jobstores import _pickling
from greensched.jobstores._pickling import APSCHEDULER_CLASSES, apscheduler_state, dump_job_state
from greensched.jobstores._states import load_state
from greensched.triggers.base import BaseTrigger
from greensched.triggers.calendarinterval import CalendarIntervalTrigger
from greensched.triggers.combining import AndTrigger, OrTrigger
from greensched.triggers.cron import CronTrigger
from greensched.triggers.cron.fields import DayOfMonthField, DayOfWeekField
from greensched.triggers.date import DateTrigger
from greensched.triggers.interval import IntervalTrigger
from tests.support import NeverTrigger

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2030, 1, 1, tzinfo=UTC)

#: crontab expressions APScheduler 3.x has an equivalent of, and the keyword form written for it
CONVERTIBLE = {
    "0 9 * * 1-5": "cron[month='*', day='*', day_of_week='mon-fri', hour='9', minute='0']",
    "*/15 9-17 * * mon-fri": (
        "cron[month='*', day='*', day_of_week='mon-fri', hour='9-17', minute='*/15']"
    ),
    "30 6 * * 0,7": "cron[month='*', day='*', day_of_week='sun', hour='6', minute='30']",
    "0 0 * * 7": "cron[month='*', day='*', day_of_week='sun', hour='0', minute='0']",
    "0 0 * * fri-sun": "cron[month='*', day='*', day_of_week='fri-sun', hour='0', minute='0']",
    "0 0 * * 6-7": "cron[month='*', day='*', day_of_week='sat-sun', hour='0', minute='0']",
    "0 0 * * */2": (
        "cron[month='*', day='*', day_of_week='tue,thu,sat-sun', hour='0', minute='0']"
    ),
    "0 0 ? * 1": "cron[month='*', day='*', day_of_week='mon', hour='0', minute='0']",
    "0 0 L * *": "cron[month='*', day='last', day_of_week='*', hour='0', minute='0']",
    "0 12 * * 5#3": "cron[month='*', day='3rd fri', day_of_week='*', hour='12', minute='0']",
    "0 12 * * friL": "cron[month='*', day='last fri', day_of_week='*', hour='12', minute='0']",
    "0 9 1 * *": "cron[month='*', day='1', day_of_week='*', hour='9', minute='0']",
    "0 0 */2 * mon": "cron[month='*', day='*/2', day_of_week='mon', hour='0', minute='0']",
    # either day field with every day: every day
    "0 0 1-31 * mon": "cron[month='*', day='*', day_of_week='*', hour='0', minute='0']",
    "0 0 15 * 0-7": "cron[month='*', day='*', day_of_week='*', hour='0', minute='0']",
    # steps as cron reads them: APScheduler evaluates them the same way
    "*/60 * * * *": "cron[month='*', day='*', day_of_week='*', hour='*', minute='*/60']",
    "0 9-11/3 * * *": "cron[month='*', day='*', day_of_week='*', hour='9-11/3', minute='0']",
    "0 0 */40 * *": "cron[month='*', day='*/40', day_of_week='*', hour='0', minute='0']",
    "0 0 * * 5-5/1": "cron[month='*', day='*', day_of_week='fri', hour='0', minute='0']",
    "5-59/20 * * * *": "cron[month='*', day='*', day_of_week='*', hour='*', minute='5-59/20']",
    "@daily": "cron[month='*', day='*', day_of_week='*', hour='0', minute='0']",
    "@weekly": "cron[month='*', day='*', day_of_week='sun', hour='0', minute='0']",
    "@monthly": "cron[month='*', day='1', day_of_week='*', hour='0', minute='0']",
    "@yearly": "cron[month='1', day='1', day_of_week='*', hour='0', minute='0']",
    "30 */5 * * * *": (
        "cron[month='*', day='*', day_of_week='*', hour='*', minute='*/5', second='30']"
    ),
    # APScheduler 3.x shows no step after names, and evaluates it
    "0 0 * jan-jun/2 *": "cron[month='jan-jun', day='*', day_of_week='*', hour='0', minute='0']",
}

#: crontab expressions without APScheduler 3.x equivalent, and why
UNCONVERTIBLE = {
    "0 0 LW * *": "its day of month 'LW' has no APScheduler 3.x equivalent",
    "0 0 15W * *": "its day of month '15W' has no APScheduler 3.x equivalent",
    "0 0 * * 1,5L": (
        "its day of week '1,5L' has no APScheduler 3.x equivalent (an n-th or last weekday has "
        "one alone, with every day of the month)"
    ),
    "0 0 */2 * 5#3": (
        "its day of week '5#3' has no APScheduler 3.x equivalent (an n-th or last weekday has "
        "one alone, with every day of the month)"
    ),
    "0 0 1,15 * mon": (
        "both day fields are restricted ('1,15' and 'mon'): cron fires on a day matching "
        "either, APScheduler 3.x only on a day matching both"
    ),
    "0 0 L * 1": (
        "both day fields are restricted ('L' and '1'): cron fires on a day matching either, "
        "APScheduler 3.x only on a day matching both"
    ),
}

#: keyword-form triggers, with what greensched accepts beyond APScheduler 3.x's parser
KEYWORD = [
    {"day_of_week": "mon-fri", "hour": "9-17/2", "minute": "15,45"},
    {"day_of_week": "mon-fri/2", "hour": 9},
    {"month": "jan-jun/2", "day": 1},
    {"day": "last fri"},
    {"day": "last"},
    {"day": "3rd mon", "hour": "8-18/5", "minute": "*/20"},
    {"week": "1-10", "day_of_week": "tue"},
    {"year": "2030-2032", "month": 2, "day": 29},
    {"minute": "5/20"},
    {"second": "*/7"},
]


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    """Each test starts without warned jobs and with no pickled trigger kept."""
    _pickling._warned.clear()
    _pickling._items.clear()
    yield
    _pickling._warned.clear()
    _pickling._items.clear()


def job_state(trigger: Any, **changes: Any) -> dict[str, Any]:
    state = {
        "version": 1,
        "id": "job",
        "func": "tests.jobstores.interop_funcs:Greeter.greet",
        "trigger": trigger,
        "executor": "default",
        "args": (1, "a"),
        "kwargs": {"b": 2},
        "name": "greet",
        "misfire_grace_time": 1,
        "coalesce": True,
        "max_instances": 1,
        "next_run_time": datetime(2030, 1, 1, tzinfo=UTC),
    }
    state.update(changes)
    return state


def fire_times(trigger: Any, count: int = 200) -> list[datetime | None]:
    """The first ``count`` fire times after ``NOW``, each asked after the previous one."""
    times: list[datetime | None] = []
    previous = None
    for _ in range(count):
        previous = trigger.get_next_fire_time(previous, previous or NOW)
        times.append(previous)
        if previous is None:
            break
    return times


def all_triggers() -> list[BaseTrigger]:
    return [
        DateTrigger(datetime(2031, 1, 2, 9, 30), timezone=BERLIN),
        IntervalTrigger(minutes=90, start_date=datetime(2030, 6, 3, 10), timezone=BERLIN),
        IntervalTrigger(hours=2, timezone=UTC, start_date=NOW, end_date="2031-01-01", jitter=5),
        CalendarIntervalTrigger(
            months=1, hour=8, minute=30, start_date="2030-07-15", timezone=BERLIN
        ),
        *[CronTrigger(timezone=UTC, **fields) for fields in KEYWORD],
        *[CronTrigger.from_crontab(expr, timezone=UTC) for expr in CONVERTIBLE],
        CronTrigger.from_crontab("0 9 * * 1-5", timezone=BERLIN, start_date="2030-02-01"),
        OrTrigger([CronTrigger(hour=9), CronTrigger.from_crontab("30 18 * * 0,6")], jitter=3),
        AndTrigger([CronTrigger(hour="9,18"), CronTrigger.from_crontab("0 * * * 1-5")]),
    ]


# The classes


def test_each_class_is_written_under_the_path_of_apschedulers_class() -> None:
    for cls, (module, name) in APSCHEDULER_CLASSES.items():
        assert module == "apscheduler" + cls.__module__[len("greensched") :]
        assert name == cls.__name__
        theirs = getattr(importlib.import_module(module), name)
        assert isinstance(theirs, type)
        # and greensched loads it as its own class
        assert pickle.loads(pickle.dumps(theirs)) is theirs
        assert load_state(pickle.dumps(theirs)) is cls


# What APScheduler 3.x loads


@pytest.mark.parametrize("trigger", all_triggers(), ids=repr)
def test_apscheduler_loads_the_trigger_with_the_same_fire_times(trigger: Any) -> None:
    loaded = pickle.loads(dump_job_state(job_state(trigger), pickle.HIGHEST_PROTOCOL))
    theirs = loaded["trigger"]
    module, name = APSCHEDULER_CLASSES[type(trigger)]
    assert (type(theirs).__module__, type(theirs).__qualname__) == (module, name)
    assert loaded["args"] == (1, "a")
    if getattr(trigger, "jitter", None):  # comparable without jitter
        trigger.jitter = theirs.jitter = None
    if isinstance(trigger, AndTrigger):
        # APScheduler 3.x's AndTrigger never moves on after its first fire time (see its note)
        assert theirs.get_next_fire_time(None, NOW) == trigger.get_next_fire_time(None, NOW)
    else:
        assert fire_times(theirs) == fire_times(trigger)


@pytest.mark.parametrize(("expr", "text"), CONVERTIBLE.items())
def test_a_crontab_trigger_is_written_as_its_keyword_form_equivalent(expr: str, text: str) -> None:
    trigger = CronTrigger.from_crontab(expr, timezone=BERLIN)
    theirs = pickle.loads(dump_job_state(job_state(trigger), pickle.HIGHEST_PROTOCOL))["trigger"]
    assert type(theirs) is APSCronTrigger
    assert str(theirs) == text
    # the keyword form greensched wrote fires as the crontab does, through daylight saving
    # changes too (APScheduler 3.x has its own rules there: compared in UTC above)
    state = apscheduler_state(trigger)
    assert state is not None
    keyword = CronTrigger.__new__(CronTrigger)
    keyword.__setstate__({**state, "crontab": False})
    assert not keyword._crontab
    assert fire_times(keyword, 500) == fire_times(trigger, 500)


def test_apscheduler_accepts_the_states_it_writes_itself() -> None:
    """The keys are APScheduler 3.11's own, with only keys it ignores added."""
    ours = {
        DateTrigger: DateTrigger(NOW),
        IntervalTrigger: IntervalTrigger(minutes=5, start_date=NOW, timezone=UTC),
        CalendarIntervalTrigger: CalendarIntervalTrigger(days=2, timezone=UTC),
        CronTrigger: CronTrigger(hour=9, timezone=UTC),
        OrTrigger: OrTrigger([CronTrigger(hour=9, timezone=UTC)]),
    }
    theirs = {
        DateTrigger: APSDateTrigger(NOW),
        IntervalTrigger: APSIntervalTrigger(minutes=5, start_date=NOW, timezone=UTC),
        CalendarIntervalTrigger: APSCalendarIntervalTrigger(days=2, timezone=UTC),
        CronTrigger: APSCronTrigger(hour=9, timezone=UTC),
        OrTrigger: APSOrTrigger([APSCronTrigger(hour=9, timezone=UTC)]),
    }
    for cls, trigger in ours.items():
        state = apscheduler_state(trigger)
        assert state is not None
        expected = theirs[cls].__getstate__()
        assert set(state) == set(expected), cls
        assert state["version"] == expected["version"], cls
    crontab = apscheduler_state(CronTrigger.from_crontab("0 9 * * 1-5", timezone=UTC))
    assert crontab is not None
    assert set(crontab) == set(theirs[CronTrigger].__getstate__()) | {"crontab"}
    assert crontab["crontab"] == "0 9 * * 1-5"
    # a field's state becomes the __dict__ of APScheduler's field (it has no __setstate__)
    field = pickle.loads(dump_job_state(job_state(CronTrigger(hour="9-17/2", timezone=UTC)), 5))[
        "trigger"
    ].fields[5]
    assert set(vars(field)) == set(vars(APSCronTrigger(hour="9-17/2").fields[5])) | {"version"}
    assert str(field) == "9-17/2"
    assert [vars(expression) for expression in field.expressions] == [
        {"first": 9, "last": 17, "step": 2}
    ]


def test_a_pickled_job_has_apschedulers_classes_only() -> None:
    trigger = OrTrigger([CronTrigger.from_crontab("0 9 * * 1-5"), DateTrigger(NOW)])
    data = dump_job_state(job_state(trigger), pickle.HIGHEST_PROTOCOL)
    assert b"greensched" not in data
    assert b"apscheduler.triggers.combining" in data


# What greensched reads back


@pytest.mark.parametrize("trigger", all_triggers(), ids=repr)
def test_greensched_reads_back_the_trigger_it_wrote(trigger: Any) -> None:
    state = job_state(trigger)
    data = dump_job_state(state, pickle.HIGHEST_PROTOCOL)
    loaded = load_state(data)
    assert type(loaded["trigger"]) is type(trigger)
    assert repr(loaded["trigger"]) == repr(trigger)
    assert loaded["trigger"].__getstate__() == trigger.__getstate__()
    assert {key: value for key, value in loaded.items() if key != "trigger"} == {
        key: value for key, value in state.items() if key != "trigger"
    }


def test_greensched_reads_a_crontab_trigger_as_made_by_from_crontab() -> None:
    trigger = CronTrigger.from_crontab("*/15 9-17 * * 1-5", timezone=BERLIN, jitter=2)
    loaded = load_state(dump_job_state(job_state(trigger), 5))["trigger"]
    assert loaded._crontab
    assert str(loaded) == "cron[crontab='*/15 9-17 * * 1-5']"
    assert loaded.fields == trigger.fields
    assert [type(field) for field in loaded.fields] == [type(field) for field in trigger.fields]
    assert loaded.jitter == 2


def test_an_older_reader_uses_the_keyword_form_fields() -> None:
    """A release that does not know the crontab text reads the fields: the same fire times."""
    trigger = CronTrigger.from_crontab("0 12 * * 5#3", timezone=BERLIN)
    loaded = load_state(dump_job_state(job_state(trigger), 5))["trigger"]
    state = loaded.__getstate__()
    written = apscheduler_state(trigger)
    assert written is not None
    older = CronTrigger.__new__(CronTrigger)
    older.__setstate__({**written, "crontab": True})  # as before: the fields carry the reading
    assert str(older) == "cron[month='*', day='3rd fri', day_of_week='*', hour='12', minute='0']"
    assert isinstance(older.fields[2], DayOfMonthField)
    assert isinstance(older.fields[4], DayOfWeekField)
    assert fire_times(older) == fire_times(trigger)
    assert state == trigger.__getstate__()


# What APScheduler cannot read


@pytest.mark.parametrize(("expr", "reason"), UNCONVERTIBLE.items())
def test_a_crontab_extension_keeps_greenscheds_form_and_warns_once(
    expr: str, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    trigger = CronTrigger.from_crontab(expr, timezone=UTC)
    reasons: list[str] = []
    assert apscheduler_state(trigger, reasons) is None
    assert reasons == [f"cron[crontab='{expr}']: {reason}"]
    with caplog.at_level(logging.WARNING, logger="greensched.jobstores._pickling"):
        data = dump_job_state(job_state(trigger, id="nightly"), 5)
        assert dump_job_state(job_state(trigger, id="nightly"), 5) == data
    assert [record.getMessage() for record in caplog.records] == [
        (
            "Job 'nightly' is stored in a form APScheduler 3.x cannot load (it would log the job "
            f"as unrestorable and delete it from the store): cron[crontab='{expr}']: {reason}"
        )
    ]
    # written as before: greensched's classes only (with greensched installed, APScheduler
    # 3.x loads greensched's trigger, never a mix of both libraries' classes)
    assert b"apscheduler" not in data
    assert type(pickle.loads(data)["trigger"]) is CronTrigger
    loaded = load_state(data)["trigger"]
    assert repr(loaded) == repr(trigger)
    assert fire_times(loaded) == fire_times(trigger)


def test_a_combined_trigger_without_equivalent_is_written_as_before_inside(
    caplog: pytest.LogCaptureFixture,
) -> None:
    trigger = OrTrigger([CronTrigger(hour=9), CronTrigger.from_crontab("0 0 LW * *")])
    with caplog.at_level(logging.WARNING, logger="greensched.jobstores._pickling"):
        data = dump_job_state(job_state(trigger), 5)
    assert len(caplog.records) == 1
    loaded = pickle.loads(data)["trigger"]
    assert type(loaded) is APSOrTrigger
    assert type(loaded.triggers[0]) is APSCronTrigger
    assert type(loaded.triggers[1]) is CronTrigger  # greensched's, with greensched's fields
    assert repr(load_state(data)["trigger"]) == repr(trigger)


def test_a_job_with_a_timeout_warns(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="greensched.jobstores._pickling"):
        data = dump_job_state(job_state(DateTrigger(NOW), version=2, timeout=10), 5)
    assert [record.getMessage() for record in caplog.records] == [
        (
            "Job 'job' is stored in a form APScheduler 3.x cannot load (it would log the job as "
            "unrestorable and delete it from the store): its timeout (10 s) needs job state "
            "version 2; APScheduler 3.x reads version 1"
        )
    ]
    assert load_state(data)["timeout"] == 10


def test_a_trigger_class_of_the_applications_is_pickled_as_before(
    caplog: pytest.LogCaptureFixture,
) -> None:
    state = job_state(NeverTrigger())
    with caplog.at_level(logging.WARNING):
        assert dump_job_state(state, 5) == pickle.dumps(state, 5)
    assert caplog.records == []


# The pickle itself


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
@pytest.mark.parametrize("size", [3, 200_000], ids=["small", "large"])
def test_every_protocol_gives_a_valid_pickle(protocol: int, size: int) -> None:
    """The trigger is added to the pickle of the rest (several frames: pickled all at once)."""
    trigger = OrTrigger(
        [CronTrigger.from_crontab("0 9 * * 1-5", timezone=BERLIN), CronTrigger(day="last")]
    )
    # objects shared between the trigger and the rest, and within the rest
    shared = [BERLIN, b"x" * size]
    state = job_state(
        trigger, args=(shared, shared), next_run_time=datetime(2030, 1, 1, tzinfo=BERLIN)
    )
    for _ in range(2):  # written, then kept
        data = dump_job_state(state, protocol)
        pickletools.dis(data, out=io.StringIO())  # checks the memo references too
        if protocol >= 2:
            assert data[:2] == pickle.PROTO + bytes([protocol])
        loaded = load_state(data)
        assert repr(loaded["trigger"]) == repr(trigger)
        assert loaded["args"] == (shared, shared)
        assert loaded["args"][0] is loaded["args"][1]
        assert loaded["next_run_time"] == state["next_run_time"]
        assert type(pickle.loads(data)["trigger"]) is APSOrTrigger


def test_a_changed_trigger_is_written_anew() -> None:
    trigger = CronTrigger(hour=9, timezone=UTC)
    first = pickle.loads(dump_job_state(job_state(trigger), 5))["trigger"]
    trigger.jitter = 7
    second = pickle.loads(dump_job_state(job_state(trigger), 5))["trigger"]
    assert (first.jitter, second.jitter) == (None, 7)


def test_arguments_that_cannot_be_pickled_raise() -> None:
    with pytest.raises(TypeError, match=r"^cannot pickle '_thread.lock' object$"):
        dump_job_state(job_state(DateTrigger(NOW), args=(threading.Lock(),)), 5)


@pytest.mark.parametrize("protocol", range(2, pickle.HIGHEST_PROTOCOL + 1))
@pytest.mark.parametrize(
    "trigger",
    [t for t in all_triggers() if isinstance(t, (DateTrigger, IntervalTrigger))]
    + [CalendarIntervalTrigger(weeks=2, timezone=BERLIN, start_date="2030-03-30")],
    ids=repr,
)
def test_a_plain_trigger_is_written_by_the_c_pickler_as_the_pure_one_writes_it(
    trigger: Any, protocol: int
) -> None:
    """Date, interval and calendar interval triggers (each job's own start date: no kept
    pickle helps) take the C pickler's fast path, with the same bytes."""
    buffer = io.BytesIO()
    pure = _pickling._StatePickler(buffer, protocol)
    pure.fast = True
    pure.save("trigger")
    pure.save(trigger)
    assert _pickling._trigger_item(trigger, protocol) == (buffer.getvalue(), ())
    assert _pickling._items == {}  # nothing kept: the fast path is as fast each time
    data = dump_job_state(job_state(trigger), protocol)
    theirs = pickle.loads(data)["trigger"]
    assert type(theirs).__module__.startswith("apscheduler.triggers.")
    assert getattr(theirs, "jitter", None) == getattr(trigger, "jitter", None)
    if not getattr(trigger, "jitter", None):  # comparable without jitter
        assert fire_times(theirs, 5) == fire_times(trigger, 5)
    assert repr(load_state(data)["trigger"]) == repr(trigger)
