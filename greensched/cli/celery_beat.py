"""``greensched celery-beat -A MODULE:APP``: the schedule of a Celery app (its
``beat_schedule``) run by greensched, each due run sent to Celery through
:class:`~greensched.executors.celery.CeleryExecutor`.

It runs as ``greensched run`` does (:func:`~greensched.cli.run.run_source`: the store, signals,
logging and metrics are the same), with one job per entry of ``beat_schedule``: its id and name
are the entry's name, its function the entry's task (which must be registered in the app: its
module imported by the app, as a worker imports it), its trigger the entry's schedule, its
``args`` and ``kwargs`` the entry's, on the executor aliased :data:`EXECUTOR`. Start it any
number of times on one shared store (PostgreSQL, MySQL, Redis): each due run is claimed, so sent,
by one replica only, and a replica's death costs no run.

The schedule is upserted by entry name as ``greensched run`` upserts a jobs file's jobs, and a
job of :data:`EXECUTOR` whose entry is gone from the schedule is removed (jobs added by other
means are kept). SIGHUP re-imports the app's module and upserts its schedule again.

How an entry maps:

* ``schedule``: a number of seconds, a :class:`~datetime.timedelta` or a
  ``celery.schedules.schedule`` is an interval; a ``celery.schedules.crontab`` is a
  :class:`~greensched.triggers.cron.CronTrigger` with the same minutes, hours, days of the month,
  months and days of the week (Celery's ``day_of_week`` counts from 0 = Sunday, greensched's
  from 0 = Monday: the days are the same), in the app's timezone. Anything else (``solar``, a
  schedule class of one's own) is an error naming the entry.
* ``options``: ``queue``, ``routing_key``, ``priority`` and ``headers`` are the job's send
  options; ``expires`` (seconds) its ``misfire_grace_time`` (a run later than that is not sent)
  and so the message's expiry. Without ``expires``, a late run is still sent, and runs missed
  while no replica ran are sent once (``coalesce``), as celery beat does.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Collection, Mapping
from datetime import timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

from greensched._logging import job_label
from greensched.cli.errors import EXIT_USAGE, CommandError
from greensched.cli.jobsfile import JobDefinition, JobsFileError, JobsSource, complete_jobs
from greensched.cli.run import run_source, sync_jobs
from greensched.cli.stores import describe_error, neighbour_store_url
from greensched.schedulers.gevent import GeventScheduler
from greensched.triggers.base import BaseTrigger
from greensched.triggers.cron import CronTrigger
from greensched.triggers.interval import IntervalTrigger
from greensched.util import ref_to_obj

if TYPE_CHECKING:
    import argparse

    from greensched.schedulers.base import BaseScheduler

__all__ = ("EXECUTOR", "beat_source", "celery_beat_command", "entry_trigger", "sync_schedule")

logger = logging.getLogger("greensched.celery_beat")

#: The executor alias of the jobs made of ``beat_schedule`` entries
EXECUTOR = "celery-beat"

#: The entry ``options`` that are send options of the executor
SEND_OPTIONS = ("queue", "routing_key", "priority", "headers")

#: The keys of a ``beat_schedule`` entry that are mapped (``relative`` is ignored)
ENTRY_KEYS = ("task", "schedule", "args", "kwargs", "options", "relative")

#: crontab field -> (CronTrigger field, the values of a field that is ``*``)
_CRON_FIELDS = {
    "minute": ("minute", set(range(60))),
    "hour": ("hour", set(range(24))),
    "day_of_month": ("day", set(range(1, 32))),
    "month_of_year": ("month", set(range(1, 13))),
    "day_of_week": ("day_of_week", set(range(7))),
}


def _import_celery() -> Any:
    try:
        import celery
        import celery.schedules
    except ImportError:
        raise CommandError(
            "celery-beat needs Celery installed: pip install greensched[celery,cli]",
            exit_code=EXIT_USAGE,
        ) from None
    return celery


def entry_trigger(name: str, schedule: Any, timezone: tzinfo) -> BaseTrigger:
    """The trigger of the ``beat_schedule`` entry ``name`` whose schedule is ``schedule``.

    :raises JobsFileError: naming the entry, for a schedule that has no greensched trigger
    """
    schedules = _import_celery().schedules
    if isinstance(schedule, schedules.crontab):
        fields: dict[str, Any] = {}
        for field, (cron_field, every) in _CRON_FIELDS.items():
            values: set[int] = set(getattr(schedule, field))
            if values == every:
                continue
            if field == "day_of_week":  # Celery: 0 = Sunday; greensched: 0 = Monday
                values = {(day - 1) % 7 for day in values}
            fields[cron_field] = ",".join(map(str, sorted(values)))
        return CronTrigger(**fields, second=0, timezone=timezone)
    if type(schedule) is schedules.schedule:
        schedule = schedule.run_every
    if isinstance(schedule, (int, float)) and not isinstance(schedule, bool):
        schedule = timedelta(seconds=schedule)
    if isinstance(schedule, timedelta):
        if schedule <= timedelta(0):
            raise JobsFileError(
                f"beat_schedule entry {name!r}: the interval must be positive, got: {schedule}"
            )
        return IntervalTrigger(seconds=schedule.total_seconds(), timezone=timezone)
    raise JobsFileError(
        f"beat_schedule entry {name!r}: its schedule {schedule!r} has no greensched trigger "
        "(expected seconds, a timedelta, celery.schedules.schedule or crontab)"
    )


def _entry_definition(
    app: Any, name: str, entry: Any, timezone: tzinfo
) -> tuple[JobDefinition, dict[str, Any]]:
    """The job of one entry, and its send options."""
    where = f"beat_schedule entry {name!r}"
    if not isinstance(entry, Mapping) or "task" not in entry or "schedule" not in entry:
        raise JobsFileError(f"{where}: expected a dict with 'task' and 'schedule', got: {entry!r}")
    unknown = sorted(set(entry) - set(ENTRY_KEYS))
    if unknown:
        raise JobsFileError(
            f"{where}: unknown key(s) {', '.join(unknown)} (expected: {', '.join(ENTRY_KEYS)})"
        )
    options = dict(entry.get("options") or {})
    unknown = sorted(set(options) - {*SEND_OPTIONS, "expires"})
    if unknown:
        raise JobsFileError(
            f"{where}: options {', '.join(unknown)} are not supported "
            f"(expected: {', '.join((*SEND_OPTIONS, 'expires'))})"
        )
    expires = options.pop("expires", None)
    if expires is not None and (
        isinstance(expires, bool) or not isinstance(expires, (int, float)) or expires <= 0
    ):
        raise JobsFileError(f"{where}: options expires must be positive seconds, got: {expires!r}")
    task = app.tasks.get(entry["task"])
    if task is None:
        raise JobsFileError(
            f"{where}: task {entry['task']!r} is not registered in the app: have the app "
            "import its module (Celery's include or imports setting)"
        )
    # A task object is an instance of a class named after its function, in its module
    ref = f"{type(task).__module__}:{type(task).__name__}"
    try:
        found = ref_to_obj(ref)
    except (LookupError, ValueError):
        found = None
    if getattr(found, "name", None) != task.name:
        raise JobsFileError(
            f"{where}: task {task.name!r} is not reachable as {ref!r} (a persistent store "
            "keeps jobs by such a reference): define it at module level with @app.task"
        )
    definition = JobDefinition(
        name,
        {
            "id": name,
            "name": name,
            "func": ref,
            "trigger": entry_trigger(name, entry["schedule"], timezone),
            "args": tuple(entry.get("args") or ()),
            "kwargs": dict(entry.get("kwargs") or {}),
            "executor": EXECUTOR,
            "misfire_grace_time": expires,
            "coalesce": True,
        },
        frozenset({"start_date"}),
    )
    return definition, options


def beat_source(reference: str) -> JobsSource:
    """The jobs of the ``beat_schedule`` of the Celery app ``reference`` (``module:attribute``)
    names, with a scheduler whose :data:`EXECUTOR` executor sends them.

    :raises JobsFileError: for an app that cannot be imported, or an entry that cannot be
        mapped (naming it)
    """
    celery = _import_celery()
    from greensched.executors.celery import CeleryExecutor

    try:
        app = ref_to_obj(reference)
    except Exception as exc:  # noqa: BLE001 (whatever the module raises when imported)
        raise JobsFileError(f"{reference}: cannot be imported: {describe_error(exc)}") from None
    if not isinstance(app, celery.Celery):
        raise JobsFileError(f"{reference} must name a Celery app, got: {app!r}")
    app.loader.import_default_modules()
    timezone = app.timezone
    definitions = []
    job_options = {}
    for name, entry in (app.conf.beat_schedule or {}).items():
        definition, options = _entry_definition(app, str(name), entry, timezone)
        definitions.append(definition)
        job_options[definition.id] = options
    try:
        executor = CeleryExecutor(job_options=job_options)
    except TypeError as exc:
        raise JobsFileError(f"{reference}: beat_schedule options: {exc}") from None
    scheduler = GeventScheduler(timezone=timezone, executors={EXECUTOR: executor})
    module_file = getattr(sys.modules[reference.partition(":")[0]], "__file__", None)
    return JobsSource(
        target=reference,
        scheduler=scheduler,
        definitions=definitions,
        jobs=complete_jobs(scheduler, definitions, reference),
        default_store=neighbour_store_url(Path(module_file or reference.partition(":")[0])),
        is_module=True,
    )


def _read_again(source: JobsSource) -> JobsSource:
    """Re-import the app's module and read its schedule again (SIGHUP)."""
    module_name = source.target.partition(":")[0]
    try:
        importlib.reload(sys.modules[module_name])
    except Exception as exc:  # noqa: BLE001 (whatever the module raises: a user error)
        raise JobsFileError(
            f"{source.target}: re-importing {module_name!r} failed: {describe_error(exc)}"
        ) from None
    return beat_source(source.target)


def sync_schedule(
    scheduler: BaseScheduler, source: JobsSource, previous_ids: Collection[str]
) -> None:
    """Upsert the schedule's jobs into ``scheduler``'s default store, give its executor their
    send options, and remove the jobs of :data:`EXECUTOR` whose entry is gone."""
    from greensched.executors.celery import CeleryExecutor

    executor = scheduler.executors.get(EXECUTOR)
    new = source.scheduler.executors.get(EXECUTOR)
    if isinstance(executor, CeleryExecutor) and isinstance(new, CeleryExecutor):
        executor.set_job_options(new.job_options)
    sync_jobs(scheduler, source)
    wanted = {definition.id for definition in source.definitions}
    for job in scheduler.get_jobs(jobstore="default"):
        if job.executor == EXECUTOR and job.id not in wanted:
            scheduler.remove_job(job.id, "default")
            logger.info(
                "Removed job %s: its entry is no longer in the beat_schedule of %s",
                job_label(job.id),
                source.target,
            )


def celery_beat_command(args: argparse.Namespace) -> int:
    """Run ``greensched celery-beat`` (see the module docstring); return the exit code.

    :raises CommandError: for an app or schedule that cannot be used, or a store that cannot
        be opened
    """
    return run_source(args, beat_source(args.app), _read_again, sync_schedule)
