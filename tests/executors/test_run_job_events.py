"""JobRun, the one path every executor runs a job along, makes only the events it is asked
for."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Callable

from greensched.events import EVENT_ALL, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED
from greensched.executors._runpath import JobRun
from greensched.job import Job
from greensched.testing import MockClock

LOGGER = logging.getLogger("tests.executors")


def test_every_event_by_default(clock: MockClock, make_job: Callable[..., Job]) -> None:
    calls: list[int] = []
    job = make_job(lambda: calls.append(1), misfire_grace_time=30)
    now = clock.now()
    events = JobRun(job, "store", [now - timedelta(minutes=1), now], clock, LOGGER).run_here(None)
    assert [event.code for event in events] == [EVENT_JOB_MISSED, EVENT_JOB_EXECUTED]
    assert calls == [1]
    assert JobRun(job, "store", [now], clock, LOGGER, EVENT_ALL).run_here(None)[0].retval is None


def test_only_the_wanted_codes(clock: MockClock, make_job: Callable[..., Job]) -> None:
    calls: list[int] = []
    job = make_job(lambda: calls.append(1), misfire_grace_time=30)
    now = clock.now()
    run_times = [now - timedelta(minutes=1), now]
    missed = JobRun(job, "store", run_times, clock, LOGGER, EVENT_JOB_MISSED).run_here(None)
    assert [(event.code, event.scheduled_run_time) for event in missed] == [
        (EVENT_JOB_MISSED, run_times[0])
    ]
    assert JobRun(job, "store", run_times, clock, LOGGER, 0).run_here(None) == []
    assert calls == [1, 1]  # the runs happened all the same
