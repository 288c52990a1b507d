"""BaseScheduler: configuration, executors, job stores, listeners, the job API and the
processing loop shared by every scheduler."""

from __future__ import annotations

import logging
import sys
import warnings
from abc import ABCMeta
from collections.abc import Callable, Iterable, Mapping
from datetime import tzinfo
from threading import RLock
from types import MappingProxyType
from typing import IO, Any, TypeVar

from tzlocal import get_localzone

from greensched import _validators as validate
from greensched._clock import SYSTEM_CLOCK, Clock
from greensched._logging import logger_name
from greensched._plugins import PluginRegistry
from greensched.events import (
    EVENT_ALL_JOBS_REMOVED,
    EVENT_JOB_MODIFIED,
    JobEvent,
    SchedulerEvent,
)
from greensched.executors.base import BaseExecutor
from greensched.job import Job
from greensched.jobstores.base import BaseJobStore, ConflictingIdError, JobLookupError
from greensched.schedulers import SchedulerAlreadyRunningError
from greensched.schedulers._config import nest_options, read_options
from greensched.schedulers._export import read_export, write_export
from greensched.schedulers._fast_add import fast_job, set_run_options
from greensched.schedulers._history import History
from greensched.schedulers._lifecycle import Lifecycle
from greensched.schedulers._loop import (
    STATE_PAUSED,
    STATE_RUNNING,
    STATE_STOPPED,
    TIMEOUT_MAX,
)
from greensched.schedulers._places import (
    JobPlace,
    PendingJobs,
    StoredJobs,
    missing_job_options,
)
from greensched.schedulers._triggers import create_trigger
from greensched.triggers.base import BaseTrigger
from greensched.util import undefined

__all__ = (
    "STATE_PAUSED",
    "STATE_RUNNING",
    "STATE_STOPPED",
    "TIMEOUT_MAX",
    "BaseScheduler",
)

_F = TypeVar("_F", bound=Callable[..., Any])

#: whether a job store class checks the ids it is given (has ``_check_job_id``), by class
_id_checks: dict[type, bool] = {}


class BaseScheduler(Lifecycle, History, metaclass=ABCMeta):
    """Abstract base class for all schedulers.

    Takes the following keyword arguments:

    :param str|logging.Logger logger: logger to use for the scheduler's logging (defaults to
        ``greensched.scheduler``; ``apscheduler.scheduler`` once
        :func:`greensched.compat.install_apscheduler_alias` was called)
    :param str|datetime.tzinfo timezone: the default time zone (defaults to the local timezone)
    :param int|float jobstore_retry_interval: the minimum number of seconds to wait between
        retries in the scheduler's main loop if the job store raises an exception when getting
        the list of due jobs
    :param dict job_defaults: default values for newly added jobs
    :param dict jobstores: a dictionary of job store alias -> job store instance or configuration
        dict
    :param dict executors: a dictionary of executor alias -> executor instance or configuration
        dict
    :param clock: where the scheduler reads the time (an object with ``now()`` and
        ``monotonic()``, such as :class:`greensched.testing.MockClock`); defaults to the system
        clock
    :param bool history: record every run in its job store's run history (default ``True``;
        see :meth:`get_runs`)
    :param int history_limit: the most runs kept per job (default 100)
    :param float|None history_max_age: the most seconds a run is kept (default ``None``: no
        age limit)

    :ivar int state: current running state of the scheduler (one of the following constants from
        ``greensched.schedulers.base``: ``STATE_STOPPED``, ``STATE_RUNNING``, ``STATE_PAUSED``)

    .. versionadded:: greensched 0.1 the ``clock`` option
    .. versionadded:: greensched 0.1 the ``history``, ``history_limit`` and
       ``history_max_age`` options
    """

    _trigger_plugins = PluginRegistry("trigger", "greensched.triggers", BaseTrigger)
    _executor_plugins = PluginRegistry("executor", "greensched.executors", BaseExecutor)
    _jobstore_plugins = PluginRegistry("job store", "greensched.jobstores", BaseJobStore)

    def __init__(self, gconfig: Mapping[str, Any] | None = None, **options: Any) -> None:
        super().__init__()
        self._executors: dict[str, BaseExecutor] = {}
        self._executors_lock = self._create_lock()
        self._jobstores: dict[str, BaseJobStore] = {}
        self._jobstores_lock = self._create_lock()
        self._listeners: list[tuple[Callable[[Any], Any], int]] = []
        self._listeners_lock = self._create_lock()
        self._listener_mask = 0
        self._store_outages: dict[str, float] = {}
        self._clock: Clock = SYSTEM_CLOCK
        self._logger = logging.getLogger(logger_name("scheduler"))
        #: where the jobs are: pending before start(), then in the job stores
        self._pending = PendingJobs(self)
        self._stored = StoredJobs(self)
        self.state = STATE_STOPPED
        self.configure(gconfig, **options)

    @property
    def _jobs(self) -> JobPlace:
        """Where the jobs are: pending in the scheduler while it is stopped, in the job stores
        once it has started (see :mod:`greensched.schedulers._places`)."""
        return self._pending if self.state == STATE_STOPPED else self._stored

    def __getstate__(self) -> dict[str, Any]:
        raise TypeError(
            "Schedulers cannot be serialized. Ensure that you are not passing a "
            "scheduler instance as an argument to a job, or scheduling an instance "
            "method where the instance contains a scheduler as an attribute."
        )

    #
    # Public API
    #

    def configure(
        self,
        gconfig: Mapping[str, Any] | None = None,
        prefix: str | None = "greensched.",
        **options: Any,
    ) -> None:
        """Reconfigure the scheduler with the given options.

        Can only be done when the scheduler isn't running. Nothing changes if an option is bad.

        :param dict gconfig: a "global" configuration dictionary whose values can be overridden by
            keyword arguments to this method
        :param str prefix: pick only those keys from ``gconfig`` that are prefixed with this
            string (pass an empty string or ``None`` to use all keys); with the default,
            ``greensched.``, keys prefixed with ``apscheduler.`` are read too
        :raises SchedulerAlreadyRunningError: if the scheduler is already running
        :raises ValueError: if an option is unknown, or given under both prefixes with
            different values
        """
        if self.state != STATE_STOPPED:
            raise SchedulerAlreadyRunningError
        config = nest_options(gconfig or {}, prefix, options)
        self._configure(config)

    @property
    def clock(self) -> Clock:
        """Where this scheduler reads (and waits for) the time (the ``clock`` option).

        .. versionadded:: greensched 0.1
        """
        return self._clock

    @property
    def job_defaults(self) -> Mapping[str, Any]:
        """The options a job gets when it is added without them (the ``job_defaults`` option,
        completed): ``misfire_grace_time``, ``coalesce``, ``max_instances`` and ``timeout``.

        .. versionadded:: greensched 0.1
        """
        return MappingProxyType(self._job_defaults)

    def create_lock(self) -> Any:
        """Return a new reentrant lock of the kind this scheduler's threads need (what its
        executors and job stores lock with).

        .. versionadded:: greensched 0.1
        """
        return self._create_lock()

    def add_job(
        self,
        func: Callable[..., Any] | str,
        trigger: BaseTrigger | str | None = None,
        args: Iterable[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        id: str | None = None,
        name: str | None = None,
        misfire_grace_time: Any = undefined,
        coalesce: Any = undefined,
        max_instances: Any = undefined,
        next_run_time: Any = undefined,
        jobstore: str = "default",
        executor: str = "default",
        replace_existing: bool = False,
        *,
        timeout: Any = undefined,
        **trigger_args: Any,
    ) -> Job:
        """Add the given job to the job list and wake up the scheduler if it's already running.

        Any option that defaults to ``undefined`` will be replaced with the corresponding default
        value when the job is scheduled (which happens when the scheduler is started, or
        immediately if the scheduler is already running).

        The ``func`` argument can be given either as a callable object or a textual reference in
        the ``package.module:some.object`` format, where the first half (separated by ``:``) is an
        importable module and the second half is a reference to the callable object, relative to
        the module.

        The ``trigger`` argument can either be:
          #. the alias name of the trigger (e.g. ``date`` or ``interval``), in which case any
             extra keyword arguments to this method are passed on to the trigger's constructor
          #. an instance of a trigger class

        :param func: callable (or a textual reference to one) to run at the given time
        :param trigger: trigger that determines when ``func`` is called
        :param args: list of positional arguments to call func with
        :param kwargs: dict of keyword arguments to call func with
        :param id: explicit identifier for the job (for modifying it later)
        :param name: textual description of the job
        :param misfire_grace_time: seconds after the designated runtime that the job is still
            allowed to be run (or ``None`` to allow the job to run no matter how late it is)
        :param coalesce: run once instead of many times if the scheduler determines that the
            job should be run more than once in succession
        :param max_instances: maximum number of concurrently running instances allowed for this
            job
        :param next_run_time: when to first run the job, regardless of the trigger (pass
            ``None`` to add the job as paused)
        :param jobstore: alias of the job store to store the job in
        :param executor: alias of the executor to run the job with
        :param replace_existing: ``True`` to replace an existing job with the same ``id``
            (but retain the number of runs from the existing one)
        :param timeout: the most seconds one run of the job may take, or ``None`` for no limit
            (keyword-only; see the executor for what happens to a run that overruns)
        :raises ConflictingIdError: if the id is taken and ``replace_existing`` is false
        :raises TypeError: if ``replace_existing`` is not a bool, or trigger arguments are given
            beside a trigger instance
        :raises ValueError: if the id does not fit the job store (too long or holding NUL for
            an SQL table)
        :rtype: Job

        .. versionadded:: greensched 0.1 the keyword-only ``timeout`` parameter (so no trigger
           option may be called ``timeout``)

        .. note:: APScheduler 3.x takes any ``replace_existing`` by its truth value and ignores
           trigger arguments given beside a trigger instance; greensched refuses both. A job
           whose trigger never fires (an ``end_date`` before ``start_date``, a cron for
           February 31) is added paused, as in APScheduler 3.x, with a warning.
        """
        trigger = self._create_trigger(trigger, trigger_args)
        if replace_existing is not False and replace_existing is not True:
            validate.boolean("replace_existing", replace_existing)
        job = fast_job(self, trigger, func, args, kwargs, id, name, executor)
        if job is not None:
            # The usual job: its run options checked here if given; the scheduler's
            # defaults fill in the others when it reaches its store
            absent = set_run_options(
                job, next_run_time, misfire_grace_time, coalesce, max_instances, timeout
            )
            with self._jobstores_lock:
                self._check_job_id(job.id, jobstore)
                self._jobs.add(job, jobstore, replace_existing, absent)
            return job

        job_kwargs: dict[str, Any] = {
            "trigger": trigger,
            "executor": executor,
            "func": func,
            "args": args,
            "kwargs": kwargs,
            "id": id,
            "name": name,
            "misfire_grace_time": misfire_grace_time,
            "coalesce": coalesce,
            "max_instances": max_instances,
            "next_run_time": next_run_time,
            "timeout": timeout,
        }
        job_kwargs = {key: value for key, value in job_kwargs.items() if value is not undefined}
        job = Job(self, **job_kwargs)

        with self._jobstores_lock:
            self._check_job_id(job.id, jobstore)
            self._jobs.add(job, jobstore, replace_existing)
        return job

    def scheduled_job(
        self,
        trigger: BaseTrigger | str | None,
        args: Iterable[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        id: str | None = None,
        name: str | None = None,
        misfire_grace_time: Any = undefined,
        coalesce: Any = undefined,
        max_instances: Any = undefined,
        next_run_time: Any = undefined,
        jobstore: str = "default",
        executor: str = "default",
        *,
        timeout: Any = undefined,
        **trigger_args: Any,
    ) -> Callable[[_F], _F]:
        """A decorator version of :meth:`add_job`, except that ``replace_existing`` is always
        ``True``.

        .. important:: The ``id`` argument must be given if scheduling a job in a persistent job
           store. The scheduler cannot, however, enforce this requirement.

        .. versionadded:: greensched 0.1 the keyword-only ``timeout`` parameter
        """

        def inner(func: _F) -> _F:
            self.add_job(
                func,
                trigger,
                args,
                kwargs,
                id,
                name,
                misfire_grace_time,
                coalesce,
                max_instances,
                next_run_time,
                jobstore,
                executor,
                True,
                timeout=timeout,
                **trigger_args,
            )
            return func

        return inner

    def modify_job(self, job_id: str, jobstore: str | None = None, **changes: Any) -> Job:
        """Modify the properties of a single job.

        Modifications are passed to this method as extra keyword arguments. They are all applied
        or, if one is bad, none is.

        :param job_id: the identifier of the job
        :param jobstore: alias of the job store that contains the job
        :raises JobLookupError: if the job was not found
        :return: the relevant job instance
        """
        trigger = changes.get("trigger")
        if isinstance(trigger, BaseTrigger):
            trigger.fill_defaults(self._now())  # "now" defaults come from the scheduler's clock
        with self._jobstores_lock:
            job, jobstore_alias = self._jobs.find(job_id, jobstore)
            self._jobs.modify(job, jobstore_alias, changes)

        self._dispatch_event(JobEvent(EVENT_JOB_MODIFIED, job_id, jobstore_alias))
        if self.state == STATE_RUNNING:
            self.wakeup()
        return job

    def reschedule_job(
        self,
        job_id: str,
        jobstore: str | None = None,
        trigger: BaseTrigger | str | None = None,
        **trigger_args: Any,
    ) -> Job:
        """Construct a new trigger for a job and update its next run time.

        Extra keyword arguments are passed directly to the trigger's constructor.

        :param job_id: the identifier of the job
        :param jobstore: alias of the job store that contains the job
        :param trigger: alias of the trigger type or a trigger instance
        :raises JobLookupError: if the job was not found
        :return: the relevant job instance
        """
        trigger = self._create_trigger(trigger, trigger_args)
        next_run_time = trigger.get_next_fire_time(None, self._now())
        return self.modify_job(job_id, jobstore, trigger=trigger, next_run_time=next_run_time)

    def pause_job(self, job_id: str, jobstore: str | None = None) -> Job:
        """Cause the given job not to be executed until it is explicitly resumed.

        :param job_id: the identifier of the job
        :param jobstore: alias of the job store that contains the job
        :raises JobLookupError: if the job was not found
        :return: the relevant job instance
        """
        return self.modify_job(job_id, jobstore, next_run_time=None)

    def resume_job(self, job_id: str, jobstore: str | None = None) -> Job | None:
        """Resume the schedule of the given job, or remove the job if its schedule is finished.

        :param job_id: the identifier of the job
        :param jobstore: alias of the job store that contains the job
        :raises JobLookupError: if the job was not found
        :return: the relevant job instance if the job was rescheduled, or ``None`` if no next
            run time could be calculated and the job was removed
        """
        with self._jobstores_lock:
            job, jobstore_alias = self._jobs.find(job_id, jobstore)
            next_run_time = job.trigger.get_next_fire_time(None, self._now())
            if next_run_time is not None:
                return self.modify_job(job_id, jobstore_alias, next_run_time=next_run_time)
            self.remove_job(job.id, jobstore_alias)
            return None

    def get_jobs(self, jobstore: str | None = None, pending: Any = None) -> list[Job]:
        """Return a list of pending jobs (if the scheduler hasn't been started yet) and scheduled
        jobs, either from a specific job store or from all of them.

        If the scheduler has not been started yet, only pending jobs can be returned because the
        job stores haven't been started yet either.

        :param jobstore: alias of the job store
        :param pending: **DEPRECATED**, ignored (as in APScheduler 3.x)
        """
        if pending is not None:
            warnings.warn(
                'The "pending" option is deprecated -- get_jobs() always returns scheduled jobs if '
                "the scheduler has been started and pending jobs otherwise",
                DeprecationWarning,
                stacklevel=2,
            )
        with self._jobstores_lock:
            return self._jobs.jobs(jobstore)

    def get_job(self, job_id: str, jobstore: str | None = None) -> Job | None:
        """Return the Job that matches the given ``job_id``, or ``None`` if there is none.

        :param job_id: the identifier of the job
        :param jobstore: alias of the job store that most likely contains the job
        """
        with self._jobstores_lock:
            try:
                return self._jobs.find(job_id, jobstore)[0]
            except JobLookupError:
                return None

    def remove_job(self, job_id: str, jobstore: str | None = None) -> None:
        """Remove a job, preventing it from being run any more.

        :param job_id: the identifier of the job
        :param jobstore: alias of the job store that contains the job
        :raises JobLookupError: if the job was not found
        """
        with self._jobstores_lock:
            event = self._jobs.remove(job_id, jobstore)
        self._dispatch_event(event)

    def remove_all_jobs(self, jobstore: str | None = None) -> None:
        """Remove all jobs from the specified job store, or all job stores if none is given.

        :param jobstore: alias of the job store
        """
        with self._jobstores_lock:
            self._jobs.remove_all(jobstore)
        self._dispatch_event(SchedulerEvent(EVENT_ALL_JOBS_REMOVED, jobstore))

    def print_jobs(self, jobstore: str | None = None, out: IO[str] | None = None) -> None:
        """Print out a textual listing of all jobs currently scheduled on either all job stores
        or just a specific one.

        :param jobstore: alias of the job store, ``None`` to list jobs from all stores
        :param out: a file-like object to print to (defaults to **sys.stdout** if nothing is
            given)
        """
        out = out or sys.stdout
        with self._jobstores_lock:
            lines = self._jobs.listing(jobstore)
        out.write("".join(line + "\n" for line in lines))

    def export_jobs(self, outfile: str | IO[str], jobstore: str | None = None) -> None:
        """Export stored jobs as JSON.

        :param outfile: either a file object opened in text write mode ("w"), or a path to the
            target file
        :param jobstore: alias of the job store to export jobs from (if omitted, export from all
            configured job stores)
        :raises ValueError: if a job's callable has no importable reference
        """
        write_export([self._export_state(job) for job in self.get_jobs(jobstore)], outfile)

    def import_jobs(self, infile: str | IO[str], jobstore: str = "default") -> None:
        """Import jobs previously exported via :meth:`export_jobs` (or by APScheduler 3.x).

        The imported jobs are full jobs of this scheduler: bound to it, announced with
        ``EVENT_JOB_ADDED`` and waking the scheduler up, like jobs from :meth:`add_job`.

        :param infile: either a file object opened in text read mode ("r") or a path to the
            source file
        :param jobstore: the alias of the job store to import the jobs to
        :raises ValueError: if the file is not an export (nothing is imported then)
        :raises ConflictingIdError: if a job's id is taken (nothing is imported then)

        .. warning:: Values in the file are unpickled: import only files you trust.
        .. note:: APScheduler 3.x adds imported jobs straight to the store, so they do not
           announce themselves and do not wake the scheduler.
        """
        jobs = []
        for state in read_export(infile):
            job = Job.__new__(Job)
            job.__setstate__(state)
            job._scheduler = self
            job._jobstore_alias = None
            jobs.append(job)
        with self._jobstores_lock:
            for job in jobs:
                self._check_job_id(job.id, jobstore)
            taken = self._jobs.taken_ids(jobs, jobstore)
            for job in jobs:
                if job.id in taken:
                    raise ConflictingIdError(job.id)
                taken.add(job.id)
            for job in jobs:
                self._jobs.add(job, jobstore, False)

    def _configure(self, config: dict[str, Any]) -> None:
        # Build and check everything before changing anything
        # the local zone looked up here, where APScheduler 3.x users patch it
        options = read_options(
            config, self._executor_plugins, self._jobstore_plugins, get_localzone
        )
        self._logger = options.logger
        self.timezone: tzinfo = options.timezone
        self.jobstore_retry_interval = options.jobstore_retry_interval
        self._clock = options.clock
        self._job_defaults = options.job_defaults
        self._history_options = (
            options.history,
            options.history_limit,
            options.history_max_age,
        )
        with self._executors_lock:
            self._executors.clear()
        for alias, executor in options.executors.items():
            self.add_executor(executor, alias)
        with self._jobstores_lock:
            self._jobstores.clear()
        for alias, jobstore in options.jobstores.items():
            self.add_jobstore(jobstore, alias)

    def _create_default_executor(self) -> BaseExecutor:
        """Create a default executor, specific to the particular scheduler type."""
        from greensched.executors.gevent import GeventExecutor

        return GeventExecutor()

    def _create_default_jobstore(self) -> BaseJobStore:
        """Create a default job store, specific to the particular scheduler type."""
        from greensched.jobstores.memory import MemoryJobStore

        return MemoryJobStore()

    def _export_state(self, job: Job) -> dict[str, Any]:
        """Return the state of a job as it is, or as it will be once the scheduler starts."""
        missing = missing_job_options(job, self._job_defaults, self._now())
        if missing:
            completed = Job.__new__(Job)
            completed._set_attributes(job._attributes())
            completed._modify(**missing)
            job = completed
        return job.__getstate__()

    def _create_trigger(
        self, trigger: BaseTrigger | str | None, trigger_args: dict[str, Any]
    ) -> BaseTrigger:
        return create_trigger(
            self._trigger_plugins, trigger, trigger_args, self.timezone, self._now
        )

    def _check_job_id(self, job_id: str, jobstore_alias: str) -> None:
        """Refuse an id that the job store (if it exists yet) cannot hold, before anything is
        written."""
        store = self._jobstores.get(jobstore_alias)
        if store is None:
            return
        kind = type(store)
        checks = _id_checks.get(kind)
        if checks is None:
            checks = _id_checks[kind] = hasattr(kind, "_check_job_id")
        if checks:
            store._check_job_id(job_id)  # type: ignore[attr-defined]

    def _create_lock(self) -> Any:
        """Create a reentrant lock object."""
        return RLock()
