"""The admin commands, against a job store that schedulers may be running on elsewhere:
``jobs list|show|add|pause|resume|remove|run-now``, ``export`` and ``import``.

Each command opens the store with a scheduler of its own that is started paused (it never runs
a job) and goes through the scheduler API, so every change is an ordinary store write: the
schedulers running on the store see it at once (PostgreSQL ``NOTIFY``, Redis pub/sub) or at
their next poll. ``jobs run-now`` sets the job's next run time to now.
"""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from tzlocal import get_localzone

from greensched import __version__
from greensched._clock import current_clock
from greensched._serialization import JobEncoder
from greensched.cli.errors import EXIT_OK, EXIT_USAGE, CommandError
from greensched.cli.jobsfile import complete_jobs, job_definition, parse_value
from greensched.cli.output import (
    Progress,
    describe_next_run,
    job_state,
    render_table,
)
from greensched.cli.stores import describe_error, display_url, open_store, store_url
from greensched.events import EVENT_JOB_ADDED
from greensched.executors.debug import DebugExecutor
from greensched.jobstores.base import BaseJobStore, ConflictingIdError, JobLookupError
from greensched.schedulers.gevent import GeventScheduler

if TYPE_CHECKING:
    import argparse

    from greensched.job import Job

__all__ = (
    "SUMMARY_KEYS",
    "Admin",
    "export_command",
    "import_command",
    "job_details",
    "jobs_add",
    "jobs_list",
    "jobs_pause",
    "jobs_remove",
    "jobs_resume",
    "jobs_run_now",
    "jobs_show",
    "opened",
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
    store = open_store(url, args.table)
    scheduler = GeventScheduler(jobstores={"default": store}, clock=current_clock())
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


def _get_job(admin: Admin, job_id: str) -> Job:
    job = admin.scheduler.get_job(job_id, "default")
    if job is None:
        raise CommandError(f"no job with id {job_id!r} in {admin.where}")
    return job


def _next_run(job: Job) -> str:
    """The job's next run time in local time, and how far it is from now."""
    return describe_next_run(job.next_run_time, current_clock().now(), get_localzone())


def _accept_executors(scheduler: GeventScheduler, aliases: Iterable[Any]) -> None:
    """Give the (paused) scheduler a stand-in executor for each alias it lacks, so that the
    job API accepts jobs for the executors of the schedulers that run them."""
    for alias in aliases:
        if isinstance(alias, str) and alias not in scheduler._executors:
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


def _write_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=repr) + "\n")


def jobs_list(args: argparse.Namespace) -> int:
    """``greensched jobs list [--json]``: a table of the store's jobs (id, name, trigger, next
    run in local time, state), soonest first, paused jobs last."""
    with opened(args) as admin:
        jobs = admin.scheduler.get_jobs("default")
    now = current_clock().now()
    if args.json:
        details = [job_details(job, now) for job in jobs]
        _write_json([{key: job[key] for key in SUMMARY_KEYS} for job in details])
        return EXIT_OK
    zone = get_localzone()
    rows = [
        (
            job.id,
            job.name,
            str(job.trigger),
            describe_next_run(job.next_run_time, now, zone),
            job_state(job.next_run_time, now),
        )
        for job in jobs
    ]
    if not rows:
        sys.stdout.write(f"No jobs in {admin.where}\n")
        return EXIT_OK
    sys.stdout.write(render_table(("ID", "NAME", "TRIGGER", "NEXT RUN", "STATE"), rows))
    return EXIT_OK


def jobs_show(args: argparse.Namespace) -> int:
    """``greensched jobs show ID [--json]``: everything about one job."""
    with opened(args) as admin:
        job = _get_job(admin, args.id)
    now = current_clock().now()
    details = job_details(job, now)
    if args.json:
        _write_json(details)
        return EXIT_OK
    details["next_run_time"] = describe_next_run(job.next_run_time, now, get_localzone())
    details["args"] = repr(job.args)
    details["kwargs"] = repr(job.kwargs)
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
    _accept_executors(checker, [definition.options.get("executor")])
    complete_jobs(checker, [definition], None)
    with opened(args) as admin:
        _accept_executors(admin.scheduler, [definition.options.get("executor")])
        try:
            job = admin.scheduler.add_job(
                **definition.options, jobstore="default", replace_existing=args.replace
            )
        except ConflictingIdError:
            raise CommandError(
                f"job {args.id!r} already exists in {admin.where} (--replace replaces it)"
            ) from None
    sys.stdout.write(f"Added job {job.id!r}: next run {_next_run(job)}\n")
    return EXIT_OK


def jobs_pause(args: argparse.Namespace) -> int:
    """``greensched jobs pause ID``: the job does not run until resumed."""
    with opened(args) as admin:
        _get_job(admin, args.id)
        admin.scheduler.pause_job(args.id, "default")
    sys.stdout.write(f"Paused job {args.id!r}\n")
    return EXIT_OK


def jobs_resume(args: argparse.Namespace) -> int:
    """``greensched jobs resume ID``: the job's schedule goes on from now (a job whose trigger
    has no more fire times is removed)."""
    with opened(args) as admin:
        _get_job(admin, args.id)
        job = admin.scheduler.resume_job(args.id, "default")
    if job is None:
        sys.stdout.write(f"Job {args.id!r} has no more run times: removed\n")
        return EXIT_OK
    sys.stdout.write(f"Resumed job {args.id!r}: next run {_next_run(job)}\n")
    return EXIT_OK


def jobs_remove(args: argparse.Namespace) -> int:
    """``greensched jobs remove ID``."""
    with opened(args) as admin:
        _get_job(admin, args.id)
        admin.scheduler.remove_job(args.id, "default")
    sys.stdout.write(f"Removed job {args.id!r}\n")
    return EXIT_OK


def jobs_run_now(args: argparse.Namespace) -> int:
    """``greensched jobs run-now ID``: the job is due now; the schedulers on the store start
    it within a second (then its schedule goes on). A paused job is refused."""
    with opened(args) as admin:
        job = _get_job(admin, args.id)
        if job.next_run_time is None:
            raise CommandError(
                f"job {args.id!r} is paused: resume it first (greensched jobs resume {args.id})"
            )
        admin.scheduler.modify_job(args.id, "default", next_run_time=current_clock().now())
    sys.stdout.write(f"Job {args.id!r} is due now\n")
    return EXIT_OK


def _progress(args: argparse.Namespace, label: str, total: int | None) -> Progress:
    return Progress(label, total, stream=sys.stderr, enabled=args.progress or sys.stderr.isatty())


def export_command(args: argparse.Namespace) -> int:
    """``greensched export FILE``: write the store's jobs as JSON (``import`` and
    :meth:`~greensched.schedulers.base.BaseScheduler.import_jobs` read it), streamed from the
    store; ``-`` writes to stdout. A file is written whole or not at all."""
    to_stdout = args.file == "-"
    path = Path(args.file)
    temporary = path.with_name(f".{path.name}.tmp")
    progress = _progress(args, "exporting", None)
    with opened(args) as admin:
        iter_jobs = getattr(admin.store, "iter_jobs", admin.store.get_all_jobs)
        try:
            target: AbstractContextManager[IO[str]] = (
                nullcontext(sys.stdout) if to_stdout else temporary.open("w", encoding="utf-8")
            )
            with target as out:
                out.write(f'{{"version": 1, "scheduler_version": {json.dumps(__version__)}, ')
                out.write('"jobs": [')
                for job in iter_jobs():
                    if progress.done:
                        out.write(", ")
                    out.write(json.dumps(job.__getstate__(), cls=JobEncoder))
                    progress.advance()
                out.write("]}\n")
            if not to_stdout:
                os.replace(temporary, path)
        except OSError as exc:
            raise CommandError(
                f"cannot write {args.file}: {exc.strerror}", exit_code=EXIT_USAGE
            ) from None
        finally:
            if temporary.exists():
                temporary.unlink()
    progress.finish()
    sys.stderr.write(f"Exported {progress.done} jobs from {admin.where} to {args.file}\n")
    return EXIT_OK


def import_command(args: argparse.Namespace) -> int:
    """``greensched import FILE``: add the jobs of an export (``-``: from stdin). Nothing is
    imported if one of its ids is taken.

    .. warning:: Values in the file are unpickled: import only files you trust.
    """
    try:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text("utf-8")
        document = json.loads(text)
    except OSError as exc:
        raise CommandError(
            f"cannot read {args.file}: {exc.strerror}", exit_code=EXIT_USAGE
        ) from None
    except ValueError as exc:
        raise CommandError(f"{args.file}: not JSON: {exc}", exit_code=EXIT_USAGE) from None
    states = document.get("jobs") if isinstance(document, dict) else None
    if not isinstance(states, list):
        raise CommandError(
            f"{args.file}: not a job export (a JSON object with a 'jobs' list)",
            exit_code=EXIT_USAGE,
        )
    progress = _progress(args, "importing", len(states))
    with opened(args) as admin:
        _accept_executors(
            admin.scheduler, {state.get("executor") for state in states if isinstance(state, dict)}
        )
        admin.scheduler.add_listener(lambda event: progress.advance(), EVENT_JOB_ADDED)
        try:
            admin.scheduler.import_jobs(io.StringIO(text), "default")
        except ConflictingIdError as exc:
            raise CommandError(
                f"{args.file}: {exc.args[0]} in {admin.where}: nothing was imported"
            ) from None
        except (ValueError, TypeError, LookupError, AttributeError) as exc:
            raise CommandError(
                f"{args.file}: {describe_error(exc)}", exit_code=EXIT_USAGE
            ) from None
    progress.finish()
    sys.stderr.write(f"Imported {progress.done} jobs from {args.file} into {admin.where}\n")
    return EXIT_OK
