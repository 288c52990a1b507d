"""Tests for the SQLAlchemy job store on SQLite, PostgreSQL and MariaDB: APScheduler 3.x's
semantics, claims shared by two stores, unrestorable jobs, the upgrade of a table APScheduler
wrote, SQLite locking, PostgreSQL notifications and connections the server drops."""

from __future__ import annotations

import importlib.util
import io
import logging
import queue
import sqlite3
import sys
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import gevent
import pytest
from apscheduler.job import Job as APSJob
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore as APSSQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger as APSDateTrigger
from sqlalchemy import Engine, column, create_engine, event, func, select, table, text
from sqlalchemy.exc import DBAPIError

import greensched.jobstores._sql_transactions as sql_transactions
import greensched.jobstores.sqlalchemy as sqlalchemy_store
from greensched.job import Job
from greensched.jobstores.base import ConflictingIdError, JobLookupError
from greensched.jobstores.sqlalchemy import SQLAlchemyJobStore
from greensched.schedulers.gevent import GeventScheduler
from greensched.testing import MockClock
from greensched.triggers.cron import CronTrigger
from greensched.triggers.date import DateTrigger
from greensched.triggers.interval import IntervalTrigger
from tests.services import MARIADB_URL, POSTGRESQL_URL, backends, require, unique_name

from .conftest import T0, StubScheduler, at, ids, noop, reschedule

MakeJob = Callable[..., Job]
MakeStore = Callable[..., SQLAlchemyJobStore]

SERVERS = {"postgresql": POSTGRESQL_URL, "mariadb": MARIADB_URL}

runs: list[str] = []


def record_run(tag: str) -> None:
    runs.append(tag)


def takes_anything(*args: Any, **kwargs: Any) -> None:
    pass


@pytest.fixture(params=backends("sqlite", "postgresql", "mariadb"))
def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    """Each database the store supports (tests on servers only narrow this down with
    ``indirect`` parametrization)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/jobs.sqlite"
    return require(SERVERS[request.param])


servers_only = pytest.mark.parametrize("database_url", backends(*SERVERS), indirect=True)
postgresql_only = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@pytest.fixture
def table_names() -> Iterator[list[str]]:
    """The test's tables: the first one made here, more appended by tests (all dropped)."""
    return [unique_name("jobs")]


@pytest.fixture
def admin(database_url: str, table_names: list[str]) -> Iterator[Engine]:
    """An engine of the test's own, for looking at rows directly; drops the test's tables at
    teardown."""
    engine = create_engine(database_url)
    yield engine
    with engine.begin() as connection:
        for name in table_names:
            for table_name in (name, f"{name}_runs", f"{name}_processes"):
                connection.exec_driver_sql(f"DROP TABLE IF EXISTS {table_name}")
    engine.dispose()


@pytest.fixture
def make_store(database_url: str, table_names: list[str], admin: Engine) -> Iterator[MakeStore]:
    """Return a factory of stores on the test's table (started unless ``start=False``); they
    are shut down at teardown."""
    stores: list[SQLAlchemyJobStore] = []

    def make(*, start: bool = True, **options: Any) -> SQLAlchemyJobStore:
        options.setdefault("tablename", table_names[0])
        if "engine" not in options:
            options["url"] = database_url
        store = SQLAlchemyJobStore(**options)
        stores.append(store)
        if start:
            store.start(StubScheduler(), "default")  # type: ignore[arg-type]
        return store

    yield make
    for store in stores:
        store.shutdown()


@pytest.fixture
def store(make_store: MakeStore) -> SQLAlchemyJobStore:
    return make_store()


def stored_rows(admin: Engine, name: str) -> dict[str, tuple[float | None, bytes, str | None]]:
    """Return the table's rows as they are: id -> (next_run_time, job_state, claimed_by)."""
    jobs = table(name, column("id"), column("next_run_time"), column("job_state"))
    jobs.append_column(column("claimed_by"))
    with admin.connect() as connection:
        return {
            row.id: (row.next_run_time, bytes(row.job_state), row.claimed_by)
            for row in connection.execute(select(jobs))
        }


# Construction


def test_needs_a_url_or_an_engine() -> None:
    with pytest.raises(
        ValueError,
        match=r"^SQLAlchemyJobStore needs either url \(a database URL\) or engine \(an "
        r"SQLAlchemy Engine\), got neither$",
    ):
        SQLAlchemyJobStore()


def test_rejects_an_engine_that_is_not_one() -> None:
    with pytest.raises(TypeError, match=r"^engine must be an SQLAlchemy Engine, got: 42$"):
        SQLAlchemyJobStore(engine=42)  # type: ignore[arg-type]


def test_without_sqlalchemy_the_import_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "sqlalchemy", None)
    spec = importlib.util.find_spec("greensched.jobstores.sqlalchemy")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    with pytest.raises(
        ImportError,
        match=r"^SQLAlchemyJobStore requires SQLAlchemy installed "
        r"\(pip install 'greensched\[sqlalchemy\]'\)$",
    ):
        spec.loader.exec_module(module)


def test_repr_hides_the_password() -> None:
    store = SQLAlchemyJobStore(url="postgresql+psycopg://user:secret@db.example:5432/jobs")
    assert repr(store) == (
        "<SQLAlchemyJobStore (url=postgresql+psycopg://user:***@db.example:5432/jobs)>"
    )


def test_a_given_engine_is_used_and_not_disposed(tmp_path: Any) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/jobs.sqlite")
    store = SQLAlchemyJobStore(engine=engine, url="sqlite:///ignored.sqlite")
    assert store.engine is engine
    store.start(StubScheduler(), "default")  # type: ignore[arg-type]
    assert engine.pool.checkedin() == 1
    store.shutdown()
    assert engine.pool.checkedin() == 1  # not disposed: the pool kept its connection
    engine.dispose()


# APScheduler 3.x semantics


def test_empty_store(store: SQLAlchemyJobStore) -> None:
    assert store.lookup_job("nothing") is None
    assert store.get_due_jobs(at(10**6)) == []
    assert store.get_next_run_time() is None
    assert store.get_all_jobs() == []


def test_jobs_round_trip_bound_to_the_scheduler(
    store: SQLAlchemyJobStore, make_job: MakeJob
) -> None:
    job = make_job("a", at(1), func=takes_anything, args=(1, "two"), kwargs={"three": [3]})
    store.add_job(job)
    loaded = store.lookup_job("a")
    assert loaded is not None
    assert loaded is not job
    state = loaded.__getstate__()
    assert isinstance(state.pop("trigger"), type(job.trigger))
    assert state == {key: value for key, value in job.__getstate__().items() if key != "trigger"}
    assert loaded._jobstore_alias == "default"
    assert isinstance(loaded._scheduler, StubScheduler)


def test_next_run_time_is_an_aware_utc_datetime(
    store: SQLAlchemyJobStore, make_job: MakeJob
) -> None:
    store.add_job(make_job("a", at(1.25).astimezone(timezone(timedelta(hours=5)))))
    next_run_time = store.get_next_run_time()
    assert next_run_time == at(1.25)
    assert next_run_time is not None
    assert next_run_time.tzinfo is timezone.utc


def test_jobs_come_by_next_run_time_then_id_paused_last(
    store: SQLAlchemyJobStore, make_job: MakeJob
) -> None:
    for job_id, seconds in [("p2", None), ("b", 2), ("c", 1), ("p1", None), ("a", 2), ("d", 3)]:
        store.add_job(make_job(job_id, None if seconds is None else at(seconds)))
    assert ids(store.get_all_jobs()) == ["c", "a", "b", "d", "p1", "p2"]
    assert ids(store.get_due_jobs(at(2))) == ["c", "a", "b"]
    assert ids(list(store.iter_jobs())) == ["c", "a", "b", "d", "p1", "p2"]


def test_all_jobs_are_streamed_in_chunks(
    store: SQLAlchemyJobStore,
    make_job: MakeJob,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sqlalchemy_store, "STREAM_CHUNK", 2)
    for number in range(7):
        store.add_job(make_job(f"j{number}", at(10 - number)))
    options: list[dict[str, Any]] = []

    @event.listens_for(store.engine, "before_cursor_execute")
    def record(
        connection: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        options.append(dict(context.execution_options))

    jobs = store.iter_jobs()
    assert next(jobs).id == "j6"
    assert options[-1]["yield_per"] == 2
    assert options[-1]["stream_results"] is True
    assert ids(list(jobs)) == [f"j{number}" for number in range(5, -1, -1)]


def aps_job(job_id: str, next_run_time: datetime | None) -> APSJob:
    return APSJob(
        StubScheduler(),
        id=job_id,
        func=noop,
        trigger=APSDateTrigger(T0),
        executor="default",
        args=(),
        kwargs={},
        name=job_id,
        misfire_grace_time=1,
        coalesce=True,
        max_instances=1,
        next_run_time=next_run_time,
    )


def crud_transcript(store: Any, job: Callable[[str, datetime | None], Any]) -> list[Any]:
    """Run the same API calls on a store; return everything observable, errors included."""
    transcript: list[Any] = []

    def attempt(call: Callable[[], Any]) -> None:
        try:
            transcript.append(call())
        except Exception as exc:  # noqa: BLE001 (the error is part of the transcript)
            transcript.append((type(exc).__name__, str(exc)))

    def job_ids(jobs: list[Any]) -> list[str]:
        return [job.id for job in jobs]

    for job_id, seconds in [("b", 2), ("c", 1), ("p", None), ("d", 3), ("e", 5)]:
        store.add_job(job(job_id, None if seconds is None else at(seconds)))
    attempt(lambda: store.add_job(job("c", at(9))))
    attempt(lambda: job_ids(store.get_all_jobs()))
    attempt(lambda: job_ids(store.get_due_jobs(at(2))))
    attempt(lambda: job_ids(store.get_due_jobs(at(0))))
    attempt(store.get_next_run_time)
    attempt(lambda: store.lookup_job("c").next_run_time)
    attempt(lambda: store.lookup_job("missing"))
    attempt(lambda: store.update_job(job("c", at(4))))
    attempt(lambda: store.update_job(job("missing", at(4))))
    attempt(lambda: store.remove_job("p"))
    attempt(lambda: store.remove_job("p"))
    # one paused job at a time: APScheduler gives paused jobs in the database's order
    attempt(lambda: store.update_job(job("b", None)))
    attempt(lambda: job_ids(store.get_all_jobs()))
    attempt(lambda: [job.next_run_time for job in store.get_all_jobs()])
    attempt(store.get_next_run_time)
    attempt(store.remove_all_jobs)
    attempt(store.get_all_jobs)
    attempt(store.get_next_run_time)
    return transcript


def test_api_calls_give_what_apscheduler_gives(
    store: SQLAlchemyJobStore,
    make_job: MakeJob,
    database_url: str,
    table_names: list[str],
    admin: Engine,
) -> None:
    table_names.append(unique_name("aps_jobs"))
    aps_store = APSSQLAlchemyJobStore(url=database_url, tablename=table_names[1])
    aps_store.start(StubScheduler(), "default")
    try:
        expected = crud_transcript(aps_store, aps_job)
    finally:
        aps_store.shutdown()
    assert crud_transcript(store, make_job) == expected
    assert expected[0] == (
        "ConflictingIdError",
        "'Job identifier (c) conflicts with an existing job'",
    )


def test_add_with_a_taken_id_keeps_the_stored_job(
    store: SQLAlchemyJobStore, make_job: MakeJob
) -> None:
    store.add_job(make_job("a", at(1)))
    with pytest.raises(ConflictingIdError):
        store.add_job(make_job("a", at(0)))
    assert [job.next_run_time for job in store.get_all_jobs()] == [at(1)]


def test_update_and_remove_of_a_missing_job_raise(
    store: SQLAlchemyJobStore, make_job: MakeJob
) -> None:
    with pytest.raises(JobLookupError, match=r"^'No job by the id of a was found'$"):
        store.update_job(make_job("a", at(1)))
    with pytest.raises(JobLookupError, match=r"^'No job by the id of a was found'$"):
        store.remove_job("a")
    assert store.get_all_jobs() == []


def test_a_job_without_a_function_reference_is_refused_and_nothing_written(
    store: SQLAlchemyJobStore, make_job: MakeJob, admin: Engine, table_names: list[str]
) -> None:
    with pytest.raises(ValueError, match=r"^Job 'lambda' cannot be stored in a persistent"):
        store.add_job(make_job("lambda", at(1), func=lambda: None))
    assert stored_rows(admin, table_names[0]) == {}


def test_a_job_with_unpicklable_args_is_refused_and_nothing_written(
    store: SQLAlchemyJobStore, make_job: MakeJob, admin: Engine, table_names: list[str]
) -> None:
    store.add_job(make_job("lock", at(1), func=takes_anything))
    before = stored_rows(admin, table_names[0])
    with pytest.raises(ValueError, match=r"^Job 'other' cannot be stored .* cannot be pickled"):
        store.add_job(make_job("other", at(1), func=takes_anything, args=(threading.Lock(),)))
    with pytest.raises(ValueError, match=r"^Job 'lock' cannot be stored .* cannot be pickled"):
        store.update_job(make_job("lock", at(2), func=takes_anything, args=(threading.Lock(),)))
    assert stored_rows(admin, table_names[0]) == before


LONG_ID = "x" * 192


def too_long(name: str) -> str:
    return (
        rf"^id must be at most 191 characters long \(the id column of job table '{name}'\), "
        rf"got: '{LONG_ID}'$"
    )


def with_nul(name: str) -> str:
    return (
        rf"^id must not contain NUL characters \(the id column of job table '{name}'\), "
        r"got: 'a\\x00b'$"
    )


def test_an_id_the_column_cannot_hold_is_refused_and_nothing_written(
    store: SQLAlchemyJobStore, make_job: MakeJob, admin: Engine, table_names: list[str]
) -> None:
    name = table_names[0]
    store.add_job(make_job("x" * 191, at(1)))  # the longest id the column holds
    before = stored_rows(admin, name)
    with pytest.raises(ValueError, match=too_long(name)):
        store.add_job(make_job(LONG_ID, at(1)))
    with pytest.raises(ValueError, match=with_nul(name)):
        store.add_job(make_job("a\0b", at(1)))
    with pytest.raises(ValueError, match=too_long(name)):
        store.update_job(make_job(LONG_ID, at(1)))
    assert stored_rows(admin, name) == before
    # such a job cannot exist: looking it up finds nothing (no DataError)
    assert store.lookup_job(LONG_ID) is None
    assert store.lookup_job("a\0b") is None
    with pytest.raises(JobLookupError):
        store.remove_job("a\0b")


def test_the_scheduler_refuses_such_ids_at_add_job_and_import(
    make_store: MakeStore, admin: Engine, table_names: list[str]
) -> None:
    name = table_names[0]
    scheduler = GeventScheduler(timezone="UTC", jobstores={"default": make_store(start=False)})
    # stopped: refused at add_job, not when the scheduler starts
    with pytest.raises(ValueError, match=too_long(name)):
        scheduler.add_job(noop, "interval", seconds=5, id=LONG_ID)
    scheduler.start(paused=True)
    try:
        with pytest.raises(ValueError, match=with_nul(name)):
            scheduler.add_job(noop, "interval", seconds=5, id="a\0b")
        source = GeventScheduler(timezone="UTC")
        source.add_job(noop, "interval", seconds=5, id="fine")
        source.add_job(noop, "interval", seconds=5, id=LONG_ID)
        export = io.StringIO()
        source.export_jobs(export)
        export.seek(0)
        with pytest.raises(ValueError, match=too_long(name)):
            scheduler.import_jobs(export)
        assert stored_rows(admin, name) == {}  # not even the fine job
    finally:
        scheduler.shutdown(wait=False)


def test_ids_compare_exactly(store: SQLAlchemyJobStore, make_job: MakeJob) -> None:
    """MariaDB's default collation ignores case and trailing spaces: the id column's does
    not (PostgreSQL and SQLite compare exactly anyway)."""
    store.add_job(make_job("report", at(1)))
    assert store.lookup_job("REPORT") is None
    assert store.lookup_job("report ") is None
    store.add_job(make_job("REPORT", at(2)))
    store.add_job(make_job("report ", at(3)))
    assert ids(store.get_all_jobs()) == ["report", "REPORT", "report "]
    store.remove_job("report ")
    assert [job.id for job in [store.lookup_job("report")] if job] == ["report"]
    with pytest.raises(JobLookupError):
        store.remove_job("Report")


@pytest.mark.parametrize("database_url", backends("mariadb"), indirect=True)
def test_upgrade_makes_the_id_column_of_an_older_table_compare_exactly(
    make_store: MakeStore,
    make_job: MakeJob,
    admin: Engine,
    table_names: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    name = table_names[0]
    old = make_store()
    old.add_job(make_job("report", at(1)))
    with admin.begin() as connection:  # the id column of greensched 0.1 and APScheduler 3.x
        connection.exec_driver_sql(
            f"ALTER TABLE {name} MODIFY id VARCHAR(191) CHARACTER SET utf8mb4 "
            "COLLATE utf8mb4_general_ci NOT NULL"
        )
    assert old.lookup_job("REPORT") is not None
    with caplog.at_level(logging.INFO, logger="greensched.jobstores"):
        store = make_store()
        store.upgrade()
        store.upgrade()
    assert [(record.levelname, record.getMessage()) for record in caplog.records] == [
        (
            "WARNING",
            (
                f"Job table '{name}' compares ids ignoring case and trailing spaces; call "
                "SQLAlchemyJobStore.upgrade() once to make them compare exactly"
            ),
        ),
        (
            "INFO",
            (
                f"Upgraded job table '{name}' for greensched: made its id column compare "
                "exactly (utf8mb4_nopad_bin) (1 job, none changed)"
            ),
        ),
        ("INFO", f"Job table '{name}' is up to date: nothing to upgrade"),
    ]
    assert store.lookup_job("REPORT") is None
    assert store.lookup_job("report ") is None
    assert ids(store.get_all_jobs()) == ["report"]


# Claims


def test_a_claim_whose_commit_fails_after_committing_is_taken_back_by_its_owner(
    make_store: MakeStore, make_job: MakeJob, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The connection drops once the server has committed, before the store hears of it: the
    # store cannot tell whether its claim happened. Its next round takes back what it holds.
    a, b = make_store(), make_store()
    for job_id in ("x", "y"):
        a.add_job(make_job(job_id, at(1)))
    dialect = a.engine.dialect
    commit = dialect.do_commit

    def commit_then_fail(dbapi_connection: Any) -> None:
        commit(dbapi_connection)
        raise dialect.loaded_dbapi.OperationalError("connection lost after the commit")

    with monkeypatch.context() as patch:
        patch.setattr(dialect, "do_commit", commit_then_fail)
        with pytest.raises(DBAPIError, match="connection lost after the commit"):
            a.acquire_due_jobs(at(5))
    assert b.acquire_due_jobs(at(6)) == []  # the claim happened: the jobs are a's
    again = a.acquire_due_jobs(at(6))
    assert ids(again) == ["x", "y"]  # at once, not when the lease ends
    reschedule(again, 60)
    assert a.release_due_jobs(again, []) == set()
    assert a.get_next_run_time() == at(60)


def test_claiming_and_releasing_many_jobs_takes_few_statements(
    store: SQLAlchemyJobStore, make_job: MakeJob
) -> None:
    for number in range(100):
        store.add_job(make_job(f"j{number:03}", at(1)))
    statements: list[str] = []

    @event.listens_for(store.engine, "before_cursor_execute")
    def record(connection: Any, cursor: Any, statement: str, *args: Any) -> None:
        # not counted: what bounds a claim transaction by the lease (PostgreSQL: one
        # statement in each; MariaDB: once on each connection)
        if "set_config(" not in statement and not statement.startswith("SET SESSION"):
            statements.append(statement.split()[0].upper())

    # PostgreSQL: a claim is one UPDATE that locks what it takes; a release is one statement
    # that writes the held rows from arrays and deletes the held removed ones (two CTEs).
    # MariaDB's release writes and deletes the rows still held without locking them first
    # (it counts them); SQLite's write transaction locks the database, then it selects them
    claims = {"postgresql": ["UPDATE"]}
    releases = {"postgresql": ["WITH"], "mysql": ["UPDATE", "DELETE"]}
    dialect = store.engine.dialect.name
    claimed = store.acquire_due_jobs(at(5))
    assert len(claimed) == 100
    assert ids(claimed) == [f"j{number:03}" for number in range(100)]
    assert [s for s in statements if s != "BEGIN"] == claims.get(dialect, ["SELECT", "UPDATE"])
    statements.clear()
    reschedule(claimed[:50], 60)
    assert store.release_due_jobs(claimed[:50], claimed[50:]) == set()
    assert [s for s in statements if s != "BEGIN"] == releases.get(
        dialect, ["SELECT", "UPDATE", "DELETE"]
    )
    assert [(job.id, job.next_run_time) for job in store.get_all_jobs()] == [
        (job.id, at(60)) for job in claimed[:50]
    ]


@pytest.mark.parametrize("database_url", backends("mariadb"), indirect=True)
def test_a_mariadb_release_that_finds_a_claim_lost_locks_the_rows_and_writes_the_held_ones(
    make_store: MakeStore, make_job: MakeJob
) -> None:
    a, b = make_store(), make_store()
    for job_id in ("kept", "modified", "removed"):
        a.add_job(make_job(job_id, at(1)))
    claimed = {job.id: job for job in a.acquire_due_jobs(at(5))}
    b.update_job(make_job("modified", None, name="paused elsewhere"))  # ends a's claim
    statements: list[str] = []

    @event.listens_for(a.engine, "before_cursor_execute")
    def record(connection: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.startswith("SET SESSION"):  # the lease's bounds, on a new connection
            statements.append(statement.split()[0].upper())

    reschedule(list(claimed.values()), 60)
    lost = a.release_due_jobs([claimed["kept"], claimed["modified"]], [claimed["removed"]])
    assert lost == {"modified"}
    # the UPDATE of the rows still held matched one of two: rolled back, then the rows a
    # holds were locked and written, and the removed job deleted
    assert statements == ["UPDATE", "SELECT", "UPDATE", "DELETE"]
    assert [(job.id, job.name, job.next_run_time) for job in b.get_all_jobs()] == [
        ("kept", "noop", at(60)),
        ("modified", "paused elsewhere", None),
    ]


def test_a_store_on_a_given_engine_claims_and_releases(
    database_url: str, table_names: list[str], admin: Engine, make_job: MakeJob
) -> None:
    """With an engine of the user's (no settings of the store's: SQLite in sqlite3's own
    transaction mode, MariaDB at its default isolation level) claims work the same."""
    engine = create_engine(database_url)
    a = SQLAlchemyJobStore(engine=engine, tablename=table_names[0])
    b = SQLAlchemyJobStore(engine=engine, tablename=table_names[0])
    for store in (a, b):
        store.start(StubScheduler(), "default")  # type: ignore[arg-type]
    a.add_job(make_job("x", at(1)))
    claimed = a.acquire_due_jobs(at(5))
    assert ids(claimed) == ["x"]
    assert b.acquire_due_jobs(at(5)) == []
    reschedule(claimed, 60)
    assert a.release_due_jobs(claimed, []) == set()
    assert [job.next_run_time for job in b.get_all_jobs()] == [at(60)]
    a.shutdown()
    b.shutdown()
    engine.dispose()


#: the server's statement, lock wait and idle transaction timeouts of a session
TIMEOUTS = {
    "postgresql": "SELECT setting FROM pg_settings WHERE name IN ('idle_in_transaction_session_"
    "timeout', 'lock_timeout', 'statement_timeout') ORDER BY name",
    "mariadb": "SELECT @@session.idle_transaction_timeout, @@session.innodb_lock_wait_timeout, "
    "@@session.max_statement_time",
}


def session_timeouts(dialect: str, dbapi_connection: Any) -> list[str]:
    cursor = dbapi_connection.cursor()
    cursor.execute(TIMEOUTS[dialect])
    rows = cursor.fetchall()
    cursor.close()
    return [str(value) for row in rows for value in row]


@servers_only
@pytest.mark.parametrize("own_engine", [True, False], ids=["own engine", "engine passed in"])
def test_claim_transactions_are_bounded_by_the_lease(
    database_url: str, table_names: list[str], admin: Engine, own_engine: bool
) -> None:
    """A claim transaction's statements, lock waits and idle time are bounded by the lease
    (the server ends the transaction of a process paused in it). The connections of an engine
    the store created stay bounded (set once per connection: every statement on them is the
    store's); those of an engine passed in keep the server's defaults once they go back to
    the pool."""
    dialect = "postgresql" if database_url.startswith("postgresql") else "mariadb"
    engine = None if own_engine else create_engine(database_url, pool_size=1)
    store = SQLAlchemyJobStore(
        url=database_url if own_engine else None,
        engine=engine,
        tablename=table_names[0],
        lease_time=2.5,
    )
    store.start(StubScheduler(), "default")  # type: ignore[arg-type]
    with store.engine.connect() as connection:
        defaults = session_timeouts(dialect, connection.connection.dbapi_connection)
    seen: list[list[str]] = []

    @event.listens_for(store.engine, "after_cursor_execute")
    def look(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "SKIP LOCKED" in statement:
            seen.append(session_timeouts(dialect, cursor.connection))

    store.acquire_due_jobs(at(5))
    bounded = ["2500", "2500", "2500"] if dialect == "postgresql" else ["3", "3", "2.5"]
    assert seen == [bounded]
    with store.engine.connect() as connection:
        after = session_timeouts(dialect, connection.connection.dbapi_connection)
    assert after == (bounded if own_engine else defaults)
    store.shutdown()
    if engine is not None:
        engine.dispose()


@servers_only
def test_a_claim_skips_rows_another_transaction_has_locked(
    store: SQLAlchemyJobStore, make_job: MakeJob, admin: Engine, table_names: list[str]
) -> None:
    for job_id in ("x", "y"):
        store.add_job(make_job(job_id, at(1)))
    with admin.connect() as other_claim:
        other_claim.execute(
            text(f"SELECT id FROM {table_names[0]} WHERE id = 'x' FOR UPDATE")
        ).all()
        assert ids(store.acquire_due_jobs(at(5))) == ["y"]  # without waiting for x's lock
        other_claim.rollback()
    assert ids(store.acquire_due_jobs(at(6))) == ["x", "y"]  # y is still held: claimed again


def lock_conflict(dialect: str) -> DBAPIError:
    """Return the error a deadlock raises on the dialect's server."""
    error: Exception
    if dialect == "postgresql":
        import psycopg.errors

        error = psycopg.errors.DeadlockDetected("deadlock detected")
    else:
        import pymysql.err

        error = pymysql.err.OperationalError(1213, "Deadlock found when trying to get lock")
    return DBAPIError("UPDATE ...", None, error)


@servers_only
def test_a_transaction_is_tried_again_after_a_deadlock(
    store: SQLAlchemyJobStore, caplog: pytest.LogCaptureFixture
) -> None:
    attempts: list[None] = []

    def work(connection: Any) -> str:
        attempts.append(None)
        if len(attempts) < sql_transactions.CONFLICT_ATTEMPTS:
            raise lock_conflict(store.engine.dialect.name)
        return "done"

    with caplog.at_level(logging.WARNING, logger="greensched.jobstores.default"):
        assert store._transaction(work, write=True) == "done"
    assert len(attempts) == sql_transactions.CONFLICT_ATTEMPTS
    assert len(caplog.records) == sql_transactions.CONFLICT_ATTEMPTS - 1
    assert (
        caplog.records[0]
        .getMessage()
        .startswith(
            "Transaction failed on a lock conflict (",
        )
    )


@servers_only
def test_a_transaction_gives_up_after_repeated_deadlocks(store: SQLAlchemyJobStore) -> None:
    attempts: list[None] = []

    def work(connection: Any) -> None:
        attempts.append(None)
        raise lock_conflict(store.engine.dialect.name)

    with pytest.raises(DBAPIError, match=r"[Dd]eadlock"):
        store._transaction(work, write=True)
    assert len(attempts) == sql_transactions.CONFLICT_ATTEMPTS


# Upgrading a table APScheduler 3.x wrote


def test_a_table_apscheduler_wrote_is_upgraded_and_its_jobs_load(
    make_store: MakeStore,
    database_url: str,
    table_names: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    aps_store = APSSQLAlchemyJobStore(url=database_url, tablename=table_names[0])
    scheduler = BackgroundScheduler(jobstores={"default": aps_store}, timezone="UTC")
    scheduler.start(paused=True)  # jobs added now are stored at once
    start = datetime(2024, 6, 3, 6, 0, tzinfo=timezone.utc)
    scheduler.add_job(
        record_run, "interval", minutes=5, start_date=start, args=["i"], id="interval"
    )
    scheduler.add_job(record_run, "cron", hour=3, minute="*/20", args=["c"], id="cron")
    scheduler.add_job(
        record_run,
        "date",
        run_date=datetime(2031, 1, 2, tzinfo=timezone.utc),
        kwargs={"tag": "d"},
        id="date",
    )
    scheduler.pause_job("cron")
    expected = {
        job.id: (
            type(job.trigger).__name__,
            str(job.trigger),
            job.next_run_time,
            job.args,
            job.kwargs,
        )
        for job in scheduler.get_jobs()
    }
    scheduler.shutdown()

    store = make_store(start=False)
    with pytest.raises(
        RuntimeError,
        match=rf"^Table '{table_names[0]}' was written by APScheduler 3.x: it has no "
        r"claimed_by column, .* Call SQLAlchemyJobStore.upgrade\(\) once",
    ):
        store.start(StubScheduler(), "default")  # type: ignore[arg-type]
    with caplog.at_level(logging.INFO, logger="greensched.jobstores"):
        store.upgrade()
        store.upgrade()
    # MariaDB: APScheduler's id column compares ignoring case and trailing spaces
    exact = (
        " and made its id column compare exactly (utf8mb4_nopad_bin)"
        if database_url.startswith("mysql")
        else ""
    )
    assert [record.getMessage() for record in caplog.records] == [
        (
            f"Upgraded job table '{table_names[0]}' for greensched: added its claimed_by "
            f"column{exact} (3 jobs, none changed)"
        ),
        (f"Created run history tables '{table_names[0]}_runs' and '{table_names[0]}_processes'"),
        f"Job table '{table_names[0]}' is up to date: nothing to upgrade",
    ]
    store.start(StubScheduler(), "default")  # type: ignore[arg-type]
    jobs = store.get_all_jobs()
    assert {
        job.id: (
            type(job.trigger).__name__,
            str(job.trigger),
            job.next_run_time,
            job.args,
            job.kwargs,
        )
        for job in jobs
    } == expected
    assert [type(job.trigger) for job in jobs] == [IntervalTrigger, DateTrigger, CronTrigger]
    assert ids(jobs) == ["interval", "date", "cron"]

    reader = APSSQLAlchemyJobStore(url=database_url, tablename=table_names[0])
    reader.start(StubScheduler(), "default")
    try:
        assert [job.id for job in reader.get_all_jobs()] == ["interval", "date", "cron"]
    finally:
        reader.shutdown()


def test_upgrade_creates_a_missing_table(
    make_store: MakeStore, caplog: pytest.LogCaptureFixture, table_names: list[str]
) -> None:
    store = make_store(start=False)
    with caplog.at_level(logging.INFO, logger="greensched.jobstores"):
        store.upgrade()
    assert [record.getMessage() for record in caplog.records] == [
        f"Created job table '{table_names[0]}'",
        f"Created run history tables '{table_names[0]}_runs' and '{table_names[0]}_processes'",
    ]
    store.start(StubScheduler(), "default")  # type: ignore[arg-type]
    assert store.get_all_jobs() == []


# SQLite


def sqlite_path(tmp_path: Any) -> str:
    return f"{tmp_path}/jobs.sqlite"


def test_sqlite_file_databases_use_wal(tmp_path: Any) -> None:
    store = SQLAlchemyJobStore(url=f"sqlite:///{sqlite_path(tmp_path)}")
    store.start(StubScheduler(), "default")  # type: ignore[arg-type]
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    store.shutdown()


def test_sqlite_waits_for_a_locked_database_without_blocking_the_hub(
    tmp_path: Any, make_job: MakeJob
) -> None:
    store = SQLAlchemyJobStore(url=f"sqlite:///{sqlite_path(tmp_path)}")
    store.start(StubScheduler(), "default")  # type: ignore[arg-type]
    other_process = sqlite3.connect(sqlite_path(tmp_path), isolation_level=None)
    other_process.execute("BEGIN IMMEDIATE")
    ticks: list[None] = []

    def tick() -> None:
        while True:
            ticks.append(None)
            gevent.sleep(0.001)

    ticker = gevent.spawn(tick)
    adding = gevent.spawn(store.add_job, make_job("a", at(1)))
    gevent.sleep(0.05)
    assert not adding.ready()
    assert len(ticks) >= 5  # the hub kept running while the store waited
    other_process.execute("COMMIT")
    adding.join(5)
    ticker.kill()
    assert adding.successful()
    assert ids(store.get_all_jobs()) == ["a"]
    other_process.close()
    store.shutdown()


def test_sqlite_gives_up_on_a_database_locked_too_long(
    tmp_path: Any, make_job: MakeJob, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sql_transactions, "SQLITE_LOCK_PATIENCE", 0.01)
    store = SQLAlchemyJobStore(url=f"sqlite:///{sqlite_path(tmp_path)}")
    store.start(StubScheduler(), "default")  # type: ignore[arg-type]
    other_process = sqlite3.connect(sqlite_path(tmp_path), isolation_level=None)
    other_process.execute("BEGIN IMMEDIATE")
    with pytest.raises(
        TimeoutError,
        match=r"^The SQLite database '.*jobs.sqlite' stayed locked by another connection for "
        r"0\.\d\d s; gave up$",
    ):
        store.add_job(make_job("a", at(1)))
    other_process.execute("ROLLBACK")
    other_process.close()
    assert store.get_all_jobs() == []
    store.shutdown()


def test_a_gevent_scheduler_runs_jobs_from_a_sqlite_store(
    tmp_path: Any, mock_clock: MockClock
) -> None:
    runs.clear()
    store = SQLAlchemyJobStore(url=f"sqlite:///{sqlite_path(tmp_path)}")
    scheduler = GeventScheduler(clock=mock_clock, timezone="UTC", jobstores={"default": store})
    scheduler.add_job(record_run, "interval", minutes=1, args=["tick"], id="tick")
    scheduler.add_job(
        record_run,
        "date",
        run_date=mock_clock.now() + timedelta(seconds=120),
        args=["once"],
        id="once",
    )
    scheduler.start()
    gevent.idle()
    for _ in range(3):
        mock_clock.jump(60)
        gevent.idle()
    assert runs == ["tick", "once", "tick", "tick"]
    assert ids(store.get_all_jobs()) == ["tick"]
    assert store.get_next_run_time() == mock_clock.now() + timedelta(minutes=1)
    scheduler.shutdown()


# Connections the server drops


def server_connection_ids(engine: Engine) -> list[int]:
    """Record the server's id of each connection the engine opens from now on."""
    recorded: list[int] = []

    @event.listens_for(engine, "connect")
    def record(dbapi_connection: Any, connection_record: Any) -> None:
        if engine.dialect.name == "postgresql":
            recorded.append(dbapi_connection.info.backend_pid)
        else:
            recorded.append(dbapi_connection.thread_id())

    return recorded


def drop_connections(admin: Engine, connection_ids: list[int]) -> None:
    with admin.connect() as connection:
        for connection_id in connection_ids:
            if admin.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": connection_id}
                )
            else:
                connection.exec_driver_sql(f"KILL {int(connection_id)}")


def start_and_claim_three(store: SQLAlchemyJobStore, make_job: MakeJob) -> list[Job]:
    """Start the store, add x, y and z due at 1, claim them at 5 and give them a next run time
    of 60 (not released yet)."""
    store.start(StubScheduler(), "default")  # type: ignore[arg-type]
    for job_id in ("x", "y", "z"):
        store.add_job(make_job(job_id, at(1)))
    claimed = store.acquire_due_jobs(at(5))
    reschedule(claimed, 60)
    return claimed


def assert_released_to_60(admin: Engine, table: str) -> None:
    """x, y and z are stored with a next run time of 60 and no claim."""
    rows = stored_rows(admin, table)
    assert {job_id: (row[0], row[2]) for job_id, row in rows.items()} == {
        job_id: (at(60).timestamp(), None) for job_id in ("x", "y", "z")
    }


@servers_only
@pytest.mark.parametrize(
    "engine_options", [{}, {"pool_pre_ping": True}], ids=["default", "pre_ping"]
)
def test_a_connection_the_server_dropped_is_replaced_before_the_first_statement(
    make_store: MakeStore,
    make_job: MakeJob,
    admin: Engine,
    table_names: list[str],
    engine_options: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = make_store(start=False, engine_options=engine_options)
    connection_ids = server_connection_ids(store.engine)
    claimed = start_and_claim_three(store, make_job)
    drop_connections(admin, connection_ids)  # the pooled connection is dead: a restart
    connection_ids.clear()  # the connections opened from now on are recorded again
    with caplog.at_level(logging.INFO, logger="greensched.jobstores.default"):
        assert store.release_due_jobs(claimed, []) == set()
    retried = [r for r in caplog.records if "closed a pooled connection" in r.getMessage()]
    assert len(retried) == (0 if engine_options else 1)
    assert_released_to_60(admin, table_names[0])
    store.add_job(make_job("w", at(70)))  # the API works on as well
    assert store.acquire_due_jobs(at(7)) == []
    drop_connections(admin, connection_ids)
    assert ids(store.get_all_jobs()) == ["x", "y", "z", "w"]  # so does reading them all


@servers_only
def test_a_connection_dropped_inside_a_transaction_fails_it_and_claims_are_taken_again(
    make_store: MakeStore,
    make_job: MakeJob,
    admin: Engine,
    table_names: list[str],
    database_url: str,
) -> None:
    # PostgreSQL on an engine the store created releases in one statement in autocommit mode
    # (no transaction to lose part of); on an engine passed in, its release transaction
    # begins with the lease's bounds
    engine = create_engine(database_url) if database_url.startswith("postgresql") else None
    store = make_store(start=False) if engine is None else make_store(start=False, engine=engine)
    connection_ids = server_connection_ids(store.engine)
    claimed = start_and_claim_three(store, make_job)
    dropped: list[bool] = []

    @event.listens_for(store.engine, "after_cursor_execute")
    def drop_after_the_first_statement(*args: Any) -> None:
        if not dropped:
            dropped.append(True)
            drop_connections(admin, connection_ids)

    # the release's first statement ran: whether the rest was stored is not known to the
    # store, so it is not tried again; nothing of it was stored
    with pytest.raises(DBAPIError):
        store.release_due_jobs(claimed, [])
    event.remove(store.engine, "after_cursor_execute", drop_after_the_first_statement)
    again = store.acquire_due_jobs(at(6))
    assert ids(again) == ["x", "y", "z"]
    reschedule(again, 60)
    assert store.release_due_jobs(again, []) == set()
    assert_released_to_60(admin, table_names[0])
    if engine is not None:
        store.shutdown()
        engine.dispose()


# PostgreSQL notifications


def test_only_postgresql_has_a_notification_channel(make_store: MakeStore) -> None:
    store = make_store(start=False)
    assert store._has_channel() is (store.engine.dialect.name == "postgresql")


def test_channel_names_are_short_identifiers() -> None:
    assert sqlalchemy_store._channel_name(None, "apscheduler_jobs") == (
        "greensched_apscheduler_jobs"
    )
    assert sqlalchemy_store._channel_name("Sched", "Jobs-1") == "greensched_sched_jobs_1"
    long_name = sqlalchemy_store._channel_name("s", "j" * 100)
    assert len(long_name) == 63
    assert long_name != sqlalchemy_store._channel_name("s", "j" * 101)


def listen_directly(database_url: str, channel: str) -> Any:
    import psycopg
    from psycopg import sql

    listener = psycopg.connect(database_url.replace("+psycopg", ""), autocommit=True)
    listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
    return listener


@postgresql_only
def test_api_changes_notify_the_other_processes(
    make_store: MakeStore, make_job: MakeJob, admin: Engine, database_url: str
) -> None:
    store, quiet = make_store(), make_store(notify=False)
    assert store._channel is not None
    with listen_directly(database_url, store._channel) as listener:
        store.add_job(make_job("a", at(1)))
        with pytest.raises(ConflictingIdError):
            store.add_job(make_job("a", at(1)))
        store.update_job(make_job("a", at(2)))
        with pytest.raises(JobLookupError):
            store.remove_job("missing")
        quiet.add_job(make_job("b", at(1)))
        claimed = store.acquire_due_jobs(at(5))
        store.release_due_jobs(claimed, [])
        store.remove_job("a")
        store.remove_all_jobs()
        with admin.begin() as connection:
            connection.execute(select(func.pg_notify(store._channel, "end")))
        payloads = [
            notification.payload for notification in listener.notifies(timeout=10, stop_after=5)
        ]
    assert payloads == [store.owner] * 4 + ["end"]


@postgresql_only
def test_api_writes_claims_and_releases_are_one_statement_outside_any_transaction_block(
    make_store: MakeStore, make_job: MakeJob
) -> None:
    """Each API write on PostgreSQL is one round trip: its statement (with its notification)
    runs in autocommit mode, with no BEGIN and COMMIT around it; a write that fails changes
    nothing. Claims and releases too, on an engine the store created."""
    store = make_store()
    sent: list[tuple[str, bool]] = []

    @event.listens_for(store.engine, "before_cursor_execute")
    def record(connection: Any, cursor: Any, statement: str, *args: Any) -> None:
        autocommit = connection.connection.dbapi_connection.autocommit
        sent.append((statement.split()[0].upper(), autocommit))

    store.add_job(make_job("a", at(1)))
    store.update_job(make_job("a", at(2)))
    with pytest.raises(ConflictingIdError):
        store.add_job(make_job("a", at(3)))
    with pytest.raises(JobLookupError):
        store.update_job(make_job("missing", at(3)))
    store.add_job(make_job("b", at(4)))
    store.remove_job("b")
    assert sent == [("WITH", True)] * 6
    assert [(job.id, job.next_run_time) for job in store.get_all_jobs()] == [("a", at(2))]

    # so are a claim and a release (on an engine the store created, whose connections are
    # bounded by the lease for their session: once, before a connection's first claim)
    sent.clear()
    claimed = store.acquire_due_jobs(at(5))
    assert ids(claimed) == ["a"]
    assert sent[-1] == ("UPDATE", True)
    assert all(autocommit for _, autocommit in sent)
    sent.clear()
    reschedule(claimed, 60)
    assert store.release_due_jobs(claimed, []) == set()
    assert sent == [("WITH", True)]
    assert [(job.id, job.next_run_time) for job in store.get_all_jobs()] == [("a", at(60))]
    sent.clear()
    store.remove_all_jobs()
    assert sent == [("WITH", True)]
    assert store.get_all_jobs() == []


@postgresql_only
def test_deferred_notifications_are_sent_after_the_change_and_coalesced(
    make_store: MakeStore,
    make_job: MakeJob,
    admin: Engine,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In a gevent-patched process an API change commits without its notification, which a
    greenlet sends once the caller waits; changes made meanwhile share one."""
    monkeypatch.setattr(SQLAlchemyJobStore, "_defers_notifications", lambda self: True)
    store = make_store()
    assert store._channel is not None
    statements: list[str] = []

    @event.listens_for(store.engine, "before_cursor_execute")
    def record(connection: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    with listen_directly(database_url, store._channel) as listener:
        store.add_job(make_job("a", at(1)))
        store.update_job(make_job("a", at(2)))
        with pytest.raises(JobLookupError):
            store.remove_job("missing")
        store.remove_job("a")
        assert not any("pg_notify" in statement for statement in statements)
        gevent.sleep(0)  # the caller waits: the notifier sends one for the three changes
        assert [n.payload for n in listener.notifies(timeout=10, stop_after=1)] == [store.owner]
        store.add_job(make_job("b", at(1)))
        store.shutdown()  # owed: sent at shutdown, without waiting
        with admin.begin() as connection:
            connection.execute(select(func.pg_notify(store._channel, "end")))
        payloads = [n.payload for n in listener.notifies(timeout=10, stop_after=2)]
        assert payloads == [store.owner, "end"]
    assert sum("pg_notify" in statement for statement in statements) == 2


class StopListening(Exception):
    pass


@pytest.mark.skipif(not importlib.util.find_spec("psycopg"), reason="needs psycopg 3")
def test_an_unreachable_channel_is_logged_once_on_one_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A PostgreSQL server that does not answer (a closed port) for several attempts to
    listen: one warning, on one line (psycopg's message spans several)."""
    store = SQLAlchemyJobStore(
        url="postgresql+psycopg://postgres@127.0.0.1:1/test", poll_interval=0.001
    )
    attempts: list[Exception] = []
    listen = store._listen

    def counted(*args: Any) -> None:
        try:
            listen(*args)
        except Exception as exc:
            attempts.append(exc)
            raise

    store._listen = counted  # type: ignore[method-assign]
    with caplog.at_level(logging.WARNING, logger="greensched"):
        listener = gevent.spawn(store._listen_forever)
        with gevent.Timeout(10):
            while len(attempts) < 5:
                gevent.sleep(0.001)
        listener.kill()
    assert "\n" in str(attempts[0])  # what psycopg says
    [message] = caplog.messages
    assert message.startswith("Notification channel down (connection failed: ")
    assert "\n" not in message


@postgresql_only
def test_listen_reports_the_owner_of_the_store_that_changed_a_job(
    make_store: MakeStore, make_job: MakeJob, admin: Engine
) -> None:
    listening, changing = make_store(), make_store()
    channel = listening._channel
    received: queue.Queue[str] = queue.Queue()
    errors: list[BaseException] = []

    def notified(payload: str) -> None:
        received.put(payload)
        if payload == "stop":
            raise StopListening

    subscribed = threading.Event()

    def listen() -> None:
        try:
            listening._listen(notified, subscribed.set)
        except StopListening:
            pass
        except BaseException as exc:  # noqa: BLE001 (reported to the test)
            errors.append(exc)

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    assert subscribed.wait(10), "the listener never subscribed"
    with admin.connect() as connection:
        changing.add_job(make_job("a", at(1)))
        connection.execute(select(func.pg_notify(channel, "stop")))
        connection.commit()
    thread.join(10)
    assert not thread.is_alive()
    assert errors == []
    payloads = []
    while not received.empty():
        payloads.append(received.get())
    # nothing sent before "subscribed" is needed: the first notification after it is heard
    assert payloads == [changing.owner, "stop"]
