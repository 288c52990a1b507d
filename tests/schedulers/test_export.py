"""export_jobs / import_jobs: a JSON round trip that gives fully working jobs."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from greensched.events import EVENT_JOB_ADDED, EVENT_JOB_SUBMITTED, SchedulerEvent
from greensched.testing import MockClock
from greensched.triggers.date import DateTrigger
from greensched.triggers.interval import IntervalTrigger

from .conftest import RecordingExecutor, RecordingScheduler

DATA = Path(__file__).parent / "data"


def job_func(a: Any = None, b: Any = None) -> Any:
    return a


def make_scheduler(
    clock: MockClock, executor: RecordingExecutor | None = None
) -> RecordingScheduler:
    return RecordingScheduler(
        clock=clock,
        timezone="Europe/Berlin",
        executors={"default": executor or RecordingExecutor()},
    )


def test_round_trip_gives_working_jobs(mock_clock: MockClock) -> None:
    source = make_scheduler(mock_clock)
    source.start()
    source.add_job(
        job_func, "interval", minutes=15, args=[1], kwargs={"b": 2}, id="i", name="quarter"
    )
    source.add_job(job_func, "date", run_date=mock_clock.now() + timedelta(hours=1), id="d")
    source.add_job(job_func, "interval", hours=1, id="paused", next_run_time=None)
    out = io.StringIO()
    source.export_jobs(out)
    assert json.loads(out.getvalue())["version"] == 1

    executor = RecordingExecutor()
    target = make_scheduler(mock_clock, executor)
    events: list[SchedulerEvent] = []
    target.add_listener(events.append)
    target.start()
    wakeups = target.wakeups
    target.import_jobs(io.StringIO(out.getvalue()))

    jobs = {job.id: job for job in target.get_jobs()}
    assert set(jobs) == {"i", "d", "paused"}
    imported = jobs["i"]
    assert imported.func is job_func
    assert imported.args == (1,)
    assert imported.kwargs == {"b": 2}
    assert imported.name == "quarter"
    assert isinstance(imported.trigger, IntervalTrigger)
    assert imported.next_run_time == source.get_job("i").next_run_time
    assert isinstance(jobs["d"].trigger, DateTrigger)
    assert jobs["paused"].next_run_time is None
    # bound to the scheduler, announced, and the scheduler was woken up
    assert imported._scheduler is target
    assert not imported.pending
    assert [e.job_id for e in events if e.code == EVENT_JOB_ADDED] == ["i", "d", "paused"]  # type: ignore[attr-defined]
    assert target.wakeups > wakeups
    imported.modify(name="renamed")
    assert target.get_job("i").name == "renamed"
    mock_clock.jump(timedelta(minutes=15))
    target._process_jobs()
    assert executor.submitted[0][0] == "i"
    assert [e.code for e in events][-1] == EVENT_JOB_SUBMITTED


def test_export_to_a_path_and_import_before_start(mock_clock: MockClock, tmp_path: Path) -> None:
    source = make_scheduler(mock_clock)
    source.add_job(job_func, "interval", minutes=5, id="pending-job")
    path = tmp_path / "jobs.json"
    source.export_jobs(str(path))
    target = make_scheduler(mock_clock)
    target.import_jobs(str(path))
    assert [job.id for job in target.get_jobs()] == ["pending-job"]
    assert target.get_jobs()[0].pending
    target.start()
    assert target.get_job("pending-job").next_run_time == mock_clock.now() + timedelta(minutes=5)


def test_job_without_reference_is_not_exported(mock_clock: MockClock) -> None:
    scheduler = make_scheduler(mock_clock)
    scheduler.start()
    scheduler.add_job(job_func, "interval", minutes=5, id="fine")
    scheduler.add_job(lambda: None, "interval", minutes=5, id="lambda")
    out = io.StringIO()
    with pytest.raises(ValueError, match=r"could not be determined"):
        scheduler.export_jobs(out)
    assert out.getvalue() == ""  # nothing half-written


def test_import_of_a_file_that_is_not_an_export(mock_clock: MockClock) -> None:
    scheduler = make_scheduler(mock_clock)
    scheduler.start()
    with pytest.raises(ValueError, match=r"^infile must hold a job export with a 'jobs' list"):
        scheduler.import_jobs(io.StringIO('{"hello": 1}'))
    assert scheduler.get_jobs() == []


@pytest.mark.parametrize("started", [True, False], ids=["running", "pending"])
def test_import_with_a_taken_id_imports_nothing(mock_clock: MockClock, started: bool) -> None:
    source = make_scheduler(mock_clock)
    source.add_job(job_func, "interval", minutes=5, id="fresh")
    source.add_job(job_func, "interval", minutes=5, id="same")
    out = io.StringIO()
    source.export_jobs(out)

    target = make_scheduler(mock_clock)
    if started:
        target.start()
    target.add_job(job_func, "interval", minutes=7, id="same")
    with pytest.raises(KeyError, match=r"Job identifier \(same\) conflicts with an existing job"):
        target.import_jobs(io.StringIO(out.getvalue()))
    assert [job.id for job in target.get_jobs()] == ["same"]


def test_import_of_a_file_with_one_id_twice_imports_nothing(mock_clock: MockClock) -> None:
    source = make_scheduler(mock_clock)
    source.add_job(job_func, "interval", minutes=5, id="twice")
    out = io.StringIO()
    source.export_jobs(out)
    document = json.loads(out.getvalue())
    document["jobs"] *= 2
    target = make_scheduler(mock_clock)
    target.start()
    with pytest.raises(KeyError, match=r"Job identifier \(twice\) conflicts"):
        target.import_jobs(io.StringIO(json.dumps(document)))
    assert target.get_jobs() == []


def test_imports_an_apscheduler_3_11_export(mock_clock: MockClock) -> None:
    """The fixture was written by APScheduler 3.11.3's export_jobs()."""
    scheduler = make_scheduler(mock_clock)
    scheduler.start()
    scheduler.import_jobs(str(DATA / "apscheduler-3.11-export.json"))
    jobs = {job.id: job for job in scheduler.get_jobs()}
    quarter = jobs["every-15-min"]
    assert quarter.func is job_func
    assert quarter.args == (1,)
    assert quarter.kwargs == {"b": 2}
    assert (quarter.coalesce, quarter.misfire_grace_time) == (False, 30)
    assert isinstance(quarter.trigger, IntervalTrigger)
    assert quarter.trigger.interval == timedelta(minutes=15)
    assert quarter.trigger.start_date == datetime(2024, 6, 3, 12, 5, tzinfo=timezone.utc)
    new_year = jobs["new-year"]
    assert isinstance(new_year.trigger, DateTrigger)
    assert new_year.next_run_time == datetime(2030, 1, 1, 9, 0, tzinfo=ZoneInfo("Europe/Berlin"))


@pytest.mark.parametrize("version", [None, 2, "1"], ids=["missing", "newer", "string"])
def test_import_refuses_an_export_version_it_does_not_know(version: object) -> None:
    import io
    import json

    from greensched.schedulers.gevent import GeventScheduler

    document: dict[str, object] = {"jobs": []}
    if version is not None:
        document["version"] = version
    scheduler = GeventScheduler(timezone="UTC")
    with pytest.raises(
        ValueError, match=rf"^infile's export version must be 1, got: {version!r}$"
    ):
        scheduler.import_jobs(io.StringIO(json.dumps(document)))
