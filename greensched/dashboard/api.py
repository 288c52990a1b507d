"""The dashboard's JSON: the shapes of ``/api/jobs``, ``/api/jobs/<id>``, ``/api/runs`` and
``/api/processes`` (README, Dashboard, documents them)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from greensched.cli.admin import job_details
from greensched.dashboard.describe import describe_trigger

if TYPE_CHECKING:
    from greensched.dashboard.data import JobRow, Page, ProcessRow
    from greensched.history import RunRecord

__all__ = ("fire_times_json", "job_json", "jobs_json", "processes_json", "runs_json")


def runs_json(runs: list[RunRecord]) -> list[dict[str, Any]]:
    """Runs as :meth:`RunRecord.to_dict` gives them."""
    return [run.to_dict() for run in runs]


def job_json(row: JobRow, now: datetime) -> dict[str, Any]:
    """A job as ``greensched jobs show --json`` gives it, plus ``trigger_text`` (in plain
    words), ``store``, ``running`` (its runs recorded as running) and ``last_run``."""
    details = job_details(row.job, now)
    details["args"] = repr(tuple(row.job.args))
    details["kwargs"] = repr(dict(row.job.kwargs))
    last = row.last
    details.update(
        trigger_text=describe_trigger(row.job.trigger),
        store=row.store,
        running=runs_json(row.running),
        last_run=None if last is None else last.to_dict(),
    )
    return details


def jobs_json(page: Page, now: datetime) -> dict[str, Any]:
    """A page of jobs: ``jobs``, ``page``, ``pages`` and ``total`` (jobs found)."""
    return {
        "jobs": [job_json(row, now) for row in page.items],
        "page": page.number,
        "pages": page.pages,
        "total": page.total,
    }


def fire_times_json(times: list[tuple[datetime, bool]]) -> list[dict[str, Any]]:
    """Fire times (:func:`~greensched.dashboard.data.upcoming`), each ``{"time": ISO 8601,
    "dst_change": whether its UTC offset differs from the previous one's}``."""
    return [{"time": when.isoformat(), "dst_change": change} for when, change in times]


def processes_json(rows: list[ProcessRow]) -> list[dict[str, Any]]:
    """Processes as :meth:`ProcessInfo.to_dict` gives them, plus ``alive`` and ``store``."""
    return [{**row.process.to_dict(), "alive": row.alive, "store": row.store} for row in rows]
