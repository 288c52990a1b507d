"""The main loop of a :class:`~greensched.executors.pool.ProcessPoolExecutor` worker process.

This module is imported in every worker process, so it stays small and free of gevent: a worker
runs one job at a time with plain blocking calls.

The parent and the worker exchange frames over a socket pair: an 8-byte big-endian length, then
that many bytes. The parent sends a task, the pickled tuple ``(job_id, jobstore_alias, run_time,
logger_name, pickled_job)``. The worker answers with :data:`STARTED` once the job is restored
and about to be called (the parent's timeout counts from there), then with the pickled
:class:`~greensched.events.JobExecutionEvent` of the run. An empty frame, or the end of the
stream (the parent closed its end, or died), ends the worker.
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import struct
import traceback
from collections.abc import Callable, Sequence
from datetime import datetime
from multiprocessing.connection import Connection
from typing import Any

from greensched.events import EVENT_JOB_ERROR, JobExecutionEvent
from greensched.executors._runpath import call_job

__all__ = ("HEADER", "STARTED", "main")

#: The length prefix of a frame.
HEADER = struct.Struct("!Q")
#: The frame a worker sends when the job starts.
STARTED = b"S"


def main(
    conn: Connection,
    initializer: Callable[..., Any] | None,
    initargs: Sequence[Any],
) -> None:
    """Serve tasks on ``conn`` until the parent closes its end.

    :param conn: the worker's end of the socket pair
    :param initializer: called with ``initargs`` once, before the first task
    """
    # Ctrl+C in a terminal reaches the whole process group: the parent decides what it means
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    fd = os.dup(conn.fileno())
    conn.close()
    os.set_blocking(fd, True)  # the parent's end is gevent's, non-blocking: this one must not be

    init_failure: tuple[BaseException, str] | None = None
    if initializer is not None:
        try:
            initializer(*initargs)
        except BaseException as exc:  # noqa: BLE001 (reported with every task)
            init_failure = (exc, "".join(traceback.format_tb(exc.__traceback__)))

    try:
        while True:
            message = _read_frame(fd)
            if not message:
                return  # stop (an empty frame), or the parent is gone (end of the stream)
            reply = _run_task(fd, message, init_failure)
            _write_frame(fd, reply)
    except OSError:
        return  # the parent is gone (or stopped waiting for this worker)
    finally:
        os.close(fd)


def _run_task(fd: int, message: bytes, init_failure: tuple[BaseException, str] | None) -> bytes:
    """Run the task in ``message`` and return the pickled event of the run."""
    job_id, jobstore_alias, run_time, logger_name, payload = pickle.loads(message)
    try:
        if init_failure is not None:
            exc, formatted_tb = init_failure
            raise RuntimeError(
                f"The initializer of this worker process failed: {exc!r}\n{formatted_tb}"
            ) from exc
        job = pickle.loads(payload)
    except BaseException as exc:  # noqa: BLE001 (reported as the run's outcome)
        _write_frame(fd, STARTED)
        event = _failure(job_id, jobstore_alias, run_time, exc)
    else:
        _write_frame(fd, STARTED)
        logger = logging.getLogger(logger_name)
        try:
            # The parent logs the run, where the program's logging is set up
            called = call_job(job, jobstore_alias, run_time, logger, reraise=False, log=False)
            assert called is not None  # an executed event is made
            event = called
        except BaseException as exc:  # noqa: BLE001 (a failure around the job, e.g. in logging)
            event = _failure(job_id, jobstore_alias, run_time, exc)
    return _dump_event(event)


def _failure(
    job_id: str, jobstore_alias: str | None, run_time: datetime, exc: BaseException
) -> JobExecutionEvent:
    return JobExecutionEvent(
        EVENT_JOB_ERROR,
        job_id,
        jobstore_alias,
        run_time,
        exception=exc,
        traceback="".join(traceback.format_tb(exc.__traceback__)),
    )


def _dump_event(event: JobExecutionEvent) -> bytes:
    """Pickle ``event``; a return value or exception that cannot be pickled is replaced by an
    error that says so."""
    try:
        return pickle.dumps(event, pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # noqa: BLE001 (any pickling failure)
        reason = f"{type(exc).__name__}: {exc}"
    if event.exception is not None:
        substitute: BaseException = RuntimeError(
            f"{event.exception!r} (this exception could not be sent from the worker process: "
            f"{reason})"
        )
    else:
        substitute = TypeError(
            f'The return value of job "{event.job_id}" could not be sent from the worker '
            f"process: {reason}"
        )
    replacement = JobExecutionEvent(
        EVENT_JOB_ERROR,
        event.job_id,
        event.jobstore,
        event.scheduled_run_time,
        exception=substitute,
        traceback=event.traceback,
    )
    return pickle.dumps(replacement, pickle.HIGHEST_PROTOCOL)


def _read_exact(fd: int, size: int) -> bytes | None:
    chunks = []
    while size:
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _read_frame(fd: int) -> bytes | None:
    """Return the next frame, or ``None`` at the end of the stream."""
    header = _read_exact(fd, HEADER.size)
    if header is None:
        return None
    (size,) = HEADER.unpack(header)
    return _read_exact(fd, size) if size else b""


def _write_frame(fd: int, data: bytes) -> None:
    view = memoryview(HEADER.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view) :]
