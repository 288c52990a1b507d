"""RQExecutor against a real ``rq worker``: each run is an RQ job the worker runs, under the RQ
job id made of the job id and the scheduled time (mapped when RQ would refuse the job id)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
import redis
from rq.job import Job as RQJob

from greensched.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from greensched.executors.rq import RQExecutor, rq_job_id
from greensched.schedulers.gevent import GeventScheduler
from tests.queues.conftest import Deliveries
from tests.queues.rq_jobs import record
from tests.queues.servers import RQ_URL
from tests.support import hub_wait_until

pytestmark = pytest.mark.slow

RUN_AT = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def events() -> list[JobExecutionEvent]:
    return []


@pytest.fixture
def scheduler(events: list[JobExecutionEvent]) -> Iterator[GeventScheduler]:
    executor = RQExecutor(url=RQ_URL, job_options={"odd id/1": {"queue": "special"}})
    scheduler = GeventScheduler(timezone="UTC", executors={"default": executor})
    scheduler.add_listener(events.append, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    scheduler.start()
    yield scheduler
    scheduler.shutdown()


def test_runs_are_delivered_under_their_rq_job_ids(
    scheduler: GeventScheduler, events: list[JobExecutionEvent], rq_deliveries: Deliveries
) -> None:
    for job_id in ("report", "odd id/1"):
        scheduler.add_job(
            "tests.queues.rq_jobs:record",
            "date",
            run_date=RUN_AT,
            args=[rq_deliveries.key, job_id],
            kwargs={"n": 2},
            id=job_id,
            misfire_grace_time=None,
        )
    hub_wait_until(lambda: len(rq_deliveries()) == 2 and len(events) == 2, what="the deliveries")
    deliveries = {delivery["args"][0]: delivery for delivery in rq_deliveries()}
    assert deliveries["report"]["id"] == "report-20260105T090000000000Z"
    assert deliveries["report"]["kwargs"] == {"n": 2}
    assert deliveries["odd id/1"]["id"] == rq_job_id("odd id/1", RUN_AT)
    assert sorted(event.retval for event in events) == sorted(rq_deliveries.ids())
    client = redis.Redis.from_url(RQ_URL)
    assert RQJob.fetch(deliveries["odd id/1"]["id"], connection=client).origin == "special"


def test_the_rq_job_expires_when_the_grace_time_is_over(
    scheduler: GeventScheduler, rq_deliveries: Deliveries
) -> None:
    scheduler.add_job(record, "date", args=[rq_deliveries.key], misfire_grace_time=60, id="ttl")
    hub_wait_until(lambda: rq_deliveries(), what="the delivery")
    [delivery] = rq_deliveries()
    job = RQJob.fetch(delivery["id"], connection=redis.Redis.from_url(RQ_URL))
    assert 50 <= job.ttl <= 60


def test_rq_job_ids_hold_only_what_rq_accepts() -> None:
    assert rq_job_id("report_1-a", RUN_AT) == "report_1-a-20260105T090000000000Z"
    mapped = rq_job_id("reports.daily", RUN_AT)
    assert mapped.startswith("reports_daily-")
    assert mapped.endswith("-20260105T090000000000Z")
    # two job ids that differ only in refused characters keep distinct message ids
    assert rq_job_id("a.b", RUN_AT) != rq_job_id("a:b", RUN_AT)


def test_a_function_rq_cannot_import_is_refused(scheduler: GeventScheduler) -> None:
    def local() -> None:
        pass

    with pytest.raises(TypeError, match='Job "nested": RQExecutor sends functions'):
        scheduler.add_job(local, "date", run_date=RUN_AT, id="nested")


def test_one_of_connection_or_url_is_needed() -> None:
    with pytest.raises(TypeError, match="RQExecutor needs one of connection"):
        RQExecutor()
