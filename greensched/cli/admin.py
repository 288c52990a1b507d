"""The admin commands, against a job store that schedulers may be running on elsewhere:
``jobs list|show|add|pause|resume|remove|run-now``, ``export`` and ``import``.

Each command opens the store with a scheduler of its own that is started paused (it never runs
a job) and goes through the scheduler API, so every change is an ordinary store write: the
schedulers running on the store see it at once (PostgreSQL ``NOTIFY``, Redis pub/sub) or at
their next poll. ``jobs run-now`` sets the job's next run time to now.

A stored job that cannot be loaded here (its function or trigger class cannot be imported: its
module was removed, or is not on the path where the command runs) is still managed, without
importing anything it names: ``jobs list`` and ``jobs show`` show it as ``not loadable`` with the
reason; ``pause``, ``resume`` and ``run-now`` change its next run time only (its state is written
back with the same references, and loads with the new time wherever they can be imported);
``remove`` removes it; ``export`` writes it as it is stored and ``import`` stores it as it was
exported (``resume`` needs its trigger class).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

from tzlocal import get_localzone

from greensched import _actions as actions
from greensched._actions import ActionError, Done, JobPausedError, find_job
from greensched._clock import current_clock
from greensched.cli.errors import EXIT_OK, EXIT_USAGE, CommandError
from greensched.cli.jobsfile import complete_jobs, job_definition, parse_value
from greensched.cli.output import (
    describe_next_run,
    job_state,
    render_table,
)
from greensched.cli.stores import (
    describe_error,
    display_url,
    open_store,
    serializer_options,
    store_url,
)
from greensched.executors.debug import DebugExecutor
from greensched.job import Job
from greensched.jobstores._shared import SharedJobStore
from greensched.jobstores._states import UnloadableJob
from greensched.jobstores.base import BaseJobStore, ConflictingIdError, JobLookupError
from greensched.schedulers.gevent import GeventScheduler

if TYPE_CHECKING:
    import argparse

__all__ = (
    "NOT_LOADABLE",
    "SUMMARY_KEYS",
    "Admin",
    "job_details",
    "jobs_add",
    "jobs_list",
    "jobs_pause",
    "jobs_remove",
    "jobs_resume",
    "jobs_run_now",
    "jobs_show",
    "opened",
    "unloadable_details",
)


@dataclass
class Admin:
    """An opened store: its paused scheduler, the store and its URL as shown."""

    scheduler: GeventScheduler
    store: BaseJobStore
    where: str


@contextmanager
def opened(args: argparse.Namespace) -> Iterator[Admin]:
    """Open the store of ``--store`` / ``GREENSCHED_STORE`` (``--table``) with a paused
    scheduler; shut it down afterwards.

    :raises CommandError: (usage) without a persistent store URL; (failure) if the store
        cannot be opened or fails
    """
    url = store_url(args.store)
    if url == "memory:":
        raise CommandError(
            "--store: a memory: store holds no jobs outside the process that runs it; give "
            "the URL of the store the schedulers run on",
            exit_code=EXIT_USAGE,
        )
    where = display_url(url)
    store = open_store(url, args.table, **serializer_options(args))
    # No history of its own: it runs no job, and must not show up as a process of the store
    scheduler = GeventScheduler(jobstores={"default": store}, clock=current_clock(), history=False)
    try:
        scheduler.start(paused=True)
    except Exception as exc:  # noqa: BLE001 (an unreachable or unusable store)
        raise CommandError(f"cannot open job store {where}: {describe_error(exc)}") from None
    try:
        yield Admin(scheduler, store, where)
    except (CommandError, KeyboardInterrupt):
        raise
    except JobLookupError as exc:  # removed meanwhile by someone else
        raise CommandError(f"{exc.args[0]} in {where}") from None
    except Exception as exc:  # noqa: BLE001 (the store failed)
        raise CommandError(f"job store {where}: {describe_error(exc)}") from None
    finally:
        scheduler.shutdown(wait=False)


def stored_jobs(admin: Admin) -> Iterator[Job | UnloadableJob]:
    """Yield the store's jobs (streamed), those that cannot be loaded here too."""
    store = admin.store
    if isinstance(store, SharedJobStore):
        return store._iter_stored()
    return iter(store.get_all_jobs())


def _get_job(admin: Admin, job_id: str) -> Job | UnloadableJob:
    job = find_job(admin.store, job_id)
    if job is None:
        raise CommandError(f"no job with id {job_id!r} in {admin.where}")
    return job


def _next_run(when: datetime | None) -> str:
    """A job's next run time in local time, and how far it is from now."""
    return describe_next_run(when, current_clock().now(), get_localzone())


#: The ``state`` of a job that cannot be loaded here (``jobs list``, ``jobs show``).
NOT_LOADABLE = "not loadable"


def _stored_next_run_time(job: UnloadableJob) -> datetime | None:
    when = job.get("next_run_time")
    return when if isinstance(when, datetime) else None


def some_ids(ids: list[str]) -> str:
    """Name a few ids: ``'a', 'b' and 3 more``."""
    shown = ", ".join(repr(job_id) for job_id in ids[:5])
    return shown if len(ids) <= 5 else f"{shown} and {len(ids) - 5} more"


def accept_executors(scheduler: GeventScheduler, aliases: Iterable[Any]) -> None:
    """Give the (paused) scheduler a stand-in executor for each alias it lacks, so that the
    job API accepts jobs for the executors of the schedulers that run them."""
    for alias in aliases:
        if isinstance(alias, str) and alias not in scheduler.executors:
            scheduler.add_executor(DebugExecutor(), alias)


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat()


#: The keys of ``jobs list --json``.
SUMMARY_KEYS = ("id", "name", "func", "trigger", "next_run_time", "state")


def job_details(job: Job, now: datetime) -> dict[str, Any]:
    """Return what ``jobs show --json`` gives for ``job`` (``jobs list --json``: the
    :data:`SUMMARY_KEYS`)."""
    return {
        "id": job.id,
        "name": job.name,
        "func": job.func_ref,
        "trigger": str(job.trigger),
        "next_run_time": _iso(job.next_run_time),
        "state": job_state(job.next_run_time, now),
        "args": list(job.args),
        "kwargs": job.kwargs,
        "executor": job.executor,
        "misfire_grace_time": job.misfire_grace_time,
        "coalesce": job.coalesce,
        "max_instances": job.max_instances,
        "timeout": job.timeout,
    }


def unloadable_details(job: UnloadableJob) -> dict[str, Any]:
    """Return what ``jobs show --json`` gives for a job that cannot be loaded here: the keys of
    :func:`job_details` that can be read (all of them unless its state cannot be read at
    all), its ``state`` :data:`NOT_LOADABLE` and the reason, ``error`` (``jobs list --json``:
    the :data:`SUMMARY_KEYS` and ``error``)."""
    details: dict[str, Any] = {"id": job.id}
    if job.state is not None:
        details.update(
            name=job.get("name"),
            func=job.get("func"),
            trigger=str(job.get("trigger")),
            next_run_time=_iso(_stored_next_run_time(job)),
        )
    details.update(state=NOT_LOADABLE, error=job.reason)
    if job.state is not None:
        details.update(
            args=list(job.get("args") or ()),
            kwargs=job.get("kwargs"),
            executor=job.get("executor"),
            misfire_grace_time=job.get("misfire_grace_time"),
            coalesce=job.get("coalesce"),
            max_instances=job.get("max_instances"),
            timeout=job.get("timeout"),
        )
    return details


def _details(job: Job | UnloadableJob, now: datetime) -> dict[str, Any]:
    return job_details(job, now) if isinstance(job, Job) else unloadable_details(job)


def _summary(job: Job | UnloadableJob, now: datetime) -> dict[str, Any]:
    details = _details(job, now)
    keys = SUMMARY_KEYS if isinstance(job, Job) else (*SUMMARY_KEYS, "error")
    return {key: details.get(key) for key in keys}


def _list_order(job: Job | UnloadableJob) -> tuple[int, float, str]:
    """Soonest first, then paused jobs, then jobs whose state cannot be read; by id."""
    if isinstance(job, UnloadableJob):
        if job.state is None:
            return (2, 0.0, job.id)
        when = _stored_next_run_time(job)
    else:
        when = job.next_run_time
    return (1, 0.0, job.id) if when is None else (0, when.timestamp(), job.id)


def _row(job: Job | UnloadableJob, now: datetime, zone: tzinfo) -> tuple[str, ...]:
    """A row of ``jobs list``: id, name, trigger, next run, state."""
    if isinstance(job, Job):
        return (
            job.id,
            job.name,
            str(job.trigger),
            describe_next_run(job.next_run_time, now, zone),
            job_state(job.next_run_time, now),
        )
    state = f"{NOT_LOADABLE}: {job.reason}"
    if job.state is None:
        return (job.id, "?", "?", "?", state)
    next_run = describe_next_run(_stored_next_run_time(job), now, zone)
    return (job.id, str(job.get("name")), str(job.get("trigger")), next_run, state)


def _write_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=repr) + "\n")


def jobs_list(args: argparse.Namespace) -> int:
    """``greensched jobs list [--json]``: a table of the store's jobs (id, name, trigger, next
    run in local time, state), soonest first, paused jobs last; a job that cannot be loaded
    here is in its place, its state ``not loadable: <why>``."""
    with opened(args) as admin:
        jobs = sorted(stored_jobs(admin), key=_list_order)
    now = current_clock().now()
    if args.json:
        _write_json([_summary(job, now) for job in jobs])
        return EXIT_OK
    zone = get_localzone()
    rows = [_row(job, now, zone) for job in jobs]
    if not rows:
        sys.stdout.write(f"No jobs in {admin.where}\n")
        return EXIT_OK
    sys.stdout.write(render_table(("ID", "NAME", "TRIGGER", "NEXT RUN", "STATE"), rows))
    return EXIT_OK


def jobs_show(args: argparse.Namespace) -> int:
    """``greensched jobs show ID [--json]``: everything about one job (about a job that cannot
    be loaded here: what can be read, and why it cannot be loaded)."""
    with opened(args) as admin:
        job = _get_job(admin, args.id)
    now = current_clock().now()
    details = _details(job, now)
    if args.json:
        _write_json(details)
        return EXIT_OK
    if "next_run_time" in details:
        when = job.next_run_time if isinstance(job, Job) else _stored_next_run_time(job)
        details["next_run_time"] = describe_next_run(when, now, get_localzone())
    if "args" in details:
        details["args"] = repr(job.args if isinstance(job, Job) else job.get("args"))
        details["kwargs"] = repr(details["kwargs"])
    width = max(len(key) for key in details) + 1
    sys.stdout.write("".join(f"{key + ':':<{width}} {value}\n" for key, value in details.items()))
    return EXIT_OK


def jobs_add(args: argparse.Namespace) -> int:
    """``greensched jobs add ID FUNC TRIGGER [OPTION=VALUE ...] [--replace]``: add a job, with
    the options of a jobs file's job (values read as TOML values, else as text)."""
    spec: dict[str, Any] = {"id": args.id, "func": args.func, "trigger": args.trigger}
    for item in args.options:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise CommandError(f"options must be KEY=VALUE, got: {item!r}", exit_code=EXIT_USAGE)
        if key in spec:
            raise CommandError(f"option {key!r} is given twice", exit_code=EXIT_USAGE)
        spec[key] = parse_value(text)
    checker = GeventScheduler(
        clock=current_clock()
    )  # validates the job (in the local zone) before the store opens
    definition = job_definition(spec, checker.timezone)
    accept_executors(checker, [definition.options.get("executor")])
    complete_jobs(checker, [definition], None)
    with opened(args) as admin:
        accept_executors(admin.scheduler, [definition.options.get("executor")])
        try:
            job = admin.scheduler.add_job(
                **definition.options, jobstore="default", replace_existing=args.replace
            )
        except ConflictingIdError:
            raise CommandError(
                f"job {args.id!r} already exists in {admin.where} (--replace replaces it)"
            ) from None
    sys.stdout.write(f"Added job {job.id!r}: next run {_next_run(job.next_run_time)}\n")
    return EXIT_OK


@contextmanager
def _acting(args: argparse.Namespace) -> Iterator[tuple[Admin, Job | UnloadableJob]]:
    """Open the store and find the job ``args.id``; an :class:`ActionError` becomes a
    :class:`CommandError`."""
    with opened(args) as admin:
        job = _get_job(admin, args.id)
        try:
            yield admin, job
        except ActionError as exc:
            raise CommandError(str(exc)) from None


def _note(done: Done) -> str:
    """What the commands that change a job add to their line for one that cannot be loaded."""
    return "" if done.not_loadable is None else f" (not loadable here: {done.not_loadable})"


def jobs_pause(args: argparse.Namespace) -> int:
    """``greensched jobs pause ID``: the job does not run until resumed."""
    with _acting(args) as (admin, job):
        done = actions.pause(admin.scheduler, "default", job)
    sys.stdout.write(f"Paused job {args.id!r}{_note(done)}\n")
    return EXIT_OK


def jobs_resume(args: argparse.Namespace) -> int:
    """``greensched jobs resume ID``: the job's schedule goes on from now (a job whose trigger
    has no more fire times is removed). A job that cannot be loaded here is resumed if its
    trigger can be."""
    with _acting(args) as (admin, job):
        done = actions.resume(admin.scheduler, "default", job)
    if done.next_run_time is None:
        sys.stdout.write(f"Job {args.id!r} has no more run times: removed{_note(done)}\n")
        return EXIT_OK
    sys.stdout.write(
        f"Resumed job {args.id!r}{_note(done)}: next run {_next_run(done.next_run_time)}\n"
    )
    return EXIT_OK


def jobs_remove(args: argparse.Namespace) -> int:
    """``greensched jobs remove ID``."""
    with _acting(args) as (admin, job):
        done = actions.remove(admin.scheduler, "default", job)
    sys.stdout.write(f"Removed job {args.id!r}{_note(done)}\n")
    return EXIT_OK


def jobs_run_now(args: argparse.Namespace) -> int:
    """``greensched jobs run-now ID``: the job is due now; the schedulers on the store start
    it within a second (then its schedule goes on). A paused job is refused. A job that cannot
    be loaded here is made due all the same, for the schedulers that can load it."""
    with _acting(args) as (admin, job):
        try:
            done = actions.run_now(admin.scheduler, "default", job)
        except JobPausedError as exc:
            raise CommandError(f"{exc} (greensched jobs resume {args.id})") from None
    sys.stdout.write(f"Job {args.id!r} is due now{_note(done)}\n")
    return EXIT_OK
