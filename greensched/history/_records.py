"""What the run history holds: :class:`RunRecord` (one run of a job) and :class:`ProcessInfo`
(one process writing to a store), and the limits on the text a record keeps."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

__all__ = (
    "OUTCOMES",
    "OUTCOME_CLAIM_LOST",
    "OUTCOME_ERROR",
    "OUTCOME_EXECUTED",
    "OUTCOME_MAX_INSTANCES",
    "OUTCOME_MISSED",
    "OUTCOME_RUNNING",
    "OUTCOME_TIMEOUT",
    "REPR_LIMIT",
    "TRACEBACK_LIMIT",
    "ProcessInfo",
    "RunRecord",
    "truncate",
)

#: The run has started and not ended (or its process died: see :attr:`RunRecord.outcome`)
OUTCOME_RUNNING = "running"
#: The job returned
OUTCOME_EXECUTED = "executed"
#: The job raised an exception (or its process died while it ran: ``exc_type`` says so)
OUTCOME_ERROR = "error"
#: The job overran its ``timeout`` and was interrupted
OUTCOME_TIMEOUT = "timeout"
#: The run started later than the job's ``misfire_grace_time`` allows: not run
OUTCOME_MISSED = "missed"
#: The job already ran ``max_instances`` times: this run was skipped
OUTCOME_MAX_INSTANCES = "max_instances"
#: A shared store's claim on the due run was lost (another process took it over, or the job
#: was changed or removed meanwhile): not run here
OUTCOME_CLAIM_LOST = "claim_lost"
#: Every outcome, in the order above
OUTCOMES = (
    OUTCOME_RUNNING,
    OUTCOME_EXECUTED,
    OUTCOME_ERROR,
    OUTCOME_TIMEOUT,
    OUTCOME_MISSED,
    OUTCOME_MAX_INSTANCES,
    OUTCOME_CLAIM_LOST,
)

#: The most characters of a traceback a record keeps (its last ones: where it was raised)
TRACEBACK_LIMIT = 8192
#: The most characters of an exception's message, or of a return value's ``repr``, kept
REPR_LIMIT = 500

#: ``exc_type`` of a record closed because the process running it died (its lease was taken
#: over, or its heartbeat stopped)
PROCESS_DIED = "greensched.ProcessDied"


def truncate(text: str, limit: int, *, keep_end: bool = False) -> str:
    """Return ``text`` cut to at most ``limit`` characters, marked with ``…`` where it was cut
    (at the start with ``keep_end``, else at the end)."""
    if len(text) <= limit:
        return text
    if keep_end:
        return "…" + text[len(text) - limit + 1 :]
    return text[: limit - 1] + "…"


_new_record = object.__new__


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat()


def _from_iso(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


class RunRecord:
    """One run of a job (or one due run that was not run: missed, skipped, lost), as its store's
    history keeps it. Times are timezone-aware (UTC as read back from a store).

    :ivar run_id: unique among all runs of all processes (the process's token and a counter)
    :ivar job_id: the job's id
    :ivar job_name: the job's name when it ran
    :ivar scheduled: the run time it was due at
    :ivar started: when the call started (``None``: never started)
    :ivar ended: when it ended (``None``: running, or never started); unless set, ``started``
        plus ``duration``
    :ivar outcome: one of :data:`OUTCOMES`
    :ivar lateness: seconds between ``scheduled`` and the start (for a missed run: and when it
        was found missed); unless set, worked out from ``started`` and ``scheduled`` when read
    :ivar duration: seconds the call took (``None`` while running, or never started)
    :ivar exc_type: the exception's class as ``module.QualName`` (error, timeout)
    :ivar exc_message: ``str()`` of the exception, truncated to :data:`REPR_LIMIT`
    :ivar traceback: the formatted traceback, its last :data:`TRACEBACK_LIMIT` characters
    :ivar retval: ``repr()`` of the return value, truncated to :data:`REPR_LIMIT`
    :ivar host: the host name of the process that wrote it
    :ivar pid: that process's id
    :ivar owner: that process's token (a shared store's owner token: see
        :class:`ProcessInfo`)
    """

    # ended and lateness are read through properties: a recorder leaves them to be worked out
    # when read (most records are never read, and both cost a datetime operation)
    __slots__ = (
        "_ended",
        "_lateness",
        "duration",
        "exc_message",
        "exc_type",
        "host",
        "job_id",
        "job_name",
        "outcome",
        "owner",
        "pid",
        "retval",
        "run_id",
        "scheduled",
        "started",
        "traceback",
    )

    #: the field names, in the order of :meth:`to_dict`
    FIELDS = (
        "run_id",
        "job_id",
        "job_name",
        "scheduled",
        "started",
        "ended",
        "outcome",
        "lateness",
        "duration",
        "exc_type",
        "exc_message",
        "traceback",
        "retval",
        "host",
        "pid",
        "owner",
    )
    _TIMES = frozenset({"scheduled", "started", "ended"})

    def __init__(
        self,
        run_id: str,
        job_id: str,
        job_name: str | None,
        scheduled: datetime | None,
        outcome: str,
        *,
        started: datetime | None = None,
        ended: datetime | None = None,
        lateness: float | None = None,
        duration: float | None = None,
        exc_type: str | None = None,
        exc_message: str | None = None,
        traceback: str | None = None,
        retval: str | None = None,
        host: str = "",
        pid: int = 0,
        owner: str = "",
    ) -> None:
        self.run_id = run_id
        self.job_id = job_id
        self.job_name = job_name
        self.scheduled = scheduled
        self.outcome = outcome
        self.started = started
        self._ended = ended
        self._lateness = lateness
        self.duration = duration
        self.exc_type = exc_type
        self.exc_message = exc_message
        self.traceback = traceback
        self.retval = retval
        self.host = host
        self.pid = pid
        self.owner = owner

    @classmethod
    def running(
        cls,
        run_id: str,
        job_id: str,
        job_name: str | None,
        scheduled: datetime,
        started: datetime,
        host: str,
        pid: int,
        owner: str,
    ) -> RunRecord:
        """A record of a run that started at ``started`` and has not ended (outcome
        ``running``), made without the keyword arguments of the constructor (a record is made
        for every run)."""
        record = _new_record(cls)
        record.run_id = run_id
        record.job_id = job_id
        record.job_name = job_name
        record.scheduled = scheduled
        record.outcome = OUTCOME_RUNNING
        record.started = started
        record._ended = record._lateness = record.duration = None
        record.exc_type = record.exc_message = record.traceback = record.retval = None
        record.host = host
        record.pid = pid
        record.owner = owner
        return record

    def close(
        self,
        outcome: str,
        duration: float,
        retval: str | None = None,
        exc_type: str | None = None,
        exc_message: str | None = None,
        traceback: str | None = None,
    ) -> None:
        """End this running record with its run's ``outcome`` (``ended``: ``started`` plus
        ``duration``, when read)."""
        self.duration = duration
        self.retval = retval
        self.exc_type = exc_type
        self.exc_message = exc_message
        self.traceback = traceback
        self.outcome = outcome  # last: a reader in another thread sees a whole record

    @property
    def ended(self) -> datetime | None:
        ended = self._ended
        if ended is None and self.duration is not None and self.started is not None:
            return self.started + timedelta(seconds=self.duration)
        return ended

    @ended.setter
    def ended(self, value: datetime | None) -> None:
        self._ended = value

    @property
    def lateness(self) -> float | None:
        lateness = self._lateness
        if lateness is None and self.started is not None and self.scheduled is not None:
            return (self.started - self.scheduled).total_seconds()
        return lateness

    @lateness.setter
    def lateness(self, value: float | None) -> None:
        self._lateness = value

    @property
    def sort_time(self) -> datetime:
        """The time the history orders by, newest first: the start, else the scheduled time."""
        when = self.started or self.scheduled
        return when if when is not None else datetime.min.replace(tzinfo=timezone.utc)

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON values (times as ISO 8601 text), keyed by :attr:`FIELDS`."""
        times = self._TIMES
        return {
            name: _iso(getattr(self, name)) if name in times else getattr(self, name)
            for name in self.FIELDS
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        """The record :meth:`to_dict` gave (unknown keys are ignored)."""
        values: dict[str, Any] = {name: data.get(name) for name in cls.FIELDS}
        for name in cls._TIMES:
            values[name] = _from_iso(values[name])
        return cls(
            values.pop("run_id"),
            values.pop("job_id"),
            values.pop("job_name"),
            values.pop("scheduled"),
            values.pop("outcome"),
            host=values.pop("host") or "",
            pid=values.pop("pid") or 0,
            owner=values.pop("owner") or "",
            **values,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RunRecord):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.FIELDS)

    # mutable (a running record is closed later): not hashable
    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"<RunRecord {self.run_id} job={self.job_id!r} outcome={self.outcome} "
            f"scheduled={_iso(self.scheduled)}>"
        )


class ProcessInfo:
    """A process that writes to a store's history (a scheduler, or a ``greensched run``), as
    its heartbeats describe it.

    :ivar owner: the process's token (host, pid, a random part)
    :ivar host: its host name
    :ivar pid: its process id
    :ivar started: when its scheduler started
    :ivar heartbeat: its last heartbeat
    :ivar runs: runs it has recorded since it started
    :ivar claims_lost: due runs whose claim it lost since it started
    """

    __slots__ = ("claims_lost", "heartbeat", "host", "owner", "pid", "runs", "started")

    FIELDS = ("owner", "host", "pid", "started", "heartbeat", "runs", "claims_lost")

    def __init__(
        self,
        owner: str,
        host: str,
        pid: int,
        started: datetime,
        heartbeat: datetime,
        runs: int = 0,
        claims_lost: int = 0,
    ) -> None:
        self.owner = owner
        self.host = host
        self.pid = pid
        self.started = started
        self.heartbeat = heartbeat
        self.runs = runs
        self.claims_lost = claims_lost

    def alive(self, now: datetime, timeout: float) -> bool:
        """Whether the process has sent a heartbeat in the last ``timeout`` seconds."""
        return (now - self.heartbeat).total_seconds() <= timeout

    def to_dict(self) -> dict[str, Any]:
        """The process as JSON values (times as ISO 8601 text)."""
        return {
            name: _iso(value) if isinstance(value, datetime) else value
            for name in self.FIELDS
            for value in (getattr(self, name),)
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProcessInfo:
        """The process :meth:`to_dict` gave (unknown keys are ignored)."""
        started = _from_iso(data["started"])
        heartbeat = _from_iso(data["heartbeat"])
        if started is None or heartbeat is None:
            raise ValueError(f"a process needs its started and heartbeat times, got: {data!r}")
        return cls(
            data["owner"],
            data["host"],
            data["pid"],
            started,
            heartbeat,
            data.get("runs", 0),
            data.get("claims_lost", 0),
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ProcessInfo):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.FIELDS)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<ProcessInfo {self.owner} heartbeat={_iso(self.heartbeat)}>"
