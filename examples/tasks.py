"""The functions of ``examples/jobs.toml``: each logs what it does (``greensched run`` shows the
log lines, and one line per run with its timing)."""

from __future__ import annotations

import logging

import gevent

logger = logging.getLogger("examples.tasks")


def greet(name: str) -> None:
    """The one-off job: runs once, when the jobs file is loaded."""
    logger.info("Hello, %s! The jobs of examples/jobs.toml are scheduled", name)


def heartbeat() -> None:
    """The interval job."""
    logger.info("still alive")


def fetch(url: str, *, pause: float = 0.2) -> None:
    """The cron job: pretends to fetch ``url`` (waits without blocking the hub)."""
    gevent.sleep(pause)
    logger.info("fetched %s", url)
