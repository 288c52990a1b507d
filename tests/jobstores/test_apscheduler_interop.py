"""A job whose callable is a bound method of an instance, written to a shared store by
APScheduler 3.x and loaded by greensched, and the other way round: both store the function's
``module:Class.method`` reference and pickle the instance as the first positional argument.

Run on SQLite (a temporary file), PostgreSQL and Redis."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import gevent
import pytest
import redis
from apscheduler.job import Job as APSJob
from apscheduler.jobstores.redis import RedisJobStore as APSRedisJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore as APSSQLAlchemyJobStore
from apscheduler.triggers.date import DateTrigger as APSDateTrigger
from apscheduler.triggers.interval import IntervalTrigger as APSIntervalTrigger

from greensched.job import Job
from greensched.jobstores._shared import SharedJobStore
from greensched.jobstores.redis import RedisJobStore
from greensched.jobstores.sqlalchemy import SQLAlchemyJobStore
from greensched.schedulers.gevent import GeventScheduler
from greensched.testing import MockClock
from greensched.triggers.date import DateTrigger
from tests.services import POSTGRESQL_URL, REDIS_URL, drop_store, require, unique_name

from .conftest import StubScheduler
from .interop_funcs import CALLS, Greeter

REF = "tests.jobstores.interop_funcs:Greeter.greet"
FAR = datetime(2031, 1, 2, tzinfo=timezone.utc)


@dataclass
class Backend:
    """One store location, opened by either library."""

    url: str
    name: str

    @property
    def is_redis(self) -> bool:
        return self.url.startswith("redis://")

    def apscheduler_store(self) -> Any:
        """A new APScheduler 3.x store on the location (not started)."""
        if self.is_redis:
            return APSRedisJobStore(
                jobs_key=f"{self.name}.jobs",
                run_times_key=f"{self.name}.run_times",
                **redis.connection.parse_url(self.url),
            )
        return APSSQLAlchemyJobStore(url=self.url, tablename=self.name)

    def greensched_store(self) -> SharedJobStore:
        """A new greensched store on the location (not started; a table APScheduler wrote is
        upgraded first)."""
        if self.is_redis:
            return RedisJobStore(
                jobs_key=f"{self.name}.jobs", run_times_key=f"{self.name}.run_times", url=self.url
            )
        store = SQLAlchemyJobStore(url=self.url, tablename=self.name)
        store.upgrade()
        return store


@pytest.fixture(params=["sqlite", "postgresql", "redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Backend]:
    """The test's own table (SQL) or keys (Redis); removed afterwards."""
    if request.param == "sqlite":
        yield Backend(f"sqlite:///{tmp_path}/jobs.sqlite", "jobs")
        return
    url = require(POSTGRESQL_URL if request.param == "postgresql" else REDIS_URL)
    location = Backend(url, unique_name("interop"))
    yield location
    drop_store(url, location.name)


@pytest.fixture(autouse=True)
def calls() -> list[tuple[str, str, str]]:
    CALLS.clear()
    return CALLS


@pytest.fixture
def started() -> Iterator[Callable[[Any], Any]]:
    """Start a store of either library; shut it down at teardown."""
    stores: list[Any] = []

    def start(store: Any) -> Any:
        store.start(StubScheduler(), "default")
        stores.append(store)
        return store

    yield start
    for store in stores:
        store.shutdown()


def add_with_apscheduler(backend: Backend, trigger: Any, next_run_time: datetime) -> Any:
    """Add a job with APScheduler 3.x's own store, as its scheduler's add_job does (no
    scheduler thread: its loop would race the test); return the job as add_job gives it."""
    job = APSJob(
        StubScheduler(),
        id="greet",
        func=Greeter("ada").greet,
        trigger=trigger,
        executor="default",
        args=("hello",),
        kwargs={"punctuation": "!"},
        name=None,
        misfire_grace_time=None,
        coalesce=True,
        max_instances=1,
        next_run_time=next_run_time,
    )
    store = backend.apscheduler_store()
    store.start(StubScheduler(), "default")
    try:
        store.add_job(job)
    finally:
        store.shutdown()
    return job


def check_loaded(job: Any) -> None:
    """A job loaded from the store, by either library: the plain function and the instance."""
    assert job.func is Greeter.greet
    assert job.func_ref == REF
    assert job.args == (Greeter("ada"), "hello")
    assert job.kwargs == {"punctuation": "!"}
    assert job.name == "Greeter.greet"


def test_job_written_by_apscheduler_loads_and_runs_in_greensched(
    backend: Backend, started: Callable[[Any], Any], calls: list[tuple[str, str, str]]
) -> None:
    added = add_with_apscheduler(backend, APSDateTrigger(FAR), FAR)
    # what APScheduler's add_job gives: the bound method, its arguments as given
    assert (added.func_ref, added.args) == (REF, ("hello",))
    assert (added.func.__func__, added.func.__self__) == (Greeter.greet, Greeter("ada"))

    store = started(backend.greensched_store())
    job = store.lookup_job("greet")
    assert type(job) is Job
    check_loaded(job)
    assert type(job.trigger) is DateTrigger
    assert job.next_run_time == FAR
    assert job.func(*job.args, **job.kwargs) == "hello, ada!"
    assert calls == [("ada", "hello", "!")]


def test_job_written_by_greensched_loads_and_runs_in_apscheduler(
    backend: Backend,
    started: Callable[[Any], Any],
    mock_clock: MockClock,
    calls: list[tuple[str, str, str]],
) -> None:
    scheduler = GeventScheduler(clock=mock_clock, timezone="UTC")
    scheduler.add_jobstore(backend.greensched_store(), "default")
    scheduler.start(paused=True)  # jobs added now are stored at once
    try:
        added = scheduler.add_job(
            Greeter("ada").greet,
            "date",
            run_date=FAR,
            args=["hello"],
            kwargs={"punctuation": "!"},
            id="greet",
        )
        # as APScheduler's add_job gives it: the bound method, its arguments as given
        assert (added.func_ref, added.args) == (REF, ("hello",))
        assert (added.func.__func__, added.func.__self__) == (Greeter.greet, Greeter("ada"))
        check_loaded(scheduler.get_job("greet"))  # read back from the store
    finally:
        scheduler.shutdown()

    store = started(backend.apscheduler_store())
    job = store.lookup_job("greet")
    check_loaded(job)
    assert job.next_run_time == FAR
    assert job.func(*job.args, **job.kwargs) == "hello, ada!"
    assert calls == [("ada", "hello", "!")]


def test_greensched_runs_an_apscheduler_job_and_saves_it_back_readable(
    backend: Backend,
    started: Callable[[Any], Any],
    mock_clock: MockClock,
    calls: list[tuple[str, str, str]],
) -> None:
    """The state greensched writes after a run holds the instance once, as before."""
    now = mock_clock.now()
    first = now + timedelta(minutes=1)
    add_with_apscheduler(backend, APSIntervalTrigger(minutes=5, start_date=first), first)
    scheduler = GeventScheduler(clock=mock_clock, timezone="UTC")
    scheduler.add_jobstore(backend.greensched_store(), "default")
    scheduler.start()
    try:
        gevent.idle()
        assert calls == []
        mock_clock.jump(60)
        gevent.idle()
        assert calls == [("ada", "hello", "!")]
    finally:
        scheduler.shutdown()

    store = started(backend.apscheduler_store())
    job = store.lookup_job("greet")
    check_loaded(job)
    assert job.next_run_time == first + timedelta(minutes=5)
    assert job.func(*job.args, **job.kwargs) == "hello, ada!"
    assert calls == [("ada", "hello", "!")] * 2
