"""Fixtures of the dashboard's tests: a scheduler started paused on a mock clock (nothing runs:
the tests write its history directly), over the memory store, an SQLite file or a PostgreSQL
table of the test's own; its dashboard and a WSGI client of it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from greensched.dashboard import Dashboard
from greensched.history import RunRecord
from greensched.jobstores.base import BaseJobStore
from greensched.schedulers.gevent import GeventScheduler
from greensched.testing import MockClock
from tests.services import POSTGRESQL_URL, drop_store, require, unique_name
from tests.support.wsgi import Client

#: The token of the dashboards that allow actions
TOKEN = "s3cret-token"


def work(*args: object, **kwargs: object) -> None:
    """The function of the test jobs (never run: the scheduler stays paused)."""


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BaseJobStore]:
    """The test's own store: memory, an SQLite file or a PostgreSQL table."""
    if request.param == "memory":
        from greensched.jobstores.memory import MemoryJobStore

        yield MemoryJobStore()
        return
    from greensched.jobstores.sqlalchemy import SQLAlchemyJobStore

    url = f"sqlite:///{tmp_path}/jobs.sqlite"
    if request.param == "postgresql":
        url = require(POSTGRESQL_URL)
    name = unique_name("dash")
    yield SQLAlchemyJobStore(url=url, tablename=name)
    if request.param == "postgresql":
        drop_store(url, name)
        drop_store(url, f"{name}_runs")


@pytest.fixture
def scheduler(store: BaseJobStore, mock_clock: MockClock) -> Iterator[GeventScheduler]:
    """A scheduler on ``store``, started paused, at the mock clock's time (Europe/Berlin)."""
    scheduler = GeventScheduler(
        jobstores={"default": store}, clock=mock_clock, timezone="Europe/Berlin"
    )
    scheduler.start(paused=True)
    yield scheduler
    scheduler.shutdown(wait=False)


@pytest.fixture
def client(scheduler: GeventScheduler) -> Client:
    """A client of a read-only dashboard of ``scheduler``."""
    return Client(Dashboard(scheduler))


@pytest.fixture
def admin_client(scheduler: GeventScheduler) -> Client:
    """A client of a dashboard of ``scheduler`` that allows actions with :data:`TOKEN`."""
    return Client(Dashboard(scheduler, token=TOKEN))


@pytest.fixture
def add_job(scheduler: GeventScheduler) -> Callable[..., Any]:
    """``add_job(id, trigger="interval", **options)``: a job running :func:`work`."""

    def add(job_id: str, trigger: str = "interval", **options: Any) -> Any:
        if trigger == "interval" and not {"seconds", "minutes", "hours"} & set(options):
            options["minutes"] = 5
        return scheduler.add_job(work, trigger, id=job_id, **options)

    return add


@pytest.fixture
def record_run(scheduler: GeventScheduler, mock_clock: MockClock) -> Callable[..., RunRecord]:
    """``record_run(job_id, outcome, ago=seconds, **fields)``: write a run that started
    ``ago`` seconds before now into the store's history."""
    counter = iter(range(1, 1_000_000))

    def record(job_id: str, outcome: str, ago: float = 60.0, **fields: Any) -> RunRecord:
        # in UTC, as a persistent store gives it back (and the JSON gives every time)
        started: datetime = (mock_clock.now() - timedelta(seconds=ago)).astimezone(timezone.utc)
        fields.setdefault("duration", None if outcome == "running" else 0.25)
        fields.setdefault("lateness", 0.01)
        fields.setdefault("host", "worker-1")
        fields.setdefault("pid", 4242)
        fields.setdefault("owner", "worker-1:4242:abc")
        run = RunRecord(
            f"run-{next(counter)}",
            job_id,
            job_id,
            started,
            outcome,
            started=started,
            ended=None if outcome == "running" else started + timedelta(seconds=0.25),
            **fields,
        )
        scheduler.jobstores["default"].runs.write([run])
        return run

    return record
