"""How the scheduler's and executors' log messages name a job (its id, and its name when it
differs) and count things, on a real GeventScheduler loop driven by a mock clock."""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator, Sequence
from datetime import datetime, timedelta, timezone

import gevent
import pytest

from greensched._logging import count, job_label
from greensched.job import Job
from greensched.jobstores.memory import MemoryJobStore
from greensched.schedulers.gevent import GeventScheduler
from greensched.testing import MockClock

START = datetime(2024, 6, 3, 10, 0, tzinfo=timezone.utc)
SCHEDULER = "greensched.scheduler"
EXECUTOR = "greensched.executors.default"


def hello() -> None:
    pass


def greet() -> None:
    raise ValueError("nobody to greet")


@pytest.fixture
def clock() -> MockClock:
    return MockClock(START)


@pytest.fixture
def scheduler(clock: MockClock) -> Iterator[GeventScheduler]:
    scheduler = GeventScheduler(clock=clock, timezone="UTC")
    yield scheduler
    if scheduler.running:
        scheduler.shutdown()


def advance(clock: MockClock, seconds: float) -> None:
    """Move the mock clock and let the loop and the runs it starts go on."""
    clock.jump(seconds)
    gevent.idle()


def test_a_job_is_named_by_its_id_and_its_name_when_it_differs(
    scheduler: GeventScheduler, clock: MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "greensched")
    # "hello" is named "Say hello"; "greet" is named after its function, as its id
    scheduler.add_job(
        hello, "interval", seconds=10, id="hello", name="Say hello", misfire_grace_time=1
    )
    scheduler.add_job(greet, "date", run_date=START + timedelta(seconds=10), id="greet")
    scheduler.start()
    advance(clock, 10)  # both run
    advance(clock, 15)  # "hello" is due since 5 s, more than its misfire_grace_time
    scheduler.remove_job("hello")

    info, warning, error = logging.INFO, logging.WARNING, logging.ERROR
    at_10 = "2024-06-03 10:00:10+00:00"
    pending = "Adding job tentatively -- it will be properly scheduled when the scheduler starts"
    assert caplog.record_tuples == [
        (SCHEDULER, info, pending),
        (SCHEDULER, info, pending),
        (SCHEDULER, info, """Added job 'hello' ("Say hello") to job store 'default'"""),
        (SCHEDULER, info, "Added job 'greet' to job store 'default'"),
        (SCHEDULER, info, "Scheduler started"),
        (SCHEDULER, info, "Removed job 'greet'"),  # no next run time: removed once submitted
        (EXECUTOR, info, f"Running job 'greet' (scheduled at {at_10})"),
        (EXECUTOR, error, "Job 'greet' raised an exception"),
        (EXECUTOR, info, f"""Running job 'hello' ("Say hello") (scheduled at {at_10})"""),
        (EXECUTOR, info, """Job 'hello' ("Say hello") executed successfully"""),
        (EXECUTOR, warning, """Run time of job 'hello' ("Say hello") was missed by 5.000000s"""),
        (SCHEDULER, info, """Removed job 'hello' ("Say hello")"""),
    ]


class FailingReleaseStore(MemoryJobStore):
    """A store whose writes of the due jobs' next run times fail."""

    def release_due_jobs(self, updated: Sequence[Job], removed: Sequence[Job]) -> Collection[str]:
        raise ConnectionError("server closed the connection")


@pytest.mark.parametrize(("jobs", "counted"), [(1, "1 due job"), (2, "2 due jobs")])
def test_a_count_of_due_jobs_takes_the_plural_after_one(
    scheduler: GeventScheduler,
    clock: MockClock,
    caplog: pytest.LogCaptureFixture,
    jobs: int,
    counted: str,
) -> None:
    scheduler.add_jobstore(FailingReleaseStore(), "flaky")
    for index in range(jobs):
        scheduler.add_job(hello, "interval", seconds=10, id=f"job{index}", jobstore="flaky")
    scheduler.start()
    caplog.set_level(logging.WARNING, SCHEDULER)
    advance(clock, 10)
    reason = "server closed the connection"
    assert caplog.messages == [
        (
            f"Error storing the next run times of {counted} in job store 'flaky': {reason}; "
            "retrying every 10 s until it answers"
        )
    ]


def test_a_job_removed_by_id_is_named_as_stored(
    scheduler: GeventScheduler, caplog: pytest.LogCaptureFixture
) -> None:
    """remove_job() is given the id: the name is read from the store (or the pending job)."""
    caplog.set_level(logging.INFO, SCHEDULER)
    scheduler.add_job(hello, "interval", seconds=10, id="pending", name="Pending one")
    scheduler.remove_job("pending")
    scheduler.start()
    scheduler.add_job(hello, "interval", seconds=10, id="stored", name="Stored one")
    scheduler.remove_job("stored")
    assert [message for message in caplog.messages if message.startswith("Removed")] == [
        """Removed job 'pending' ("Pending one")""",
        """Removed job 'stored' ("Stored one")""",
    ]


@pytest.mark.parametrize(
    ("job_id", "name", "label"),
    [
        ("hello", "hello", "'hello'"),
        ("hello", "Say hello", """'hello' ("Say hello")"""),
        ("hello", None, "'hello'"),  # only the id is known
    ],
)
def test_job_label(job_id: str, name: str | None, label: str) -> None:
    assert job_label(job_id, name) == label


@pytest.mark.parametrize(
    ("number", "text"), [(0, "0 jobs"), (1, "1 job"), (2, "2 jobs"), (-1, "-1 jobs")]
)
def test_count(number: int, text: str) -> None:
    assert count(number, "job") == text
    assert count(number, "run time", "run times") == text.replace("job", "run time")
