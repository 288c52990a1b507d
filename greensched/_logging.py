"""The names of the scheduler's, executors' and job stores' loggers, and how their messages
name a job, count things and show an error (on one line).

They live under ``greensched.`` until :func:`greensched.compat.install_apscheduler_alias` is
called, and under APScheduler's names (``apscheduler.scheduler``, ``apscheduler.executors.<alias>``,
``apscheduler.jobstores.<alias>``) after it, so that logging configured for APScheduler keeps
working. A logger name is resolved when the scheduler is configured or a component started.
"""

from __future__ import annotations

import logging

__all__ = (
    "component_logger",
    "count",
    "job_label",
    "logger_name",
    "one_line",
    "use_apscheduler_names",
)

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


def job_label(job_id: str, name: str | None = None) -> str:
    """How every log message names a job: its id in single quotes, followed by its name in
    double quotes when the name differs from the id (``'hello'``, ``'hello' ("Say hello")``).

    :param job_id: the job's id
    :param name: the job's name (``None`` where only the id is known: the id alone)
    """
    if name is None or name == job_id:
        return f"'{job_id}'"
    return f"'{job_id}' (\"{name}\")"


def count(number: int, noun: str, plural: str | None = None) -> str:
    """``number`` and ``noun``, in the plural unless ``number`` is 1 (``1 job``, ``2 jobs``).

    :param plural: the plural when it is not ``noun`` + ``s``
    """
    if number == 1:
        return f"{number} {noun}"
    return f"{number} {plural if plural is not None else noun + 's'}"


def one_line(error: object) -> str:
    """Return what an error says on one line, for a log message (psycopg's messages span
    several lines): its lines joined, runs of white space collapsed; its type's name if it
    says nothing."""
    return " ".join(str(error).split()) or type(error).__name__
