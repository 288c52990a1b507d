"""An executor that sends each run to RQ (Redis Queue): :class:`RQExecutor`."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, ClassVar

from greensched.executors._queue import OptionCheck, QueueExecutor, mapping_option, string_option

try:
    from redis import Redis
    from rq import Queue
except ImportError as exc:  # pragma: no cover
    raise ImportError("RQExecutor requires RQ installed: pip install greensched[rq]") from exc

if TYPE_CHECKING:
    from greensched.job import Job

__all__ = ("RQExecutor", "rq_job_id")

#: The job ids RQ accepts
_VALID_ID = re.compile(r"[A-Za-z0-9_-]+")
_INVALID_CHARACTER = re.compile(r"[^A-Za-z0-9_-]")


def rq_job_id(job_id: str, run_time: datetime) -> str:
    """The RQ job id of ``job_id``'s run scheduled at ``run_time``. RQ accepts only letters,
    digits, ``_`` and ``-`` in an id, so the id is ``<job id>-<time>``, the time in UTC as
    ``YYYYMMDDTHHMMSSffffffZ`` (``report-20260105T090000000000Z``); a job id with other
    characters has each of them replaced by ``_`` and the first 8 hex digits of the SHA-256 of
    the job id appended, so that two job ids never share a message id
    (``reports.daily`` gives ``reports_daily-3f1c9a0e-20260105T090000000000Z``)."""
    when = run_time.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    if _VALID_ID.fullmatch(job_id):
        return f"{job_id}-{when}"
    digest = hashlib.sha256(job_id.encode("utf-8")).hexdigest()[:8]
    return f"{_INVALID_CHARACTER.sub('_', job_id)}-{digest}-{when}"


def _seconds(name: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise TypeError(f"{name} must be a positive integer (seconds), got: {value!r}")
    return value


def _boolean(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got: {value!r}")
    return value


class RQExecutor(QueueExecutor):
    """Sends each run of a job to an RQ queue, whose ``rq worker`` processes run it: nothing
    runs in the scheduler.

    A job's function is any function an RQ worker can import (a module-level function, given
    as the function or its ``'module:name'`` reference); ``args`` and ``kwargs`` go to it. Each
    run time is enqueued under the RQ job id :func:`rq_job_id` makes of the job id and the
    scheduled time, the same in every process; with a ``misfire_grace_time``, the RQ job's
    ``ttl`` ends when that many seconds after the scheduled time are over (RQ discards it from
    the queue then). The run's ``EVENT_JOB_EXECUTED`` means Redis has the RQ job (its ``retval``
    is the RQ job id), ``EVENT_JOB_ERROR`` that enqueueing failed.

    See :class:`~greensched.executors._queue.QueueExecutor` for the senders and
    ``max_instances`` (it counts the sends in flight, not the RQ jobs queued or running).

    Plugin alias: ``rq``

    :keyword connection: the :class:`redis.Redis` client of RQ's Redis
    :keyword str url: or its URL (``redis://host:port/db``), for configuration files
    :keyword str queue: the queue's name (default: ``default``)
    :keyword bool at_front: put the RQ jobs at the front of the queue
    :keyword int job_timeout: the most seconds the worker lets a run take
    :keyword int result_ttl: how long RQ keeps a result (seconds)
    :keyword int failure_ttl: how long RQ keeps a failed job (seconds)
    :keyword dict meta: the RQ jobs' ``meta``
    :keyword dict job_options: these options by job id, over the executor's
    :keyword int senders: the most RQ jobs enqueued at once (default: 4)
    :raises TypeError: if neither or both of ``connection`` and ``url`` are given

    .. versionadded:: greensched 0.1
    """

    option_checks: ClassVar[Mapping[str, OptionCheck]] = {
        "queue": string_option,
        "at_front": _boolean,
        "job_timeout": _seconds,
        "result_ttl": _seconds,
        "failure_ttl": _seconds,
        "meta": mapping_option,
    }

    def __init__(
        self, *, connection: Redis | None = None, url: str | None = None, **options: Any
    ) -> None:
        if (connection is None) == (url is None):
            raise TypeError(
                "RQExecutor needs one of connection (a redis.Redis) or url (redis://...), "
                f"got: connection={connection!r}, url={url!r}"
            )
        super().__init__(**options)
        self._connection = connection if connection is not None else Redis.from_url(str(url))
        self._queues: dict[str, Queue] = {}

    def _queue(self, name: str) -> Queue:
        queue = self._queues.get(name)
        if queue is None:
            queue = self._queues[name] = Queue(name, connection=self._connection)
        return queue

    def _message_id(self, job_id: str, run_time: datetime) -> str:
        return rq_job_id(job_id, run_time)

    def _task_of(self, job: Job) -> Any:
        if job.func_ref is None:
            raise TypeError(
                f'Job "{job.id}": RQExecutor sends functions an RQ worker imports by name: give '
                f"a module-level function or its 'module:name' reference, got: {job.func!r}"
            )
        return job.func

    def _send(
        self,
        task: Any,
        job: Job,
        message_id: str,
        expires: datetime | None,
        options: dict[str, Any],
    ) -> None:
        options = dict(options)
        queue = self._queue(options.pop("queue", "default"))
        ttl = None
        if expires is not None:
            ttl = max(1, math.ceil((expires - self._clock.now()).total_seconds()))
        queue.enqueue_call(
            task,
            args=job.args,
            kwargs=job.kwargs,
            job_id=message_id,
            ttl=ttl,
            timeout=options.pop("job_timeout", None),
            **options,
        )
