"""CeleryExecutor against a real ``celery worker``: each run is a message the worker gets, under
the task id made of the job id and the scheduled time, with the job's arguments and the
executor's and job's send options."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from greensched.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from greensched.executors.celery import CeleryExecutor
from greensched.schedulers.gevent import GeventScheduler
from tests.queues.celery_app import record
from tests.queues.conftest import Deliveries
from tests.support import hub_wait_until

pytestmark = pytest.mark.slow

RUN_AT = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def events() -> list[JobExecutionEvent]:
    return []


def start(events: list[JobExecutionEvent], **options: Any) -> GeventScheduler:
    scheduler = GeventScheduler(timezone="UTC", executors={"default": CeleryExecutor(**options)})
    scheduler.add_listener(events.append, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    scheduler.start()
    return scheduler


@pytest.fixture
def scheduler(events: list[JobExecutionEvent]) -> Iterator[GeventScheduler]:
    scheduler = start(events, queue="celery", headers={"x-test": "executor"})
    yield scheduler
    scheduler.shutdown()


def test_a_run_is_delivered_under_its_task_id(
    scheduler: GeventScheduler, events: list[JobExecutionEvent], celery_deliveries: Deliveries
) -> None:
    job = scheduler.add_job(
        record,
        "date",
        run_date=RUN_AT,
        args=[celery_deliveries.key, 1],
        kwargs={"n": 2},
        id="report",
        misfire_grace_time=None,
    )
    hub_wait_until(lambda: celery_deliveries() and events, what="the delivery and its event")
    [delivery] = celery_deliveries()
    assert delivery["id"] == "report@2026-01-05T09:00:00+00:00"
    assert delivery["args"] == [1]
    assert delivery["kwargs"] == {"n": 2}
    assert delivery["expires"] is None  # no misfire_grace_time: no expiry
    assert delivery["queue"] == "celery"
    assert delivery["header"] == "executor"
    [event] = events
    assert event.code == EVENT_JOB_EXECUTED
    assert event.job_id == job.id
    assert event.retval == delivery["id"]


def test_a_reference_to_the_task_works_and_job_options_win(
    events: list[JobExecutionEvent], celery_deliveries: Deliveries
) -> None:
    scheduler = start(
        events,
        queue="celery",
        headers={"x-test": "executor"},
        job_options={"special": {"queue": "special", "headers": {"x-test": "job"}}},
    )
    try:
        scheduler.add_job(
            "tests.queues.celery_app:record",
            "date",
            run_date=RUN_AT,
            args=[celery_deliveries.key],
            id="special",
            misfire_grace_time=None,
        )
        hub_wait_until(lambda: celery_deliveries(), what="the delivery")
    finally:
        scheduler.shutdown()
    [delivery] = celery_deliveries()
    assert delivery["queue"] == "special"
    assert delivery["header"] == "job"


def test_the_message_expires_when_the_grace_time_is_over(
    scheduler: GeventScheduler, celery_deliveries: Deliveries
) -> None:
    run_at = scheduler.clock.now().replace(microsecond=0)
    scheduler.add_job(
        record, "date", run_date=run_at, args=[celery_deliveries.key], misfire_grace_time=30
    )
    hub_wait_until(lambda: celery_deliveries(), what="the delivery")
    [delivery] = celery_deliveries()
    assert datetime.fromisoformat(delivery["expires"]) == run_at + timedelta(seconds=30)


def test_a_function_that_is_not_a_task_is_refused(scheduler: GeventScheduler) -> None:
    with pytest.raises(TypeError, match='Job "plain": CeleryExecutor sends Celery tasks'):
        scheduler.add_job(RUN_AT.isoformat, "date", run_date=RUN_AT, id="plain")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"exchange": "x"}, "unknown send option\\(s\\) 'exchange'"),
        ({"priority": 300}, "priority must be an integer from 0 to 255, got: 300"),
        ({"queue": ""}, "queue must be a non-empty string"),
        ({"headers": ["x"]}, "headers must be a dict with string keys"),
        ({"job_options": {"a": {"queue": 5}}}, "queue must be a non-empty string, got: 5"),
    ],
)
def test_bad_options_are_refused_naming_them(options: dict[str, Any], message: str) -> None:
    with pytest.raises(TypeError, match=message):
        CeleryExecutor(**options)


def test_the_aliases_name_the_queue_executors() -> None:
    from greensched._plugins import PluginRegistry
    from greensched.executors.base import BaseExecutor
    from greensched.executors.rq import RQExecutor

    executors = PluginRegistry("executor", "greensched.executors", BaseExecutor)
    assert executors.resolve("celery") is CeleryExecutor
    assert executors.resolve("rq") is RQExecutor
