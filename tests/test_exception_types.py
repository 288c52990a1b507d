"""Exception classes match APScheduler 3.x: for each bad input, greensched raises an instance of
the class APScheduler 3.11 raises for the same call (found by running it), still an instance of
the class greensched documents, with a message that names the bad value.

Where APScheduler 3.x raises ``TypeError`` and greensched documents ``ValueError`` (or the other
way round), greensched raises :exc:`~greensched._validators.InvalidValueError`, which is both.
"""

from __future__ import annotations

import copy
import importlib
import io
import re
from functools import partial
from typing import Any, Callable

import pytest
from sqlalchemy.exc import ArgumentError

pytest.importorskip("apscheduler")

#: a call of either package: it gets the package name (``"apscheduler"`` or ``"greensched"``)
Call = Callable[[str], object]


def job_func() -> None:
    pass


def _resolve(pkg: str, path: str) -> Any:
    module_name, _, qualname = path.partition(":")
    obj = importlib.import_module(f"{pkg}.{module_name}")
    for name in qualname.split("."):
        obj = getattr(obj, name)
    return obj


def _new(path: str, *args: Any, **kwargs: Any) -> Call:
    """Call ``<pkg>.<module>:<name>(*args, **kwargs)``, a class or a function (with copies of
    the arguments: APScheduler 3.x pops keys from the configuration dicts it is given)."""
    return lambda pkg: _resolve(pkg, path)(*copy.deepcopy(args), **copy.deepcopy(kwargs))


def _scheduler(pkg: str, **options: Any) -> Any:
    """A scheduler that is not started."""
    scheduler_class = _resolve(pkg, "schedulers.background:BackgroundScheduler")
    return scheduler_class(timezone="UTC", **copy.deepcopy(options))


def _configure(**options: Any) -> Call:
    return lambda pkg: _scheduler(pkg, **options)


def _on_scheduler(method: str, *args: Any, **kwargs: Any) -> Call:
    return lambda pkg: getattr(_scheduler(pkg), method)(*args, **kwargs)


def _add_job(*args: Any, **kwargs: Any) -> Call:
    return _on_scheduler("add_job", *(args or (job_func,)), **kwargs)


def _on_pending_job(method: str, *args: Any, **kwargs: Any) -> Call:
    """Call ``scheduler.<method>("job", ...)`` on a pending job (the scheduler is not started)."""

    def call(pkg: str) -> object:
        scheduler = _scheduler(pkg)
        scheduler.add_job(job_func, id="job")
        return getattr(scheduler, method)("job", *args, **kwargs)

    return call


def _twice(method: str, *args: Any, **kwargs: Any) -> Call:
    """Make the same call twice (the second one conflicts with the first)."""

    def call(pkg: str) -> object:
        scheduler = _scheduler(pkg)
        getattr(scheduler, method)(*args, **kwargs)
        return getattr(scheduler, method)(*args, **kwargs)

    return call


def _import_jobs(text: str) -> Call:
    """``import_jobs`` on a started (paused) scheduler: APScheduler 3.x imports only there."""

    def call(pkg: str) -> object:
        scheduler = _scheduler(pkg)
        scheduler.start(paused=True)
        try:
            return scheduler.import_jobs(io.StringIO(text))
        finally:
            scheduler.shutdown(wait=False)

    return call


def _gconfig(key: str, value: Any) -> Call:
    """Configure through a global configuration dict, whose prefix is the package name."""
    return lambda pkg: _scheduler(pkg, gconfig={f"{pkg}.{key}": value})


def _trigger(path: str, **kwargs: Any) -> Call:
    return _new(f"triggers.{path}", **{"timezone": "UTC", **kwargs})


# (call, the class greensched documents, text the message must contain)
CASES = [
    # Job options: add_job(), scheduled_job(), modify_job(), reschedule_job()
    pytest.param(_add_job(name=""), ValueError, "''", id="add_job-name-empty"),
    pytest.param(_add_job(name=123), TypeError, "123", id="add_job-name-int"),
    pytest.param(_add_job(id=123), TypeError, "123", id="add_job-id-int"),
    pytest.param(_add_job(123), TypeError, "123", id="add_job-func-int"),
    pytest.param(_add_job("nocolon"), ValueError, "'nocolon'", id="add_job-func-no-colon"),
    pytest.param(_add_job("os:nosuch"), LookupError, "os:nosuch", id="add_job-func-unknown"),
    pytest.param(_add_job(args="abc"), TypeError, "'abc'", id="add_job-args-str"),
    pytest.param(_add_job(args=b"ab"), TypeError, "b'ab'", id="add_job-args-bytes"),
    pytest.param(_add_job(args=5), TypeError, "5", id="add_job-args-int"),
    pytest.param(_add_job(kwargs="x"), TypeError, "'x'", id="add_job-kwargs-str"),
    pytest.param(_add_job(kwargs=[1]), TypeError, "[1]", id="add_job-kwargs-list"),
    pytest.param(_add_job(job_func, 5), TypeError, "int", id="add_job-trigger-int"),
    pytest.param(
        _add_job(job_func, "nosuch"), LookupError, "nosuch", id="add_job-trigger-unknown"
    ),
    pytest.param(_add_job(misfire_grace_time=0), ValueError, "0", id="add_job-misfire-zero"),
    pytest.param(_add_job(misfire_grace_time="x"), TypeError, "'x'", id="add_job-misfire-str"),
    pytest.param(_add_job(max_instances=0), ValueError, "0", id="add_job-max_instances-zero"),
    pytest.param(_add_job(max_instances="x"), TypeError, "'x'", id="add_job-max_instances-str"),
    pytest.param(
        _add_job(next_run_time="bad"), ValueError, "'bad'", id="add_job-next_run_time-str"
    ),
    pytest.param(_add_job(next_run_time=5), TypeError, "int", id="add_job-next_run_time-int"),
    pytest.param(_add_job(executor=5), TypeError, "5", id="add_job-executor-int"),
    pytest.param(
        _add_job(job_func, "interval", seconds="x"), TypeError, "'x'", id="add_job-interval-str"
    ),
    pytest.param(_add_job(job_func, "cron", hour=25), ValueError, "25", id="add_job-cron-hour"),
    pytest.param(
        lambda pkg: _scheduler(pkg).scheduled_job("interval", name="", seconds=1)(job_func),
        ValueError,
        "''",
        id="scheduled_job-name-empty",
    ),
    pytest.param(
        _on_pending_job("modify_job", name=""), ValueError, "''", id="modify_job-name-empty"
    ),
    pytest.param(_on_pending_job("modify_job", id=5), ValueError, "5", id="modify_job-id-int"),
    pytest.param(
        _on_pending_job("modify_job", id="other"), ValueError, "'other'", id="modify_job-id-str"
    ),
    pytest.param(
        _on_pending_job("modify_job", args="abc"), TypeError, "'abc'", id="modify_job-args-str"
    ),
    pytest.param(
        _on_pending_job("modify_job", kwargs="x"), TypeError, "'x'", id="modify_job-kwargs-str"
    ),
    pytest.param(
        _on_pending_job("modify_job", max_instances=0),
        ValueError,
        "0",
        id="modify_job-max_instances-zero",
    ),
    pytest.param(
        _on_pending_job("modify_job", trigger=5), TypeError, "5", id="modify_job-trigger-int"
    ),
    pytest.param(
        _on_pending_job("reschedule_job", trigger="cron", minute=99),
        ValueError,
        "99",
        id="reschedule_job-cron-minute",
    ),
    # Scheduler configuration
    pytest.param(
        _new("schedulers.background:BackgroundScheduler", timezone=5),
        TypeError,
        "timezone must be a tzinfo or a zone name, got: 5",
        id="configure-timezone-int",
    ),
    pytest.param(
        _new("schedulers.background:BackgroundScheduler", timezone="Bad/Zone"),
        ValueError,
        "'Bad/Zone'",
        id="configure-timezone-unknown",
    ),
    pytest.param(
        _new("schedulers.background:BackgroundScheduler", timezone="local"),
        ValueError,
        "local",
        id="configure-timezone-local",
    ),
    pytest.param(
        _configure(job_defaults={"max_instances": "x"}),
        ValueError,
        "'x'",
        id="configure-job_defaults-max_instances-str",
    ),
    pytest.param(
        _configure(job_defaults={"misfire_grace_time": []}),
        TypeError,
        "[]",
        id="configure-job_defaults-misfire-list",
    ),
    pytest.param(
        _configure(job_defaults={"coalesce": "maybe"}),
        ValueError,
        "maybe",
        id="configure-job_defaults-coalesce-str",
    ),
    pytest.param(
        _gconfig("job_defaults.max_instances", "x"), ValueError, "'x'", id="configure-gconfig-str"
    ),
    pytest.param(
        _configure(executors={"default": 5}), TypeError, "int", id="configure-executor-int"
    ),
    pytest.param(
        _configure(executors={"default": {}}), ValueError, "default", id="configure-executor-empty"
    ),
    pytest.param(
        _configure(executors={"default": {"type": "nosuch"}}),
        LookupError,
        "nosuch",
        id="configure-executor-type-unknown",
    ),
    pytest.param(
        _configure(executors={"default": {"class": "os:path"}}),
        TypeError,
        "os:path",
        id="configure-executor-class-not-executor",
    ),
    pytest.param(
        _configure(executors={"default": {"type": "threadpool", "max_workers": "x"}}),
        TypeError,
        "'x'",
        id="configure-executor-max_workers-str",
    ),
    pytest.param(
        _configure(jobstores={"default": {"type": "sqlalchemy", "url": ""}}),
        ArgumentError,
        "''",
        id="configure-jobstore-sqlalchemy-url-empty",
    ),
    pytest.param(
        _configure(jobstores={"default": {"type": "redis", "db": None}}),
        TypeError,
        "None",
        id="configure-jobstore-redis-db-none",
    ),
    pytest.param(
        _configure(jobstore_retry_interval="x"),
        TypeError,
        "'x'",
        id="configure-jobstore_retry_interval-str",
    ),
    # add_executor(), add_jobstore(), remove_executor(), remove_jobstore()
    pytest.param(_on_scheduler("add_executor", 5), TypeError, "int", id="add_executor-int"),
    pytest.param(
        _on_scheduler("add_executor", "nosuch"), LookupError, "nosuch", id="add_executor-unknown"
    ),
    pytest.param(
        _twice("add_executor", "debug", "extra"), ValueError, "extra", id="add_executor-taken"
    ),
    pytest.param(
        _on_scheduler("add_executor", "processpool", max_workers="x"),
        TypeError,
        "'x'",
        id="add_executor-max_workers-str",
    ),
    pytest.param(_on_scheduler("add_jobstore", 5), TypeError, "int", id="add_jobstore-int"),
    pytest.param(
        _on_scheduler("add_jobstore", "nosuch"), LookupError, "nosuch", id="add_jobstore-unknown"
    ),
    pytest.param(
        _twice("add_jobstore", "memory", "extra"), ValueError, "extra", id="add_jobstore-taken"
    ),
    pytest.param(
        _on_scheduler("remove_executor", "nosuch"), KeyError, "nosuch", id="remove_executor"
    ),
    pytest.param(
        _on_scheduler("remove_jobstore", "nosuch"), KeyError, "nosuch", id="remove_jobstore"
    ),
    # import_jobs()
    pytest.param(_import_jobs("[]"), ValueError, "[]", id="import_jobs-list"),
    pytest.param(
        _import_jobs('{"version": 1, "jobs": 5}'), ValueError, "'jobs': 5", id="import_jobs-int"
    ),
    # DateTrigger
    pytest.param(_trigger("date:DateTrigger", run_date="bad"), ValueError, "'bad'", id="date-str"),
    pytest.param(_trigger("date:DateTrigger", run_date=5), TypeError, "int", id="date-int"),
    pytest.param(
        _trigger("date:DateTrigger", run_date="2020-01-01", timezone="local"),
        ValueError,
        "local",
        id="date-timezone-local",
    ),
    pytest.param(
        _trigger("date:DateTrigger", run_date="2020-01-01", timezone="Bad/Zone"),
        ValueError,
        "'Bad/Zone'",
        id="date-timezone-unknown",
    ),
    # IntervalTrigger
    pytest.param(
        _trigger("interval:IntervalTrigger", seconds="x"), TypeError, "'x'", id="interval-str"
    ),
    pytest.param(
        _trigger("interval:IntervalTrigger", hours=None), TypeError, "None", id="interval-none"
    ),
    pytest.param(
        _trigger("interval:IntervalTrigger", seconds=float("nan")),
        ValueError,
        "nan",
        id="interval-nan",
    ),
    pytest.param(
        _trigger("interval:IntervalTrigger", seconds=1, start_date="bad"),
        ValueError,
        "'bad'",
        id="interval-start_date-str",
    ),
    pytest.param(
        _trigger("interval:IntervalTrigger", seconds=1, end_date=object()),
        TypeError,
        "object",
        id="interval-end_date-object",
    ),
    pytest.param(
        _trigger("interval:IntervalTrigger", seconds=1, timezone=5),
        TypeError,
        "timezone must be a tzinfo or a zone name, got: 5",
        id="interval-timezone-int",
    ),
    # CronTrigger keyword fields
    pytest.param(_trigger("cron:CronTrigger", hour=25), ValueError, "25", id="cron-hour-range"),
    pytest.param(_trigger("cron:CronTrigger", hour="x"), ValueError, "x", id="cron-hour-word"),
    pytest.param(_trigger("cron:CronTrigger", hour=1.5), ValueError, "1.5", id="cron-hour-float"),
    pytest.param(
        _trigger("cron:CronTrigger", day_of_week=["mon"]),
        ValueError,
        "['mon']",
        id="cron-day_of_week-list",
    ),
    pytest.param(
        _trigger("cron:CronTrigger", month="foo"), ValueError, "foo", id="cron-month-name"
    ),
    pytest.param(
        _trigger("cron:CronTrigger", day_of_week="xyz"), ValueError, "xyz", id="cron-weekday-name"
    ),
    pytest.param(_trigger("cron:CronTrigger", minute="*/0"), ValueError, "*/0", id="cron-step-0"),
    pytest.param(_trigger("cron:CronTrigger", year=1969), ValueError, "1969", id="cron-year"),
    pytest.param(
        _trigger("cron:CronTrigger", start_date=5), TypeError, "int", id="cron-start_date-int"
    ),
    pytest.param(
        _trigger("cron:CronTrigger", timezone="Bad/Zone"),
        ValueError,
        "'Bad/Zone'",
        id="cron-timezone-unknown",
    ),
    pytest.param(
        _new("triggers.cron:CronTrigger.from_crontab", "99 * * * *", "UTC"),
        ValueError,
        "99",
        id="cron-crontab-value",
    ),
    # CalendarIntervalTrigger
    pytest.param(
        _trigger("calendarinterval:CalendarIntervalTrigger"),
        ValueError,
        "1 day",
        id="calendarinterval-zero",
    ),
    pytest.param(
        _trigger("calendarinterval:CalendarIntervalTrigger", days=1, hour=25),
        ValueError,
        "25",
        id="calendarinterval-hour-range",
    ),
    pytest.param(
        _trigger("calendarinterval:CalendarIntervalTrigger", days=1, hour="x"),
        TypeError,
        "'x'",
        id="calendarinterval-hour-str",
    ),
    pytest.param(
        _trigger(
            "calendarinterval:CalendarIntervalTrigger",
            days=1,
            start_date="2020-02-01",
            end_date="2020-01-01",
        ),
        ValueError,
        "2020, 1, 1",
        id="calendarinterval-end-before-start",
    ),
    # util
    pytest.param(
        _new("util:astimezone", 5),
        TypeError,
        "timezone must be a tzinfo or a zone name, got: 5",
        id="astimezone-int",
    ),
    pytest.param(_new("util:astimezone", ""), ValueError, "''", id="astimezone-empty"),
    pytest.param(
        _new("util:astimezone", "Bad/Zone"), ValueError, "'Bad/Zone'", id="astimezone-unknown"
    ),
    pytest.param(_new("util:astimezone", "local"), ValueError, "local", id="astimezone-local"),
    pytest.param(
        _new("util:convert_to_datetime", "bad", "UTC", "when"),
        ValueError,
        "'bad'",
        id="convert_to_datetime-str",
    ),
    pytest.param(
        _new("util:convert_to_datetime", 5, "UTC", "when"),
        TypeError,
        "int",
        id="convert_to_datetime-int",
    ),
    pytest.param(_new("util:asint", "x"), ValueError, "'x'", id="asint-str"),
    pytest.param(_new("util:asint", []), TypeError, "[]", id="asint-list"),
    pytest.param(_new("util:asbool", "maybe"), ValueError, "maybe", id="asbool-str"),
    pytest.param(_new("util:ref_to_obj", 5), TypeError, "5", id="ref_to_obj-int"),
    pytest.param(_new("util:ref_to_obj", "os"), ValueError, "'os'", id="ref_to_obj-no-colon"),
    pytest.param(_new("util:ref_to_obj", "os:"), ValueError, "'os:'", id="ref_to_obj-no-name"),
    pytest.param(
        _new("util:ref_to_obj", ".path:join"),
        ValueError,
        "'.path:join'",
        id="ref_to_obj-relative",
    ),
    pytest.param(
        _new("util:ref_to_obj", "nosuchmodule_xyz:f"),
        LookupError,
        "nosuchmodule_xyz:f",
        id="ref_to_obj-unknown-module",
    ),
    pytest.param(_new("util:maybe_ref", "os:"), ValueError, "'os:'", id="maybe_ref-no-name"),
    pytest.param(_new("util:obj_to_ref", 5), TypeError, "5", id="obj_to_ref-int"),
    pytest.param(
        _new("util:obj_to_ref", partial(job_func)), ValueError, "partial", id="obj_to_ref-partial"
    ),
    # Job stores
    pytest.param(_new("jobstores.memory:MemoryJobStore", foo=1), TypeError, "foo", id="memory"),
    pytest.param(
        _new("jobstores.sqlalchemy:SQLAlchemyJobStore"), ValueError, "url", id="sqlalchemy-no-url"
    ),
    pytest.param(
        _new("jobstores.sqlalchemy:SQLAlchemyJobStore", url=""),
        ArgumentError,
        "''",
        id="sqlalchemy-url-empty",
    ),
    pytest.param(
        _new("jobstores.sqlalchemy:SQLAlchemyJobStore", url=5),
        TypeError,
        "5",
        id="sqlalchemy-url-int",
    ),
    pytest.param(
        _new("jobstores.redis:RedisJobStore", db=None), TypeError, "None", id="redis-db-none"
    ),
    pytest.param(
        _new("jobstores.redis:RedisJobStore", db=[]), TypeError, "[]", id="redis-db-list"
    ),
    pytest.param(
        _new("jobstores.redis:RedisJobStore", db="x"), ValueError, "'x'", id="redis-db-str"
    ),
    pytest.param(
        _new("jobstores.redis:RedisJobStore", jobs_key=""), ValueError, "''", id="redis-key-empty"
    ),
    pytest.param(
        _new("jobstores.redis:RedisJobStore", jobs_key=None),
        TypeError,
        "None",
        id="redis-jobs_key-none",
    ),
    pytest.param(
        _new("jobstores.redis:RedisJobStore", run_times_key=None),
        TypeError,
        "None",
        id="redis-run_times_key-none",
    ),
    # Executors
    pytest.param(_new("executors.pool:ThreadPoolExecutor", 0), ValueError, "0", id="threads-0"),
    pytest.param(
        _new("executors.pool:ThreadPoolExecutor", "x"), TypeError, "'x'", id="threads-str"
    ),
    pytest.param(
        _new("executors.pool:ThreadPoolExecutor", ""), TypeError, "''", id="threads-empty"
    ),
    pytest.param(
        _new("executors.pool:ThreadPoolExecutor", "0"), ValueError, "'0'", id="threads-str-0"
    ),
    pytest.param(
        _new("executors.pool:ThreadPoolExecutor", None), TypeError, "None", id="threads-none"
    ),
    pytest.param(
        _new("executors.pool:ThreadPoolExecutor", 2, pool_kwargs=5),
        TypeError,
        "5",
        id="threads-pool_kwargs-int",
    ),
    pytest.param(_new("executors.pool:ProcessPoolExecutor", 0), ValueError, "0", id="processes-0"),
    pytest.param(
        _new("executors.pool:ProcessPoolExecutor", "x"), TypeError, "'x'", id="processes-str"
    ),
    pytest.param(_new("executors.gevent:GeventExecutor", foo=1), TypeError, "foo", id="gevent"),
]


def _apscheduler_exception(call: Call) -> type[BaseException]:
    """Return the class of what APScheduler 3.11 raises for ``call``."""
    try:
        call("apscheduler")
    except Exception as exc:  # noqa: BLE001 - any class: that is what is compared
        raised = type(exc)
    else:
        pytest.fail("APScheduler 3.x accepts this input: nothing to compare")
    # a class of APScheduler's own would never be in greensched's hierarchy
    assert not raised.__module__.startswith("apscheduler"), raised
    return raised


@pytest.mark.parametrize(("call", "documented", "needle"), CASES)
def test_raises_what_apscheduler_raises(
    call: Call, documented: type[Exception], needle: str
) -> None:
    expected = _apscheduler_exception(call)
    with pytest.raises(expected, match=re.escape(needle)) as info:
        call("greensched")
    assert isinstance(info.value, documented)
