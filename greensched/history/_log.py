"""The interface of a job store's run history: :class:`RunLog`."""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from greensched import _validators as validate
from greensched.history._records import RunRecord

if TYPE_CHECKING:
    from greensched.history._records import ProcessInfo

__all__ = ("DEFAULT_LIMIT", "RunLog")

#: The runs kept per job, by default
DEFAULT_LIMIT = 100


class RunLog(metaclass=ABCMeta):
    """A job store's run history (``jobstore.runs``): the records of its jobs' runs, and, for a
    store several processes share, the heartbeats of those processes.

    Retention is per job: the newest ``limit`` records of each job are kept and, with
    ``max_age``, none older than that many seconds (by :attr:`RunRecord.sort_time`). The
    records of a removed job stay, under the same rules, until they age out or, without a
    ``max_age``, until the store's history is pruned of them (:meth:`prune`).

    Every method may be called from the scheduler's hub only, except where it says otherwise.
    A store that several processes share implements every method atomically on its server.

    :ivar limit: the most records kept per job
    :ivar max_age: the most seconds a record is kept (``None``: no age limit)
    """

    #: ``True``: writes are cheap and in this process (the memory store): the scheduler writes
    #: each record at once instead of batching
    local = False

    def __init__(self, *, limit: int = DEFAULT_LIMIT, max_age: float | None = None) -> None:
        self.limit = limit
        self.max_age = max_age
        self.configure(limit=limit, max_age=max_age)

    def configure(self, *, limit: int, max_age: float | None) -> None:
        """Set the retention (the scheduler passes its ``history_limit`` and
        ``history_max_age``).

        :raises ValueError: or :exc:`TypeError` on a bad value, naming it
        """
        self.limit = validate.positive_int("history_limit", limit)
        self.max_age = (
            None if max_age is None else validate.positive_seconds("history_max_age", max_age)
        )

    def open(self) -> None:  # noqa: B027 (optional for subclasses)
        """Make what the history needs on its server (tables, ...), if missing. Called when the
        store starts; idempotent."""

    @abstractmethod
    def write(self, records: Sequence[RunRecord]) -> None:
        """Store ``records``: each replaces any stored record with its ``run_id`` (a running
        record is written again when it ends). Applies the retention to their jobs."""

    def append(self, record: RunRecord) -> None:
        """Store ``record``, whose ``run_id`` was never written before, or a running record
        appended before that has ended since. The default writes it."""
        self.write((record,))

    def begin(
        self,
        run_id: str,
        job_id: str,
        job_name: str | None,
        scheduled: datetime,
        started: datetime,
        host: str,
        pid: int,
        owner: str,
    ) -> Any:
        """Store the ``running`` record of a run that started (the scheduler's path for a
        ``local`` history, once for every run) and return what :meth:`finish` takes to close
        it. The default appends a :meth:`RunRecord.running` record and returns it."""
        record = RunRecord.running(run_id, job_id, job_name, scheduled, started, host, pid, owner)
        self.append(record)
        return record

    def finish(
        self,
        token: Any,
        outcome: str,
        duration: float,
        retval: str | None = None,
        exc_type: str | None = None,
        exc_message: str | None = None,
        traceback: str | None = None,
    ) -> None:
        """Close the record :meth:`begin` returned ``token`` for, with the run's outcome. The
        default sets the record's fields and appends it again."""
        record: RunRecord = token
        record.close(outcome, duration, retval, exc_type, exc_message, traceback)
        self.append(record)

    def _journal(
        self, host: str, pid: int, owner: str, prefix: str
    ) -> tuple[dict[Any, tuple[Any, ...]], Any] | None:
        """The scheduler's fast way to begin runs in a ``local`` history, if it has one
        (private to greensched; the default: none, :meth:`begin` is called).

        Return ``(begun, writer)``: the recorder then begins each run of the process
        ``host``, ``pid``, ``owner`` with ``begun[number] = (job_id, job_name, scheduled,
        started, writer)`` (``number`` an int, unless ``begun`` has it already: the run's id
        is ``prefix`` followed by its digits) instead of :meth:`begin`, and closes it with
        :meth:`finish` (``token``: ``number``)."""
        return None

    @abstractmethod
    def read(
        self,
        job_id: str | None = None,
        *,
        outcome: str | Collection[str] | None = None,
        limit: int = DEFAULT_LIMIT,
        before: datetime | None = None,
    ) -> list[RunRecord]:
        """Return stored records, newest first (by :attr:`RunRecord.sort_time`, then
        ``run_id``), at most ``limit``.

        :param job_id: only this job's (``None``: every job's)
        :param outcome: only these outcomes
        :param before: only records whose sort time is earlier (for paging)
        """

    def read_jobs(
        self, job_ids: Collection[str], *, limit: int = DEFAULT_LIMIT
    ) -> dict[str, list[RunRecord]]:
        """Return the newest ``limit`` records of each of these jobs (newest first), by job id
        (a job without records: an empty list). A store on a server answers in one query where
        it can; this default reads each job's."""
        return {job_id: self.read(job_id, limit=limit) for job_id in job_ids}

    @abstractmethod
    def close_running(
        self, owners: Collection[str], ended: datetime, exc_type: str, message: str
    ) -> int:
        """Close the records still ``running`` that ``owners`` wrote (processes found dead):
        outcome ``error`` with ``exc_type`` and ``message``, ended at ``ended``. Returns how
        many were closed."""

    @abstractmethod
    def prune(self, now: datetime) -> int:
        """Drop the records past ``max_age`` at ``now`` (nothing without a ``max_age``), and
        the heartbeats of processes silent for as long. Returns how many records went."""

    @abstractmethod
    def heartbeat(self, process: ProcessInfo) -> None:
        """Store ``process``'s heartbeat (replacing its last one)."""

    @abstractmethod
    def processes(self) -> list[ProcessInfo]:
        """The processes that have sent heartbeats, latest heartbeat first."""

    def clear(self) -> None:  # noqa: B027 (optional for subclasses)
        """Drop every record and heartbeat (for tests and ``remove_all_jobs``-like resets)."""
