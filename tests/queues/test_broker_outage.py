"""The broker goes away for a while (its connections closed by a proxy between the scheduler
and Redis): each send that fails is an ``EVENT_JOB_ERROR`` with the reason, the sends recover
once the broker is back, and nothing is delivered twice."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from celery import Celery
from kombu.exceptions import OperationalError

from greensched.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from greensched.executors.celery import CeleryExecutor
from greensched.schedulers.gevent import GeventScheduler
from tests.queues.celery_app import record
from tests.queues.conftest import Deliveries
from tests.queues.servers import CELERY_URL
from tests.support import hub_wait_until
from tests.support.tcp_proxy import TCPProxy, tcp_proxy

pytestmark = pytest.mark.slow

#: an app whose broker is the proxy (set by the test); the worker knows its task by name
proxied = Celery("proxied")
proxied.conf.update(broker_connection_retry_on_startup=False, broker_connection_timeout=1)


@proxied.task(name=record.name)
def proxied_record(key: str) -> None:
    """Never run here: sent to the worker, which runs :func:`tests.queues.celery_app.record`."""


@pytest.fixture
def proxy() -> Iterator[TCPProxy]:
    parts = urlsplit(CELERY_URL)
    with tcp_proxy(parts.hostname or "127.0.0.1", parts.port or 6379) as proxy:
        proxied.conf.broker_url = f"redis://127.0.0.1:{proxy.port}{parts.path}"
        yield proxy
    proxied.pool.force_close_all()


def test_a_broker_outage_gives_errors_then_recovers_without_duplicates(
    proxy: TCPProxy, celery_deliveries: Deliveries
) -> None:
    events: list[JobExecutionEvent] = []
    scheduler = GeventScheduler(timezone="UTC", executors={"default": CeleryExecutor()})
    scheduler.add_listener(events.append, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    scheduler.start()

    def count(code: int) -> int:
        return sum(1 for event in events if event.code == code)

    try:
        scheduler.add_job(
            proxied_record,
            "interval",
            seconds=0.2,
            args=[celery_deliveries.key],
            id="tick",
            misfire_grace_time=None,
            max_instances=10,
        )
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
    sent = [event.retval for event in events if event.code == EVENT_JOB_EXECUTED]
    failed = [event for event in events if event.code == EVENT_JOB_ERROR]
    hub_wait_until(lambda: len(celery_deliveries()) >= len(sent), what="the deliveries")
    delivered = celery_deliveries.ids()
    assert sorted(delivered) == sorted(sent)  # each accepted send delivered, once
    assert len(set(delivered)) == len(delivered)
    # the reason: kombu's OperationalError, "Connection closed by server." (or refused)
    assert all(isinstance(event.exception, OperationalError) for event in failed)
