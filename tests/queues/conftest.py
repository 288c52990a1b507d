"""Real Celery and RQ workers on private Redis databases (:mod:`tests.queues.servers`), started
once per module, and a fresh Redis list per test for what their tasks record."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from tests.queues.servers import CELERY_URL, RQ_URL
from tests.services import require, unique_name
from tests.support.queue_workers import WorkerProcess, celery_worker, rq_worker

#: the Celery queues the test worker consumes (``celery``: the default)
CELERY_QUEUES = "celery,special"


class Deliveries:
    """What a queue's test task recorded in the Redis list ``key``: one dict per delivery."""

    def __init__(self, url: str, key: str) -> None:
        self.client = redis.Redis.from_url(url)
        self.key = key

    def __call__(self) -> list[dict[str, Any]]:
        return [json.loads(raw) for raw in self.client.lrange(self.key, 0, -1)]

    def ids(self) -> list[str]:
        return [delivery["id"] for delivery in self()]


@pytest.fixture(scope="module")
def celery_worker_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerProcess]:
    """A ``celery worker`` (threads pool) of ``tests.queues.celery_app`` on queues
    :data:`CELERY_QUEUES`, its broker emptied first."""
    redis.Redis.from_url(require(CELERY_URL)).flushdb()
    log = tmp_path_factory.mktemp("celery") / "worker.log"
    worker = celery_worker(
        "tests.queues.celery_app",
        log,
        {"GREENSCHED_TEST_CELERY_BROKER": CELERY_URL},
        CELERY_QUEUES,
    )
    yield worker
    worker.stop()


@pytest.fixture(scope="module")
def rq_worker_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerProcess]:
    """An ``rq worker`` on the queues ``default`` and ``special``, its Redis emptied first."""
    redis.Redis.from_url(require(RQ_URL)).flushdb()
    worker = rq_worker(RQ_URL, ["default", "special"], tmp_path_factory.mktemp("rq") / "w.log")
    yield worker
    worker.stop()


def fresh_deliveries(url: str) -> Iterator[Deliveries]:
    """A :class:`Deliveries` list of its own in ``url``'s database, deleted afterwards."""
    deliveries = Deliveries(url, unique_name("deliveries"))
    yield deliveries
    deliveries.client.delete(deliveries.key)
    deliveries.client.close()


@pytest.fixture
def celery_deliveries(celery_worker_process: WorkerProcess) -> Iterator[Deliveries]:
    yield from fresh_deliveries(CELERY_URL)


@pytest.fixture
def rq_deliveries(rq_worker_process: WorkerProcess) -> Iterator[Deliveries]:
    yield from fresh_deliveries(RQ_URL)
