"""The dashboard's JSON: the shapes of ``/api/jobs``, ``/api/jobs/<id>``, ``/api/runs`` and
``/api/processes`` (README, Dashboard, documents them)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from greensched.cli.admin import job_details
from greensched.dashboard.describe import describe_trigger

if TYPE_CHECKING:
    from greensched.dashboard.data import JobRow, Page, ProcessRow
    from greensched.history import RunRecord

__all__ = (
    "fire_times_json",
    "job_json",
    "jobs_json",
    "processes_json",
    "run_json",
    "runs_json",
)


def run_json(run: RunRecord) -> dict[str, Any]:
    """A run as :meth:`RunRecord.to_dict` gives it, its times in UTC whatever the store (a
    persistent store gives them back in UTC, the memory store as they were recorded)."""
    return _in_utc(run.to_dict(), run, ("scheduled", "started", "ended"))


def _in_utc(data: dict[str, Any], source: object, names: tuple[str, ...]) -> dict[str, Any]:
    """``data`` with the times ``names`` of ``source`` in UTC (ISO 8601)."""
    for name in names:
        when = getattr(source, name)
        if when is not None:
            data[name] = when.astimezone(timezone.utc).isoformat()
    return data


def runs_json(runs: list[RunRecord]) -> list[dict[str, Any]]:
    """Runs as :func:`run_json` gives each."""
    return [run_json(run) for run in runs]


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
        last_run=None if last is None else run_json(last),
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
    """Processes as :meth:`ProcessInfo.to_dict` gives them (times in UTC), plus ``alive`` and
    ``store``."""
    return [
        {
            **_in_utc(row.process.to_dict(), row.process, ("started", "heartbeat")),
            "alive": row.alive,
            "store": row.store,
        }
        for row in rows
    ]
