"""The base of the queue executors, with a queue of its own (no broker): a run time is sent, not
called; too late, it is missed and not sent; a failed send is the run's error; the sends happen
in at most ``senders`` greenlets, never in the submitting one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar

import gevent
import pytest
from gevent.event import Event

from greensched.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED
from greensched.executors._queue import OptionCheck, QueueExecutor, message_id, string_option
from greensched.job import Job
from tests.executors.conftest import FakeScheduler

T0 = datetime(2024, 6, 3, 10, 0, tzinfo=timezone.utc)


class ListQueue(QueueExecutor):
    """Sends into a list; a send waits for ``gate`` if set, and raises ``failure`` if set. The
    sends run in the sender greenlets, as in a monkey-patched program (the tests with real
    workers, unpatched, send through the hub's thread pool)."""

    option_checks: ClassVar[dict[str, OptionCheck]] = {"queue": string_option}

    @staticmethod
    def _blocking(function: Callable[..., Any], *args: Any) -> Any:
        return function(*args)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.sent: list[tuple[str, datetime | None, dict[str, Any]]] = []
        self.gate: Event | None = None
        self.failure: Exception | None = None
        self.sending = 0

    def _task_of(self, job: Job) -> Any:
        return job.func

    def _send(
        self, task: Any, job: Job, mid: str, expires: datetime | None, options: dict[str, Any]
    ) -> None:
        self.sending += 1
        try:
            if self.gate is not None:
                self.gate.wait()
            if self.failure is not None:
                raise self.failure
            self.sent.append((mid, expires, options))
        finally:
            self.sending -= 1


def started(scheduler: FakeScheduler, **options: Any) -> ListQueue:
    executor = ListQueue(**options)
    executor.start(scheduler, "queue")  # type: ignore[arg-type]
    return executor


def test_each_run_time_is_sent_under_its_id(
    scheduler: FakeScheduler, make_job: Callable[..., Job]
) -> None:
    executor = started(scheduler, queue="q", job_options={"report": {"queue": "reports"}})
    times = [T0 - timedelta(seconds=2), T0]
    executor.submit_job(make_job(print, id="report", misfire_grace_time=10), times)
    executor.submit_job(make_job(print, id="other"), [T0])
    executor.shutdown(wait=True)
    reports = {"queue": "reports"}
    assert sorted(executor.sent, key=lambda sent: sent[0]) == [
        ("other@2024-06-03T10:00:00+00:00", None, {"queue": "q"}),
        ("report@2024-06-03T09:59:58+00:00", times[0] + timedelta(seconds=10), reports),
        ("report@2024-06-03T10:00:00+00:00", times[1] + timedelta(seconds=10), reports),
    ]
    assert sorted((e.code, e.retval) for e in scheduler.events) == [
        (EVENT_JOB_EXECUTED, "other@2024-06-03T10:00:00+00:00"),
        (EVENT_JOB_EXECUTED, "report@2024-06-03T09:59:58+00:00"),
        (EVENT_JOB_EXECUTED, "report@2024-06-03T10:00:00+00:00"),
    ]


def test_a_run_time_too_late_is_missed_and_not_sent(
    scheduler: FakeScheduler, make_job: Callable[..., Job]
) -> None:
    executor = started(scheduler)
    executor.submit_job(make_job(print, misfire_grace_time=10), [T0 - timedelta(seconds=11)])
    executor.shutdown(wait=True)
    assert executor.sent == []
    assert [event.code for event in scheduler.events] == [EVENT_JOB_MISSED]


def test_a_failed_send_is_the_runs_error_with_the_reason(
    scheduler: FakeScheduler, make_job: Callable[..., Job]
) -> None:
    executor = started(scheduler)
    executor.failure = ConnectionError("broker down")
    executor.submit_job(make_job(print), [T0])
    executor.shutdown(wait=True)
    [event] = scheduler.events
    assert event.code == EVENT_JOB_ERROR
    assert isinstance(event.exception, ConnectionError)
    assert str(event.exception) == "broker down"
    assert executor._instances == {}  # the instance is given back


def test_sends_happen_off_the_submitter_in_at_most_senders_greenlets(
    scheduler: FakeScheduler, make_job: Callable[..., Job]
) -> None:
    executor = started(scheduler, senders=2)
    executor.gate = Event()
    for index in range(5):
        executor.submit_job(
            make_job(print, id=f"job{index}"), [T0]
        )  # returns: nothing is sent yet
    assert executor.sending == 0
    gevent.sleep(0)
    assert executor.sending == 2  # the others wait for a sender
    executor.gate.set()
    executor.shutdown(wait=True)
    assert len(executor.sent) == 5


def test_max_instances_counts_the_sends_in_flight(
    scheduler: FakeScheduler, make_job: Callable[..., Job]
) -> None:
    from greensched.executors.base import MaxInstancesReachedError

    executor = started(scheduler)
    executor.gate = Event()
    job = make_job(print)
    executor.submit_job(job, [T0])
    with pytest.raises(MaxInstancesReachedError):
        executor.submit_job(job, [T0])
    executor.gate.set()
    executor.shutdown(wait=True)
    executor.start(scheduler, "queue")  # type: ignore[arg-type]
    executor.submit_job(job, [T0])  # the first send is over
    executor.shutdown(wait=True)


def test_shutdown_without_waiting_drops_the_waiting_runs(
    scheduler: FakeScheduler, make_job: Callable[..., Job]
) -> None:
    executor = started(scheduler, senders=1)
    executor.gate = Event()
    executor.submit_job(make_job(print, id="first"), [T0])
    executor.submit_job(make_job(print, id="second"), [T0])
    gevent.sleep(0)
    executor.shutdown(wait=False)
    executor.gate.set()
    gevent.sleep(0)
    assert [mid for mid, _, _ in executor.sent] == ["first@2024-06-03T10:00:00+00:00"]
    assert executor._instances == {}
    with pytest.raises(RuntimeError, match="has been shut down"):
        executor.submit_job(make_job(print, id="third"), [T0])


def test_the_message_id_is_the_job_id_and_the_utc_time() -> None:
    berlin = timezone(timedelta(hours=1))
    assert message_id("a b", datetime(2026, 1, 5, 10, 0, 0, 250000, tzinfo=berlin)) == (
        "a b@2026-01-05T09:00:00.250000+00:00"
    )
