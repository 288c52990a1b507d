"""Scheduler errors; the schedulers live in the submodules ``base``, ``blocking``,
``background`` and ``gevent``."""

from __future__ import annotations

__all__ = ("SchedulerAlreadyRunningError", "SchedulerNotRunningError")


class SchedulerAlreadyRunningError(Exception):
    """Raised when attempting to start or configure the scheduler when it's already running."""

    def __str__(self) -> str:
        return "Scheduler is already running"


class SchedulerNotRunningError(Exception):
    """Raised when attempting to shutdown the scheduler when it's not running."""

    def __str__(self) -> str:
        return "Scheduler is not running"
