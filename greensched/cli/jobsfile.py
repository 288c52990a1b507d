"""Jobs files: the jobs (and scheduler options) that ``greensched run`` and ``greensched check``
read from a TOML file, or from a scheduler object in a Python module. Loading builds every
trigger, imports every function and checks every option, and touches no job store: a file
with one bad value is refused as a whole, with one line naming the value.

The TOML format::

    [scheduler]                        # optional
    timezone = "Europe/Berlin"         # the triggers' default zone (default: the local zone)
    jobstore_retry_interval = 10       # seconds before a failing store is tried again

    [scheduler.job_defaults]           # misfire_grace_time, coalesce, max_instances, timeout
    misfire_grace_time = 30

    [scheduler.executors.threads]      # more executors, by alias: their type and options
    type = "threadpool"                # (the "default" one is gevent's, or --executor)
    max_workers = 4

    [[jobs]]
    id = "report"                      # required, unique in the file
    func = "myapp.tasks:report"        # required: a 'module:callable' reference
    trigger = "cron"                   # required: date, interval, cron, calendarinterval,
                                       #   and, or (or a plugin's alias)
    day_of_week = "mon-fri"            # every key that is not a job option is an option of
    hour = 9                           #   the trigger
    args = ["daily"]                   # the function's positional arguments
    kwargs = { verbose = true }        # its keyword arguments
    name = "Daily report"              # job options: name, misfire_grace_time, coalesce,
    max_instances = 1                  #   max_instances, executor, timeout

* A cron job may give a crontab line instead of fields: ``crontab = "*/5 * * * *"`` (read
  as :meth:`CronTrigger.from_crontab <greensched.triggers.cron.CronTrigger.from_crontab>`
  does; ``timezone``, ``start_date``, ``end_date``, ``jitter`` and ``legacy`` may go with
  it).
* ``and`` / ``or`` take their triggers as tables: ``triggers = [{ trigger = "cron", hour =
  9 }, { trigger = "interval", hours = 2 }]``.
* Times are TOML date-times (``run_date = 2030-01-01T09:00:00``; without an offset, in the
  trigger's zone) or ISO 8601 strings. A ``date`` job without ``run_date`` runs once when
  it is added.
* ``misfire_grace_time = "none"`` runs a job however late; ``timeout = "none"`` sets no time
  limit (TOML has no null).
* ``jobstore``, ``next_run_time`` and ``replace_existing`` are not allowed: the store is the
  command's (``--store``), a job's first run time comes from its trigger, and a job of the
  file always replaces the stored job of its id.
* Functions are imported with the jobs file's directory at the front of ``sys.path`` (and
  the current directory: the command puts it there, as ``python -m`` does), so
  ``func = "tasks:hello"`` finds ``tasks.py`` next to the file. Schedulers in other
  processes, and the admin commands, restore jobs by that same reference: prefer references
  that import from where those run (``examples.tasks:hello`` from the project's root).

The module form, ``myapp.tasks:scheduler``, names a ``GeventScheduler`` that was configured and
given its jobs (``add_job``) but not started; its jobs for the ``default`` store are taken as
the file's jobs, and the scheduler itself is the one that runs (on its own ``default`` store if
it has one and no ``--store`` is given; the trigger start dates of its jobs are taken as
defaults, so a job that differs only there is unchanged).
"""

from __future__ import annotations

import importlib
import inspect
import pickle
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path
from typing import Any

from greensched._clock import current_clock
from greensched.cli.errors import EXIT_USAGE, CommandError
from greensched.cli.stores import describe_error, neighbour_store_url
from greensched.job import Job
from greensched.schedulers._places import missing_job_options
from greensched.schedulers.base import BaseScheduler
from greensched.schedulers.gevent import GeventScheduler
from greensched.triggers.base import BaseTrigger
from greensched.util import ref_to_obj

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the cli extra installs tomli there
    import tomli as tomllib

__all__ = (
    "JOB_OPTIONS",
    "SCHEDULER_OPTIONS",
    "JobDefinition",
    "JobsFileError",
    "JobsSource",
    "build_trigger",
    "complete_jobs",
    "job_definition",
    "load",
    "parse_value",
    "reload",
)

#: The keys of a job's table that are not trigger options.
JOB_OPTIONS = (
    "id",
    "func",
    "trigger",
    "args",
    "kwargs",
    "name",
    "misfire_grace_time",
    "coalesce",
    "max_instances",
    "executor",
    "timeout",
)
#: The keys of the ``[scheduler]`` table.
SCHEDULER_OPTIONS = ("executors", "job_defaults", "jobstore_retry_interval", "timezone")
#: add_job arguments a jobs file may not give, and why.
_REFUSED = {
    "jobstore": "the job store is the command's (--store)",
    "next_run_time": "a job's first run time comes from its trigger",
    "replace_existing": "a job of the file always replaces the stored job of its id",
}
#: Options that take "none" for no limit.
_UNLIMITED = ("misfire_grace_time", "timeout")
#: Trigger state fields that default to the time the trigger is made.
_LOOSE_TIMES = ("start_date", "run_date")
_REFERENCE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


class JobsFileError(CommandError):
    """A jobs file (or job) that cannot be used: ``exit 2``, nothing changed."""

    def __init__(self, message: str) -> None:
        super().__init__(message, exit_code=EXIT_USAGE)


@dataclass(frozen=True)
class JobDefinition:
    """One job as the file defines it.

    :ivar id: the job's id
    :ivar options: :meth:`~greensched.schedulers.base.BaseScheduler.add_job` keyword arguments
        (``func`` a ``'module:callable'`` string, ``trigger`` a trigger instance)
    :ivar loose: trigger state fields the file left to default to "now" (``start_date`` of an
        interval, ``run_date`` of a date): a stored job that differs only there is unchanged
    """

    id: str
    options: dict[str, Any]
    loose: frozenset[str] = frozenset()


@dataclass
class JobsSource:
    """What a jobs file (or scheduler module) holds, validated.

    :ivar target: the path or ``module:attribute`` reference, as given
    :ivar scheduler: the configured scheduler (not started; no default job store unless the
        module gave it one)
    :ivar definitions: the jobs as defined
    :ivar jobs: the same jobs, complete (job defaults and first run time filled in)
    :ivar default_store: the store URL to use when none is given
    :ivar options: the ``[scheduler]`` table as read (empty for a module)
    :ivar is_module: ``True`` for a ``module:attribute`` reference, ``False`` for a file
    """

    target: str
    scheduler: GeventScheduler
    definitions: list[JobDefinition]
    jobs: list[Job]
    default_store: str
    options: dict[str, Any] = field(default_factory=dict)
    is_module: bool = False


def load(target: str, *, executor: str | None = None) -> JobsSource:
    """Read and validate the jobs of a TOML file, or of the scheduler a ``'module:attribute'``
    reference names.

    :param target: a path, or a reference
    :param executor: the type of the ``default`` executor, overriding the file's (``--executor``)
    :raises JobsFileError: naming the first bad value
    """
    path = Path(target)
    if path.is_file():
        return _load_file(path, target, executor)
    if _REFERENCE.match(target):
        return _load_module(target, executor)
    raise JobsFileError(
        f"{target}: no such file (expected a TOML jobs file, or a 'module:attribute' "
        "reference to a scheduler)"
    )


def reload(source: JobsSource) -> JobsSource:
    """Read ``source`` again (a module is re-imported first); its new scheduler is only used to
    validate the jobs.

    :raises JobsFileError: naming the first bad value
    """
    if not source.is_module:
        return load(source.target)
    module_name = source.target.partition(":")[0]
    module = sys.modules.get(module_name)
    if module is not None:
        try:
            importlib.reload(module)
        except Exception as exc:  # noqa: BLE001 (whatever the module raises: a user error)
            raise JobsFileError(
                f"{source.target}: re-importing {module_name!r} failed: {describe_error(exc)}"
            ) from None
    return load(source.target)


def parse_value(text: str) -> Any:
    """Return ``text`` read as a TOML value (``5``, ``true``, ``[1, 2]``, ``{ a = 1 }``,
    ``2030-01-01T09:00:00``, ``"quoted"``), or as it is if it is not one (``9-17``,
    ``*/5 * * * *``)."""
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text


def job_definition(
    spec: Mapping[str, Any], timezone: tzinfo, *, source: str | None = None, number: int = 1
) -> JobDefinition:
    """Turn one job's table into :meth:`add_job` arguments: its function is imported and its
    trigger built (in ``timezone`` unless it names one).

    :param source: the file, for errors (``'jobs.toml: job 'x': ...'``)
    :param number: the job's place in the file, for an error about its id (``'job #2'``)
    :raises JobsFileError: naming the first bad value
    """
    prefix = f"{source}: " if source else ""
    spec = dict(spec)
    job_id = spec.pop("id", None)
    if job_id is None:
        raise JobsFileError(f"{prefix}job #{number}: id is required")
    if not isinstance(job_id, str) or not job_id:
        raise JobsFileError(
            f"{prefix}job #{number}: id must be a non-empty string, got: {job_id!r}"
        )
    where = f"{prefix}job {job_id!r}"
    for key, reason in _REFUSED.items():
        if key in spec:
            raise JobsFileError(f"{where}: {key} is not allowed here: {reason}")
    if "func" not in spec:
        raise JobsFileError(f"{where}: func is required (a 'module:callable' reference)")
    func = spec.pop("func")
    _check_func(func, where)
    options: dict[str, Any] = {"id": job_id, "func": func}
    for key in JOB_OPTIONS[3:]:
        if key in spec:
            value = spec.pop(key)
            if key in _UNLIMITED and isinstance(value, str) and value.lower() == "none":
                value = None
            options[key] = value
    options["trigger"], loose = build_trigger(spec, timezone, where, job_options=True)
    return JobDefinition(job_id, options, loose)


def build_trigger(
    spec: dict[str, Any], timezone: tzinfo, where: str, *, job_options: bool = False
) -> tuple[BaseTrigger, frozenset[str]]:
    """Build the trigger ``spec`` describes: its ``trigger`` alias and options (taken out of
    ``spec``).

    :param timezone: the zone of a trigger that names none
    :param where: what to name in an error
    :param job_options: ``spec`` was a job's table (an unknown key may be a misspelled job
        option: the error says so)
    :return: the trigger, and the time fields left to default to "now"
    :raises JobsFileError: naming the first bad value
    """
    registry = BaseScheduler._trigger_plugins
    known = ", ".join(registry.aliases())
    alias = spec.pop("trigger", None)
    if alias is None:
        raise JobsFileError(f"{where}: trigger is required (one of {known})")
    if not isinstance(alias, str) or alias not in registry.aliases():
        raise JobsFileError(f"{where}: trigger must be one of {known}, got: {alias!r}")
    trigger_class = registry.resolve(alias)

    crontab = spec.pop("crontab", None) if alias == "cron" else None
    factory: Any = trigger_class if crontab is None else trigger_class.from_crontab  # type: ignore[attr-defined]
    parameters = {
        name: parameter
        for name, parameter in inspect.signature(factory).parameters.items()
        if parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
        and (crontab is None or name != "expr")
    }
    unknown = sorted(set(spec) - set(parameters))
    if unknown:
        names = sorted(
            [*parameters, *(["crontab"] if alias == "cron" and crontab is None else [])]
        )
        what = "not a job option, nor an option" if job_options else "not an option"
        raise JobsFileError(
            f"{where}: unknown option {unknown[0]!r} ({what} of trigger {alias!r}: "
            f"{', '.join(names)})"
        )
    for name, parameter in parameters.items():
        if parameter.default is parameter.empty and name not in spec:
            raise JobsFileError(f"{where}: trigger {alias!r} needs {name}")
    if "triggers" in parameters:
        spec["triggers"] = _build_triggers(spec["triggers"], timezone, f"{where}: triggers")
    if "timezone" in parameters:
        spec.setdefault("timezone", timezone)
    loose = frozenset(name for name in _LOOSE_TIMES if name in parameters and name not in spec)
    try:
        trigger = factory(**spec) if crontab is None else factory(crontab, **spec)
    except (TypeError, ValueError, LookupError) as exc:
        raise JobsFileError(f"{where}: {exc}") from None
    return trigger, loose


def _build_triggers(specs: Any, timezone: tzinfo, where: str) -> list[BaseTrigger]:
    """Build the triggers of an ``and`` / ``or`` trigger from an array of tables."""
    if not isinstance(specs, list) or not all(isinstance(spec, dict) for spec in specs):
        raise JobsFileError(
            f"{where} must be an array of tables ({{ trigger = 'cron', hour = 9 }}), "
            f"got: {specs!r}"
        )
    return [
        build_trigger(dict(spec), timezone, f"{where}[{index}]")[0]
        for index, spec in enumerate(specs)
    ]


def _check_func(func: Any, where: str) -> None:
    """Check that ``func`` is a ``'module:callable'`` reference that imports."""
    if not isinstance(func, str) or not _REFERENCE.match(func):
        raise JobsFileError(f"{where}: func must be a 'module:callable' reference, got: {func!r}")
    module_name, _, attribute = func.partition(":")
    try:
        obj = ref_to_obj(func)
    except LookupError as exc:
        cause = exc.__cause__
        detail = (
            describe_error(cause)
            if cause is not None and not isinstance(cause, ImportError)
            else str(cause)
            if cause is not None
            else f"module {module_name!r} has no attribute {attribute!r}"
        )
        raise JobsFileError(f"{where}: func {func!r} cannot be imported: {detail}") from None
    except Exception as exc:  # noqa: BLE001 (whatever the module raises when imported)
        raise JobsFileError(
            f"{where}: func {func!r} cannot be imported: {describe_error(exc)}"
        ) from None
    if not callable(obj):
        raise JobsFileError(f"{where}: func {func!r} must be callable, got: {obj!r}")


def complete_jobs(
    scheduler: BaseScheduler, definitions: list[JobDefinition], name: str | None
) -> list[Job]:
    """Make the jobs of ``definitions`` as ``scheduler`` would store them (its job defaults
    and each first run time filled in), checking everything ``add_job`` and a persistent store
    check: options, arguments against the function's signature, the executor's alias, and
    that the job can be pickled.

    :param name: the file, for errors
    :raises JobsFileError: naming the first bad value
    """
    executors = sorted(set(scheduler.executors) | {"default"})
    jobs = []
    for definition in definitions:
        where = f"{name}: job {definition.id!r}" if name else f"job {definition.id!r}"
        try:
            job = Job(scheduler, **{"executor": "default", **definition.options})
            now = scheduler.clock.now().astimezone(scheduler.timezone)
            job._modify(**missing_job_options(job, scheduler.job_defaults, now))
        except (TypeError, ValueError, LookupError, AttributeError) as exc:
            raise JobsFileError(f"{where}: {exc}") from None
        if job.executor not in executors:
            raise JobsFileError(
                f"{where}: executor must be one of {', '.join(executors)}, got: {job.executor!r}"
            )
        try:
            pickle.dumps(job.__getstate__())
        except Exception as exc:  # noqa: BLE001 (pickling raises many kinds)
            raise JobsFileError(f"{where}: cannot be stored: {describe_error(exc)}") from None
        jobs.append(job)
    return jobs


def _prepend_path(directory: Path) -> None:
    """Put ``directory`` at the front of ``sys.path`` unless it is on it already."""
    entry = str(directory)
    if entry not in sys.path:
        sys.path.insert(0, entry)


def _set_default_executor(scheduler: BaseScheduler, executor: str | None) -> None:
    if executor is None:
        return
    if "default" in scheduler.executors:
        scheduler.remove_executor("default")
    try:
        scheduler.add_executor(executor, "default")
    except (LookupError, TypeError, ValueError) as exc:
        raise CommandError(f"--executor: {exc}", exit_code=EXIT_USAGE) from None


def _load_file(path: Path, name: str, executor: str | None) -> JobsSource:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise JobsFileError(f"{name}: cannot be read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise JobsFileError(f"{name}: not UTF-8 text: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise JobsFileError(f"{name}: invalid TOML: {exc}") from None

    unknown = sorted(set(document) - {"scheduler", "jobs"})
    if unknown:
        raise JobsFileError(
            f"{name}: unknown top-level key {unknown[0]!r} (a jobs file holds a [scheduler] "
            "table and [[jobs]] tables)"
        )
    options = document.get("scheduler", {})
    if not isinstance(options, dict):
        raise JobsFileError(f"{name}: scheduler must be a table ([scheduler]), got: {options!r}")
    unknown = sorted(set(options) - set(SCHEDULER_OPTIONS))
    if unknown:
        raise JobsFileError(
            f"{name}: [scheduler]: unknown option {unknown[0]!r} (known: "
            f"{', '.join(SCHEDULER_OPTIONS)})"
        )
    job_defaults = options.get("job_defaults")
    config = dict(options)
    if isinstance(job_defaults, dict):
        config["job_defaults"] = {
            key: None
            if key in _UNLIMITED and isinstance(value, str) and value.lower() == "none"
            else value
            for key, value in job_defaults.items()
        }
    try:
        scheduler = GeventScheduler(clock=current_clock(), **config)
    except (TypeError, ValueError, LookupError) as exc:
        raise JobsFileError(f"{name}: [scheduler]: {exc}") from None
    _set_default_executor(scheduler, executor)

    tables = document.get("jobs", [])
    if not isinstance(tables, list) or not all(isinstance(table, dict) for table in tables):
        raise JobsFileError(f"{name}: jobs must be tables ([[jobs]]), got: {tables!r}")
    _prepend_path(path.resolve().parent)
    definitions: list[JobDefinition] = []
    seen: set[str] = set()
    for number, table in enumerate(tables, 1):
        definition = job_definition(table, scheduler.timezone, source=name, number=number)
        if definition.id in seen:
            raise JobsFileError(
                f"{name}: job {definition.id!r}: duplicate id (each job needs an id of its own)"
            )
        seen.add(definition.id)
        definitions.append(definition)
    return JobsSource(
        target=name,
        scheduler=scheduler,
        definitions=definitions,
        jobs=complete_jobs(scheduler, definitions, name),
        default_store=neighbour_store_url(path),
        options=options,
    )


def _load_module(reference: str, executor: str | None) -> JobsSource:
    module_name = reference.partition(":")[0]
    try:
        scheduler = ref_to_obj(reference)
    except LookupError as exc:
        cause = exc.__cause__
        detail = str(cause) if cause is not None else "no such attribute"
        raise JobsFileError(f"{reference}: cannot be imported: {detail}") from None
    except Exception as exc:  # noqa: BLE001 (whatever the module raises when imported)
        raise JobsFileError(f"{reference}: cannot be imported: {describe_error(exc)}") from None
    if not isinstance(scheduler, GeventScheduler):
        found = type(scheduler).__name__ if isinstance(scheduler, BaseScheduler) else scheduler
        raise JobsFileError(
            f"{reference} must name a GeventScheduler (greensched runs it in the foreground), "
            f"got: {found!r}"
        )
    if scheduler.running:
        raise JobsFileError(
            f"{reference}: the scheduler is running already: configure it and add its jobs, "
            "but do not start it (greensched starts it)"
        )
    _set_default_executor(scheduler, executor)
    pending = scheduler.get_jobs(jobstore="default")
    scheduler.remove_all_jobs(jobstore="default")  # they are added (upserted) by the command
    definitions = []
    for job in pending:
        if job.func_ref is None:
            raise JobsFileError(
                f"{reference}: job {job.id!r}: its function {job.func!r} has no importable "
                "'module:callable' reference, which a persistent store needs"
            )
        if inspect.ismethod(job.func) and not inspect.isclass(job.func.__self__):
            raise JobsFileError(
                f"{reference}: job {job.id!r}: its function {job.func!r} is a method of an "
                "instance, which the command cannot compare with the stored job to upsert "
                "it: use a module-level function or a class method"
            )
        options = {"id": job.id, "func": job.func_ref, "trigger": job.trigger}
        options.update(
            (key, getattr(job, key))
            for key in (*JOB_OPTIONS[3:], "next_run_time")
            if hasattr(job, key)
        )
        definitions.append(JobDefinition(job.id, options, frozenset(_LOOSE_TIMES)))
    module_file = getattr(sys.modules[module_name], "__file__", None)
    default_store = neighbour_store_url(
        Path(module_file) if module_file else Path.cwd() / f"{module_name}.py"
    )
    return JobsSource(
        target=reference,
        scheduler=scheduler,
        definitions=definitions,
        jobs=complete_jobs(scheduler, definitions, reference),
        default_store=default_store,
        is_module=True,
    )
