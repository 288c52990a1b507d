"""The private Redis databases of the queue tests (no other test uses them): Celery's broker
and its deliveries, RQ's queues and its deliveries, and the replicas' job store.

Each pytest-xdist worker has three of its own (``PYTEST_XDIST_WORKER``, which the workers and
replicas a test starts inherit): the queue tests' fixtures empty them, and the workers of two
test processes must not share a broker. A run without xdist takes the first worker's.
"""

from __future__ import annotations

import os
import re
from urllib.parse import urlsplit, urlunsplit

from tests.services import REDIS_URL

#: the first of the databases of xdist worker ``gw0`` (and of a run without xdist); each next
#: worker takes the three below the previous one's, down to database 2
FIRST_DB = 11
#: the most xdist workers that have databases of their own (Redis has 16 by default)
MAX_WORKERS = 4


def redis_db(db: int) -> str:
    """:data:`tests.services.REDIS_URL` with database ``db``."""
    parts = urlsplit(REDIS_URL)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", "", ""))


def _worker_index() -> int:
    """The index of this xdist worker (``gw3``: 3), 0 outside xdist."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    match = re.fullmatch(r"gw(\d+)", worker)
    if match is None or int(match.group(1)) >= MAX_WORKERS:
        raise RuntimeError(
            f"the queue tests have private Redis databases for xdist workers gw0 to "
            f"gw{MAX_WORKERS - 1}, not {worker!r}: run with -n {MAX_WORKERS} or fewer"
        )
    return int(match.group(1))


_FIRST = FIRST_DB - 3 * _worker_index()
CELERY_URL = redis_db(_FIRST)
RQ_URL = redis_db(_FIRST + 1)
STORE_URL = redis_db(_FIRST + 2)
