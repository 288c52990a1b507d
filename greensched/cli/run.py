"""``greensched run``: a :class:`~greensched.schedulers.gevent.GeventScheduler` in the foreground
on a job store, with the jobs of a jobs file.

The command monkey-patches the standard library before this module is imported (it is a
gevent program: patched sockets let the store's notifications and the jobs' I/O run side by
side). It validates the whole file, then opens the store, starts the scheduler paused,
*upserts* the file's jobs (by id: a new id is added; a stored job whose definition differs
is changed; a stored job that matches is left as it is, keeping its next run time; jobs of
other ids are kept), and resumes it.

Signals: SIGINT and SIGTERM shut down once running jobs end (a second one exits at once);
SIGHUP reads the file again and upserts its jobs (a file that does not validate is logged and
the jobs stay as they are).

With ``--metrics-port``, the metrics of :mod:`greensched.metrics` are served over HTTP; the
port is taken before the store is opened. With ``--dashboard-port``, the web dashboard of
:mod:`greensched.dashboard` is served from the scheduler's hub once the jobs are stored
(``--dashboard-token`` or ``GREENSCHED_DASHBOARD_TOKEN`` allows its actions).
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
from collections.abc import Callable, Collection, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import gevent
from gevent.event import Event

from greensched._clock import Clock
from greensched._logging import count, job_label
from greensched.cli.errors import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, CommandError
from greensched.cli.jobsfile import JOB_OPTIONS, JobsFileError, JobsSource, load, reload
from greensched.cli.output import RUN_FIELDS
from greensched.cli.stores import (
    STORE_ENV,
    check_store,
    describe_error,
    describe_store,
    display_url,
    open_store,
    serializer_options,
    store_url,
)
from greensched.events import (
    _RUN_OUTCOMES,
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    JobExecutionEvent,
)
from greensched.triggers.date import DateTrigger

if TYPE_CHECKING:
    import argparse

    from gevent.pywsgi import WSGIServer

    from greensched.job import Job
    from greensched.metrics import SchedulerMetrics
    from greensched.schedulers.base import BaseScheduler
    from greensched.schedulers.gevent import GeventScheduler

__all__ = (
    "DEFINITION_FIELDS",
    "RunLog",
    "changes_to_apply",
    "run_command",
    "run_source",
    "sync_jobs",
)

logger = logging.getLogger("greensched.run")

#: The job attributes a jobs file defines (besides the trigger); the next run time is the
#: store's.
DEFINITION_FIELDS = ("func", *JOB_OPTIONS[3:])

#: The signals that stop ``run`` (once running jobs end; at once the second time).
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class RunLog:
    """Logs one line per run at INFO: the job (its id, and its name when it differs), its
    scheduled time, how late it started and how long it took (``outcome`` executed or failed),
    or how late it was found (``missed``).

    A listener for ``EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED``; the start and
    duration of a run are those its executor measured (:class:`JobExecutionEvent` ``started``
    and ``duration``).

    :param clock: where the time is read (for a missed run, found late now)
    :param names: the jobs' names by id (events carry only the id): a job that is not in it,
        added by other means than the jobs file, is named by its id
    :ivar names: the same dict, updated when the jobs file is read again
    """

    MASK = EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED

    def __init__(self, clock: Clock, names: Mapping[str, str] | None = None) -> None:
        self._clock = clock
        self.names: dict[str, str] = dict(names or {})

    def __call__(self, event: JobExecutionEvent) -> None:
        scheduled = event.scheduled_run_time
        started = event.started if event.started is not None else self._clock.now()
        lateness = (started - scheduled).total_seconds()
        duration = event.duration
        outcome = _RUN_OUTCOMES[event.code]
        fields: dict[str, Any] = {
            "event": "run",
            "outcome": outcome,
            "job_id": event.job_id,
            "scheduled": scheduled.isoformat(),
            "lateness": round(lateness, 6),
            "duration": None if duration is None else round(duration, 6),
        }
        when = scheduled.isoformat(sep=" ", timespec="milliseconds")
        job = job_label(event.job_id, self.names.get(event.job_id))
        if outcome == "missed":
            logger.info(
                "Job %s missed: scheduled %s, %.3f s late (more than its misfire_grace_time)",
                job,
                when,
                lateness,
                extra={RUN_FIELDS: fields},
            )
            return
        took = "?" if duration is None else f"{duration:.3f}"
        if event.exception is not None:
            fields["error"] = describe_error(event.exception)
            logger.info(
                "Job %s failed: scheduled %s, %.3f s late, took %s s: %s",
                job,
                when,
                lateness,
                took,
                fields["error"],
                extra={RUN_FIELDS: fields},
            )
            return
        logger.info(
            "Job %s executed: scheduled %s, %.3f s late, took %s s",
            job,
            when,
            lateness,
            took,
            extra={RUN_FIELDS: fields},
        )


def _trigger_key(trigger: Any, loose: Collection[str]) -> bytes:
    """The trigger's definition as bytes: its class and state, without the time fields the
    file left to default to "now"."""
    state = {key: value for key, value in trigger.__getstate__().items() if key not in loose}
    return pickle.dumps((type(trigger), state))


def changes_to_apply(
    stored: Job, desired: Job, loose: Collection[str], now: datetime
) -> dict[str, Any]:
    """Return the :meth:`modify_job` changes that make ``stored`` match ``desired``: the
    definition fields that differ and, if the trigger differs, the new trigger (with its first
    run time after ``now``, unless the job is paused: it stays paused). Empty if they match.

    :param loose: trigger time fields the definition left to default to "now"
    """
    changes: dict[str, Any] = {}
    for name in DEFINITION_FIELDS:
        attribute = "func_ref" if name == "func" else name
        value = getattr(desired, attribute, None)
        if getattr(stored, attribute, None) != value:
            changes[name] = value
    if _trigger_key(stored.trigger, loose) != _trigger_key(desired.trigger, loose):
        changes["trigger"] = desired.trigger
        if stored.next_run_time is not None:
            changes["next_run_time"] = desired.trigger.get_next_fire_time(None, now)
    return changes


def sync_jobs(
    scheduler: BaseScheduler, source: JobsSource, previous_ids: Collection[str] = ()
) -> None:
    """Upsert the jobs of ``source`` into ``scheduler``'s default store (see the module
    docstring); warn about the ids of ``previous_ids`` (the jobs of the file's previous
    version) that the file no longer has: they are kept.

    :raises Exception: whatever the store raises (some jobs may have been written)
    """
    now = scheduler.clock.now()
    added = updated = unchanged = 0
    for definition, desired in zip(source.definitions, source.jobs):
        stored = scheduler.get_job(definition.id, "default")
        if stored is None:
            options = definition.options
            if not source.is_module and "run_date" in definition.loose:
                # A date job of a jobs file without run_date runs when it is added, not when
                # the file was read: opening the store in between can take longer than its
                # misfire_grace_time
                trigger = DateTrigger(now, timezone=options["trigger"].run_date.tzinfo)
                options = {**options, "trigger": trigger}
            scheduler.add_job(**options, jobstore="default", replace_existing=True)
            added += 1
            continue
        changes = changes_to_apply(stored, desired, definition.loose, now)
        if not changes:
            unchanged += 1
            continue
        scheduler.modify_job(definition.id, "default", **changes)
        updated += 1
        logger.info(
            "Updated job %s from %s: %s",
            job_label(desired.id, desired.name),
            source.target,
            ", ".join(name for name in changes if name != "next_run_time"),
        )
    kept = sorted(set(previous_ids) - {definition.id for definition in source.definitions})
    for job_id in kept:
        logger.warning(
            "Job %s is no longer in %s; it stays in the store (greensched jobs remove %s "
            "removes it)",
            job_label(job_id),
            source.target,
            job_id,
        )
    logger.info(
        "%s: %s: %d added, %d updated, %d unchanged",
        source.target,
        count(len(source.definitions), "job"),
        added,
        updated,
        unchanged,
    )


#: Reads a source again (:func:`~greensched.cli.jobsfile.reload` for a jobs file)
Reader = Callable[[JobsSource], JobsSource]
#: Upserts a source's jobs into the scheduler (:func:`sync_jobs` for a jobs file)
Syncer = Callable[["BaseScheduler", JobsSource, Collection[str]], None]


def _reload(
    scheduler: BaseScheduler, source: JobsSource, read: Reader = reload, sync: Syncer = sync_jobs
) -> JobsSource:
    """Read the jobs file again and upsert its jobs; on an error keep everything as it is."""
    logger.info("SIGHUP: reading %s again", source.target)
    try:
        new = read(source)
    except JobsFileError as exc:
        logger.error("Not reloaded, the jobs stay as they are: %s", exc)
        return source
    if new.options != source.options:
        logger.warning(
            "The [scheduler] options of %s changed: they apply when greensched run starts again",
            source.target,
        )
    try:
        sync(scheduler, new, [definition.id for definition in source.definitions])
    except Exception as exc:  # noqa: BLE001 (a store failure: logged, the loop goes on)
        logger.error("Reloading %s failed: %s", source.target, describe_error(exc))
        return source
    return new


def _serve(
    scheduler: GeventScheduler,
    loop: gevent.Greenlet,
    source: JobsSource,
    run_log: RunLog,
    where: str,
    read: Reader,
    sync: Syncer,
) -> int:
    """Resume the (paused) scheduler once the signal handlers are in place, then run until a
    signal says stop, reloading on SIGHUP (and the names ``run_log`` gives the jobs); return
    the exit code.

    :param where: the job store, for the log
    """
    stop = Event()
    reload_wanted = Event()

    def on_stop(signum: int) -> None:
        name = signal.Signals(signum).name
        if stop.is_set():
            logger.warning("%s again: exiting at once, without waiting for running jobs", name)
            os._exit(128 + signum)
        logger.info(
            "%s: shutting down once the running jobs end (%s again exits at once)", name, name
        )
        stop.set()

    handlers = [gevent.signal_handler(signum, on_stop, signum) for signum in _STOP_SIGNALS]
    if hasattr(signal, "SIGHUP"):
        handlers.append(gevent.signal_handler(signal.SIGHUP, reload_wanted.set))
    try:
        logger.info(
            "Running the jobs of %s on job store %s (pid %d; SIGINT/SIGTERM stop, SIGHUP reloads)",
            source.target,
            where,
            os.getpid(),
        )
        scheduler.resume()
        while True:
            gevent.wait([loop, stop, reload_wanted], count=1)
            if stop.is_set():
                break
            if loop.dead:
                logger.error("The scheduler's loop ended: %r", loop.exception)
                scheduler.shutdown(wait=False)
                return EXIT_FAILURE
            if reload_wanted.is_set():
                reload_wanted.clear()
                source = _reload(scheduler, source, read, sync)
                run_log.names.update((job.id, job.name) for job in source.jobs)
        scheduler.shutdown(wait=True)
    finally:
        for handler in handlers:
            handler.cancel()
    logger.info("Stopped")
    return EXIT_OK


def run_command(args: argparse.Namespace) -> int:
    """Run ``greensched run`` (see the module docstring); return the exit code.

    :raises CommandError: for an invalid jobs file or store URL (nothing was touched), or a
        store that cannot be opened
    """
    return run_source(args, load(args.jobs, executor=args.executor))


def run_source(
    args: argparse.Namespace, source: JobsSource, read: Reader = reload, sync: Syncer = sync_jobs
) -> int:
    """Run ``source``'s scheduler on the store of ``args`` as ``greensched run`` does (see the
    module docstring), its jobs upserted by ``sync``, read again by ``read`` on SIGHUP; return
    the exit code. (``greensched celery-beat`` runs a Celery app's schedule through it.)

    :raises CommandError: for an invalid store URL, or a store that cannot be opened
    """
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        # the run lines replace the executors' "Running job" / "executed successfully" lines
        logging.getLogger("greensched.executors").setLevel(logging.WARNING)
    scheduler = source.scheduler
    metrics = None if args.metrics_port is None else _serve_metrics(scheduler, args)

    given = args.store or os.environ.get(STORE_ENV)
    if source.is_module and not given and "default" in scheduler.jobstores:
        own = scheduler.jobstores["default"]  # the module's own store
        where = describe_store(own)
        check_store(own, where)
    else:
        url = store_url(given, source.default_store)
        store = open_store(
            url, args.table, poll_interval=args.poll_interval, **serializer_options(args)
        )
        if "default" in scheduler.jobstores:
            scheduler.remove_jobstore("default")
        scheduler.add_jobstore(store, "default")
        where = display_url(url)

    run_log = RunLog(scheduler.clock, {job.id: job.name for job in source.jobs})
    scheduler.add_listener(run_log, RunLog.MASK)
    try:
        loop = scheduler.start(paused=True)
    except Exception as exc:  # noqa: BLE001 (an unreachable or unusable store)
        raise CommandError(f"cannot start on job store {where}: {describe_error(exc)}") from None
    try:
        sync(scheduler, source, ())
    except Exception as exc:  # noqa: BLE001 (a store failure)
        scheduler.shutdown(wait=False)
        raise CommandError(
            f"cannot store the jobs of {source.target} in {where}: {describe_error(exc)}"
        ) from None
    dashboard = None if args.dashboard_port is None else _serve_dashboard(scheduler, args)
    try:
        return _serve(scheduler, loop, source, run_log, where, read, sync)
    finally:
        if dashboard is not None:
            dashboard.stop()
        if metrics is not None:
            metrics.close()


def _serve_dashboard(scheduler: GeventScheduler, args: argparse.Namespace) -> WSGIServer:
    """Serve the dashboard of the (started) scheduler (``--dashboard-port``).

    :raises CommandError: if the port cannot be listened on (the scheduler is shut down)
    """
    from greensched.dashboard import TOKEN_ENV, serve

    token = args.dashboard_token or os.environ.get(TOKEN_ENV) or None
    try:
        return serve(scheduler, args.dashboard_port, addr=args.dashboard_addr, token=token)
    except OSError as exc:
        scheduler.shutdown(wait=False)
        raise CommandError(
            f"cannot serve the dashboard on {args.dashboard_addr}:{args.dashboard_port}: {exc}"
        ) from None


def _serve_metrics(scheduler: GeventScheduler, args: argparse.Namespace) -> SchedulerMetrics:
    """Attach Prometheus metrics to ``scheduler`` and serve them (``--metrics-port``), before
    the store is opened.

    :raises CommandError: if prometheus_client is missing, the scheduler's module registered
        greensched metrics already, or the port cannot be listened on
    """
    try:
        from greensched.metrics import SchedulerMetrics

        metrics = SchedulerMetrics(scheduler)
    except (ImportError, ValueError) as exc:
        raise CommandError(f"--metrics-port: {exc}", exit_code=EXIT_USAGE) from None
    try:
        metrics.serve(args.metrics_port, args.metrics_addr)
    except OSError as exc:
        metrics.close()
        raise CommandError(
            f"cannot serve metrics on {args.metrics_addr}:{args.metrics_port}: {exc}"
        ) from None
    return metrics
