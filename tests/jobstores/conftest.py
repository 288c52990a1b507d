"""Fixtures for the job store tests: real Job objects built without a scheduler."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any, Callable

import pytest

from greensched.job import Job
from tests.support import NeverTrigger

#: the time the store tests count from
T0 = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)


def at(seconds: float) -> datetime:
    """``seconds`` after :data:`T0`."""
    return T0 + timedelta(seconds=seconds)


def ids(jobs: list[Job]) -> list[str]:
    return [job.id for job in jobs]


def reschedule(jobs: list[Job], seconds: float) -> None:
    """Give each job a new next run time, as the scheduler's loop does before releasing."""
    for job in jobs:
        job._modify(next_run_time=at(seconds))


class StubScheduler:
    """The one thing a Job asks its scheduler for while it is built: the default time zone."""

    timezone: tzinfo = timezone.utc


def noop() -> None:
    """The function every test job would run."""


@pytest.fixture
def make_job() -> Callable[..., Job]:
    """Return a factory: ``make_job(id, next_run_time, **options) -> Job``."""
    scheduler = StubScheduler()

    def make(job_id: str, next_run_time: datetime | None, **options: Any) -> Job:
        options.setdefault("func", noop)
        options.setdefault("trigger", NeverTrigger())
        options.setdefault("executor", "default")
        options.setdefault("misfire_grace_time", 1)
        options.setdefault("coalesce", True)
        options.setdefault("max_instances", 1)
        return Job(scheduler, id=job_id, next_run_time=next_run_time, **options)  # type: ignore[arg-type]

    return make
