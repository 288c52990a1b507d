"""The one place runs become :class:`~greensched.history.RunRecord`\\ s: :class:`RunRecorder`.

A started scheduler with its history on has one recorder. The run path
(:class:`~greensched.executors._runpath.JobRun`) tells it when a run starts, ends or is missed,
and the processing loop when a due run is skipped (``max_instances``) or its claim is lost.

**Writes.** A store whose run log is ``local`` (the memory store's) gets each record written
at once, and a running record is then updated in place when it ends. The records for any other
store wait in a buffer of that store (appended from any thread), written in one call every
:data:`FLUSH_INTERVAL` seconds of the scheduler's clock by the recorder's greenlet, when the
history is read, and when the scheduler shuts down. A run never waits for its record: a
failing write is logged (a WARNING when the store starts failing, DEBUG while it goes on),
counted (:attr:`RunRecorder.failed_writes`) and tried again at the next flush; a buffer full
of unwritten records (:data:`BUFFER_LIMIT`) drops its oldest ones, counted
(:attr:`RunRecorder.dropped_records`).

**Heartbeats.** Every :data:`HEARTBEAT_INTERVAL` seconds the recorder writes this process's
:class:`~greensched.history.ProcessInfo` to each store's run log, reads the other processes'
and closes the records left ``running`` by those silent for ``max(3 * HEARTBEAT_INTERVAL,
store.lease_time)`` seconds (outcome ``error``, ``exc_type``
:data:`~greensched.history._records.PROCESS_DIED`). It prunes the records past the history's
``max_age`` at most every :data:`PRUNE_INTERVAL` seconds. With only local run logs nothing is
periodic: this process's heartbeat is written when it is read, and the records past their age
are pruned when they are read.
"""

from __future__ import annotations

import logging
import os
import socket
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from itertools import count
from typing import TYPE_CHECKING, Any

from greensched._logging import one_line
from greensched.events import EVENT_JOB_EXECUTED, JobExecutionEvent
from greensched.executors._runpath import JobTimeoutError
from greensched.history._records import (
    OUTCOME_CLAIM_LOST,
    OUTCOME_ERROR,
    OUTCOME_EXECUTED,
    OUTCOME_MISSED,
    OUTCOME_TIMEOUT,
    PROCESS_DIED,
    REPR_LIMIT,
    TRACEBACK_LIMIT,
    ProcessInfo,
    RunRecord,
    truncate,
)
from greensched.jobstores._shared import new_owner_token

if TYPE_CHECKING:
    from greensched._clock import Clock
    from greensched.history._log import RunLog
    from greensched.job import Job
    from greensched.jobstores.base import BaseJobStore

__all__ = (
    "BUFFER_LIMIT",
    "FLUSH_INTERVAL",
    "HEARTBEAT_INTERVAL",
    "PRUNE_INTERVAL",
    "WRITE_CHUNK",
    "RunRecorder",
    "dead_after",
)

#: Seconds between two writes of the records waiting for a store that is not local
FLUSH_INTERVAL = 0.5
#: Seconds between two heartbeats of this process in each store's history
HEARTBEAT_INTERVAL = 5.0
#: The fewest seconds between two prunes of a store's history
PRUNE_INTERVAL = 60.0
#: The most records waiting to be written for one store; beyond, the oldest are dropped
BUFFER_LIMIT = 10_000
#: The most records written to a store in one call (the flusher yields between two)
WRITE_CHUNK = 250


def dead_after(store: BaseJobStore) -> float:
    """Seconds without a heartbeat after which a process sharing ``store`` is taken for dead:
    three heartbeats, or the store's ``lease_time`` if longer (its claims are taken over then)."""
    lease_time = getattr(store, "lease_time", 0.0)
    return max(3 * HEARTBEAT_INTERVAL, float(lease_time or 0.0))


def _qualified_name(exc: BaseException) -> str:
    cls = type(exc)
    return f"{cls.__module__}.{cls.__qualname__}"


def _text(render: Callable[[Any], str], value: Any) -> str:
    """``render(value)`` truncated to :data:`REPR_LIMIT`; what went wrong if it raises."""
    try:
        return truncate(render(value), REPR_LIMIT)
    except Exception as exc:  # noqa: BLE001 (a broken __repr__ must not break the record)
        return f"<{render.__name__} failed: {_qualified_name(exc)}>"


class _Sink:
    """One job store, as the recorder writes to it."""

    __slots__ = (
        "alias",
        "begun",
        "closed",
        "failing",
        "finish",
        "last_prune",
        "local",
        "opened",
        "owner",
        "pending",
        "runs",
        "store",
        "unwritten",
        "writer",
    )

    def __init__(self, alias: str, store: BaseJobStore, owner: str) -> None:
        self.alias = alias
        self.store = store
        self.runs: RunLog = store.runs
        self.local = bool(self.runs.local)
        #: a shared store's owner token, else the recorder's
        self.owner = getattr(store, "owner", "") or owner
        #: a local log's finish (the run path closes its records with it), else None
        self.finish: Callable[..., None] | None = self.runs.finish if self.local else None
        #: a local log's table of running runs, if it offers it (RunLog._journal): the run
        #: path begins a run by adding an entry to it, and writer is the entry's last item
        self.begun: dict[Any, tuple[Any, ...]] | None = None
        self.writer: Any = None
        #: records to write, appended from any thread
        self.pending: deque[RunRecord] = deque()
        #: records whose write failed, written first at the next flush (the flusher's own)
        self.unwritten: list[RunRecord] = []
        self.failing = False
        self.opened = self.local
        self.last_prune: float | None = None
        #: the dead processes whose running records were closed
        self.closed: set[str] = set()


class RunRecorder:
    """Makes the records of a scheduler's runs and writes them to their stores' run logs (see
    the module's docstring).

    :param clock: the scheduler's clock
    :param jobstores: the scheduler's job stores by alias (its own dict: stores added later are
        found there)
    :param logger: the scheduler's logger
    :param limit: the most records kept per job (the ``history_limit`` option)
    :param max_age: the most seconds a record is kept (``history_max_age``)

    :ivar owner: this process's token while the scheduler runs (host, pid, a random part)
    :ivar started_at: when the scheduler started
    :ivar runs: runs recorded since the start
    :ivar claims_lost: due runs whose claim was lost since the start
    :ivar failed_writes: writes of records, heartbeats or prunes that failed
    :ivar dropped_records: records dropped unwritten from a full buffer
    """

    def __init__(
        self,
        clock: Clock,
        jobstores: Mapping[str, BaseJobStore],
        logger: logging.Logger | logging.LoggerAdapter[Any],
        *,
        limit: int,
        max_age: float | None,
    ) -> None:
        self.clock = clock
        self._jobstores = jobstores
        self._logger = logger
        self.limit = limit
        self.max_age = max_age
        self.owner = new_owner_token()
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.started_at = clock.now()
        self.runs = 0
        self.claims_lost = 0
        self.failed_writes = 0
        self.dropped_records = 0
        self._prefix = self.owner + "-"
        # 13 digits up to 9e12 runs: the ids of one process sort in the order of their runs
        self._ids = count(10**12 + 1)
        self._sinks: dict[str, _Sink] = {}
        self._greenlet: Any = None
        self._wake: Any = None
        self._stopping = False

    # -- the run path (the hub's thread, or any thread for the loop of another scheduler) ------

    def started(
        self, job: Job, jobstore_alias: str | None, run_time: datetime, started_at: datetime
    ) -> Any:
        """Record that a run of ``job`` due at ``run_time`` started at ``started_at`` (outcome
        ``running``: written, or queued); return what :meth:`ended` takes to close it."""
        sink = self._sinks.get(jobstore_alias)  # type: ignore[arg-type]
        if sink is None:
            sink = self._add_sink(jobstore_alias)
        self.runs += 1
        number = next(self._ids)
        begun = sink.begun
        # (a run of an earlier recorder of the same log, still running, may hold the number)
        if begun is not None and number not in begun:
            # The memory log's table of running runs, written here (a run id made only if
            # it is read: the number and the writer's prefix)
            begun[number] = (job.id, job.name, run_time, started_at, sink.writer)
            return number
        run_id = self._prefix + str(number)
        if sink.local:
            try:
                return sink.runs.begin(
                    run_id, job.id, job.name, run_time, started_at, self.host, self.pid, sink.owner
                )
            except Exception as exc:  # noqa: BLE001 (never fatal: logged and counted)
                self._failed(sink, "Error writing a run record to", exc)
                return None
        # (lateness: worked out from started and scheduled when read)
        record = RunRecord.running(
            run_id, job.id, job.name, run_time, started_at, self.host, self.pid, sink.owner
        )
        self._queue(sink, record)
        return record

    def returned(
        self, token: Any, retval: Any, duration: float, jobstore_alias: str | None
    ) -> None:
        """Close the record of a run (``token``: what :meth:`started` returned) whose job
        returned ``retval`` after ``duration`` seconds (outcome ``executed``): the run path's
        way when nobody wants the run's ``EVENT_JOB_EXECUTED`` event (none is made)."""
        if retval is None:
            text = "None"
        else:
            try:
                text = repr(retval)
            except Exception as error:  # noqa: BLE001 (a broken __repr__ must not break it)
                text = f"<repr failed: {_qualified_name(error)}>"
            if len(text) > REPR_LIMIT:
                text = truncate(text, REPR_LIMIT)
        sink = self._sinks.get(jobstore_alias)  # type: ignore[arg-type]
        if sink is None:
            sink = self._add_sink(jobstore_alias)
        finish = sink.finish
        if finish is None:
            self._close(sink, token, OUTCOME_EXECUTED, duration, text)
            return
        try:
            finish(token, OUTCOME_EXECUTED, duration, text)
        except Exception as exc:  # noqa: BLE001 (never fatal: logged and counted)
            self._failed(sink, "Error writing a run record to", exc)

    def ended(
        self,
        token: Any,
        event: JobExecutionEvent | None,
        duration: float,
        jobstore_alias: str | None,
    ) -> None:
        """Close the record of a run (``token``: what :meth:`started` returned) with its
        outcome: ``event``, the run's ``EVENT_JOB_EXECUTED`` or ``EVENT_JOB_ERROR`` event
        (``None``: executed, its return value unknown), ``duration`` the seconds it took."""
        if token is None:  # its start could not be written (logged then)
            return
        if event is not None and event.code == EVENT_JOB_EXECUTED:
            self.returned(token, event.retval, duration, jobstore_alias)
            return
        retval = exc_type = exc_message = text = None
        if event is None:
            outcome = OUTCOME_EXECUTED
        else:
            exc = event.exception
            if exc is not None:
                exc_type = _qualified_name(exc)
                exc_message = _text(str, exc)
            outcome = OUTCOME_TIMEOUT if isinstance(exc, JobTimeoutError) else OUTCOME_ERROR
            text = event.traceback  # formatted here, once (and kept on the event)
            if text:
                text = truncate(text, TRACEBACK_LIMIT, keep_end=True)
        self._close(
            self._sink(jobstore_alias),
            token,
            outcome,
            duration,
            retval,
            exc_type,
            exc_message,
            text,
        )

    def interrupted(
        self, token: Any, exc: BaseException, duration: float, jobstore_alias: str | None
    ) -> None:
        """Close the record of a run (``token``: what :meth:`started` returned) that ``exc``
        ended before it could report (:exc:`~greenlet.GreenletExit`, :exc:`SystemExit`, ...):
        outcome ``error``."""
        exc_type, message = _qualified_name(exc), _text(str, exc)
        if token is not None:
            self._close(
                self._sink(jobstore_alias), token, OUTCOME_ERROR, duration, None, exc_type, message
            )

    def _close(
        self,
        sink: _Sink,
        token: Any,
        outcome: str,
        duration: float,
        retval: str | None = None,
        exc_type: str | None = None,
        exc_message: str | None = None,
        traceback: str | None = None,
    ) -> None:
        """Close the record ``token`` stands for in ``sink``: at once in a local history,
        else queued."""
        finish = sink.finish
        if finish is not None:
            try:
                finish(token, outcome, duration, retval, exc_type, exc_message, traceback)
            except Exception as exc:  # noqa: BLE001 (never fatal: logged and counted)
                self._failed(sink, "Error writing a run record to", exc)
            return
        record: RunRecord = token
        record.close(outcome, duration, retval, exc_type, exc_message, traceback)
        self._queue(sink, record)

    def missed(
        self, job: Job, jobstore_alias: str | None, run_time: datetime, now: datetime
    ) -> None:
        """Record that the run of ``job`` due at ``run_time`` was found too late to run at
        ``now``."""
        self.skipped(job, jobstore_alias, (run_time,), OUTCOME_MISSED, now)

    def skipped(
        self,
        job: Job,
        jobstore_alias: str | None,
        run_times: Sequence[datetime],
        outcome: str,
        now: datetime | None = None,
    ) -> None:
        """Record the due runs of ``job`` at ``run_times`` that were not run, one record each:
        ``outcome`` is ``missed``, ``max_instances`` or ``claim_lost``. Their lateness is
        counted up to ``now`` (default: the clock's)."""
        sink = self._sink(jobstore_alias)
        if now is None:
            now = self.clock.now()
        if outcome == OUTCOME_CLAIM_LOST:
            self.claims_lost += len(run_times)
        for run_time in run_times:
            record = RunRecord(
                self._prefix + str(next(self._ids)),
                job.id,
                job.name,
                run_time,
                outcome,
                lateness=(now - run_time).total_seconds(),
                host=self.host,
                pid=self.pid,
                owner=sink.owner,
            )
            if sink.local:
                self._write_now(sink, record)
            else:
                self._queue(sink, record)

    def _sink(self, alias: str | None) -> _Sink:
        sink = self._sinks.get(alias)  # type: ignore[arg-type]
        if sink is None:
            sink = self._add_sink(alias)
        return sink

    def _add_sink(self, alias: str | None) -> _Sink:
        """The sink of the store ``alias`` (a store added since the start, or missing)."""
        store = self._jobstores.get(alias)  # type: ignore[arg-type]
        if store is None:
            # A run of a job whose store is gone (or a job that never had one): kept in this
            # process's memory, under this alias
            from greensched.jobstores.memory import MemoryJobStore

            store = MemoryJobStore()
        sink = _Sink(str(alias), store, self.owner)
        sink.runs.configure(limit=self.limit, max_age=self.max_age)
        if sink.local:
            journal = sink.runs._journal(self.host, self.pid, sink.owner, self._prefix)
            if journal is not None:
                sink.begun, sink.writer = journal
        self._sinks[alias] = sink  # type: ignore[index]
        if not sink.local and self._greenlet is None and not self._stopping:
            self._start_flusher()
        return sink

    def _write_now(self, sink: _Sink, record: RunRecord) -> None:
        try:
            sink.runs.append(record)
        except Exception as exc:  # noqa: BLE001 (never fatal: logged and counted)
            self._failed(sink, "Error writing a run record to", exc)

    def _queue(self, sink: _Sink, record: RunRecord) -> None:
        pending = sink.pending
        if len(pending) >= BUFFER_LIMIT:
            try:
                pending.popleft()
            except IndexError:  # emptied meanwhile by a flush
                pass
            else:
                self.dropped_records += 1
        pending.append(record)

    # -- writing, heartbeats ---------------------------------------------------------------------

    def flush(self, alias: str | None = None) -> None:
        """Write the records waiting for each store (or for the store ``alias``) now. A failed
        write is logged and counted, and its records are kept for the next flush. Never
        raises."""
        sinks = list(self._sinks.values())
        for sink in sinks:
            if alias is None or sink.alias == alias:
                self._flush_sink(sink)

    def _flush_sink(self, sink: _Sink) -> None:
        pending = sink.pending
        if not (pending or sink.unwritten):
            return
        batch, sink.unwritten = sink.unwritten, []
        while pending:
            batch.append(pending.popleft())
        # A run that started and ended since the last flush is written once, as it is now
        records = list({record.run_id: record for record in batch}.values())
        written = 0
        try:
            if not sink.opened:
                sink.runs.open()
                sink.opened = True
            # In chunks, the flusher letting the other greenlets run in between: encoding and
            # sending thousands of records at once held the hub for 175 ms (Redis, 4
            # processes at 5,000 runs/s), making runs late
            for start in range(0, len(records), WRITE_CHUNK):
                if start:
                    self._let_others_run()
                sink.runs.write(records[start : start + WRITE_CHUNK])
                written = start + WRITE_CHUNK
        except Exception as exc:  # noqa: BLE001 (never fatal: kept for the next flush)
            records = records[written:]
            self._failed(sink, f"Error writing {len(records)} run record(s) to", exc)
            excess = len(records) + len(pending) - BUFFER_LIMIT
            if excess > 0:
                self.dropped_records += excess
                records = records[excess:]
            sink.unwritten = records
        else:
            self._answered(sink)

    def _let_others_run(self) -> None:
        """Yield to the hub, if this is the flusher greenlet (a flush called by ``get_runs``
        in another thread, or by the shutdown, goes on at once)."""
        import gevent

        if self._greenlet is not None and gevent.getcurrent() is self._greenlet:
            gevent.sleep(0)

    def _failed(self, sink: _Sink, what: str, exc: Exception) -> None:
        """Count and log a failed history write: a WARNING when the store's history starts
        failing, DEBUG while it goes on."""
        self.failed_writes += 1
        message = f"{what} the history of job store {sink.alias!r}"
        if sink.failing:
            self._logger.debug("%s (still failing): %s", message, one_line(exc))
            return
        sink.failing = True
        self._logger.warning(
            "%s: %s; retrying every %g s (the runs are not affected)",
            message,
            one_line(exc),
            FLUSH_INTERVAL,
        )

    def _answered(self, sink: _Sink) -> None:
        if sink.failing:
            sink.failing = False
            self._logger.warning("The history of job store %r is written again", sink.alias)

    def process(self, now: datetime | None = None) -> ProcessInfo:
        """This process, as its heartbeats describe it (owner: the recorder's token)."""
        return ProcessInfo(
            self.owner,
            self.host,
            self.pid,
            self.started_at,
            now or self.clock.now(),
            self.runs,
            self.claims_lost,
        )

    def beat(self, alias: str | None = None, *, local_only: bool = False) -> None:
        """Send this process's heartbeat to each store's history (or to ``alias``'s), close the
        running records of the processes found dead there, and prune the history if it is
        due. Never raises.

        :param local_only: only the local run logs (no I/O)
        """
        for store_alias in tuple(self._jobstores):
            if alias is None or store_alias == alias:
                sink = self._sink(store_alias)
                if sink.local or not local_only:
                    self._beat_sink(sink)

    def _beat_sink(self, sink: _Sink) -> None:
        now = self.clock.now()
        process = self.process(now)
        process.owner = sink.owner
        runs = sink.runs
        try:
            runs.heartbeat(process)
            timeout = dead_after(sink.store)
            dead = [
                found
                for found in runs.processes()
                if found.owner != sink.owner
                and found.owner not in sink.closed
                and not found.alive(now, timeout)
            ]
            for found in dead:
                closed = runs.close_running(
                    [found.owner],
                    now,
                    PROCESS_DIED,
                    f"process {found.owner} (host {found.host}, pid {found.pid}) stopped "
                    f"sending heartbeats at {found.heartbeat.isoformat()}; closed by "
                    f"{sink.owner}",
                )
                sink.closed.add(found.owner)
                if closed:
                    self._logger.warning(
                        "Closed %d run(s) left running in job store %r by process %s, silent "
                        "since %s",
                        closed,
                        sink.alias,
                        found.owner,
                        found.heartbeat.isoformat(),
                    )
            monotonic = self.clock.monotonic()
            if sink.last_prune is None or monotonic - sink.last_prune >= PRUNE_INTERVAL:
                sink.last_prune = monotonic
                runs.prune(now)
        except Exception as exc:  # noqa: BLE001 (never fatal: tried again at the next beat)
            self._failed(sink, "Error sending the heartbeat to", exc)
        else:
            self._answered(sink)

    def prune_local(self) -> None:
        """Prune the local run logs of their records past ``max_age`` (before they are read)."""
        if self.max_age is None:
            return
        now = self.clock.now()
        for sink in list(self._sinks.values()):
            if sink.local:
                sink.runs.prune(now)

    # -- the flusher greenlet --------------------------------------------------------------------

    def start(self) -> None:
        """Take the scheduler's stores (writing this process's heartbeat to them); start the
        flusher greenlet if one of them is not local. In the scheduler's hub."""
        for alias in tuple(self._jobstores):
            self._sink(alias)
        self.beat(local_only=True)

    def _start_flusher(self) -> None:
        import gevent
        from gevent.event import Event

        self._wake = Event()
        self._greenlet = gevent.spawn(self._flush_forever)

    def _flush_forever(self) -> None:
        """The flusher: write the waiting records every :data:`FLUSH_INTERVAL` and send the
        heartbeats every :data:`HEARTBEAT_INTERVAL`, until :meth:`stop`."""
        clock = self.clock
        next_beat = clock.monotonic()
        while not self._stopping:
            self.flush()
            if clock.monotonic() >= next_beat:
                self.beat()
                next_beat = clock.monotonic() + HEARTBEAT_INTERVAL
            clock.wait(self._wake, FLUSH_INTERVAL)

    def stop(self) -> None:
        """Stop the flusher and write every record still waiting (the scheduler shuts down)."""
        self._stopping = True
        greenlet = self._greenlet
        if greenlet is not None:
            self._wake.set()
            import gevent

            if gevent.getcurrent() is not greenlet:
                greenlet.join()
            self._greenlet = None
        self.flush()
