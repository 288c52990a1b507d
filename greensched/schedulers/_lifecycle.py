"""Starting, stopping, pausing and resuming a scheduler.

:class:`Lifecycle` is a base class of :class:`~greensched.schedulers.base.BaseScheduler`.
"""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from typing import TYPE_CHECKING, cast

from greensched.events import (
    EVENT_SCHEDULER_PAUSED,
    EVENT_SCHEDULER_RESUMED,
    EVENT_SCHEDULER_SHUTDOWN,
    EVENT_SCHEDULER_STARTED,
    SchedulerEvent,
)
from greensched.executors.base import BaseExecutor
from greensched.jobstores.base import BaseJobStore
from greensched.schedulers import SchedulerAlreadyRunningError, SchedulerNotRunningError
from greensched.schedulers._components import Components
from greensched.schedulers._loop import STATE_PAUSED, STATE_RUNNING, STATE_STOPPED, ProcessingLoop
from greensched.schedulers._places import PendingJobs, StoredJobs

if TYPE_CHECKING:
    from greensched.schedulers.base import BaseScheduler

__all__ = ("Lifecycle",)


class Lifecycle(Components, ProcessingLoop, metaclass=ABCMeta):
    """A scheduler's states and the moves between them (the attributes below are the
    scheduler's)."""

    #: the jobs added while stopped, and the jobs of the started scheduler
    _pending: PendingJobs
    _stored: StoredJobs

    if TYPE_CHECKING:

        def _create_default_executor(self) -> BaseExecutor: ...

        def _create_default_jobstore(self) -> BaseJobStore: ...

        def _start_history(self) -> None: ...

        def _stop_history(self) -> None: ...

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
            pending = self._pending
            pending.check_targets()

        scheduler = cast("BaseScheduler", self)
        started_executors: list[BaseExecutor] = []
        started_stores: list[BaseJobStore] = []
        try:
            with self._executors_lock:
                for alias, executor in self._executors.items():
                    executor.start(scheduler, alias)
                    started_executors.append(executor)
            with self._jobstores_lock:
                for alias, store in self._jobstores.items():
                    store.start(scheduler, alias)
                    started_stores.append(store)
                pending.check_ids_in_stores()
                self._pending = PendingJobs(scheduler)
                self.state = STATE_PAUSED if paused else STATE_RUNNING
                for job, jobstore_alias, replace_existing in pending:
                    self._stored.add(job, jobstore_alias, replace_existing)
        except BaseException:
            self.state = STATE_STOPPED
            self._pending = pending  # the jobs stay pending, for the next start()
            for job, _, _ in pending:
                job._jobstore_alias = None
            for executor in started_executors:
                executor.shutdown(wait=False)
            for store in started_stores:
                store.shutdown()
            raise

        self._start_history()
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
        self._stop_history()  # the runs' records written, before the stores close
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
    def running(self) -> bool:
        """``True`` if the scheduler has been started (``state != STATE_STOPPED``)."""
        return self.state != STATE_STOPPED

    @abstractmethod
    def wakeup(self) -> None:
        """Notify the scheduler that there may be jobs due for execution.

        Triggers :meth:`_process_jobs` to be run in an implementation specific manner.
        """
