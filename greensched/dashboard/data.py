"""What the dashboard shows, read from the scheduler and its stores' run history: the jobs (with
their last runs), one job, the runs, the processes and what needs attention. The pages
(:mod:`~greensched.dashboard.pages`) and the JSON endpoints (:mod:`~greensched.dashboard.api`)
both render these."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from greensched.cli.check import fire_times
from greensched.history import (
    OUTCOME_ERROR,
    OUTCOME_RUNNING,
    OUTCOME_TIMEOUT,
    ProcessInfo,
    RunRecord,
)
from greensched.history._recorder import dead_after
from greensched.history._records import PROCESS_DIED

if TYPE_CHECKING:
    from greensched.job import Job
    from greensched.jobstores.base import BaseJobStore
    from greensched.schedulers.base import BaseScheduler

__all__ = (
    "ATTENTION_RUNS",
    "CHART_RUNS",
    "FIRE_TIMES",
    "OVERDUE_WITHOUT_GRACE",
    "PAGE_SIZE",
    "Attention",
    "JobRow",
    "Page",
    "ProcessRow",
    "View",
    "upcoming",
)

#: The next run times a job's page shows
FIRE_TIMES = 10
#: Jobs (or runs) per page
PAGE_SIZE = 50
#: The runs of a job the jobs page charts (and reads for its last outcome)
CHART_RUNS = 20
#: How late (seconds) a job without a ``misfire_grace_time`` must be to be shown overdue
OVERDUE_WITHOUT_GRACE = 60.0
#: The newest runs of each store the attention page reads for the jobs' last outcomes
ATTENTION_RUNS = 1000
#: The outcomes of a failed run
FAILED = frozenset({OUTCOME_ERROR, OUTCOME_TIMEOUT})


def upcoming(job: Job, count: int = FIRE_TIMES) -> list[tuple[datetime, bool]]:
    """The job's next ``count`` run times (none if paused), each with whether its UTC offset
    differs from the previous one's (a DST change in between)."""
    times = fire_times(job, count)
    return [
        (when, index > 0 and when.utcoffset() != times[index - 1].utcoffset())
        for index, when in enumerate(times)
    ]


@dataclass
class JobRow:
    """A job, the alias of its store and its newest runs (newest first)."""

    job: Job
    store: str
    runs: list[RunRecord] = field(default_factory=list)

    @property
    def last(self) -> RunRecord | None:
        """Its newest run that has ended (or was not run: missed, skipped)."""
        return next((run for run in self.runs if run.outcome != OUTCOME_RUNNING), None)

    @property
    def running(self) -> list[RunRecord]:
        """Its runs recorded as running."""
        return [run for run in self.runs if run.outcome == OUTCOME_RUNNING]


@dataclass
class Page:
    """One page of a listing: its items, its number (from 1) and the number of pages."""

    items: list[JobRow]
    number: int
    pages: int
    total: int


@dataclass
class ProcessRow:
    """A process sharing a store, and whether it is alive."""

    store: str
    process: ProcessInfo
    alive: bool


@dataclass
class Attention:
    """What needs attention: jobs whose last run failed, jobs overdue past their grace time,
    and runs left ``running`` by processes that died (still running, or closed since)."""

    failed: list[JobRow]
    overdue: list[JobRow]
    abandoned: list[RunRecord]


class View:
    """Reads what the dashboard shows from ``scheduler`` (only the store ``jobstore``, if
    given). Time is the scheduler's clock's."""

    def __init__(self, scheduler: BaseScheduler, jobstore: str | None = None) -> None:
        self.scheduler = scheduler
        self.jobstore = jobstore

    def now(self) -> datetime:
        """Now, by the scheduler's clock."""
        return self.scheduler.clock.now()

    def stores(self) -> list[tuple[str, BaseJobStore]]:
        """The stores shown, by alias."""
        stores = self.scheduler.jobstores
        if self.jobstore is not None:
            return [(self.jobstore, stores[self.jobstore])]
        return list(stores.items())

    def _store_of(self, job: Job) -> str:
        return str(getattr(job, "_jobstore_alias", None) or self.jobstore or "default")

    def jobs(self, query: str = "", page: int = 1) -> Page:
        """A page of the jobs (soonest first, paused last) whose id or name contains
        ``query`` (case-insensitively), with their newest runs.

        :raises ValueError: if ``page`` is below 1
        """
        if page < 1:
            raise ValueError(f"page must be 1 or more, got: {page}")
        needle = query.casefold()
        jobs = [
            job
            for job in self.scheduler.get_jobs(self.jobstore)
            if needle in job.id.casefold() or needle in str(job.name).casefold()
        ]
        pages = max(1, -(-len(jobs) // PAGE_SIZE))
        shown = jobs[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        rows = [JobRow(job, self._store_of(job)) for job in shown]
        by_store: dict[str, list[str]] = {}
        for row in rows:
            by_store.setdefault(row.store, []).append(row.job.id)
        for alias, ids in by_store.items():
            runs = self.scheduler.get_runs_by_job(ids, alias, limit=CHART_RUNS)
            for row in rows:
                if row.store == alias:
                    row.runs = runs[row.job.id]
        return Page(rows, page, pages, len(jobs))

    def job(self, job_id: str, runs: int = PAGE_SIZE, before: datetime | None = None) -> JobRow:
        """The job ``job_id`` and its newest ``runs`` runs (earlier than ``before``).

        :raises LookupError: if there is no such job
        """
        job = self.scheduler.get_job(job_id, self.jobstore)
        if job is None:
            raise LookupError(f"no job with id {job_id!r}")
        alias = self._store_of(job)
        records = self.scheduler.get_runs(job.id, alias, limit=runs, before=before)
        return JobRow(job, alias, records)

    def runs(
        self,
        job_id: str | None = None,
        *,
        outcome: str | None = None,
        limit: int = PAGE_SIZE,
        before: datetime | None = None,
    ) -> list[RunRecord]:
        """The newest runs of every store shown (of one job, of one outcome), newest first."""
        return self.scheduler.get_runs(
            job_id, self.jobstore, outcome=outcome, limit=limit, before=before
        )

    def processes(self) -> list[ProcessRow]:
        """The processes sending heartbeats to the stores shown, latest heartbeat first."""
        now = self.now()
        rows: list[ProcessRow] = []
        for alias, store in self.stores():
            timeout = dead_after(store)
            rows.extend(
                ProcessRow(alias, process, process.alive(now, timeout))
                for process in self.scheduler.get_processes(alias)
            )
        return sorted(rows, key=lambda row: row.process.heartbeat, reverse=True)

    def attention(self) -> Attention:
        """What needs attention (see :class:`Attention`)."""
        now = self.now()
        last: dict[str, RunRecord] = {}
        for alias, _ in self.stores():
            for record in self.scheduler.get_runs(None, alias, limit=ATTENTION_RUNS):
                if record.outcome != OUTCOME_RUNNING:
                    last.setdefault(record.job_id, record)
        failed, overdue = [], []
        for job in self.scheduler.get_jobs(self.jobstore):
            run = last.get(job.id)
            if run is not None and run.outcome in FAILED:
                failed.append(JobRow(job, self._store_of(job), [run]))
            if job.next_run_time is not None:
                grace = job.misfire_grace_time
                late = OVERDUE_WITHOUT_GRACE if grace is None else grace
                if job.next_run_time + timedelta(seconds=late) < now:
                    overdue.append(JobRow(job, self._store_of(job), [] if run is None else [run]))
        return Attention(failed, overdue, self._abandoned())

    def _abandoned(self) -> list[RunRecord]:
        """The runs that processes left running when they died: still ``running`` (their
        process is dead, not yet found so by a live one), or closed since by a live process
        (``exc_type`` :data:`~greensched.history._records.PROCESS_DIED`); newest first."""
        dead: dict[str, set[str]] = {}
        for row in self.processes():
            if not row.alive:
                dead.setdefault(row.store, set()).add(row.process.owner)
        found: list[RunRecord] = []
        for alias, _ in self.stores():
            owners = dead.get(alias, set())
            outcomes = (OUTCOME_RUNNING, OUTCOME_ERROR) if owners else (OUTCOME_ERROR,)
            found.extend(
                run
                for run in self.scheduler.get_runs(
                    None, alias, outcome=outcomes, limit=ATTENTION_RUNS
                )
                if run.exc_type == PROCESS_DIED
                or (run.outcome == OUTCOME_RUNNING and run.owner in owners)
            )
        return found
