"""The job ``timeout`` option through the scheduler API: job defaults, add_job, scheduled_job,
modify_job, validation (nothing half-added), export and import."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pytest

from greensched.job import Job

from .conftest import RecordingScheduler


def job_func() -> None:
    pass


def test_no_timeout_by_default(scheduler: RecordingScheduler) -> None:
    scheduler.start()
    job = scheduler.add_job(job_func, "interval", minutes=1)
    assert job.timeout is None


def test_add_job_with_a_timeout(scheduler: RecordingScheduler) -> None:
    scheduler.start()
    job = scheduler.add_job(job_func, "interval", minutes=1, timeout=5)
    assert job.timeout == 5
    assert scheduler.get_job(job.id).timeout == 5


def test_job_default_timeout_applies_to_jobs_without_one(mock_clock: Any, timezone: Any) -> None:
    scheduler = RecordingScheduler(
        clock=mock_clock, timezone=timezone, job_defaults={"timeout": 30}
    )
    pending = scheduler.add_job(job_func, "interval", minutes=1, id="pending")
    assert not hasattr(pending, "timeout")  # filled in at start, like the other defaults
    scheduler.start()
    assert pending.timeout == 30
    assert scheduler.add_job(job_func, "interval", minutes=1, id="own", timeout=2.5).timeout == 2.5
    unlimited = scheduler.add_job(job_func, "interval", minutes=1, id="none", timeout=None)
    assert unlimited.timeout is None


def test_scheduled_job_with_a_timeout(scheduler: RecordingScheduler) -> None:
    @scheduler.scheduled_job("interval", minutes=3, id="deco", timeout=0.5)
    def decorated() -> None:
        pass

    scheduler.start()
    assert scheduler.get_job("deco").timeout == 0.5


def test_modify_job_timeout(scheduler: RecordingScheduler) -> None:
    scheduler.start()
    job = scheduler.add_job(job_func, "interval", minutes=1, id="j")
    scheduler.modify_job("j", timeout=7)
    assert job.timeout == 7
    job.modify(timeout=None)
    assert job.timeout is None


def test_timeout_is_keyword_only() -> None:
    """APScheduler 3.x's positional parameters are unchanged; a 14th positional is refused."""
    import inspect

    for method in (RecordingScheduler.add_job, RecordingScheduler.scheduled_job):
        parameter = inspect.signature(method).parameters["timeout"]
        assert parameter.kind is inspect.Parameter.KEYWORD_ONLY


def test_positional_add_job_still_works(scheduler: RecordingScheduler) -> None:
    scheduler.start()
    job = scheduler.add_job(
        job_func, "interval", [], {}, "pos", "positional", 10, False, 2, None, "default",
        "default", False, minutes=1,
    )  # fmt: skip
    assert (job.id, job.name, job.misfire_grace_time, job.max_instances) == (
        "pos", "positional", 10, 2
    )  # fmt: skip
    assert job.timeout is None


BAD_TIMEOUTS = [
    pytest.param("5", TypeError, id="string"),
    pytest.param(True, TypeError, id="bool"),
    pytest.param([5], TypeError, id="list"),
    pytest.param(0, ValueError, id="zero"),
    pytest.param(-1.5, ValueError, id="negative"),
    pytest.param(float("inf"), ValueError, id="infinite"),
    pytest.param(float("nan"), ValueError, id="nan"),
]


def timeout_message(value: Any) -> str:
    message = f"timeout must be a positive finite number of seconds or None, got: {value!r}"
    return rf"^{re.escape(message)}$"


@pytest.mark.parametrize(("value", "exc_type"), BAD_TIMEOUTS)
def test_bad_timeout_in_add_job_adds_nothing(
    scheduler: RecordingScheduler, value: Any, exc_type: type[Exception]
) -> None:
    scheduler.start()
    with pytest.raises(exc_type, match=timeout_message(value)):
        scheduler.add_job(job_func, "interval", minutes=1, id="bad", timeout=value)
    assert scheduler.get_jobs() == []


@pytest.mark.parametrize(("value", "exc_type"), BAD_TIMEOUTS)
def test_bad_timeout_in_modify_job_changes_nothing(
    scheduler: RecordingScheduler, value: Any, exc_type: type[Exception]
) -> None:
    scheduler.start()
    job = scheduler.add_job(job_func, "interval", minutes=1, id="j", timeout=3)
    with pytest.raises(exc_type, match=timeout_message(value)):
        scheduler.modify_job("j", timeout=value, max_instances=4)
    assert (job.timeout, job.max_instances) == (3, 1)


def test_bad_job_default_timeout_is_refused(mock_clock: Any) -> None:
    with pytest.raises(ValueError, match=timeout_message(-1)):
        RecordingScheduler(clock=mock_clock, job_defaults={"timeout": -1})


def test_job_default_timeout_from_a_configuration_file(mock_clock: Any) -> None:
    scheduler = RecordingScheduler(
        {"greensched.job_defaults.timeout": "12.5"}, clock=mock_clock, timezone="UTC"
    )
    assert scheduler._job_defaults["timeout"] == 12.5
    with pytest.raises(TypeError, match=timeout_message("soon")):
        RecordingScheduler({"greensched.job_defaults.timeout": "soon"}, clock=mock_clock)


def test_export_and_import_keep_the_timeout(
    scheduler: RecordingScheduler, mock_clock: Any, timezone: Any
) -> None:
    scheduler.start()
    scheduler.add_job(job_func, "interval", minutes=1, id="limited", timeout=9)
    scheduler.add_job(job_func, "interval", minutes=1, id="unlimited")
    out = io.StringIO()
    scheduler.export_jobs(out)
    states = {state["id"]: state for state in json.loads(out.getvalue())["jobs"]}
    # A job without a timeout keeps APScheduler 3.x's format (version 1)
    assert (states["limited"]["version"], states["limited"]["timeout"]) == (2, 9)
    assert states["unlimited"]["version"] == 1
    assert "timeout" not in states["unlimited"]

    other = RecordingScheduler(clock=mock_clock, timezone=timezone)
    other.import_jobs(io.StringIO(out.getvalue()))
    other.start()
    assert other.get_job("limited").timeout == 9
    assert other.get_job("unlimited").timeout is None


def test_str_of_a_job_does_not_show_the_timeout(scheduler: RecordingScheduler) -> None:
    scheduler.start()
    job: Job = scheduler.add_job(job_func, "interval", minutes=1, id="t", name="tick", timeout=5)
    assert re.fullmatch(r"tick \(trigger: interval\[0:01:00\], next run at: [^)]*\)", str(job))
    assert repr(job) == "<Job (id=t name=tick)>"
