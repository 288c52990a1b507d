"""How ``greensched celery-beat`` maps a Celery app's ``beat_schedule``: intervals, crontab
fields (Celery's ``day_of_week`` 0 is Sunday), arguments and options; the entries it cannot map;
reloading a schedule (a removed entry's job is removed, other jobs are kept)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from celery.schedules import crontab

from greensched.cli.celery_beat import EXECUTOR, beat_source, entry_trigger, sync_schedule
from greensched.cli.jobsfile import JobsFileError
from greensched.executors.celery import CeleryExecutor
from greensched.schedulers.gevent import GeventScheduler
from greensched.triggers.interval import IntervalTrigger
from greensched.util import ref_to_obj

UTC = timezone.utc
#: a Monday, a minute past noon
MONDAY = datetime(2024, 6, 3, 12, 1, tzinfo=UTC)


def next_fires(trigger: Any, count: int = 3) -> list[datetime]:
    fires, previous, now = [], None, MONDAY
    for _ in range(count):
        fire = trigger.get_next_fire_time(previous, now)
        fires.append(fire.astimezone(UTC))
        previous = now = fire
    return fires


@pytest.mark.parametrize(
    "schedule", [90, 90.0, timedelta(seconds=90)], ids=["int", "float", "timedelta"]
)
def test_an_interval_is_an_interval_trigger(schedule: Any) -> None:
    trigger = entry_trigger("e", schedule, UTC)
    assert isinstance(trigger, IntervalTrigger)
    assert trigger.interval == timedelta(seconds=90)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"minute": "*/20"}, ["12:20", "12:40", "13:00"]),
        ({"minute": 5, "hour": "7,19"}, ["19:05", "07:05", "19:05"]),
        ({"minute": 0, "hour": 0, "day_of_month": "1,15"}, ["06-15", "07-01", "07-15"]),
        (
            {"minute": 0, "hour": 0, "day_of_month": 1, "month_of_year": "1,7"},
            ["07-01", "01-01", "07-01"],
        ),
        # Celery's 0 is Sunday, 6 Saturday: Saturday 8th, Sunday 9th, Saturday 15th
        ({"minute": 0, "hour": 9, "day_of_week": "0,6"}, ["06-08", "06-09", "06-15"]),
        ({"minute": 0, "hour": 9, "day_of_week": "sun"}, ["06-09", "06-16", "06-23"]),
        ({"minute": 0, "hour": 9, "day_of_week": "mon-tue"}, ["06-04", "06-10", "06-11"]),
    ],
)
def test_crontab_fields_keep_celerys_meaning(fields: dict[str, Any], expected: list[str]) -> None:
    celery_crontab = crontab(**fields)
    fires = next_fires(entry_trigger("e", celery_crontab, UTC))
    shown = "%H:%M" if ":" in expected[0] else "%m-%d"
    assert [fire.strftime(shown) for fire in fires] == expected
    for fire in fires:  # times Celery's crontab holds (its weekdays: Sunday is 0)
        assert fire.minute in celery_crontab.minute
        assert fire.hour in celery_crontab.hour
        assert fire.day in celery_crontab.day_of_month
        assert fire.month in celery_crontab.month_of_year
        assert fire.isoweekday() % 7 in celery_crontab.day_of_week


def test_the_crontab_runs_in_the_apps_timezone() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    [fire] = next_fires(entry_trigger("e", crontab(minute=0, hour=9), berlin), 1)
    assert fire == datetime(2024, 6, 4, 7, 0, tzinfo=UTC)  # 09:00 CEST


def test_entries_become_jobs_with_their_arguments_and_options() -> None:
    source = beat_source("tests.queues.beat_apps:mapped")
    jobs = {job.id: job for job in source.jobs}
    assert sorted(jobs) == ["cron", "delta", "schedule", "seconds"]
    seconds = jobs["seconds"]
    assert ref_to_obj(seconds.func_ref).name == "tests.queues.beat_apps.ping"
    assert seconds.args == ("key", 1)
    assert seconds.kwargs == {"a": 1}
    assert seconds.executor == EXECUTOR
    assert seconds.misfire_grace_time is None  # late runs are sent, as celery beat does
    assert seconds.coalesce is True
    assert seconds.trigger.interval == timedelta(seconds=2.5)
    assert jobs["delta"].trigger.interval == timedelta(minutes=5)
    assert jobs["schedule"].trigger.interval == timedelta(hours=1)
    assert jobs["cron"].misfire_grace_time == 60  # options expires
    assert str(jobs["cron"].trigger.timezone) == "Europe/Berlin"
    executor = source.scheduler.executors[EXECUTOR]
    assert isinstance(executor, CeleryExecutor)
    assert executor.job_options["cron"] == {
        "queue": "special",
        "priority": 5,
        "headers": {"x": "1"},
    }


@pytest.mark.parametrize(
    ("app", "message"),
    [
        ("custom_app", "entry 'desk': its schedule <business_hours> has no greensched trigger"),
        ("unknown_task", "entry 'ghost': task 'no.such.task' is not registered in the app"),
        ("bad_option", "entry 'late': options countdown are not supported"),
    ],
)
def test_entries_that_cannot_be_mapped_are_errors_naming_them(app: str, message: str) -> None:
    with pytest.raises(JobsFileError, match=message):
        beat_source(f"tests.queues.beat_apps:{app}")


def test_a_reference_that_is_not_an_app_is_an_error() -> None:
    with pytest.raises(JobsFileError, match="must name a Celery app"):
        beat_source("tests.queues.beat_apps:ping")


@pytest.fixture
def scheduler() -> Iterator[GeventScheduler]:
    scheduler = GeventScheduler(timezone="UTC", executors={EXECUTOR: CeleryExecutor()})
    scheduler.start(paused=True)
    yield scheduler
    scheduler.shutdown(wait=False)


def test_a_reloaded_schedule_removes_the_jobs_of_removed_entries_only(
    scheduler: GeventScheduler, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.queues import beat_apps

    sync_schedule(scheduler, beat_source("tests.queues.beat_apps:mapped"), ())
    scheduler.add_job("tests.queues.beat_apps:ping", "interval", seconds=5, id="by-hand")
    schedule = dict(beat_apps.mapped.conf.beat_schedule)
    del schedule["delta"]
    schedule["cron"] = {**schedule["cron"], "options": {"queue": "other"}}
    monkeypatch.setitem(beat_apps.mapped.conf, "beat_schedule", schedule)
    sync_schedule(scheduler, beat_source("tests.queues.beat_apps:mapped"), ())
    assert sorted(job.id for job in scheduler.get_jobs()) == [
        "by-hand",
        "cron",
        "schedule",
        "seconds",
    ]
    assert scheduler.get_job("cron").misfire_grace_time is None  # expires is gone
    executor = scheduler.executors[EXECUTOR]
    assert isinstance(executor, CeleryExecutor)
    assert executor.job_options["cron"] == {"queue": "other"}
