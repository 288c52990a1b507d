"""The Celery app of the queue tests: its broker is a private Redis database
(``GREENSCHED_TEST_CELERY_BROKER``, set by the tests for the workers and replicas they start),
and its one task records each delivery in Redis. ``GREENSCHED_TEST_BEAT`` (JSON: entry name ->
seconds) gives it a ``beat_schedule`` of :func:`record` entries, for ``greensched celery-beat``
and ``celery beat`` runs."""

from __future__ import annotations

import json
import os

import redis
from celery import Celery, Task

from tests.queues.servers import CELERY_URL

BROKER = os.environ.get("GREENSCHED_TEST_CELERY_BROKER", CELERY_URL)

app = Celery("greensched_tests", broker=BROKER)
app.conf.update(
    task_ignore_result=True,
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
    timezone="UTC",
)

_records = redis.Redis.from_url(CELERY_URL)


@app.task(bind=True)
def record(self: Task, key: str, *args: object, **kwargs: object) -> None:
    """Append the delivery (its task id, arguments, expiry, queue and ``x-test`` header) to the
    Redis list ``key``."""
    request = self.request
    delivery = {
        "id": request.id,
        "args": list(args),
        "kwargs": kwargs,
        "expires": request.expires,
        "queue": (request.delivery_info or {}).get("routing_key"),
        "header": (request.headers or {}).get("x-test"),
    }
    _records.rpush(key, json.dumps(delivery))


_beat = os.environ.get("GREENSCHED_TEST_BEAT")
if _beat:
    key = os.environ["GREENSCHED_TEST_RECORDS"]
    app.conf.beat_schedule = {
        name: {"task": record.name, "schedule": float(seconds), "args": [key]}
        for name, seconds in json.loads(_beat).items()
    }
