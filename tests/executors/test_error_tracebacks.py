"""The traceback of a failed run's error event: the same text as ever, formatted once, on
first read, and not at all when nobody reads it (issue 19: failing runs must be cheap)."""

from __future__ import annotations

import logging
import pickle
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import gevent
import pytest

from greensched.events import EVENT_JOB_ERROR, JobExecutionEvent
from greensched.executors._runpath import JobRun
from greensched.executors.gevent import GeventExecutor
from greensched.job import Job
from greensched.testing import MockClock
from tests.executors.conftest import FakeScheduler, wait_until

LOGGER = logging.getLogger("tests.executors.tracebacks")


def failing_job() -> None:
    raise ValueError("boom")


RAISE_LINE = failing_job.__code__.co_firstlineno + 1


@pytest.fixture
def quiet() -> Iterator[None]:
    """Logging off for the executors' loggers and this module's: nothing formats for it."""
    loggers = [logging.getLogger("greensched.executors"), LOGGER]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    yield
    for logger, level in zip(loggers, levels):
        logger.setLevel(level)


@pytest.fixture
def formats(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count every formatting of a traceback or stack (format_tb, format_exception,
    format_stack, logging's formatException all end in ``StackSummary.format``)."""
    calls: list[int] = []
    original = traceback.StackSummary.format

    def counting(self: traceback.StackSummary) -> list[str]:
        calls.append(1)
        return original(self)

    monkeypatch.setattr(traceback.StackSummary, "format", counting)
    return calls


@pytest.fixture
def executor(scheduler: FakeScheduler) -> Iterator[GeventExecutor]:
    executor = GeventExecutor()
    executor.start(scheduler, "default")
    yield executor
    executor.shutdown(wait=False)


def run_failing(make_job: Callable[..., Job], clock: MockClock) -> JobExecutionEvent:
    (event,) = JobRun(make_job(failing_job), "store", [clock.now()], clock, LOGGER).run_here(None)
    assert event.code == EVENT_JOB_ERROR
    return event


@pytest.mark.usefixtures("quiet")
def test_error_event_traceback_has_the_frames_of_the_failure(
    make_job: Callable[..., Job], clock: MockClock
) -> None:
    event = run_failing(make_job, clock)
    text = event.traceback
    assert type(text) is str
    assert text.startswith('  File "')
    assert "in call_job\n    retval = job.func(*job.args, **job.kwargs)\n" in text
    assert text.endswith(
        f'  File "{__file__}", line {RAISE_LINE}, in failing_job\n    raise ValueError("boom")\n'
    )
    # What the executor formatted when the run failed, before it was deferred
    assert event.exception is not None
    assert text == "".join(traceback.format_tb(event.exception.__traceback__))


@pytest.mark.usefixtures("quiet")
def test_error_event_traceback_is_formatted_once(
    make_job: Callable[..., Job], clock: MockClock, formats: list[int]
) -> None:
    event = run_failing(make_job, clock)
    assert formats == []
    first = event.traceback
    assert event.traceback is first
    assert formats == [1]


@pytest.mark.usefixtures("quiet")
def test_a_listener_that_does_not_read_the_traceback_costs_no_formatting(
    executor: GeventExecutor,
    scheduler: FakeScheduler,
    make_job: Callable[..., Job],
    formats: list[int],
) -> None:
    seen: list[BaseException | None] = []
    scheduler.on_event = lambda event: seen.append(event.exception)
    executor.submit_job(make_job(failing_job), [scheduler.clock.now()])
    wait_until(lambda: len(seen) == 1)
    assert isinstance(seen[0], ValueError)
    assert formats == []


@pytest.mark.usefixtures("quiet")
def test_a_listener_reading_the_traceback_twice_formats_it_once(
    executor: GeventExecutor,
    scheduler: FakeScheduler,
    make_job: Callable[..., Job],
    formats: list[int],
) -> None:
    texts: list[str | None] = []
    scheduler.on_event = lambda event: texts.extend([event.traceback, event.traceback])
    executor.submit_job(make_job(failing_job), [scheduler.clock.now()])
    wait_until(lambda: len(texts) == 2)
    assert texts[0] is texts[1]
    assert texts[0] is not None
    assert 'raise ValueError("boom")' in texts[0]
    assert formats == [1]


def test_a_logged_failure_is_formatted_once_by_logging_only(
    executor: GeventExecutor,
    scheduler: FakeScheduler,
    make_job: Callable[..., Job],
    formats: list[int],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, "greensched.executors")
    executor.submit_job(make_job(failing_job), [scheduler.clock.now()])
    wait_until(lambda: len(scheduler.events) == 1)
    (record,) = [r for r in caplog.records if r.name == "greensched.executors.default"]
    job_id = scheduler.events[0].job_id
    assert record.getMessage() == f"Job '{job_id}' (\"failing_job\") raised an exception"
    assert record.exc_info is not None
    assert record.exc_info[1] is scheduler.events[0].exception
    assert caplog.text.count("Traceback (most recent call last)") == 1
    assert formats == [1]  # the log's, shared by every handler; the event's is not made


@pytest.mark.usefixtures("quiet")
def test_timed_out_run_traceback_is_deferred_too(
    scheduler: FakeScheduler, make_job: Callable[..., Job], formats: list[int]
) -> None:
    def hung_job() -> None:
        gevent.sleep(5)

    job = make_job(hung_job)
    (event,) = JobRun(job, "store", [scheduler.clock.now()], scheduler.clock, LOGGER).run_here(
        0.01
    )
    assert isinstance(event.exception, TimeoutError)
    assert formats == []
    assert event.traceback is not None
    assert "in hung_job\n    gevent.sleep(5)\n" in event.traceback
    assert formats == [1]


@pytest.mark.usefixtures("quiet")
def test_a_pickled_error_event_carries_the_formatted_traceback(
    make_job: Callable[..., Job], clock: MockClock
) -> None:
    event = run_failing(make_job, clock)
    clone = pickle.loads(pickle.dumps(event))
    assert clone.traceback == event.traceback
    assert "_traceback_source" not in vars(clone)
    assert vars(clone).keys() == vars(event).keys()


@pytest.mark.usefixtures("quiet")
def test_setting_the_traceback_replaces_the_deferred_one(
    make_job: Callable[..., Job], clock: MockClock, formats: list[int]
) -> None:
    event = run_failing(make_job, clock)
    event.traceback = "given"
    assert event.traceback == "given"
    assert formats == []
    assert "_traceback_source" not in vars(event)


def test_job_locals_are_not_kept_alive_by_a_deferred_traceback(
    make_job: Callable[..., Job], clock: MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.CRITICAL)

    class Big:
        pass

    refs: list[Any] = []

    def job_with_locals() -> None:
        import weakref

        big = Big()
        refs.append(weakref.ref(big))
        raise ValueError("boom")

    (event,) = JobRun(make_job(job_with_locals), "store", [clock.now()], clock, LOGGER).run_here(
        None
    )
    assert refs[0]() is None
    assert event.traceback is not None
    assert "in job_with_locals" in event.traceback
