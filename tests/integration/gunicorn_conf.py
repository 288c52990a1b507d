"""gunicorn configuration for tests/integration/test_gunicorn.py: the recipe's hooks, with
``worker-exit-begin`` / ``worker-exit-end`` events around the worker's exit hook."""

from __future__ import annotations

import os
from typing import Any

from greensched.contrib.gunicorn import SchedulerHooks

worker_class = "gevent"
graceful_timeout = 10

_scheduler = SchedulerHooks("tests.integration.gunicorn_app:scheduler")
post_worker_init = _scheduler.post_worker_init
worker_int = _scheduler.worker_int


def worker_exit(server: Any, worker: Any) -> None:
    if worker.pid != os.getpid():
        return  # the master's call for a worker that is already gone
    from tests.integration.gunicorn_app import record

    record("worker-exit-begin")
    _scheduler.worker_exit(server, worker)
    record("worker-exit-end")
