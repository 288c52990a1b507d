"""A scheduler's run history: its options, its recorder while it runs, and reading it back.

:class:`History` is a base class of :class:`~greensched.schedulers.base.BaseScheduler`; the
records themselves are made by :class:`~greensched.history._recorder.RunRecorder` and kept by
each job store's run log (``jobstore.runs``, see :mod:`greensched.history`).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime
from heapq import merge
from itertools import islice
from typing import TYPE_CHECKING, Any

from greensched import _validators as validate
from greensched.history._log import DEFAULT_LIMIT
from greensched.history._recorder import RunRecorder
from greensched.history._records import OUTCOMES, ProcessInfo, RunRecord

if TYPE_CHECKING:
    from greensched._clock import Clock
    from greensched.jobstores.base import BaseJobStore

__all__ = ("History", "check_outcomes")


def check_outcomes(outcome: str | Collection[str] | None) -> frozenset[str] | None:
    """``outcome`` as a set of outcome names (``None``: every outcome).

    :raises ValueError: naming the bad name and the valid ones
    :raises TypeError: if ``outcome`` is neither a string nor a collection of them
    """
    if outcome is None:
        return None
    names = (outcome,) if isinstance(outcome, str) else outcome
    if not isinstance(names, Collection) or not all(isinstance(name, str) for name in names):
        raise TypeError(f"outcome must be an outcome name or several, got: {outcome!r}")
    bad = [name for name in names if name not in OUTCOMES]
    if bad:
        raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, got: {bad[0]!r}")
    return frozenset(names)


def _newest_first(record: RunRecord) -> tuple[datetime, str]:
    return record.sort_time, record.run_id


class History:
    """The run history's part of a scheduler (the attributes below are the scheduler's)."""

    _clock: Clock
    _logger: logging.Logger | logging.LoggerAdapter[Any]
    _jobstores: dict[str, BaseJobStore]
    _jobstores_lock: Any
    #: the ``history``, ``history_limit`` and ``history_max_age`` options
    _history_options: tuple[bool, int, float | None] = (True, DEFAULT_LIMIT, None)
    #: where the runs are recorded while the scheduler runs with its history on (what its
    #: executors and processing loop read: ``None`` costs them one check)
    run_history: RunRecorder | None = None

    if TYPE_CHECKING:

        def _lookup_jobstore(self, alias: str) -> BaseJobStore: ...

    @property
    def history_enabled(self) -> bool:
        """Whether this scheduler records its runs (the ``history`` option).

        .. versionadded:: greensched 0.1
        """
        return self._history_options[0]

    def get_runs(
        self,
        job_id: str | None = None,
        jobstore: str | None = None,
        *,
        outcome: str | Collection[str] | None = None,
        limit: int = DEFAULT_LIMIT,
        before: datetime | None = None,
    ) -> list[RunRecord]:
        """Return the recorded runs, newest first (by start, else by scheduled time): every
        job's, or ``job_id``'s, from every job store or from ``jobstore``. The records still
        waiting to be written are written first, so the caller sees its own runs. The history
        of a removed job is kept (until it ages out) and found by its id.

        :param job_id: only this job's runs
        :param jobstore: only this job store's
        :param outcome: only runs with this outcome (or these outcomes): ``running``,
            ``executed``, ``error``, ``timeout``, ``missed``, ``max_instances``,
            ``claim_lost``
        :param limit: the most records returned
        :param before: only runs that started (or were due, if they never started) before
            this aware datetime: pass the last record's ``sort_time`` for the next page
        :raises ValueError: if an outcome or the limit is bad, naming it
        :raises UnknownAliasError: if ``jobstore`` is not a job store's alias
        :rtype: list[~greensched.history.RunRecord]

        .. versionadded:: greensched 0.1
        """
        outcomes = check_outcomes(outcome)
        validate.positive_int("limit", limit)
        if before is not None and (not isinstance(before, datetime) or before.tzinfo is None):
            raise TypeError(f"before must be an aware datetime or None, got: {before!r}")
        stores = self._history_stores(jobstore)
        recorder = self.run_history
        if recorder is not None:
            recorder.flush(jobstore)
            recorder.prune_local()
        found = [
            store.runs.read(job_id, outcome=outcomes, limit=limit, before=before)
            for store in stores
        ]
        if len(found) == 1:
            return found[0]
        return list(islice(merge(*found, key=_newest_first, reverse=True), limit))

    def get_runs_by_job(
        self, job_ids: Collection[str], jobstore: str | None = None, *, limit: int = DEFAULT_LIMIT
    ) -> dict[str, list[RunRecord]]:
        """Return the newest ``limit`` recorded runs of each of these jobs, newest first, by job
        id (a job without runs: an empty list), from every job store or from ``jobstore``: what
        :meth:`get_runs` gives for each id, read in one query per store where the store can
        (a page of the dashboard's jobs).

        :raises ValueError: if the limit is not a positive integer
        :raises UnknownAliasError: if ``jobstore`` is not a job store's alias

        .. versionadded:: greensched 0.1
        """
        validate.positive_int("limit", limit)
        ids = list(dict.fromkeys(job_ids))
        stores = self._history_stores(jobstore)
        recorder = self.run_history
        if recorder is not None:
            recorder.flush(jobstore)
            recorder.prune_local()
        found = [store.runs.read_jobs(ids, limit=limit) for store in stores]
        if len(found) == 1:
            return found[0]
        return {
            job_id: list(
                islice(
                    merge(*(by_job[job_id] for by_job in found), key=_newest_first, reverse=True),
                    limit,
                )
            )
            for job_id in ids
        }

    def get_processes(self, jobstore: str | None = None) -> list[ProcessInfo]:
        """Return the processes that record runs in the job stores (or in ``jobstore``), as
        their latest heartbeats describe them, latest first: this process and, for stores
        that several processes share, the others (dead ones too, until their heartbeats are
        pruned with the history).

        :param jobstore: only this job store's
        :raises UnknownAliasError: if ``jobstore`` is not a job store's alias
        :rtype: list[~greensched.history.ProcessInfo]

        .. versionadded:: greensched 0.1
        """
        stores = self._history_stores(jobstore)
        recorder = self.run_history
        if recorder is not None:
            # this process's heartbeat, up to date (and the dead processes' records closed)
            recorder.beat(jobstore)
        latest: dict[str, ProcessInfo] = {}
        for store in stores:
            for process in store.runs.processes():
                known = latest.get(process.owner)
                if known is None or known.heartbeat < process.heartbeat:
                    latest[process.owner] = process
        return sorted(latest.values(), key=lambda process: process.heartbeat, reverse=True)

    def _history_stores(self, jobstore: str | None) -> list[BaseJobStore]:
        with self._jobstores_lock:
            if jobstore is not None:
                return [self._lookup_jobstore(jobstore)]
            return list(self._jobstores.values())

    def _start_history(self) -> None:
        """Make the recorder of a starting scheduler (if its history is on) and start it."""
        enabled, limit, max_age = self._history_options
        if not enabled:
            self.run_history = None
            return
        recorder = RunRecorder(
            self._clock, self._jobstores, self._logger, limit=limit, max_age=max_age
        )
        recorder.start()
        self.run_history = recorder

    def _stop_history(self) -> None:
        """Stop the recorder: the records still waiting are written."""
        recorder, self.run_history = self.run_history, None
        if recorder is not None:
            recorder.stop()
