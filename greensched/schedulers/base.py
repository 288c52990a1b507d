"""BaseScheduler: configuration, executors, job stores, listeners, the job API and the
processing loop shared by every scheduler."""

from __future__ import annotations

import inspect
import json
import logging
import math
import sys
import warnings
from abc import ABCMeta, abstractmethod
from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from datetime import datetime, tzinfo
from functools import cache, partial
from threading import RLock
from traceback import format_exception
from types import MappingProxyType
from typing import IO, Any, TypeVar

from tzlocal import get_localzone

from greensched import __version__
from greensched import _validators as validate
from greensched._clock import SYSTEM_CLOCK, Clock
from greensched._logging import count, job_label, logger_name, one_line
from greensched._plugins import PluginRegistry
from greensched._serialization import JobEncoder, decode_object
from greensched._validators import InvalidValueError
from greensched.events import (
    EVENT_ALL,
    EVENT_ALL_JOBS_REMOVED,
    EVENT_EXECUTOR_ADDED,
    EVENT_EXECUTOR_REMOVED,
    EVENT_JOB_ADDED,
    EVENT_JOB_CLAIM_LOST,
    EVENT_JOB_ERROR,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MODIFIED,
    EVENT_JOB_REMOVED,
    EVENT_JOB_SUBMITTED,
    EVENT_JOBSTORE_ADDED,
    EVENT_JOBSTORE_REMOVED,
    EVENT_SCHEDULER_PAUSED,
    EVENT_SCHEDULER_RESUMED,
    EVENT_SCHEDULER_SHUTDOWN,
    EVENT_SCHEDULER_STARTED,
    JobEvent,
    JobExecutionEvent,
    JobSubmissionEvent,
    SchedulerEvent,
)
from greensched.executors.base import BaseExecutor, MaxInstancesReachedError
from greensched.job import Job
from greensched.jobstores.base import BaseJobStore, ConflictingIdError, JobLookupError
from greensched.schedulers import SchedulerAlreadyRunningError, SchedulerNotRunningError
from greensched.triggers.base import BaseTrigger
from greensched.util import asbool, asint, astimezone, maybe_ref, ref_to_obj, undefined

__all__ = ("STATE_PAUSED", "STATE_RUNNING", "STATE_STOPPED", "BaseScheduler")

#: constant indicating a scheduler's stopped state
STATE_STOPPED = 0
#: constant indicating a scheduler's running state (started and processing jobs)
STATE_RUNNING = 1
#: constant indicating a scheduler's paused state (started but not processing jobs)
STATE_PAUSED = 2

#: The longest wait the processing loop asks for (about 49 days), as in APScheduler 3.x.
TIMEOUT_MAX = 4294967

_F = TypeVar("_F", bound=Callable[..., Any])
_Pending = tuple[Job, str, bool]
#: What the processing loop decided for one due job: the job; its executor (``None``: the
#: executor is gone and the job is removed); the run times to submit; whether the job is
#: finished (no next run time: it is removed from its store). A plain tuple: one is made for
#: every due job.
_DueRun = tuple[Job, "BaseExecutor | None", list[datetime], bool]


@cache
def _takes_timezone(trigger_class: type) -> bool:
    """``True`` if the trigger's constructor has a ``timezone`` parameter (combining triggers
    have none: their triggers carry their own zones).

    .. note:: APScheduler 3.x passes ``timezone`` to every trigger created by alias, so
       ``add_job(func, 'or', triggers=[...])`` fails there with a TypeError.
    """
    try:
        parameters = inspect.signature(trigger_class).parameters
    except (TypeError, ValueError):
        return True
    return "timezone" in parameters or any(
        parameter.kind is inspect.Parameter.VAR_KEYWORD for parameter in parameters.values()
    )


#: The default configuration key prefix, and the one read beside it (APScheduler 3.x's)
_CONFIG_PREFIXES = ("greensched.", "apscheduler.")


def _strip_prefixes(gconfig: Mapping[str, Any], prefixes: Sequence[str]) -> dict[str, Any]:
    """The keys of ``gconfig`` that start with one of ``prefixes``, without it.

    :raises ValueError: if one option is given under two prefixes with different values
    """
    options: dict[str, Any] = {}
    given_as: dict[str, str] = {}
    for key, value in gconfig.items():
        prefix = next((prefix for prefix in prefixes if key.startswith(prefix)), None)
        if prefix is None:
            continue
        option = key[len(prefix) :]
        if option in options and options[option] != value:
            raise ValueError(
                f"{key!r} and {given_as[option]!r} must not differ, got: {value!r} and "
                f"{options[option]!r}"
            )
        options[option] = value
        given_as[option] = key
    return options


def _config_int(name: str, value: Any) -> int | None:
    """An integer job default as a configuration file may give it (a string holding one);
    ``None`` stays ``None``.

    :raises TypeError, ValueError: naming the option, if ``value`` holds no integer
    """
    try:
        return asint(value)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{name} must be an integer, got: {value!r}") from None


def _config_timeout(value: Any) -> Any:
    """A ``timeout`` job default as a configuration file gives it: a string holding a number
    becomes that number; anything else is left for the job's validation."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    return value


def _stored_job_name(store: BaseJobStore, job_id: str) -> str | None:
    """The name of a stored job, for a log message: ``None`` if it is not there or cannot be
    read (its function's module is gone, the store failed: the caller goes on without it)."""
    try:
        job = store.lookup_job(job_id)
    except Exception:  # noqa: BLE001 (only a log message depends on it)
        return None
    return None if job is None else job.name


class UnknownAliasError(KeyError, ValueError):
    """No executor or job store has the given alias (a ``KeyError`` as in APScheduler 3.x, and a
    ``ValueError`` like every other bad argument)."""

    def __init__(self, kind: str, alias: object, known: Iterable[str]) -> None:
        self.message = f"No such {kind}: {alias!r} (known: {', '.join(sorted(known)) or 'none'})"
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class BaseScheduler(metaclass=ABCMeta):
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

    :ivar int state: current running state of the scheduler (one of the following constants from
        ``greensched.schedulers.base``: ``STATE_STOPPED``, ``STATE_RUNNING``, ``STATE_PAUSED``)

    .. versionadded:: greensched 0.1 the ``clock`` option
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
        #: the job stores failing now, with when their failures began (clock.monotonic())
        self._store_outages: dict[str, float] = {}
        #: jobs added before start(), by (id, job store alias), in the order they were added
        self._pending_jobs: dict[tuple[str, str], _Pending] = {}
        self._clock: Clock = SYSTEM_CLOCK
        self.state = STATE_STOPPED
        self.configure(gconfig, **options)

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
        gconfig = dict(gconfig or {})
        if prefix:
            gconfig = _strip_prefixes(
                gconfig, _CONFIG_PREFIXES if prefix == _CONFIG_PREFIXES[0] else (prefix,)
            )

        # Turn dotted keys into nested dicts: "a.b.c" = d -> {"a": {"b": {"c": d}}}
        config: dict[str, Any] = {}
        for key, value in gconfig.items():
            *parents, leaf = key.split(".")
            node = config
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = value
        config.update(options)
        self._configure(config)

    def start(self, paused: bool = False) -> None:
        """Start the configured executors and job stores and begin processing scheduled jobs.

        :param bool paused: if ``True``, don't start job processing until :meth:`resume` is called
        :raises SchedulerAlreadyRunningError: if the scheduler is already running
        :raises ConflictingIdError: if a pending job's id is taken (nothing is started then)
        """
        if self.state != STATE_STOPPED:
            raise SchedulerAlreadyRunningError

        with self._executors_lock:
            if "default" not in self._executors:
                self.add_executor(self._create_default_executor(), "default")
        with self._jobstores_lock:
            if "default" not in self._jobstores:
                self.add_jobstore(self._create_default_jobstore(), "default")
            self._check_pending_jobs()

        started_executors: list[BaseExecutor] = []
        started_stores: list[BaseJobStore] = []
        pending: dict[tuple[str, str], _Pending] = {}
        try:
            with self._executors_lock:
                for alias, executor in self._executors.items():
                    executor.start(self, alias)
                    started_executors.append(executor)
            with self._jobstores_lock:
                for alias, store in self._jobstores.items():
                    store.start(self, alias)
                    started_stores.append(store)
                self._check_pending_ids_in_stores()
                pending, self._pending_jobs = self._pending_jobs, {}
                self.state = STATE_PAUSED if paused else STATE_RUNNING
                for job, jobstore_alias, replace_existing in pending.values():
                    self._real_add_job(job, jobstore_alias, replace_existing)
        except BaseException:
            self.state = STATE_STOPPED
            if pending:  # the jobs stay pending, for the next start()
                self._pending_jobs = {**pending, **self._pending_jobs}
                for job, _, _ in pending.values():
                    job._jobstore_alias = None
            for executor in started_executors:
                executor.shutdown(wait=False)
            for store in started_stores:
                store.shutdown()
            raise

        subscribe = getattr(self._clock, "subscribe", None)
        if subscribe is not None:  # a mock clock: each jump of time wakes the loop
            subscribe(self.wakeup)
        waker = getattr(self, "_waker", None)
        if waker is not None:  # the loop waits for the time of the scheduler's clock
            waker.clock = self._clock
        self._logger.info("Scheduler started")
        self._dispatch_event(SchedulerEvent(EVENT_SCHEDULER_STARTED))
        if not paused:
            self.wakeup()

    @abstractmethod
    def shutdown(self, wait: bool = True) -> None:
        """Shut down the scheduler, along with its executors and job stores.

        Does not interrupt any currently running jobs.

        :param bool wait: ``True`` to wait until all currently executing jobs have finished
        :raises SchedulerNotRunningError: if the scheduler has not been started yet
        """
        if self.state == STATE_STOPPED:
            raise SchedulerNotRunningError
        self.state = STATE_STOPPED
        self._shutdown_components(wait)

    def _shutdown_components(self, wait: bool) -> None:
        unsubscribe = getattr(self._clock, "unsubscribe", None)
        if unsubscribe is not None:
            unsubscribe(self.wakeup)
        # A round of the loop in progress finishes first, submissions included: its runs are
        # recorded in the stores already, so they must reach the executors (rounds that
        # start from now on do nothing: the state is STATE_STOPPED)
        with self._jobstores_lock:
            pass
        with self._executors_lock:
            executors = list(self._executors.values())
        for executor in executors:
            executor.shutdown(wait)
        with self._jobstores_lock:
            for jobstore in self._jobstores.values():
                jobstore.shutdown()
        self._logger.info("Scheduler has been shut down")
        self._dispatch_event(SchedulerEvent(EVENT_SCHEDULER_SHUTDOWN))

    def pause(self) -> None:
        """Pause job processing in the scheduler.

        This will prevent the scheduler from waking up to do job processing until :meth:`resume`
        is called. It will not however stop any already running job processing.

        :raises SchedulerNotRunningError: if the scheduler has not been started yet
        """
        if self.state == STATE_STOPPED:
            raise SchedulerNotRunningError
        if self.state == STATE_RUNNING:
            self.state = STATE_PAUSED
            self._logger.info("Paused scheduler job processing")
            self._dispatch_event(SchedulerEvent(EVENT_SCHEDULER_PAUSED))

    def resume(self) -> None:
        """Resume job processing in the scheduler.

        :raises SchedulerNotRunningError: if the scheduler has not been started yet
        """
        if self.state == STATE_STOPPED:
            raise SchedulerNotRunningError
        if self.state == STATE_PAUSED:
            self.state = STATE_RUNNING
            self._logger.info("Resumed scheduler job processing")
            self._dispatch_event(SchedulerEvent(EVENT_SCHEDULER_RESUMED))
            self.wakeup()

    @property
    def clock(self) -> Clock:
        """Where this scheduler reads (and waits for) the time (the ``clock`` option).

        .. versionadded:: greensched 0.1
        """
        return self._clock

    @property
    def jobstores(self) -> Mapping[str, BaseJobStore]:
        """The job stores, by alias (a read-only view; change it with :meth:`add_jobstore`
        and :meth:`remove_jobstore`).

        .. versionadded:: greensched 0.1
        """
        return MappingProxyType(self._jobstores)

    @property
    def executors(self) -> Mapping[str, BaseExecutor]:
        """The executors, by alias (a read-only view; change it with :meth:`add_executor`
        and :meth:`remove_executor`).

        .. versionadded:: greensched 0.1
        """
        return MappingProxyType(self._executors)

    @property
    def listened_events(self) -> int:
        """The codes of the events some listener wants, as a mask (the union of the listeners'
        masks): an event outside it need not even be made.

        .. versionadded:: greensched 0.1
        """
        return self._listener_mask

    def create_lock(self) -> Any:
        """Return a new reentrant lock of the kind this scheduler's threads need (what its
        executors and job stores lock with).

        .. versionadded:: greensched 0.1
        """
        return self._create_lock()

    def dispatch_event(self, event: SchedulerEvent) -> None:
        """Send ``event`` to the listeners whose mask includes its code; a listener that
        raises is logged and the others still get the event.

        .. versionadded:: greensched 0.1
        """
        self._dispatch_event(event)

    @property
    def running(self) -> bool:
        """``True`` if the scheduler has been started (``state != STATE_STOPPED``)."""
        return self.state != STATE_STOPPED

    @abstractmethod
    def wakeup(self) -> None:
        """Notify the scheduler that there may be jobs due for execution.

        Triggers :meth:`_process_jobs` to be run in an implementation specific manner.
        """

    def add_executor(
        self, executor: BaseExecutor | str, alias: str = "default", **executor_opts: Any
    ) -> None:
        """Add an executor to this scheduler.

        Any extra keyword arguments will be passed to the executor plugin's constructor, assuming
        that the first argument is the name of an executor plugin.

        :param executor: either an executor instance or the name of an executor plugin
        :param alias: alias for the executor
        :raises ValueError: if there is already an executor by the given alias
        :raises TypeError: if ``executor`` is neither an executor nor a string
        :raises LookupError: if no executor plugin has that name
        """
        with self._executors_lock:
            if alias in self._executors:
                raise ValueError(
                    f'This scheduler already has an executor by the alias of "{alias}"'
                )
            instance: BaseExecutor = self._executor_plugins.instantiate(executor, executor_opts)
            if self.state != STATE_STOPPED:
                instance.start(self, alias)
            self._executors[alias] = instance
        self._dispatch_event(SchedulerEvent(EVENT_EXECUTOR_ADDED, alias))

    def remove_executor(self, alias: str, shutdown: bool = True) -> None:
        """Remove the executor by the given alias from this scheduler.

        :param alias: alias of the executor
        :param shutdown: ``True`` to shut down the executor after removing it
        :raises KeyError: if there is no executor by that alias
        """
        with self._executors_lock:
            executor = self._lookup_executor(alias)
            del self._executors[alias]
        if shutdown:
            executor.shutdown()
        self._dispatch_event(SchedulerEvent(EVENT_EXECUTOR_REMOVED, alias))

    def add_jobstore(
        self, jobstore: BaseJobStore | str, alias: str = "default", **jobstore_opts: Any
    ) -> None:
        """Add a job store to this scheduler.

        Any extra keyword arguments will be passed to the job store plugin's constructor, assuming
        that the first argument is the name of a job store plugin.

        :param jobstore: job store to be added, or the name of a job store plugin
        :param alias: alias for the job store
        :raises ValueError: if there is already a job store by the given alias
        :raises TypeError: if ``jobstore`` is neither a job store nor a string
        :raises LookupError: if no job store plugin has that name
        """
        with self._jobstores_lock:
            if alias in self._jobstores:
                raise ValueError(
                    f'This scheduler already has a job store by the alias of "{alias}"'
                )
            store: BaseJobStore = self._jobstore_plugins.instantiate(jobstore, jobstore_opts)
            if self.state != STATE_STOPPED:
                store.start(self, alias)
            self._jobstores[alias] = store

        self._dispatch_event(SchedulerEvent(EVENT_JOBSTORE_ADDED, alias))
        if self.state != STATE_STOPPED:
            self.wakeup()

    def remove_jobstore(self, alias: str, shutdown: bool = True) -> None:
        """Remove the job store by the given alias from this scheduler.

        :param alias: alias of the job store
        :param shutdown: ``True`` to shut down the job store after removing it
        :raises KeyError: if there is no job store by that alias
        """
        with self._jobstores_lock:
            jobstore = self._lookup_jobstore(alias)
            del self._jobstores[alias]
        if shutdown:
            jobstore.shutdown()
        self._dispatch_event(SchedulerEvent(EVENT_JOBSTORE_REMOVED, alias))

    def add_listener(self, callback: Callable[[Any], Any] | None, mask: int = EVENT_ALL) -> None:
        """Add a listener for scheduler events.

        When a matching event occurs, ``callback`` is executed with the event object as its sole
        argument. If the ``mask`` parameter is not provided, the callback will receive events of
        all types. A listener that raises is logged; it never stops the scheduler.

        :param callback: any callable that takes one argument; ``None`` is accepted, as
            APScheduler 3.x accepts it, with a warning: it is never called
        :param mask: bitmask that indicates which events should be listened to
        :raises TypeError: if ``callback`` is neither callable nor ``None``, or ``mask`` not an
            int
        """
        if callback is None:
            self._logger.warning("A listener that is None was added: it is never called")
            return
        if not callable(callback):
            raise TypeError(f"callback must be callable, got: {callback!r}")
        if not isinstance(mask, int) or isinstance(mask, bool):
            raise TypeError(f"mask must be an int, got: {mask!r}")
        with self._listeners_lock:
            self._listeners.append((callback, mask))
            self._listener_mask |= mask

    def remove_listener(self, callback: Callable[[Any], Any] | None) -> None:
        """Remove a previously added event listener."""
        with self._listeners_lock:
            self._listeners = [(cb, mask) for cb, mask in self._listeners if cb != callback]
            self._listener_mask = 0
            for _, mask in self._listeners:
                self._listener_mask |= mask

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
        job_kwargs: dict[str, Any] = {
            "trigger": self._create_trigger(trigger, trigger_args),
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
        validate.boolean("replace_existing", replace_existing)
        job = Job(self, **job_kwargs)

        with self._jobstores_lock:
            self._check_job_id(job.id, jobstore)
            if self.state == STATE_STOPPED:
                self._add_pending_job(job, jobstore, replace_existing)
                self._logger.info(
                    "Adding job tentatively -- it will be properly scheduled when the scheduler starts"
                )
            else:
                self._real_add_job(job, jobstore, replace_existing)
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
            job, jobstore_alias = self._lookup_job(job_id, jobstore)
            if jobstore_alias is None:
                job._modify(**changes)
            else:
                self._modify_stored_job(job, jobstore_alias, changes)

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
            job, jobstore_alias = self._lookup_job(job_id, jobstore)
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
            if self.state == STATE_STOPPED:
                return [
                    job
                    for job, alias, _ in self._pending_jobs.values()
                    if jobstore in (None, alias)
                ]
            jobs: list[Job] = []
            for alias, store in self._jobstores.items():
                if jobstore in (None, alias):
                    jobs.extend(store.get_all_jobs())
            return jobs

    def get_job(self, job_id: str, jobstore: str | None = None) -> Job | None:
        """Return the Job that matches the given ``job_id``, or ``None`` if there is none.

        :param job_id: the identifier of the job
        :param jobstore: alias of the job store that most likely contains the job
        """
        with self._jobstores_lock:
            try:
                return self._lookup_job(job_id, jobstore)[0]
            except JobLookupError:
                return None

    def remove_job(self, job_id: str, jobstore: str | None = None) -> None:
        """Remove a job, preventing it from being run any more.

        :param job_id: the identifier of the job
        :param jobstore: alias of the job store that contains the job
        :raises JobLookupError: if the job was not found
        """
        with self._jobstores_lock:
            event = self._remove_job(job_id, jobstore)
        self._dispatch_event(event)

    def remove_all_jobs(self, jobstore: str | None = None) -> None:
        """Remove all jobs from the specified job store, or all job stores if none is given.

        :param jobstore: alias of the job store
        """
        with self._jobstores_lock:
            if self.state == STATE_STOPPED:
                self._pending_jobs = {
                    key: pending
                    for key, pending in self._pending_jobs.items()
                    if jobstore not in (None, pending[1])
                }
            else:
                for alias, store in self._jobstores.items():
                    if jobstore in (None, alias):
                        store.remove_all_jobs()
        self._dispatch_event(SchedulerEvent(EVENT_ALL_JOBS_REMOVED, jobstore))

    def print_jobs(self, jobstore: str | None = None, out: IO[str] | None = None) -> None:
        """Print out a textual listing of all jobs currently scheduled on either all job stores
        or just a specific one.

        :param jobstore: alias of the job store, ``None`` to list jobs from all stores
        :param out: a file-like object to print to (defaults to **sys.stdout** if nothing is
            given)
        """
        out = out or sys.stdout
        lines: list[str] = []
        with self._jobstores_lock:
            if self.state == STATE_STOPPED:
                lines.append("Pending jobs:")
                pending = [
                    job
                    for job, alias, _ in self._pending_jobs.values()
                    if jobstore in (None, alias)
                ]
                lines.extend(f"    {job}" for job in pending)
                if not pending:
                    lines.append("    No pending jobs")
            else:
                for alias, store in sorted(self._jobstores.items()):
                    if jobstore in (None, alias):
                        lines.append(f"Jobstore {alias}:")
                        jobs = store.get_all_jobs()
                        lines.extend(f"    {job}" for job in jobs)
                        if not jobs:
                            lines.append("    No scheduled jobs")
        out.write("".join(line + "\n" for line in lines))

    def export_jobs(self, outfile: str | IO[str], jobstore: str | None = None) -> None:
        """Export stored jobs as JSON.

        :param outfile: either a file object opened in text write mode ("w"), or a path to the
            target file
        :param jobstore: alias of the job store to export jobs from (if omitted, export from all
            configured job stores)
        :raises ValueError: if a job's callable has no importable reference
        """
        jobs = self.get_jobs(jobstore)
        # Build every state first: a job that cannot be exported leaves no half-written file
        document = {
            "version": 1,
            "scheduler_version": __version__,
            "jobs": [self._export_state(job) for job in jobs],
        }
        text = json.dumps(document, cls=JobEncoder)
        if isinstance(outfile, str):
            with open(outfile, "w", encoding="utf-8") as file:
                file.write(text)
        else:
            outfile.write(text)

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
        if isinstance(infile, str):
            with open(infile, encoding="utf-8") as file:
                document = json.load(file, object_hook=decode_object)
        else:
            document = json.load(infile, object_hook=decode_object)
        if not isinstance(document, dict) or not isinstance(document.get("jobs"), list):
            # APScheduler 3.x: ValueError if the document is not a dict, TypeError if its jobs
            # are not iterable
            raise InvalidValueError(
                f"infile must hold a job export with a 'jobs' list, got: {document!r:.200}"
            )
        version = document.get("version")
        if version != 1:
            raise ValueError(f"infile's export version must be 1, got: {version!r}")

        jobs = []
        for state in document["jobs"]:
            job = Job.__new__(Job)
            job.__setstate__(state)
            job._scheduler = self
            job._jobstore_alias = None
            jobs.append(job)
        with self._jobstores_lock:
            for job in jobs:
                self._check_job_id(job.id, jobstore)
            self._check_import_conflicts(jobs, jobstore)
            for job in jobs:
                if self.state == STATE_STOPPED:
                    self._add_pending_job(job, jobstore, False)
                else:
                    self._real_add_job(job, jobstore, False)

    def _check_import_conflicts(self, jobs: list[Job], jobstore: str) -> None:
        """Refuse an import, before anything is added, if one of its ids is taken."""
        taken: set[str] = set()
        if self.state == STATE_STOPPED:
            taken.update(job_id for job_id, alias in self._pending_jobs if alias == jobstore)
        else:
            store = self._lookup_jobstore(jobstore)
            taken.update(job.id for job in jobs if store.lookup_job(job.id) is not None)
        for job in jobs:
            if job.id in taken:
                raise ConflictingIdError(job.id)
            taken.add(job.id)

    #
    # Private API
    #

    def _now(self) -> datetime:
        """The current time in the scheduler's zone, read from the injected clock."""
        return self._clock.now().astimezone(self.timezone)

    def _configure(self, config: dict[str, Any]) -> None:
        # Build and validate everything before changing anything
        given_logger = config.pop("logger", None) or logger_name("scheduler")
        logger = given_logger
        if isinstance(logger, str):
            # 'module:attribute' refers to a logger object (APScheduler 3.x); a plain name is
            # the logger's name
            logger = ref_to_obj(logger) if ":" in logger else logging.getLogger(logger)
        if not isinstance(logger, (logging.Logger, logging.LoggerAdapter)):
            # APScheduler 3.x takes it, and fails with AttributeError when it first logs
            raise TypeError(
                "logger must be a logging.Logger, a logger name or a 'module:attr' reference "
                f"to a logger, got: {given_logger!r}"
            )
        timezone = astimezone(config.pop("timezone", None)) or get_localzone()
        retry = config.pop("jobstore_retry_interval", 10)
        try:
            jobstore_retry_interval = float(retry)
        except (TypeError, ValueError):
            # APScheduler 3.x: ValueError for a string that is no number, TypeError for others
            raise InvalidValueError(
                f"jobstore_retry_interval must be a number of seconds, got: {retry!r}"
            ) from None
        if not (math.isfinite(jobstore_retry_interval) and jobstore_retry_interval > 0):
            raise ValueError(
                f"jobstore_retry_interval must be a positive finite number of seconds, "
                f"got: {retry!r}"
            )
        clock = config.pop("clock", None) or SYSTEM_CLOCK
        if not isinstance(clock, Clock):
            raise TypeError(
                "clock must have now(), monotonic(), timer(), sleep(), timeout() and wait() "
                f"methods, got: {clock!r}"
            )

        job_defaults = dict(config.pop("job_defaults", None) or {})
        misfire = job_defaults.pop("misfire_grace_time", 1)
        defaults = {
            "misfire_grace_time": _config_int("misfire_grace_time", misfire),
            "coalesce": asbool(job_defaults.pop("coalesce", True)),
            "max_instances": _config_int("max_instances", job_defaults.pop("max_instances", 1)),
            "timeout": _config_timeout(job_defaults.pop("timeout", None)),
        }
        if job_defaults:
            raise ValueError(
                f"job_defaults may only hold misfire_grace_time, coalesce, max_instances and "
                f"timeout, got: {sorted(job_defaults)!r}"
            )
        probe = Job.__new__(Job)  # validates the defaults with the same rules as a job's options
        probe._scheduler = self
        probe._modify(**defaults)

        executors = {
            alias: self._build_component(
                "executor", alias, value, BaseExecutor, self._executor_plugins
            )
            for alias, value in dict(config.pop("executors", None) or {}).items()
        }
        jobstores = {
            alias: self._build_component(
                "job store", alias, value, BaseJobStore, self._jobstore_plugins
            )
            for alias, value in dict(config.pop("jobstores", None) or {}).items()
        }
        if config:
            raise ValueError(f"Unknown scheduler options: {', '.join(sorted(config))}")

        self._logger = logger
        self.timezone: tzinfo = timezone
        self.jobstore_retry_interval = jobstore_retry_interval
        self._clock = clock
        self._job_defaults = defaults
        with self._executors_lock:
            self._executors.clear()
        for alias, executor in executors.items():
            self.add_executor(executor, alias)
        with self._jobstores_lock:
            self._jobstores.clear()
        for alias, jobstore in jobstores.items():
            self.add_jobstore(jobstore, alias)

    @staticmethod
    def _build_component(
        kind: str, alias: str, value: Any, base_class: type, plugins: PluginRegistry
    ) -> Any:
        """Return the executor or job store that a configuration value describes."""
        if isinstance(value, base_class):
            return value
        if isinstance(value, MutableMapping):
            options = dict(value)
            class_ref = options.pop("class", None)
            plugin = options.pop("type", None)
            if plugin:
                return plugins.instantiate(plugin, options)
            if class_ref:
                cls = maybe_ref(class_ref)
                if not (isinstance(cls, type) and issubclass(cls, base_class)):
                    raise TypeError(
                        f"class of {kind} {alias!r} must be a {base_class.__name__} subclass, "
                        f"got: {class_ref!r}"
                    )
                return cls(**options)
            raise ValueError(
                f'Cannot create {kind} "{alias}" -- either "type" or "class" must be defined'
            )
        raise TypeError(
            f"Expected {kind} instance or dict for {kind}s[{alias!r}], got "
            f"{value.__class__.__name__} instead"
        )

    def _create_default_executor(self) -> BaseExecutor:
        """Create a default executor, specific to the particular scheduler type."""
        from greensched.executors.gevent import GeventExecutor

        return GeventExecutor()

    def _create_default_jobstore(self) -> BaseJobStore:
        """Create a default job store, specific to the particular scheduler type."""
        from greensched.jobstores.memory import MemoryJobStore

        return MemoryJobStore()

    def _lookup_executor(self, alias: str) -> BaseExecutor:
        """Return the executor by the given alias.

        :raises KeyError: if there is no executor by that alias
        """
        try:
            return self._executors[alias]
        except KeyError:
            raise UnknownAliasError("executor", alias, self._executors) from None

    def _lookup_jobstore(self, alias: str) -> BaseJobStore:
        """Return the job store by the given alias.

        :raises KeyError: if there is no job store by that alias
        """
        try:
            return self._jobstores[alias]
        except KeyError:
            raise UnknownAliasError("job store", alias, self._jobstores) from None

    def _lookup_job(
        self, job_id: str, jobstore_alias: str | None = None
    ) -> tuple[Job, str | None]:
        """Find a job by its ID.

        :return: the job and its job store alias (``None`` for a pending job)
        :raises JobLookupError: if there is no such job
        """
        if self.state == STATE_STOPPED:
            key = self._pending_key(job_id, jobstore_alias)
            if key is not None:
                return self._pending_jobs[key][0], None
        else:
            for alias, store in self._jobstores.items():
                if jobstore_alias in (None, alias):
                    found = store.lookup_job(job_id)
                    if found is not None:
                        return found, alias
        raise JobLookupError(job_id)

    def _modify_stored_job(self, job: Job, jobstore_alias: str, changes: dict[str, Any]) -> None:
        """Apply ``changes`` to a stored job and save it; if the store refuses, the job is put
        back as it was."""
        saved = job._attributes()
        job._modify(**changes)
        try:
            self._lookup_executor(job.executor)._check_job(job)
            self._lookup_jobstore(jobstore_alias).update_job(job)
        except BaseException:
            job._set_attributes(saved)
            raise

    def _remove_job(self, job_id: str, jobstore: str | None) -> JobEvent:
        """Remove a job (pending or stored) and return the event to dispatch for it."""
        jobstore_alias = None
        name = None  # for the log message
        if self.state == STATE_STOPPED:
            key = self._pending_key(job_id, jobstore)
            if key is not None:
                name = self._pending_jobs.pop(key)[0].name
                jobstore_alias = key[1]
        else:
            named = self._logger.isEnabledFor(logging.INFO)
            for alias, store in self._jobstores.items():
                if jobstore in (None, alias):
                    if named:
                        name = _stored_job_name(store, job_id)
                    try:
                        store.remove_job(job_id)
                    except JobLookupError:
                        continue
                    jobstore_alias = alias
                    break
        if jobstore_alias is None:
            raise JobLookupError(job_id)
        self._logger.info("Removed job %s", job_label(job_id, name))
        return JobEvent(EVENT_JOB_REMOVED, job_id, jobstore_alias)

    def _dispatch_event(self, event: SchedulerEvent) -> None:
        """Dispatch the given event to interested listeners; a listener that raises is logged.

        :param event: the event to send
        """
        if not event.code & self._listener_mask:
            return
        for callback, mask in tuple(self._listeners):
            if event.code & mask:
                try:
                    callback(event)
                except Exception:
                    self._logger.exception("Error notifying listener")

    def _add_pending_job(self, job: Job, jobstore_alias: str, replace_existing: bool) -> None:
        """Keep a job until the scheduler starts; an id already pending is a conflict unless
        ``replace_existing``."""
        key = (job.id, jobstore_alias)
        if key in self._pending_jobs and not replace_existing:
            raise ConflictingIdError(job.id)
        # a replaced job keeps its place
        self._pending_jobs[key] = (job, jobstore_alias, replace_existing)

    def _pending_key(self, job_id: str, jobstore_alias: str | None) -> tuple[str, str] | None:
        """The key of the pending job ``job_id`` (of any store if ``jobstore_alias`` is
        ``None``: the first one added), or ``None``."""
        if jobstore_alias is not None:
            key = (job_id, jobstore_alias)
            return key if key in self._pending_jobs else None
        return next((key for key in self._pending_jobs if key[0] == job_id), None)

    def _check_pending_jobs(self) -> None:
        """Check, before anything starts, that every pending job names a known store and
        executor."""
        for job, jobstore_alias, _ in self._pending_jobs.values():
            self._lookup_jobstore(jobstore_alias)
            self._check_job_id(job.id, jobstore_alias)
            if job.executor not in self._executors:
                raise UnknownAliasError("executor", job.executor, self._executors)

    def _check_pending_ids_in_stores(self) -> None:
        """Check that no pending job conflicts with a job already stored (persistent stores)."""
        for job, jobstore_alias, replace_existing in self._pending_jobs.values():
            if (
                not replace_existing
                and self._jobstores[jobstore_alias].lookup_job(job.id) is not None
            ):
                raise ConflictingIdError(job.id)

    def _real_add_job(self, job: Job, jobstore_alias: str, replace_existing: bool) -> None:
        """Fill in the job's defaults and next run time and add it to a started job store.

        :raises KeyError: if the job store or executor alias is unknown
        :raises ConflictingIdError: if the id is taken and ``replace_existing`` is false
        """
        store = self._lookup_jobstore(jobstore_alias)
        executor = self._lookup_executor(job.executor)

        missing = self._missing_job_options(job)
        if "next_run_time" in missing and missing["next_run_time"] is None:
            self._warn_never_fires(job)
        job._modify(**missing)

        executor._check_job(job)
        try:
            store.add_job(job)
        except ConflictingIdError:
            if not replace_existing:
                raise
            store.update_job(job)
        job._jobstore_alias = jobstore_alias

        self._dispatch_event(JobEvent(EVENT_JOB_ADDED, job.id, jobstore_alias))
        self._logger.info(
            "Added job %s to job store %r", job_label(job.id, job.name), jobstore_alias
        )
        if self.state == STATE_RUNNING:
            self.wakeup()

    def _missing_job_options(self, job: Job) -> dict[str, Any]:
        """Return the job defaults and first run time that a pending job has yet to get."""
        missing = {
            key: value for key, value in self._job_defaults.items() if not hasattr(job, key)
        }
        if not hasattr(job, "next_run_time"):
            missing["next_run_time"] = job.trigger.get_next_fire_time(None, self._now())
        return missing

    def _export_state(self, job: Job) -> dict[str, Any]:
        """Return the state of a job as it is, or as it will be once the scheduler starts."""
        missing = self._missing_job_options(job)
        if missing:
            completed = Job.__new__(Job)
            completed._set_attributes(job._attributes())
            completed._modify(**missing)
            job = completed
        return job.__getstate__()

    def _create_trigger(
        self, trigger: BaseTrigger | str | None, trigger_args: dict[str, Any]
    ) -> BaseTrigger:
        if isinstance(trigger, BaseTrigger):
            if trigger_args:
                # APScheduler 3.x ignores them silently
                raise TypeError(
                    "trigger arguments must not be given beside a trigger instance (they would "
                    f"be ignored), got: {', '.join(sorted(trigger_args))}"
                )
            trigger.fill_defaults(self._now())  # "now" defaults come from the scheduler's clock
            return trigger
        if trigger is None:
            trigger = "date"
            trigger_args.setdefault("run_date", self._now())
        elif not isinstance(trigger, str):
            raise TypeError(
                f"Expected a trigger instance or string, got {trigger.__class__.__name__} instead"
            )
        trigger_class = self._trigger_plugins.resolve(trigger)
        if _takes_timezone(trigger_class):
            # Use the scheduler's time zone if nothing else is specified
            trigger_args.setdefault("timezone", self.timezone)
        instance: BaseTrigger = trigger_class(**trigger_args)
        instance.fill_defaults(self._now())  # "now" defaults come from the scheduler's clock
        return instance

    def _warn_never_fires(self, job: Job) -> None:
        """Warn about a job being added whose trigger has no fire time at all from now on: it
        is added paused, as APScheduler 3.x adds it (code built on it relies on that), but not
        without a word."""
        trigger = job.trigger
        now = self._now()
        start = getattr(trigger, "start_date", None)
        end = getattr(trigger, "end_date", None)
        if isinstance(start, datetime) and isinstance(end, datetime) and end < start:
            reason = f"its end_date {end} is before its start_date {start}"
        elif isinstance(end, datetime) and end < now:
            reason = f"its end_date {end} has passed"
        else:
            reason = "no time from now on matches it"
        self._logger.warning(
            "Job %s will never run: its trigger %s has no fire time (%s); it is added paused",
            job_label(job.id, job.name),
            trigger,
            reason,
        )

    def _check_job_id(self, job_id: str, jobstore_alias: str) -> None:
        """Refuse an id that the job store (if it exists yet) cannot hold, before anything is
        written."""
        check = getattr(self._jobstores.get(jobstore_alias), "_check_job_id", None)
        if check is not None:
            check(job_id)

    def _create_lock(self) -> Any:
        """Create a reentrant lock object."""
        return RLock()

    def _process_jobs(self) -> float | None:
        """Iterate through jobs in every job store, start jobs that are due and figure out how
        long to wait for the next round.

        For each store: take its due jobs (:meth:`~BaseJobStore.acquire_due_jobs`), work out
        their run times and next run times, store those results in one call
        (:meth:`~BaseJobStore.release_due_jobs`), and only then submit the runs, so that a
        store shared by several processes records a run before it starts. If a job store
        raises, it is retried at the latest in ``jobstore_retry_interval`` seconds.

        Events are made only for the codes some listener asked for.

        :return: the number of seconds until the next round, or ``None`` if there is nothing to
            wait for (paused, or no jobs)
        """
        logger = self._logger
        if self.state == STATE_PAUSED:
            logger.debug("Scheduler is paused -- not processing jobs")
            return None

        debug = logger.isEnabledFor(logging.DEBUG)
        if debug:
            logger.debug("Looking for jobs to run")
        now = self._now()
        # Wake-up times as timestamps: two datetimes of one zone subtract as wall times, which
        # is wrong across a DST change, and floats are cheaper
        now_timestamp = now.timestamp()
        next_wakeup: float | None = None

        with self._jobstores_lock:
            for jobstore_alias, jobstore in tuple(self._jobstores.items()):
                if not self._process_jobstore(jobstore_alias, jobstore, now):
                    wakeup: float | None = now_timestamp + self.jobstore_retry_interval
                else:
                    try:
                        jobstore_next_run_time = jobstore.get_next_run_time()
                    except Exception as exc:  # noqa: BLE001 (any store failure: retry later)
                        self._store_failed(
                            jobstore_alias,
                            "Error getting the next run time from job store %r",
                            exc,
                        )
                        wakeup = now_timestamp + self.jobstore_retry_interval
                    else:
                        wakeup = (
                            None
                            if jobstore_next_run_time is None
                            else jobstore_next_run_time.timestamp()
                        )
                    poll_interval = jobstore.poll_interval
                    if poll_interval is not None:
                        polled = now_timestamp + poll_interval
                        if wakeup is None or polled < wakeup:
                            wakeup = polled
                if wakeup is not None and (next_wakeup is None or wakeup < next_wakeup):
                    next_wakeup = wakeup

        if self.state == STATE_PAUSED:
            logger.debug("Scheduler is paused; waiting until resume() is called")
            return None
        if next_wakeup is None:
            logger.debug("No jobs; waiting until a job is added")
            return None
        wait_seconds = min(max(next_wakeup - now_timestamp, 0.0), TIMEOUT_MAX)
        if debug:
            logger.debug(
                "Next wakeup is due at %s (in %f seconds)",
                datetime.fromtimestamp(next_wakeup, self.timezone),
                wait_seconds,
            )
        return wait_seconds

    def _process_jobstore(
        self,
        jobstore_alias: str,
        jobstore: BaseJobStore,
        now: datetime,
    ) -> bool:
        """Run one store's due jobs; return ``False`` if the store failed (retry it later).

        Each event is dispatched where it happens, before anything can yield to the hub (the
        next store's I/O does): a run reports its end only after its ``EVENT_JOB_SUBMITTED``.
        """
        if self.state == STATE_STOPPED:
            return True  # shut down while this round waited for the lock
        try:
            due_jobs = jobstore.acquire_due_jobs(now)
        except Exception as exc:  # noqa: BLE001 (any store failure: retry later)
            self._store_failed(
                jobstore_alias, f"Error getting due jobs from job store {jobstore_alias!r}", exc
            )
            return False
        if self._store_outages:
            self._store_answered(jobstore_alias)
        if not due_jobs:
            return True

        plans: list[_DueRun] = []
        updated: list[Job] = []
        removed: list[Job] = []
        plan_due_job = self._plan_due_job
        for job in due_jobs:
            try:
                plan = plan_due_job(job, now)
            except Exception as exc:  # noqa: BLE001 (one bad job must not stop the others)
                self._pause_failed_job(job, jobstore_alias, exc)
                updated.append(job)  # stored paused: it can no longer spin the loop
                continue
            plans.append(plan)
            (removed if plan[3] else updated).append(job)

        try:
            lost = jobstore.release_due_jobs(updated, removed)
        except Exception as exc:  # noqa: BLE001 (nothing was stored: nothing runs)
            what = f"Error storing the next run times of {count(len(due_jobs), 'due job')} in "
            self._store_failed(jobstore_alias, f"{what}job store {jobstore_alias!r}", exc)
            return False

        submit_due_job = self._submit_due_job
        for job, executor, run_times, finished in plans:
            if lost and job.id in lost:
                self._logger.warning(
                    "Not running job %s: another process took it over, or it was changed or "
                    "removed while it was due",
                    job_label(job.id, job.name),
                )
                if self._listener_mask & EVENT_JOB_CLAIM_LOST:
                    self._dispatch_event(JobEvent(EVENT_JOB_CLAIM_LOST, job.id, jobstore_alias))
                continue
            if executor is not None and run_times:
                submit_due_job(executor, job, run_times, jobstore_alias)
            if finished:
                if self._logger.isEnabledFor(logging.INFO):  # a label for each job of a burst
                    self._logger.info("Removed job %s", job_label(job.id, job.name))
                if self._listener_mask & EVENT_JOB_REMOVED:
                    self._dispatch_event(JobEvent(EVENT_JOB_REMOVED, job.id, jobstore_alias))
        return True

    def _store_failed(self, jobstore_alias: str, what: str, exc: Exception) -> None:
        """Log a failure of a job store: a WARNING, on one line, when the store starts failing,
        DEBUG while it goes on failing (each round retries it after
        ``jobstore_retry_interval``).

        :param what: what failed, naming the store
        """
        if jobstore_alias in self._store_outages:
            self._logger.debug("%s (still failing): %s", what, one_line(exc))
            return
        self._store_outages[jobstore_alias] = self._clock.monotonic()
        self._logger.warning(
            "%s: %s; retrying every %g s until it answers",
            what,
            one_line(exc),
            self.jobstore_retry_interval,
        )

    def _store_answered(self, jobstore_alias: str) -> None:
        """Log that a job store that failed answers again, with how long it failed."""
        started = self._store_outages.pop(jobstore_alias, None)
        if started is not None:
            self._logger.warning(
                "Job store %r answers again, after %.1f s of failures",
                jobstore_alias,
                self._clock.monotonic() - started,
            )

    def _pause_failed_job(self, job: Job, jobstore_alias: str, exc: Exception) -> None:
        """Pause a due job whose runs could not be worked out (its trigger raised): log it
        once, and report it as an ``EVENT_JOB_ERROR`` of its due run, which does not run."""
        scheduled_run_time = job.next_run_time
        job.next_run_time = None
        self._logger.error(
            "Error working out the runs of job %s in job store %r: paused until it is "
            "modified or resumed",
            job_label(job.id, job.name),
            jobstore_alias,
            exc_info=exc,
        )
        if self._listener_mask & EVENT_JOB_ERROR:
            self._dispatch_event(
                JobExecutionEvent(
                    EVENT_JOB_ERROR,
                    job.id,
                    jobstore_alias,
                    scheduled_run_time,
                    exception=exc,
                    traceback="".join(format_exception(type(exc), exc, exc.__traceback__)),
                )
            )

    def _plan_due_job(self, job: Job, now: datetime) -> _DueRun:
        """Work out a due job's runs and give it its next run time (the store is not touched)."""
        executor = self._executors.get(job.executor)
        if executor is None:
            self._logger.error(
                "Executor lookup (%r) failed for job %s -- removing it from the job store",
                job.executor,
                job_label(job.id, job.name),
            )
            return job, None, [], True

        run_times, next_run_time = job._get_due_run_times(now)
        if not run_times:
            return job, executor, run_times, False
        if job.coalesce and len(run_times) > 1:
            run_times = run_times[-1:]
        if next_run_time is None:
            return job, executor, run_times, True
        if next_run_time.tzinfo is None:  # a trigger's naive time: in the scheduler's zone
            job._modify(next_run_time=next_run_time)
        else:
            job.next_run_time = next_run_time
        return job, executor, run_times, False

    def _submit_due_job(
        self,
        executor: BaseExecutor,
        job: Job,
        run_times: list[datetime],
        jobstore_alias: str,
    ) -> None:
        """Submit a due job's runs and dispatch the event of the submission (before the runs'
        own events, even where the executor runs the job inline)."""
        try:
            executor._submit_announced(
                job,
                run_times,
                partial(self._announce_submission, job.id, jobstore_alias, run_times),
            )
        except MaxInstancesReachedError:
            self._logger.warning(
                "Execution of job %s skipped: maximum number of running instances reached (%d)",
                job_label(job.id, job.name),
                job.max_instances,
            )
            if self._listener_mask & EVENT_JOB_MAX_INSTANCES:
                self._dispatch_event(
                    JobSubmissionEvent(EVENT_JOB_MAX_INSTANCES, job.id, jobstore_alias, run_times)
                )
        except Exception:
            self._logger.exception(
                "Error submitting job %s to executor %r", job_label(job.id, job.name), job.executor
            )

    def _announce_submission(
        self, job_id: str, jobstore_alias: str, run_times: list[datetime]
    ) -> None:
        """Dispatch the ``EVENT_JOB_SUBMITTED`` of a submission, if someone listens for it."""
        if self._listener_mask & EVENT_JOB_SUBMITTED:
            self._dispatch_event(
                JobSubmissionEvent(EVENT_JOB_SUBMITTED, job_id, jobstore_alias, run_times)
            )
