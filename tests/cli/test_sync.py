"""``greensched run``'s upsert of the file's jobs into the store, and its line per run."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from greensched._clock import using_clock
from greensched.cli.jobsfile import JobsSource, load
from greensched.cli.output import RUN_FIELDS
from greensched.cli.run import RunLog, sync_jobs
from greensched.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    JobExecutionEvent,
)
from greensched.jobstores.sqlalchemy import SQLAlchemyJobStore
from greensched.schedulers.gevent import GeventScheduler
from greensched.testing import MockClock
from tests.cli.conftest import write_jobs

TICK = """\
[scheduler]
timezone = "Europe/Berlin"
[[jobs]]
id = "tick"
func = "tests.cli.jobfuncs:record"
args = [{args}]
trigger = "interval"
{trigger}
"""


@pytest.fixture
def scheduler(tmp_path: Path, mock_clock: MockClock) -> Iterator[GeventScheduler]:
    """A paused scheduler on an SQLite store, as ``greensched run`` has before it upserts."""
    store = SQLAlchemyJobStore(url=f"sqlite:///{tmp_path / 'jobs.sqlite'}")
    scheduler = GeventScheduler(jobstores={"default": store}, clock=mock_clock, timezone="UTC")
    scheduler.start(paused=True)
    yield scheduler
    scheduler.shutdown(wait=False)


def load_at(
    clock: MockClock, path: Path, trigger: str = "hours = 1", args: str = '"a.jsonl"'
) -> JobsSource:
    write_jobs(path, TICK.format(trigger=trigger, args=args))
    with using_clock(clock):
        return load(str(path))


def sync_at(
    clock: MockClock, scheduler: GeventScheduler, source: JobsSource, *previous: str
) -> None:
    with using_clock(clock):
        sync_jobs(scheduler, source, previous)


def test_new_jobs_are_added(
    scheduler: GeventScheduler, mock_clock: MockClock, tmp_path: Path
) -> None:
    sync_at(mock_clock, scheduler, load_at(mock_clock, tmp_path / "jobs.toml"))
    job = scheduler.get_job("tick")
    assert job is not None
    assert job.next_run_time == mock_clock.now() + timedelta(hours=1)


def test_a_date_job_without_run_date_runs_when_it_is_added_not_when_the_file_was_read(
    scheduler: GeventScheduler, mock_clock: MockClock, tmp_path: Path
) -> None:
    """Opening the store can take longer than the job's misfire_grace_time (a busy machine,
    a remote database): the run must not be missed for it."""
    path = tmp_path / "jobs.toml"
    write_jobs(
        path,
        TICK.replace('trigger = "interval"\n{trigger}\n', 'trigger = "date"\n').format(
            args='"a.jsonl"'
        ),
    )
    with using_clock(mock_clock):
        source = load(str(path))
    mock_clock.jump(5)  # the store took 5 s to open
    sync_at(mock_clock, scheduler, source)
    job = scheduler.get_job("tick")
    assert job is not None
    assert job.next_run_time == mock_clock.now()


def test_an_unchanged_job_keeps_its_next_run_time(
    scheduler: GeventScheduler,
    mock_clock: MockClock,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = tmp_path / "jobs.toml"
    sync_at(mock_clock, scheduler, load_at(mock_clock, path))
    first = mock_clock.now() + timedelta(hours=1)
    mock_clock.jump(600)  # restarted 10 minutes later
    caplog.set_level(logging.INFO, "greensched.run")
    sync_at(mock_clock, scheduler, load_at(mock_clock, path))
    assert scheduler.get_job("tick").next_run_time == first  # type: ignore[union-attr]
    assert caplog.messages[-1] == f"{path}: 1 job: 0 added, 0 updated, 1 unchanged"


def test_a_changed_trigger_starts_the_new_schedule(
    scheduler: GeventScheduler,
    mock_clock: MockClock,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = tmp_path / "jobs.toml"
    sync_at(mock_clock, scheduler, load_at(mock_clock, path))
    mock_clock.jump(600)
    caplog.set_level(logging.INFO, "greensched.run")
    sync_at(mock_clock, scheduler, load_at(mock_clock, path, "minutes = 5"))
    job = scheduler.get_job("tick")
    assert job is not None
    assert job.trigger.interval == timedelta(minutes=5)
    assert job.next_run_time == mock_clock.now() + timedelta(minutes=5)
    assert caplog.messages[-2:] == [
        f"""Updated job 'tick' ("record") from {path}: trigger""",
        f"{path}: 1 job: 0 added, 1 updated, 0 unchanged",
    ]


def test_a_paused_job_stays_paused_when_its_trigger_changes(
    scheduler: GeventScheduler, mock_clock: MockClock, tmp_path: Path
) -> None:
    path = tmp_path / "jobs.toml"
    sync_at(mock_clock, scheduler, load_at(mock_clock, path))
    scheduler.pause_job("tick")
    sync_at(mock_clock, scheduler, load_at(mock_clock, path, "minutes = 5"))
    job = scheduler.get_job("tick")
    assert job is not None
    assert (job.trigger.interval, job.next_run_time) == (timedelta(minutes=5), None)


def test_changed_arguments_keep_the_schedule(
    scheduler: GeventScheduler,
    mock_clock: MockClock,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = tmp_path / "jobs.toml"
    sync_at(mock_clock, scheduler, load_at(mock_clock, path))
    mock_clock.jump(600)
    caplog.set_level(logging.INFO, "greensched.run")
    sync_at(mock_clock, scheduler, load_at(mock_clock, path, args='"b.jsonl", "label"'))
    job = scheduler.get_job("tick")
    assert job is not None
    assert job.args == ("b.jsonl", "label")
    assert job.next_run_time == mock_clock.now() - timedelta(seconds=600) + timedelta(hours=1)
    assert caplog.messages[-2] == f"""Updated job 'tick' ("record") from {path}: args"""


def test_a_given_start_date_that_changes_is_a_change(
    scheduler: GeventScheduler, mock_clock: MockClock, tmp_path: Path
) -> None:
    path = tmp_path / "jobs.toml"
    sync_at(mock_clock, scheduler, load_at(mock_clock, path, "hours = 1\nstart_date = 2030-01-01"))
    sync_at(mock_clock, scheduler, load_at(mock_clock, path, "hours = 1\nstart_date = 2031-01-01"))
    job = scheduler.get_job("tick")
    assert job is not None
    assert job.next_run_time is not None
    assert job.next_run_time.year == 2031


def test_jobs_added_elsewhere_and_jobs_dropped_from_the_file_are_kept(
    scheduler: GeventScheduler,
    mock_clock: MockClock,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    scheduler.add_job("tests.cli.jobfuncs:record", "interval", hours=2, args=["x"], id="other")
    path = tmp_path / "jobs.toml"
    caplog.set_level(logging.INFO, "greensched.run")
    sync_at(mock_clock, scheduler, load_at(mock_clock, path), "tick", "gone")
    assert sorted(job.id for job in scheduler.get_jobs()) == ["other", "tick"]
    assert (
        "Job 'gone' is no longer in "
        f"{path}; it stays in the store (greensched jobs remove gone removes it)"
    ) in caplog.messages


# One line per run


@pytest.fixture
def run_log(mock_clock: MockClock, caplog: pytest.LogCaptureFixture) -> RunLog:
    caplog.set_level(logging.INFO, "greensched.run")
    return RunLog(mock_clock)


def test_a_run_is_logged_with_its_lateness_and_duration(
    run_log: RunLog, mock_clock: MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    scheduled = mock_clock.now()
    started = scheduled + timedelta(seconds=0.25)
    mock_clock.jump(9)  # the line gives the run's own times, not the time it is logged at
    run_log(
        JobExecutionEvent(
            EVENT_JOB_EXECUTED, "a", "default", scheduled, started=started, duration=1.5
        )
    )
    (record,) = caplog.records
    assert record.levelno == logging.INFO
    assert record.getMessage() == (
        "Job 'a' executed: scheduled 2024-06-03 12:00:00.000+02:00, 0.250 s late, took 1.500 s"
    )
    assert getattr(record, RUN_FIELDS) == {
        "event": "run",
        "outcome": "executed",
        "job_id": "a",
        "scheduled": "2024-06-03T12:00:00+02:00",
        "lateness": 0.25,
        "duration": 1.5,
    }


def test_a_failed_run_is_logged_with_its_error(
    run_log: RunLog, mock_clock: MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    scheduled = mock_clock.now()
    error = ZeroDivisionError("division by zero")
    run_log(
        JobExecutionEvent(
            EVENT_JOB_ERROR,
            "a",
            "default",
            scheduled,
            exception=error,
            started=scheduled,
            duration=2.0,
        )
    )
    (record,) = caplog.records
    assert record.getMessage() == (
        "Job 'a' failed: scheduled 2024-06-03 12:00:00.000+02:00, 0.000 s late, took 2.000 s: "
        "ZeroDivisionError: division by zero"
    )
    assert getattr(record, RUN_FIELDS)["error"] == "ZeroDivisionError: division by zero"
    assert getattr(record, RUN_FIELDS)["outcome"] == "failed"


def test_a_missed_run_is_logged_with_its_lateness(
    run_log: RunLog, mock_clock: MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    scheduled = mock_clock.now()
    mock_clock.jump(3)
    run_log(JobExecutionEvent(EVENT_JOB_MISSED, "a", "default", scheduled))
    (record,) = caplog.records
    assert record.getMessage() == (
        "Job 'a' missed: scheduled 2024-06-03 12:00:00.000+02:00, 3.000 s late (more than its "
        "misfire_grace_time)"
    )
    assert (getattr(record, RUN_FIELDS)["lateness"], getattr(record, RUN_FIELDS)["duration"]) == (
        3.0,
        None,
    )


def test_a_run_its_executor_did_not_time_is_late_until_reported(
    run_log: RunLog, mock_clock: MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    # A third-party executor may not fill in started/duration
    scheduled = mock_clock.now()
    mock_clock.jump(1)
    run_log(JobExecutionEvent(EVENT_JOB_EXECUTED, "a", "default", scheduled))
    assert caplog.messages == [
        "Job 'a' executed: scheduled 2024-06-03 12:00:00.000+02:00, 1.000 s late, took ? s"
    ]


def test_a_run_line_names_the_job_as_the_executors_do(
    mock_clock: MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    """The id, and the name when it differs (events carry only the id: the names are the
    file's); a job the run log has no name for is named by its id."""
    caplog.set_level(logging.INFO, "greensched.run")
    run_log = RunLog(mock_clock, {"report": "Daily report", "tick": "tick"})
    scheduled = mock_clock.now()
    for job_id in ("report", "tick", "other"):
        run_log(
            JobExecutionEvent(
                EVENT_JOB_EXECUTED, job_id, "default", scheduled, started=scheduled, duration=0
            )
        )
    tail = "executed: scheduled 2024-06-03 12:00:00.000+02:00, 0.000 s late, took 0.000 s"
    assert caplog.messages == [
        f"""Job 'report' ("Daily report") {tail}""",
        f"Job 'tick' {tail}",
        f"Job 'other' {tail}",
    ]
