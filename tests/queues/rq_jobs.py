"""The function the RQ tests enqueue: it records each delivery in Redis."""

from __future__ import annotations

import json

import redis
from rq import get_current_job

from tests.queues.servers import RQ_URL

_records = redis.Redis.from_url(RQ_URL)


def record(key: str, *args: object, **kwargs: object) -> None:
    """Append the delivery (its RQ job id and arguments) to the Redis list ``key``."""
    job = get_current_job()
    assert job is not None
    _records.rpush(key, json.dumps({"id": job.id, "args": list(args), "kwargs": kwargs}))
