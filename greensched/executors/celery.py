"""An executor that sends each run to Celery: :class:`CeleryExecutor`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from greensched.executors._queue import OptionCheck, QueueExecutor, mapping_option, string_option

try:
    from celery import Task
except ImportError as exc:  # pragma: no cover
    raise ImportError(
        "CeleryExecutor requires Celery installed: pip install greensched[celery]"
    ) from exc

if TYPE_CHECKING:
    from greensched.job import Job

__all__ = ("CeleryExecutor",)


def _priority(name: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 255:
        raise TypeError(f"{name} must be an integer from 0 to 255, got: {value!r}")
    return value


class CeleryExecutor(QueueExecutor):
    """Sends each run of a job to Celery, whose workers run it: nothing runs in the scheduler.

    A job's function is a Celery task: the task object (``@app.task``, ``@shared_task``), or its
    ``'module:name'`` reference (which a persistent store keeps: a task object itself has no
    reference). ``args`` and ``kwargs`` go to the task. Each run time is sent with
    ``task.apply_async`` under the task id ``<job id>@<scheduled time, ISO 8601, UTC>``
    (``report@2026-01-05T09:00:00+00:00``), the same in every process, so that a consumer can
    deduplicate; with a ``misfire_grace_time``, the message expires that many seconds after the
    scheduled time (a worker that gets it later revokes it). The run's ``EVENT_JOB_EXECUTED``
    means the broker accepted the message (its ``retval`` is the task id), ``EVENT_JOB_ERROR``
    that the send failed (broker unreachable, after Celery's own publish retries): no run is
    lost silently. The task's result is not waited for.

    See :class:`~greensched.executors._queue.QueueExecutor` for the senders and
    ``max_instances`` (it counts the sends in flight, not the tasks queued or running).

    Plugin alias: ``celery``

    :keyword str queue: the queue to send to (default: the task's, else Celery's routing)
    :keyword str routing_key: the routing key
    :keyword int priority: the message priority (0 to 255; what the broker honours)
    :keyword dict headers: extra message headers
    :keyword dict job_options: these options by job id, over the executor's
    :keyword int senders: the most messages sent at once (default: 4)

    .. versionadded:: greensched 0.1
    """

    option_checks: ClassVar[Mapping[str, OptionCheck]] = {
        "queue": string_option,
        "routing_key": string_option,
        "priority": _priority,
        "headers": mapping_option,
    }

    def _task_of(self, job: Job) -> Any:
        task = job.func
        if not isinstance(task, Task):
            raise TypeError(
                f'Job "{job.id}": CeleryExecutor sends Celery tasks (a function decorated with '
                f"@app.task or @shared_task, or a 'module:name' reference to one), got: {task!r}"
            )
        return task

    def _send(
        self,
        task: Any,
        job: Job,
        message_id: str,
        expires: datetime | None,
        options: dict[str, Any],
    ) -> None:
        task.apply_async(
            args=job.args, kwargs=job.kwargs, task_id=message_id, expires=expires, **options
        )
