"""``greensched export`` and ``greensched import``: a store's jobs to and from a JSON file
(the format of :meth:`~greensched.schedulers.base.BaseScheduler.export_jobs`), streamed, with
the jobs this process cannot load kept as they are stored."""

from __future__ import annotations

import io
import json
import os
import sys
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from greensched import __version__
from greensched._logging import count
from greensched._serialization import JobEncoder, decode_object
from greensched.cli.errors import EXIT_OK, EXIT_USAGE, CommandError
from greensched.cli.output import (
    Progress,
)
from greensched.cli.stores import (
    describe_error,
)
from greensched.events import EVENT_JOB_ADDED
from greensched.job import Job
from greensched.jobstores._shared import SharedJobStore
from greensched.jobstores._states import (
    StateDecoder,
    UnloadableJob,
    check_state,
    encode_state,
    is_import_failure,
)
from greensched.jobstores.base import ConflictingIdError

if TYPE_CHECKING:
    import argparse

from greensched.cli.admin import (
    Admin,
    accept_executors,
    opened,
    some_ids,
    stored_jobs,
)

__all__ = ("export_command", "import_command")


def _progress(args: argparse.Namespace, label: str, total: int | None) -> Progress:
    return Progress(label, total, stream=sys.stderr, enabled=args.progress or sys.stderr.isatty())


def _export_state(job: Job | UnloadableJob, file: str) -> str:
    """Return the JSON of a job's state in an export (of a job that cannot be loaded here: its
    state as stored, with the same references to what cannot be imported).

    :raises CommandError: naming the job, if it cannot be exported
    """
    try:
        if isinstance(job, Job):
            return json.dumps(job.__getstate__(), cls=JobEncoder)
        try:
            state = job.writable_state()
        except ValueError as exc:
            problem = str(exc)
        else:
            return encode_state(state)
    except Exception as exc:  # noqa: BLE001 (a value that cannot be written)
        problem = f"its state cannot be written as JSON ({type(exc).__name__}: {exc})"
    aftermath = "the export is incomplete" if file == "-" else f"nothing was written to {file}"
    raise CommandError(f"job {job.id!r} cannot be exported: {problem}: {aftermath}")


def export_command(args: argparse.Namespace) -> int:
    """``greensched export FILE``: write the store's jobs as JSON (``import`` and
    :meth:`~greensched.schedulers.base.BaseScheduler.import_jobs` read it), streamed from the
    store; ``-`` writes to stdout. A file is written whole or not at all: a job that cannot be
    exported fails the command, naming the job. A job that cannot be loaded here is exported
    as it is stored (``import`` stores it as it was)."""
    to_stdout = args.file == "-"
    path = Path(args.file)
    temporary = path.with_name(f".{path.name}.tmp")
    progress = _progress(args, "exporting", None)
    unloadable: list[str] = []
    with opened(args) as admin:
        try:
            target: AbstractContextManager[IO[str]] = (
                nullcontext(sys.stdout) if to_stdout else temporary.open("w", encoding="utf-8")
            )
            with target as out:
                out.write(f'{{"version": 1, "scheduler_version": {json.dumps(__version__)}, ')
                out.write('"jobs": [')
                for job in stored_jobs(admin):
                    state = _export_state(job, args.file)
                    if progress.done:
                        out.write(", ")
                    out.write(state)
                    progress.advance()
                    if isinstance(job, UnloadableJob):
                        unloadable.append(job.id)
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
    note = (
        f" ({len(unloadable)} not loadable here, exported as stored: {some_ids(unloadable)})"
        if unloadable
        else ""
    )
    sys.stderr.write(
        f"Exported {count(progress.done, 'job')} from {admin.where} to {args.file}{note}\n"
    )
    return EXIT_OK


def _read_export_state(raw: Any, file: str) -> tuple[dict[str, Any], BaseException | None]:
    """Read a job state of an export: as ``import_jobs`` does, else (its function or trigger
    class cannot be imported here) with stand-ins, if it is a whole job state otherwise.

    :return: the state, and why it cannot be loaded here (``None`` if it can)
    :raises CommandError: (usage) if it is not a job state this can import
    """
    text = json.dumps(raw)
    try:
        state = json.loads(text, object_hook=decode_object)
        Job.__new__(Job).__setstate__(state)
    except Exception as exc:  # noqa: BLE001 (what import_jobs would raise for it)
        problem = exc
    else:
        return state, None
    if is_import_failure(problem):
        try:
            state = check_state(json.loads(text, object_hook=StateDecoder()))
        except Exception:  # noqa: BLE001 (not a job state: the first error says why)
            state = None
        if state is not None:
            return state, problem
    raise CommandError(f"{file}: {describe_error(problem)}", exit_code=EXIT_USAGE) from None


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
    version = document.get("version")
    if version != 1:
        raise CommandError(
            f"{args.file}: infile's export version must be 1, got: {version!r}",
            exit_code=EXIT_USAGE,
        )
    loadable: list[Any] = []  # as in the file
    unloadable: list[dict[str, Any]] = []  # read, with stand-ins
    ids: list[str] = []
    for raw in states:
        state, problem = _read_export_state(raw, args.file)
        if problem is None:
            loadable.append(raw)
        else:
            unloadable.append(state)
        ids.append(state["id"])
    progress = _progress(args, "importing", len(states))
    with opened(args) as admin:
        accept_executors(
            admin.scheduler, {state.get("executor") for state in states if isinstance(state, dict)}
        )
        admin.scheduler.add_listener(lambda event: progress.advance(), EVENT_JOB_ADDED)
        try:
            _check_ids_free(admin, ids)
            if loadable:
                export = {"version": 1, "jobs": loadable}
                admin.scheduler.import_jobs(io.StringIO(json.dumps(export)), "default")
            for state in unloadable:
                assert isinstance(admin.store, SharedJobStore)  # the stores the commands open
                admin.store._add_state(state)
                progress.advance()
        except ConflictingIdError as exc:
            raise CommandError(
                f"{args.file}: {exc.args[0]} in {admin.where}: nothing was imported"
            ) from None
        except (ValueError, TypeError, LookupError, AttributeError) as exc:
            raise CommandError(
                f"{args.file}: {describe_error(exc)}", exit_code=EXIT_USAGE
            ) from None
    progress.finish()
    not_loadable = [state["id"] for state in unloadable]
    note = (
        f" ({len(not_loadable)} not loadable here, imported as exported: {some_ids(not_loadable)})"
        if not_loadable
        else ""
    )
    sys.stderr.write(
        f"Imported {count(progress.done, 'job')} from {args.file} into {admin.where}{note}\n"
    )
    return EXIT_OK


def _check_ids_free(admin: Admin, ids: list[str]) -> None:
    """Refuse an import, before anything is added, if one of its ids is taken (by a job that
    cannot be loaded here too) or given twice.

    :raises ConflictingIdError: naming the first such id
    """
    store = admin.store
    seen: set[str] = set()
    for job_id in ids:
        if isinstance(store, SharedJobStore):
            taken = store._read_state(job_id) is not None
        else:
            taken = store.lookup_job(job_id) is not None
        if taken or job_id in seen:
            raise ConflictingIdError(job_id)
        seen.add(job_id)
