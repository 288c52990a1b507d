"""A way back to APScheduler 3.x: jobs greensched stores are loaded by APScheduler 3.11's own
store in a process where greensched cannot be imported (as after uninstalling it), with the
fire times greensched computes, and run there; greensched still reads them afterwards.

Run on SQLite (a temporary file), PostgreSQL and Redis."""

from __future__ import annotations

import json
import logging
import os
import re
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from greensched.job import Job
from greensched.jobstores import _pickling
from greensched.jobstores._shared import SharedJobStore
from greensched.jobstores.redis import RedisJobStore
from greensched.jobstores.sqlalchemy import SQLAlchemyJobStore
from greensched.triggers.base import BaseTrigger
from greensched.triggers.calendarinterval import CalendarIntervalTrigger
from greensched.triggers.combining import AndTrigger, OrTrigger
from greensched.triggers.cron import CronTrigger
from greensched.triggers.date import DateTrigger
from greensched.triggers.interval import IntervalTrigger
from tests.services import POSTGRESQL_URL, REDIS_URL, drop_store, require, unique_name
from tests.support.processes import ROOT, run_python

from .conftest import StubScheduler
from .interop_funcs import Greeter

pytestmark = pytest.mark.slow  # a Python process per test

BERLIN = ZoneInfo("Europe/Berlin")
#: "now" of the fire times compared: a Monday
NOW = datetime(2030, 6, 3, 8, 0, tzinfo=BERLIN)
#: how many fire times of each trigger are compared
STEPS = 6


def readable_triggers() -> dict[str, BaseTrigger]:
    """A trigger of each kind, in forms that APScheduler 3.x has too."""
    return {
        "date": DateTrigger(datetime(2031, 1, 2, 9, 30), timezone=BERLIN),
        "interval": IntervalTrigger(
            minutes=90, start_date=datetime(2030, 6, 3, 10, 0), timezone=BERLIN, jitter=30
        ),
        "cron": CronTrigger(day_of_week="mon-fri", hour="9-17/2", minute="15,45", timezone=BERLIN),
        "cron_names": CronTrigger(month="jan-jun/2", day="last fri", hour=12, timezone=BERLIN),
        "cron_week": CronTrigger(week="23-30", day_of_week="tue", hour="6", timezone=BERLIN),
        "crontab_weekdays": CronTrigger.from_crontab("0 9 * * 1-5", timezone=BERLIN),
        "crontab_steps": CronTrigger.from_crontab("*/15 9-17 * * mon-fri", timezone=BERLIN),
        "crontab_sundays": CronTrigger.from_crontab("30 6 * * 0,7", timezone=BERLIN),
        "crontab_weekend": CronTrigger.from_crontab("0 0 * * fri-sun", timezone=BERLIN),
        "crontab_last_day": CronTrigger.from_crontab("0 0 L * *", timezone=BERLIN),
        "crontab_third_friday": CronTrigger.from_crontab("0 12 * * 5#3", timezone=BERLIN),
        "crontab_odd_mondays": CronTrigger.from_crontab("0 0 */2 * mon", timezone=BERLIN),
        "crontab_wide_step": CronTrigger.from_crontab("*/60 9-11/3 * * *", timezone=BERLIN),
        "crontab_daily": CronTrigger.from_crontab(
            "@daily", timezone=BERLIN, start_date=datetime(2030, 6, 10), jitter=None
        ),
        "crontab_seconds": CronTrigger.from_crontab("30 */5 * * * *", timezone=BERLIN),
        "calendarinterval": CalendarIntervalTrigger(
            months=1, hour=8, minute=30, start_date="2030-07-15", timezone=BERLIN
        ),
        "or": OrTrigger(
            [
                CronTrigger(day_of_week="mon-fri", hour=9, timezone=BERLIN),
                CronTrigger.from_crontab("30 18 * * 0,6", timezone=BERLIN),
            ]
        ),
        "and": AndTrigger(
            [
                CronTrigger(hour="9,18", minute=0, timezone=BERLIN),
                CronTrigger.from_crontab("0 * * * 1-5", timezone=BERLIN),
            ]
        ),
    }


def unreadable_triggers() -> dict[str, BaseTrigger]:
    """Crontab forms APScheduler 3.x has no equivalent of."""
    return {
        "crontab_last_weekday": CronTrigger.from_crontab("0 0 LW * *", timezone=BERLIN),
        "crontab_either_day": CronTrigger.from_crontab("0 0 1,15 * mon", timezone=BERLIN),
    }


def queries(job_id: str, trigger: BaseTrigger) -> list[tuple[datetime | None, datetime]]:
    """The ``(previous_fire_time, now)`` pairs to ask both libraries: the first fire time
    after ``NOW``, then the next ones, each after the previous answer (greensched's, without
    jitter)."""
    if isinstance(trigger, IntervalTrigger):
        trigger = IntervalTrigger(
            seconds=trigger.interval_length, start_date=trigger.start_date, timezone=BERLIN
        )
    pairs: list[tuple[datetime | None, datetime]] = [(None, NOW)]
    # (after its first fire, APScheduler 3.x's AndTrigger never lets its triggers move on:
    # only the first fire time is asked; see the AndTrigger notes)
    steps = 1 if job_id == "and" else STEPS
    previous = trigger.get_next_fire_time(None, NOW)
    while previous is not None and len(pairs) < steps:
        pairs.append((previous, previous))
        previous = trigger.get_next_fire_time(previous, previous)
    return pairs


def expected(trigger: BaseTrigger, pairs: list[tuple[datetime | None, datetime]]) -> list[Any]:
    """greensched's answers: datetimes, or ``None``."""
    return [trigger.get_next_fire_time(previous, now) for previous, now in pairs]


#: Run by the APScheduler process: greensched is blocked before anything is imported
APSCHEDULER_SCRIPT = textwrap.dedent(
    """
    import sys


    class BlockGreensched:
        # a meta path finder that finds greensched nowhere, as if it were not installed
        def find_spec(self, name, path=None, target=None):
            if name == "greensched" or name.startswith("greensched."):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None


    sys.meta_path.insert(0, BlockGreensched())

    import json
    import logging
    from datetime import datetime

    params = json.loads(sys.argv[1])
    result = {}
    try:
        import greensched  # noqa: F401
    except ModuleNotFoundError as exc:
        result["import_error"] = str(exc)

    messages = []


    class Collect(logging.Handler):
        def emit(self, record):
            messages.append(record.getMessage())


    logging.getLogger("apscheduler").addHandler(Collect())
    logging.getLogger("apscheduler").setLevel(logging.DEBUG)

    url, name = params["url"], params["name"]
    if url.startswith("redis://"):
        import redis
        from apscheduler.jobstores.redis import RedisJobStore

        store = RedisJobStore(
            jobs_key=name + ".jobs",
            run_times_key=name + ".run_times",
            **redis.connection.parse_url(url),
        )
    else:
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

        store = SQLAlchemyJobStore(url=url, tablename=name)
    store.start(None, "default")


    def parse(text):
        return None if text is None else datetime.fromisoformat(text)


    jobs = {}
    for job in store.get_all_jobs():
        fire_times = []
        for previous, now in params["queries"].get(job.id, []):
            fire_time = job.trigger.get_next_fire_time(parse(previous), parse(now))
            fire_times.append(None if fire_time is None else fire_time.isoformat())
        jobs[job.id] = {
            "trigger_class": type(job.trigger).__module__ + "." + type(job.trigger).__qualname__,
            "trigger": str(job.trigger),
            "next_run_time": job.next_run_time.isoformat(),
            "fire_times": fire_times,
            "run": job.func(*job.args, **job.kwargs),
        }
    result["jobs"] = jobs
    result["left"] = sorted(job.id for job in store.get_all_jobs())
    result["log"] = messages
    result["greensched_modules"] = sorted(
        module for module in sys.modules if module.split(".")[0] == "greensched"
    )
    store.shutdown()
    print(json.dumps(result))
    """
)


@dataclass
class Backend:
    """One store location."""

    url: str
    name: str

    def greensched_store(self) -> SharedJobStore:
        if self.url.startswith("redis://"):
            return RedisJobStore(
                jobs_key=f"{self.name}.jobs", run_times_key=f"{self.name}.run_times", url=self.url
            )
        return SQLAlchemyJobStore(url=self.url, tablename=self.name)

    def load_with_apscheduler(self, queries: dict[str, list[list[str | None]]]) -> Any:
        """Open the location with APScheduler 3.11's store in a process without greensched;
        return what it saw."""
        params = json.dumps({"url": self.url, "name": self.name, "queries": queries})
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        done = run_python("-c", APSCHEDULER_SCRIPT, params, env=env)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)


@pytest.fixture(autouse=True)
def warned(monkeypatch: pytest.MonkeyPatch) -> None:
    """greensched warns once per job and process: each test starts afresh."""
    monkeypatch.setattr(_pickling, "_warned", set())


@pytest.fixture(params=["sqlite", "postgresql", "redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """The test's own table (SQL) or keys (Redis); removed afterwards."""
    if request.param == "sqlite":
        yield Backend(f"sqlite:///{tmp_path}/jobs.sqlite", "jobs")
        return
    url = require(POSTGRESQL_URL if request.param == "postgresql" else REDIS_URL)
    location = Backend(url, unique_name("rollback"))
    yield location
    drop_store(url, location.name)


def store_jobs(
    backend: Backend, triggers: dict[str, BaseTrigger], **options: Any
) -> dict[str, datetime | None]:
    """Store a job per trigger with greensched's store, as add_job does; return their next
    run times."""
    next_run_times = {}
    store = backend.greensched_store()
    store.start(StubScheduler(), "default")
    try:
        for job_id, trigger in triggers.items():
            job = Job(
                StubScheduler(),
                id=job_id,
                func=Greeter("ada").greet,
                trigger=trigger,
                executor="default",
                args=("hello",),
                kwargs={},
                misfire_grace_time=1,
                coalesce=True,
                max_instances=1,
                next_run_time=trigger.get_next_fire_time(None, NOW),
                **options,
            )
            store.add_job(job)
            next_run_times[job_id] = job.next_run_time
    finally:
        store.shutdown()
    return next_run_times


def check_greensched_reads(backend: Backend, triggers: dict[str, BaseTrigger]) -> None:
    """greensched still loads every job, with the trigger it stored."""
    store = backend.greensched_store()
    store.start(StubScheduler(), "default")
    try:
        jobs = {job.id: job for job in store.get_all_jobs()}
        assert sorted(jobs) == sorted(triggers)
        for job_id, trigger in triggers.items():
            loaded = jobs[job_id].trigger
            assert type(loaded) is type(trigger), job_id
            assert repr(loaded) == repr(trigger), job_id
            assert loaded.__getstate__() == trigger.__getstate__(), job_id
    finally:
        store.shutdown()


def isoformat(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def test_apscheduler_loads_and_runs_what_greensched_stored(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    triggers = readable_triggers()
    with caplog.at_level(logging.WARNING, logger="greensched"):
        next_run_times = store_jobs(backend, triggers)
    assert [record.getMessage() for record in caplog.records] == []
    asked = {job_id: queries(job_id, trigger) for job_id, trigger in triggers.items()}

    seen = backend.load_with_apscheduler(
        {
            job_id: [[isoformat(previous), isoformat(now)] for previous, now in pairs]
            for job_id, pairs in asked.items()
        }
    )

    assert seen["import_error"] == "No module named 'greensched'"
    assert seen["greensched_modules"] == []
    assert seen["log"] == []  # nothing unrestorable, nothing removed
    assert seen["left"] == sorted(triggers)
    assert sorted(seen["jobs"]) == sorted(triggers)
    for job_id, trigger in triggers.items():
        job = seen["jobs"][job_id]
        assert job["trigger_class"] == (
            f"apscheduler{type(trigger).__module__[len('greensched') :]}"
            f".{type(trigger).__qualname__}"
        )
        assert job["next_run_time"] == isoformat(next_run_times[job_id])
        assert job["run"] == "hello, ada."
        ours = expected(trigger, asked[job_id])
        theirs = [
            None if text is None else datetime.fromisoformat(text) for text in job["fire_times"]
        ]
        assert len(theirs) == len(ours) == len(asked[job_id])
        if job_id == "interval":  # jittered: each within [grid point, grid point + 30 s]
            grid = [previous + timedelta(minutes=90) for previous, _ in asked[job_id][1:]]
            grid.insert(0, datetime(2030, 6, 3, 10, 0, tzinfo=BERLIN))
            for point, mine, other in zip(grid, ours, theirs):
                assert mine is not None
                assert other is not None
                assert point <= mine <= point + timedelta(seconds=30)
                assert point <= other <= point + timedelta(seconds=30)
        else:
            assert [isoformat(time) for time in theirs] == [isoformat(time) for time in ours], (
                job_id
            )
    # what APScheduler shows: keyword-form fields for crontab triggers (its numbering)
    assert seen["jobs"]["crontab_weekdays"]["trigger"] == (
        "cron[month='*', day='*', day_of_week='mon-fri', hour='9', minute='0']"
    )
    assert seen["jobs"]["crontab_third_friday"]["trigger"] == (
        "cron[month='*', day='3rd fri', day_of_week='*', hour='12', minute='0']"
    )

    check_greensched_reads(backend, triggers)


def test_apscheduler_cannot_load_greensched_only_features(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    """A crontab extension without APScheduler equivalent, or a job timeout: APScheduler 3.x
    cannot load the job (it logs it and removes it); greensched warns when it stores one."""
    triggers = unreadable_triggers()
    with caplog.at_level(logging.WARNING, logger="greensched"):
        store_jobs(backend, triggers)
        store_jobs(
            backend, {"timeout": DateTrigger(datetime(2031, 1, 2), timezone=BERLIN)}, timeout=10
        )
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 3
    assert warnings[0].startswith(
        "Job 'crontab_last_weekday' is stored in a form APScheduler 3.x cannot load"
    )
    assert "its day of month 'LW' has no APScheduler 3.x equivalent" in warnings[0]
    assert "cron fires on a day matching either" in warnings[1]
    assert "its timeout (10 s) needs job state version 2" in warnings[2]

    seen = backend.load_with_apscheduler({})

    assert seen["jobs"] == {}
    assert seen["left"] == []
    # (APScheduler's Redis store names the job by its id as bytes: "b'timeout'")
    removed = [
        re.fullmatch(r"Unable to restore job \"(?:b')?(\w+)'?\" -- removing it", message)
        for message in seen["log"]
    ]
    assert sorted(match.group(1) for match in removed if match) == sorted(
        ["crontab_last_weekday", "crontab_either_day", "timeout"]
    )
    assert len(removed) == 3
