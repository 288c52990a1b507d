"""The private Redis databases of the queue tests (no other test uses them): Celery's broker
and its deliveries, RQ's queues and its deliveries, and the replicas' job store."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from tests.services import REDIS_URL


def redis_db(db: int) -> str:
    """:data:`tests.services.REDIS_URL` with database ``db``."""
    parts = urlsplit(REDIS_URL)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", "", ""))


CELERY_URL = redis_db(11)
RQ_URL = redis_db(12)
STORE_URL = redis_db(13)
