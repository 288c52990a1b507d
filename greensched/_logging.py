"""The names of the scheduler's, executors' and job stores' loggers.

They live under ``greensched.`` until :func:`greensched.compat.install_apscheduler_alias` is
called, and under APScheduler's names (``apscheduler.scheduler``, ``apscheduler.executors.<alias>``,
``apscheduler.jobstores.<alias>``) after it, so that logging configured for APScheduler keeps
working. A logger name is resolved when the scheduler is configured or a component started.
"""

from __future__ import annotations

import logging

__all__ = ("component_logger", "logger_name", "use_apscheduler_names")

_root = "greensched"


def use_apscheduler_names() -> None:
    """Name the loggers of schedulers configured and components started from now on as
    APScheduler 3.x does."""
    global _root
    _root = "apscheduler"


def logger_name(suffix: str) -> str:
    """The full name of a logger: ``<root>.<suffix>``."""
    return f"{_root}.{suffix}"


def component_logger(kind: str, alias: str) -> logging.Logger:
    """The logger of the executor or job store (``kind``: ``"executors"``, ``"jobstores"``)
    known to its scheduler as ``alias``."""
    return logging.getLogger(logger_name(f"{kind}.{alias}"))
