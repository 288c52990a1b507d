"""The Celery app of the queue tests and of ``bench/bench_celery_beat.py``: its broker is a
private Redis database (``GREENSCHED_TEST_CELERY_BROKER``, set for the workers and replicas
started), and its one task records each delivery in that database. ``GREENSCHED_TEST_BEAT`` (JSON: entry name ->
seconds) gives it a ``beat_schedule`` of :func:`record` entries (their deliveries carry the
entry's name: a plain celery beat's task ids do not), for ``greensched celery-beat``
and ``celery beat`` runs."""

from __future__ import annotations

import json
import os
import time

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

#: where deliveries are recorded: the broker's Redis database
_records = redis.Redis.from_url(BROKER)


@app.task(bind=True)
def record(self: Task, key: str, *args: object, **kwargs: object) -> None:
    """Append the delivery (its task id, arguments, expiry, queue, ``x-test`` header and the
    wall-clock time it ran at) to the Redis list ``key``."""
    request = self.request
    delivery = {
        "id": request.id,
        "args": list(args),
        "kwargs": kwargs,
        "expires": request.expires,
        "queue": (request.delivery_info or {}).get("routing_key"),
        "header": (request.headers or {}).get("x-test"),
        "received": time.time(),
    }
    _records.rpush(key, json.dumps(delivery))


_beat = os.environ.get("GREENSCHED_TEST_BEAT")
if _beat:
    key = os.environ["GREENSCHED_TEST_RECORDS"]
    app.conf.beat_schedule = {
        name: {"task": record.name, "schedule": float(seconds), "args": [key, name]}
        for name, seconds in json.loads(_beat).items()
    }
