"""An executor that runs each job inline, in the greenlet that submits it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from greensched._logging import job_label
from greensched.executors.base import BaseExecutor

if TYPE_CHECKING:
    from greensched.job import Job

__all__ = ("DebugExecutor",)


class DebugExecutor(BaseExecutor):
    """A special executor that runs the job directly, in the calling greenlet, instead of
    deferring it to a greenlet, thread or process. :meth:`submit_job` returns once the run is over
    and its events have been dispatched.

    Exceptions raised by the job are reported as ``EVENT_JOB_ERROR`` events; an error in the run
    machinery itself (outside the job) is logged through :meth:`_run_job_error`.

    Plugin alias: ``debug``

    .. note:: A :exc:`~greenlet.GreenletExit`, :exc:`KeyboardInterrupt` or :exc:`SystemExit`
       raised while the job runs is not swallowed: the run's instance is released and the
       exception propagates to the caller of :meth:`submit_job`, because it is aimed at the
       calling greenlet (the scheduler's). APScheduler 3.x's ``run_job`` turns it into an
       ``EVENT_JOB_ERROR`` event and carries on, so a killed scheduler greenlet kept running.

    A job's ``timeout`` is enforced as in :class:`~greensched.executors.gevent.GeventExecutor`,
    with a :class:`gevent.Timeout` in the calling greenlet: a run that overruns is interrupted
    where it yields to the hub and gives an ``EVENT_JOB_ERROR`` event with a
    :exc:`TimeoutError`. A job that never yields cannot be interrupted (and holds up the
    scheduler meanwhile, as everything run by this executor does).

    Run by the scheduler, a run's ``EVENT_JOB_SUBMITTED`` comes before its end
    (``EVENT_JOB_EXECUTED``, ``EVENT_JOB_ERROR``, ``EVENT_JOB_MISSED``), as with the other
    executors.

    .. versionadded:: greensched 0.1 job timeouts (APScheduler 3.x has none)

    .. note:: APScheduler 3.x dispatches a debug run's end before its submission.
    """

    #: the scheduler's announcement of the submission being run, until it is made
    _announce: Callable[[], None] | None = None

    def _submit_announced(
        self, job: Job, run_times: Sequence[datetime], announce: Callable[[], None]
    ) -> None:
        self._announce = announce
        try:
            self.submit_job(job, run_times)
            self._announce_submission()  # if the run did not (a subclass's own _do_submit_job)
        finally:
            self._announce = None

    def _announce_submission(self) -> None:
        """Have the scheduler announce the submission being run, if it has not yet."""
        announce = self._announce
        if announce is not None:
            self._announce = None
            announce()

    def _do_submit_job(self, job: Job, run_times: Sequence[datetime]) -> None:
        try:
            try:
                events = self._new_run(job, run_times).run_here(getattr(job, "timeout", None))
            except Exception as exc:  # noqa: BLE001 (reported through _run_job_error)
                # The run catches the job's own exceptions: this one came from around the job
                self._announce_submission()
                self._run_job_error(job.id, exc, exc.__traceback__)
            else:
                self._announce_submission()
                self._run_job_success(job.id, events)
        except Exception:
            # The report released the run's instance first thing: letting this reach submit_job
            # would release it a second time
            self._logger.exception(
                "Error reporting the run of job %s", job_label(job.id, job.name)
            )
