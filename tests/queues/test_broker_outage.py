"""The broker goes away for a while (its connections closed by a proxy between the scheduler
and Redis): each send that fails is an ``EVENT_JOB_ERROR`` with the reason, the sends recover
once the broker is back, and nothing is delivered twice. Celery with a real ``celery worker``,
RQ with a real ``rq worker``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
from celery import Celery
from kombu.exceptions import OperationalError

from greensched.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from greensched.executors.celery import CeleryExecutor
from greensched.executors.rq import RQExecutor
from greensched.schedulers.gevent import GeventScheduler
from tests.queues.celery_app import record
from tests.queues.conftest import Deliveries
from tests.queues.servers import CELERY_URL, RQ_URL
from tests.support import hub_wait_until
from tests.support.tcp_proxy import TCPProxy, tcp_proxy

pytestmark = pytest.mark.slow

#: an app whose broker is the proxy (set by the test); the worker knows its task by name
proxied = Celery("proxied")
proxied.conf.update(broker_connection_retry_on_startup=False, broker_connection_timeout=1)


@proxied.task(name=record.name, shared=False)  # in this app only: the name is taken
def proxied_record(key: str) -> None:
    """Never run here: sent to the worker, which runs :func:`tests.queues.celery_app.record`."""


@pytest.fixture
def celery_proxy() -> Iterator[TCPProxy]:
    parts = urlsplit(CELERY_URL)
    with tcp_proxy(parts.hostname or "127.0.0.1", parts.port or 6379) as proxy:
        proxied.conf.broker_url = f"redis://127.0.0.1:{proxy.port}{parts.path}"
        yield proxy
    proxied.pool.force_close_all()


def outage(
    executor: Any, add_job: Callable[[GeventScheduler], object], proxy: TCPProxy
) -> list[JobExecutionEvent]:
    """Run a scheduler whose job sends every 0.2 s through ``proxy``: a few sends, then the
    proxy cut until two sends have failed, then a few sends again; return the events."""
    events: list[JobExecutionEvent] = []
    scheduler = GeventScheduler(timezone="UTC", executors={"default": executor})
    scheduler.add_listener(events.append, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    scheduler.start()

    def count(code: int) -> int:
        return sum(1 for event in events if event.code == code)

    try:
        add_job(scheduler)
        hub_wait_until(lambda: count(EVENT_JOB_EXECUTED) >= 3, what="sends before the outage")
        proxy.cut()
        sent_before = count(EVENT_JOB_EXECUTED)
        hub_wait_until(lambda: count(EVENT_JOB_ERROR) >= 2, what="failed sends")
        proxy.restore()
        hub_wait_until(
            lambda: count(EVENT_JOB_EXECUTED) >= sent_before + 3, what="sends after the outage"
        )
    finally:
        scheduler.shutdown()
    return events


def assert_delivered_once(events: list[JobExecutionEvent], deliveries: Deliveries) -> None:
    """Each accepted send delivered, once; nothing else delivered."""
    sent = [event.retval for event in events if event.code == EVENT_JOB_EXECUTED]
    hub_wait_until(lambda: len(deliveries()) >= len(sent), what="the deliveries")
    assert sorted(deliveries.ids()) == sorted(sent)
    assert len(set(sent)) == len(sent)


def test_celery_broker_outage_gives_errors_then_recovers_without_duplicates(
    celery_proxy: TCPProxy, celery_deliveries: Deliveries
) -> None:
    events = outage(
        CeleryExecutor(),
        lambda scheduler: scheduler.add_job(
            proxied_record,
            "interval",
            seconds=0.2,
            args=[celery_deliveries.key],
            misfire_grace_time=None,
            max_instances=10,
        ),
        celery_proxy,
    )
    assert_delivered_once(events, celery_deliveries)
    failed = [event for event in events if event.code == EVENT_JOB_ERROR]
    # the reason: kombu's OperationalError, "Connection closed by server." (or refused)
    assert all(isinstance(event.exception, OperationalError) for event in failed)


def test_rq_redis_outage_gives_errors_then_recovers_without_duplicates(
    rq_deliveries: Deliveries,
) -> None:
    parts = urlsplit(RQ_URL)
    with tcp_proxy(parts.hostname or "127.0.0.1", parts.port or 6379) as proxy:
        connection = redis.Redis(port=proxy.port, db=int(parts.path.strip("/")))
        events = outage(
            RQExecutor(connection=connection),
            lambda scheduler: scheduler.add_job(
                "tests.queues.rq_jobs:record",
                "interval",
                seconds=0.2,
                args=[rq_deliveries.key],
                misfire_grace_time=None,
                max_instances=10,
            ),
            proxy,
        )
        connection.close()
    assert_delivered_once(events, rq_deliveries)
    failed = [event for event in events if event.code == EVENT_JOB_ERROR]
    assert all(isinstance(event.exception, redis.ConnectionError) for event in failed)
