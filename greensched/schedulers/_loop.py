"""The job-processing loop of a scheduler: one round takes each store's due jobs, works out
their runs, records the results in the store, then submits the runs.

:class:`ProcessingLoop` is a base class of
:class:`~greensched.schedulers.base.BaseScheduler`; each scheduler class calls
:meth:`~ProcessingLoop._process_jobs` from its own loop (a greenlet, a thread, or the
calling thread) and waits as long as it says.
"""

from __future__ import annotations

import logging
from datetime import datetime, tzinfo
from functools import partial
from traceback import format_exception
from typing import TYPE_CHECKING, Any

import gevent

from greensched._logging import count, job_label, one_line
from greensched.events import (
    EVENT_JOB_CLAIM_LOST,
    EVENT_JOB_ERROR,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_REMOVED,
    EVENT_JOB_SUBMITTED,
    JobEvent,
    JobExecutionEvent,
    JobSubmissionEvent,
    SchedulerEvent,
)
from greensched.executors.base import BaseExecutor, MaxInstancesReachedError
from greensched.history._records import OUTCOME_CLAIM_LOST, OUTCOME_MAX_INSTANCES

if TYPE_CHECKING:
    from greensched._clock import Clock
    from greensched.history._recorder import RunRecorder
    from greensched.job import Job
    from greensched.jobstores.base import BaseJobStore

__all__ = (
    "BATCH_RATE",
    "BATCH_WAIT",
    "PACE_PERIOD",
    "SHARE_BATCH",
    "STATE_PAUSED",
    "STATE_RUNNING",
    "STATE_STOPPED",
    "TIMEOUT_MAX",
    "ProcessingLoop",
)

#: constant indicating a scheduler's stopped state
STATE_STOPPED = 0
#: constant indicating a scheduler's running state (started and processing jobs)
STATE_RUNNING = 1
#: constant indicating a scheduler's paused state (started but not processing jobs)
STATE_PAUSED = 2

#: The longest wait the processing loop asks for (about 49 days), as in APScheduler 3.x.
TIMEOUT_MAX = 4294967

#: The due runs a second from which the loop batches them: its rounds are then at least
#: :data:`BATCH_WAIT` apart (see :meth:`ProcessingLoop._pace`).
BATCH_RATE = 8000

#: The shortest wait between two rounds while the loop batches (seconds; a wait of zero, for
#: due jobs left over from a round, stays zero).
BATCH_WAIT = 0.003

#: From this many due jobs in a round from one store, the loop lets the hub run (the other
#: greenlets) after taking them and after working out their runs, before the store records
#: the results: a shared store's batch costs tens of microseconds a job to restore and as
#: much to store again, and one stretch would hold the hub for tens of milliseconds.
SHARE_BATCH = 32

#: How long the loop counts due runs before it decides again whether to batch (seconds).
PACE_PERIOD = 0.1

#: The next look at a store the loop knows nothing about: now
_ASK_NOW = float("-inf")

#: What the processing loop decided for one due job: the job; its executor (``None``: the
#: executor is gone and the job is removed); the run times to submit; whether the job is
#: finished (no next run time: it is removed from its store). A plain tuple: one is made for
#: every due job.
_DueRun = tuple["Job", "BaseExecutor | None", list[datetime], bool]


class ProcessingLoop:
    """The processing loop's part of a scheduler (the attributes below are the scheduler's)."""

    state: int
    timezone: tzinfo
    jobstore_retry_interval: float
    _logger: logging.Logger | logging.LoggerAdapter[Any]
    _clock: Clock
    _jobstores: dict[str, BaseJobStore]
    _jobstores_lock: Any
    _executors: dict[str, BaseExecutor]
    _listener_mask: int
    run_history: RunRecorder | None
    #: the job stores failing now, with when their failures began (clock.monotonic())
    _store_outages: dict[str, float]

    #: set by the scheduler's loop before a round that only its timer woke (nothing called
    #: wakeup() since the round before): the stores whose next look is later are not asked
    _timer_round = False
    #: when each store is next to be looked at, as a timestamp: its next run time, its poll
    #: or its retry, whichever comes first (``None``: when the loop is woken)
    _next_looks: dict[str, float | None] | None = None

    # The pacing of the rounds (see _pace): class defaults until the first round sets them
    #: whether rounds are at least BATCH_WAIT apart
    _batching = False
    #: when the current count of due runs began (a round's timestamp); -inf: no count yet
    _pace_started = float("-inf")
    #: the due runs counted since _pace_started
    _pace_due = 0

    def _now(self) -> datetime:
        """The current time in the scheduler's zone, read from the injected clock."""
        return self._clock.now().astimezone(self.timezone)

    if TYPE_CHECKING:

        def _dispatch_event(self, event: SchedulerEvent) -> None: ...

    def _process_jobs(self) -> float | None:
        """Iterate through jobs in every job store, start jobs that are due and figure out how
        long to wait for the next round.

        For each store: take its due jobs (:meth:`~BaseJobStore.acquire_due_jobs`), work out
        their run times and next run times, store those results in one call
        (:meth:`~BaseJobStore.release_due_jobs`), and only then submit the runs, so that a
        store shared by several processes records a run before it starts. If a job store
        raises, it is retried at the latest in ``jobstore_retry_interval`` seconds.

        Events are made only for the codes some listener asked for.

        In a round that only the loop's timer woke (:attr:`_timer_round`), a store is asked only
        once its next run time, poll or retry has come: a store's jobs become due earlier only
        through the scheduler's job API, which wakes the loop, or through another process, which
        the store's notifications or its ``poll_interval`` cover. A store beside a busy one is
        not asked at each of the busy one's run times.

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
        now = self._clock.now().astimezone(self.timezone)  # self._now(), one call less
        # Wake-up times as timestamps: two datetimes of one zone subtract as wall times, which
        # is wrong across a DST change, and floats are cheaper
        now_timestamp = now.timestamp()
        wakeup: float | None
        next_wakeup: float | None = None
        due = 0
        looks = self._next_looks
        if looks is None:
            looks = self._next_looks = {}
        timer_round = self._timer_round

        # acquire/release rather than "with": a call less (the lock's __exit__)
        lock = self._jobstores_lock
        lock.acquire()
        try:
            for jobstore_alias, jobstore in tuple(self._jobstores.items()):
                if timer_round:
                    wakeup = looks.get(jobstore_alias, _ASK_NOW)
                    if wakeup is None or wakeup > now_timestamp:
                        if wakeup is not None and (next_wakeup is None or wakeup < next_wakeup):
                            next_wakeup = wakeup
                        continue
                store_due = self._process_jobstore(jobstore_alias, jobstore, now)
                if store_due is None:
                    wakeup = now_timestamp + self.jobstore_retry_interval
                else:
                    due += store_due
                    limit = jobstore.acquire_limit
                    if limit is not None and store_due >= limit:
                        wakeup = now_timestamp  # a full batch: more are due, ask again at once
                    else:
                        wakeup = self._next_look(jobstore_alias, jobstore, now_timestamp)
                    poll_interval = jobstore.poll_interval
                    if poll_interval is not None:
                        polled = now_timestamp + poll_interval
                        if wakeup is None or polled < wakeup:
                            wakeup = polled
                looks[jobstore_alias] = wakeup
                if wakeup is not None and (next_wakeup is None or wakeup < next_wakeup):
                    next_wakeup = wakeup
        finally:
            lock.release()

        batching = self._pace(due, now_timestamp)
        if self.state == STATE_PAUSED:
            logger.debug("Scheduler is paused; waiting until resume() is called")
            return None
        if next_wakeup is None:
            logger.debug("No jobs; waiting until a job is added")
            return None
        wait_seconds = next_wakeup - now_timestamp
        if wait_seconds <= 0.0:
            wait_seconds = 0.0
        elif batching and wait_seconds < BATCH_WAIT:
            wait_seconds = BATCH_WAIT
        elif wait_seconds > TIMEOUT_MAX:
            wait_seconds = TIMEOUT_MAX
        if debug:
            logger.debug(
                "Next wakeup is due at %s (in %f seconds)",
                datetime.fromtimestamp(next_wakeup, self.timezone),
                wait_seconds,
            )
        return wait_seconds

    def _next_look(self, jobstore_alias: str, jobstore: BaseJobStore, now: float) -> float | None:
        """The store's next run time as a timestamp (``None``: none); if the store fails, the
        time to try it again."""
        try:
            next_run_time = jobstore.get_next_run_time()
        except Exception as exc:  # noqa: BLE001 (any store failure: retry later)
            what = f"Error getting the next run time from job store {jobstore_alias!r}"
            self._store_failed(jobstore_alias, what, exc)
            return now + self.jobstore_retry_interval
        return None if next_run_time is None else next_run_time.timestamp()

    def _pace(self, due: int, now: float) -> bool:
        """Count a round's ``due`` runs; return whether the loop batches: whether its rounds
        are at least :data:`BATCH_WAIT` apart.

        A round costs as much as several due runs (the process sleeps and wakes, on caches
        that others have used meanwhile; the loop takes the scheduler's lock and asks each
        store). At low rates the loop wakes at each run time, so that a job starts as soon as
        the hub can wake (within about a millisecond: its epoll backend sleeps no less). From
        :data:`BATCH_RATE` due runs a second on, counted over the last :data:`PACE_PERIOD`
        seconds, it wakes at most every :data:`BATCH_WAIT` seconds and each round takes the
        runs that came due meanwhile: fewer wake-ups for the same runs, each starting up to
        :data:`BATCH_WAIT` late. The count goes on however the rounds are paced (batching
        changes how many rounds there are, not how many runs are due), so the loop stops
        batching once the rate has fallen for a period.

        :param due: how many jobs the round found due
        :param now: the round's time, as a timestamp (a clock set back starts a new count)
        """
        self._pace_due += due
        elapsed = now - self._pace_started
        if elapsed >= PACE_PERIOD:
            self._batching = self._pace_due >= BATCH_RATE * elapsed
            self._pace_started = now
            self._pace_due = 0
        elif elapsed < 0.0:  # the clock was set back: count again, from now
            self._pace_started = now
            self._pace_due = 0
        return self._batching

    def _process_jobstore(
        self,
        jobstore_alias: str,
        jobstore: BaseJobStore,
        now: datetime,
    ) -> int | None:
        """Run one store's due jobs; return how many were due, ``None`` if the store failed
        (retry it later).

        Each event is dispatched where it happens, before anything can yield to the hub (the
        next store's I/O does): a run reports its end only after its ``EVENT_JOB_SUBMITTED``.
        A round of :data:`SHARE_BATCH` due jobs or more lets the hub run before working out
        their runs and before storing them (no run of the round is submitted yet).
        """
        if self.state == STATE_STOPPED:
            return 0  # shut down while this round waited for the lock
        try:
            due_jobs = jobstore.acquire_due_jobs(now)
        except Exception as exc:  # noqa: BLE001 (any store failure: retry later)
            self._store_failed(
                jobstore_alias, f"Error getting due jobs from job store {jobstore_alias!r}", exc
            )
            return None
        if self._store_outages:
            self._store_answered(jobstore_alias)
        if not due_jobs:
            return 0
        share = len(due_jobs) >= SHARE_BATCH
        if share:
            gevent.sleep(0)

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
        if share:
            gevent.sleep(0)

        try:
            lost = jobstore.release_due_jobs(updated, removed)
        except Exception as exc:  # noqa: BLE001 (nothing was stored: nothing runs)
            what = f"Error storing the next run times of {count(len(due_jobs), 'due job')} in "
            self._store_failed(jobstore_alias, f"{what}job store {jobstore_alias!r}", exc)
            return None

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
                if self.run_history is not None:
                    self.run_history.skipped(job, jobstore_alias, run_times, OUTCOME_CLAIM_LOST)
                continue
            if executor is not None and run_times:
                submit_due_job(executor, job, run_times, jobstore_alias)
            if finished:
                if self._logger.isEnabledFor(logging.INFO):  # a label for each job of a burst
                    self._logger.info("Removed job %s", job_label(job.id, job.name))
                if self._listener_mask & EVENT_JOB_REMOVED:
                    self._dispatch_event(JobEvent(EVENT_JOB_REMOVED, job.id, jobstore_alias))
        return len(due_jobs)

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
            if self._listener_mask & EVENT_JOB_SUBMITTED:
                executor._submit_announced(
                    job,
                    run_times,
                    partial(self._announce_submission, job.id, jobstore_alias, run_times),
                )
            else:  # nothing to announce (one call fewer for each due job)
                executor.submit_job(job, run_times)
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
            if self.run_history is not None:
                self.run_history.skipped(job, jobstore_alias, run_times, OUTCOME_MAX_INSTANCES)
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
