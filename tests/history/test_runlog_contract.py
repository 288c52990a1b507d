"""The run history contract (:class:`greensched.history.RunLog`), run against every store's
history: memory, SQLite, PostgreSQL, MariaDB and Redis. Each test has its own table or key
prefix; what needs two processes sharing a store runs on the shared stores only."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event

from greensched.history import (
    OUTCOME_CLAIM_LOST,
    OUTCOME_ERROR,
    OUTCOME_EXECUTED,
    OUTCOME_MISSED,
    OUTCOME_RUNNING,
    OUTCOME_TIMEOUT,
    ProcessInfo,
    RunLog,
    RunRecord,
)
from greensched.history._records import PROCESS_DIED, REPR_LIMIT, TRACEBACK_LIMIT
from greensched.job import Job
from greensched.jobstores.base import BaseJobStore
from greensched.jobstores.sqlalchemy import SQLAlchemyJobStore
from tests.jobstores.conftest import StubScheduler, at, make_job  # noqa: F401 (fixture)
from tests.services import (
    MARIADB_URL,
    POSTGRESQL_URL,
    REDIS_URL,
    backends,
    drop_store,
    require,
    unique_name,
)

MakeJob = Callable[..., Job]

SQL = backends("sqlite", "postgresql", "mariadb")
SHARED = [*SQL, *backends("redis")]


@dataclass
class Backend:
    """One kind of store on this test's table (SQL) or keys (Redis): each store made is a
    process of its own on the same data."""

    kind: str
    url: str
    name: str
    stores: list[BaseJobStore] = field(default_factory=list)

    def make_store(self, *, start: bool = True) -> BaseJobStore:
        store: BaseJobStore
        if self.kind == "memory":
            from greensched.jobstores.memory import MemoryJobStore

            store = MemoryJobStore()
        elif self.kind == "redis":
            from greensched.jobstores.redis import RedisJobStore

            store = RedisJobStore(
                jobs_key=f"{self.name}.jobs",
                run_times_key=f"{self.name}.run_times",
                url=self.url,
                notify=False,
            )
        else:
            store = SQLAlchemyJobStore(url=self.url, tablename=self.name, notify=False)
        self.stores.append(store)
        if start:
            store.start(StubScheduler(), "default")  # type: ignore[arg-type]
        return store

    def make_log(self, *, limit: int = 100, max_age: float | None = None) -> RunLog:
        """The history of a new started store (a process of its own), with this retention."""
        log = self.make_store().runs
        log.configure(limit=limit, max_age=max_age)
        return log


def _backend(kind: str, tmp_path: Path) -> Backend:
    url = {
        "memory": lambda: "",
        "sqlite": lambda: f"sqlite:///{tmp_path}/history.sqlite",
        "postgresql": lambda: require(POSTGRESQL_URL),
        "mariadb": lambda: require(MARIADB_URL),
        "redis": lambda: require(REDIS_URL),
    }[kind]()
    return Backend(kind, url, unique_name("history"))


def _teardown(backend: Backend) -> None:
    for store in backend.stores:
        store.shutdown()
    if backend.kind != "memory":
        drop_store(backend.url, backend.name)


@pytest.fixture(params=["memory", *SHARED])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    backend = _backend(request.param, tmp_path)
    yield backend
    _teardown(backend)


@pytest.fixture(params=SHARED)
def shared(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """A store several processes share."""
    backend = _backend(request.param, tmp_path)
    yield backend
    _teardown(backend)


@pytest.fixture(params=SQL)
def sql(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    backend = _backend(request.param, tmp_path)
    yield backend
    _teardown(backend)


@pytest.fixture
def log(backend: Backend) -> RunLog:
    return backend.make_log()


def run(
    number: int,
    seconds: float,
    *,
    job_id: str = "job",
    outcome: str = OUTCOME_EXECUTED,
    owner: str = "p1",
    **fields: Any,
) -> RunRecord:
    """A record of a run that started ``seconds`` after T0, 0.25 s late; its run id sorts as
    ``number`` does."""
    ended = outcome != OUTCOME_RUNNING
    options: dict[str, Any] = {
        "started": at(seconds),
        "ended": at(seconds + 0.5) if ended else None,
        "lateness": 0.25,
        "duration": 0.5 if ended else None,
        "host": "host-a",
        "pid": 4321,
        "owner": owner,
        "retval": "None" if outcome == OUTCOME_EXECUTED else None,
        **fields,
    }
    return RunRecord(
        f"{owner}-{number:05d}", job_id, f"{job_id} job", at(seconds - 0.25), outcome, **options
    )


def run_ids(records: list[RunRecord]) -> list[str]:
    return [record.run_id for record in records]


# Writing and reading


def test_runs_read_newest_first_across_jobs_and_per_job(log: RunLog) -> None:
    records = [
        run(1, 10, job_id="a"),
        run(2, 30, job_id="b"),
        run(3, 20, job_id="a"),
        run(4, 40, job_id="b", outcome=OUTCOME_ERROR, exc_type="builtins.ValueError"),
    ]
    log.write(records[:2])
    log.write(records[2:])
    assert log.read() == [records[3], records[1], records[2], records[0]]
    assert log.read("a") == [records[2], records[0]]
    assert log.read("b", limit=1) == [records[3]]
    assert log.read(limit=3) == [records[3], records[1], records[2]]
    assert log.read("nobody") == []


def test_a_job_id_no_store_can_hold_has_no_runs(log: RunLog) -> None:
    log.write([run(1, 1)])
    assert log.read("j" * 500) == []
    assert log.read("nul\0id") == []


def test_job_ids_compare_exactly(log: RunLog) -> None:
    log.write(
        [run(1, 1, job_id="report"), run(2, 2, job_id="REPORT"), run(3, 3, job_id="report ")]
    )
    assert run_ids(log.read("report")) == ["p1-00001"]
    assert run_ids(log.read("REPORT")) == ["p1-00002"]
    assert run_ids(log.read("report ")) == ["p1-00003"]


def test_runs_that_start_at_the_same_time_come_by_run_id_newest_first(log: RunLog) -> None:
    log.write([run(1, 5), run(3, 5), run(2, 5)])
    assert run_ids(log.read()) == ["p1-00003", "p1-00002", "p1-00001"]


def test_a_missed_run_sorts_by_its_scheduled_time(log: RunLog) -> None:
    missed = RunRecord("p1-00002", "job", "job", at(15), OUTCOME_MISSED, lateness=30.0)
    log.write([run(1, 10), missed, run(3, 20)])
    assert run_ids(log.read()) == ["p1-00003", "p1-00002", "p1-00001"]
    assert log.read(outcome=OUTCOME_MISSED) == [missed]


def test_runs_are_filtered_by_one_outcome_or_several(log: RunLog) -> None:
    outcomes = [
        OUTCOME_EXECUTED,
        OUTCOME_ERROR,
        OUTCOME_TIMEOUT,
        OUTCOME_ERROR,
        OUTCOME_CLAIM_LOST,
    ]
    log.write([run(n, n, outcome=outcome) for n, outcome in enumerate(outcomes)])
    assert run_ids(log.read(outcome=OUTCOME_ERROR)) == ["p1-00003", "p1-00001"]
    assert run_ids(log.read(outcome=[OUTCOME_TIMEOUT, OUTCOME_CLAIM_LOST])) == [
        "p1-00004",
        "p1-00002",
    ]
    assert run_ids(log.read("job", outcome={OUTCOME_ERROR, OUTCOME_EXECUTED}, limit=2)) == [
        "p1-00003",
        "p1-00001",
    ]
    assert log.read(outcome=OUTCOME_MISSED) == []


def test_runs_are_paged_with_before(log: RunLog) -> None:
    records = [run(n, n, job_id="ab"[n % 2]) for n in range(7)]
    log.write(records)
    pages: list[list[str]] = []
    before: datetime | None = None
    while page := log.read(limit=3, before=before):
        pages.append(run_ids(page))
        before = page[-1].sort_time
    assert pages == [
        ["p1-00006", "p1-00005", "p1-00004"],
        ["p1-00003", "p1-00002", "p1-00001"],
        ["p1-00000"],
    ]
    assert run_ids(log.read("a", before=at(5))) == ["p1-00004", "p1-00002", "p1-00000"]
    assert run_ids(log.read(outcome=OUTCOME_EXECUTED, before=at(2), limit=5)) == [
        "p1-00001",
        "p1-00000",
    ]


def test_a_running_record_is_replaced_when_its_run_ends(log: RunLog) -> None:
    running = run(1, 10, outcome=OUTCOME_RUNNING)
    log.write([running, run(2, 5)])
    assert log.read(outcome=OUTCOME_RUNNING) == [running]
    ended = run(1, 10, outcome=OUTCOME_ERROR, exc_type="builtins.KeyError", exc_message="'x'")
    log.write([ended])
    assert log.read() == [ended, run(2, 5)]
    assert log.read(outcome=OUTCOME_RUNNING) == []


def test_a_batch_may_hold_a_run_twice_the_last_wins(log: RunLog) -> None:
    log.write([run(1, 10, outcome=OUTCOME_RUNNING), run(1, 10)])
    assert log.read() == [run(1, 10)]


def test_a_long_traceback_and_non_ascii_text_round_trip_intact(log: RunLog) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    traceback = ('Traceback: Zürich → 東京 𝄞 "quoted" \\ \n\t' * 400)[:TRACEBACK_LIMIT]
    assert len(traceback) == TRACEBACK_LIMIT
    job_id = "j" * 190 + "é"  # as long as the job table's ids
    record = RunRecord(
        "p1-00001",
        job_id,
        "Grüße, 世界",
        datetime(2024, 3, 31, 1, 59, 59, 999999, tzinfo=berlin),
        OUTCOME_ERROR,
        started=datetime(2024, 3, 31, 3, 0, 0, 123457, tzinfo=berlin),
        ended=datetime(2024, 3, 31, 3, 0, 1, tzinfo=berlin),
        lateness=0.123456789012345,
        duration=0.876543210987654,
        exc_type="mymodule.Ärger",
        exc_message=("ünïcödé ✓ 100% %s %(x)s '; -- \\' " * 30)[:REPR_LIMIT],
        traceback=traceback,
        retval=None,
        host="hôst",
        pid=2**31 - 1,
        owner="hôst:2147483647:abcdef",
    )
    log.write([record])
    [read] = log.read(job_id)
    assert read == record
    assert read.traceback == traceback
    if not log.local:  # a store gives its times back in UTC
        assert read.started is not None
        assert read.started.utcoffset() == timedelta(0)


# Retention


def test_retention_keeps_the_newest_runs_of_each_job(backend: Backend) -> None:
    log = backend.make_log(limit=3)
    log.write([run(n, n, job_id="busy") for n in range(4)])
    log.write([run(20, 0, job_id="quiet"), run(5, 4, job_id="busy")])
    assert run_ids(log.read("busy")) == ["p1-00005", "p1-00003", "p1-00002"]
    assert run_ids(log.read("quiet")) == ["p1-00020"]
    assert run_ids(log.read()) == ["p1-00005", "p1-00003", "p1-00002", "p1-00020"]


def test_a_shared_store_keeps_the_newest_runs_by_time_whatever_the_write_order(
    shared: Backend,
) -> None:
    # processes flush their batches at different moments: a record may come after newer ones
    # (the memory history keeps the last written instead: one process writes in order)
    log = shared.make_log(limit=3)
    log.write([run(n, n) for n in range(1, 4)])
    log.write([run(10, 0.5)])  # older than the kept ones: goes at once
    assert run_ids(log.read()) == ["p1-00003", "p1-00002", "p1-00001"]
    log.write([run(11, 1.5)])
    assert run_ids(log.read()) == ["p1-00003", "p1-00002", "p1-00011"]


def test_a_batch_larger_than_the_limit_keeps_the_newest(backend: Backend) -> None:
    log = backend.make_log(limit=2)
    log.write([run(n, n) for n in range(6)])
    assert run_ids(log.read()) == ["p1-00005", "p1-00004"]


def test_trimming_compares_job_ids_exactly(shared: Backend) -> None:
    shared.make_log(limit=1).write(
        [
            run(1, 1, job_id="report"),
            run(2, 2, job_id="REPORT"),
            run(3, 3, job_id="report "),
            run(5, 0.5, job_id="rep😀rt 𝄞", owner="p😀"),
        ]
    )
    log = shared.make_log(limit=1)  # (a process that found the tables made)
    log.write([run(4, 4, job_id="report"), run(6, 5, job_id="rep😀rt 𝄞", owner="p😀")])
    assert run_ids(log.read()) == ["p😀-00006", "p1-00004", "p1-00003", "p1-00002"]


def test_a_nul_character_in_a_records_text_loses_no_record(backend: Backend) -> None:
    # PostgreSQL's text cannot hold NUL: it becomes U+FFFD there, kept elsewhere
    from greensched.history._sql_writes import NUL_REPLACEMENT

    log = backend.make_log()
    text = "bad\0byte"
    log.write([run(1, 1, exc_message=text, traceback=text, retval=text, host=text)])
    [read] = log.read("job")
    expected = text.replace("\0", NUL_REPLACEMENT) if backend.kind == "postgresql" else text
    assert (read.exc_message, read.traceback, read.retval, read.host) == (expected,) * 4


def test_a_sql_history_trims_a_job_with_every_tenth_of_its_limit(sql: Backend) -> None:
    # trimming scans a job's newest runs: a process does it with every limit/10 records
    # it writes for the job; reads of the job give its newest limit meanwhile
    log = sql.make_log(limit=20)
    for number in range(1, 26):
        log.write([run(number, number)])
        kept = min(number, 20)
        newest = [f"p1-{n:05d}" for n in range(number, number - kept, -1)]
        assert run_ids(log.read("job", limit=100)) == newest
        assert run_ids(log.read_jobs(["job"], limit=100)["job"]) == newest
        stored = len(log.read(limit=100))  # every job: what the table holds
        assert stored == kept if number % 2 == 0 else kept <= stored <= kept + 1


def test_a_sql_history_writes_and_trims_many_jobs_in_a_statement_each(sql: Backend) -> None:
    log = sql.make_log(limit=1)
    log.write([run(n, n, job_id=f"job{n:04d}") for n in range(600)])
    store = sql.stores[-1]
    assert isinstance(store, SQLAlchemyJobStore)
    statements: list[str] = []

    @event.listens_for(store.engine, "before_cursor_execute")
    def record(connection: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement.split()[0].upper())

    # a second run of each job: the first goes (PostgreSQL and MariaDB: one INSERT of every
    # record, DELETEs of every job's oldest; SQLite through SQLAlchemy: an INSERT, the window
    # query and the deletes by run id, in chunks of 500 ids)
    log.write([run(1000 + n, 1000 + n, job_id=f"job{n:04d}") for n in range(600)])
    assert [s for s in statements if s not in ("BEGIN", "SELECT", "DELETE")] == ["INSERT"]
    if sql.kind == "sqlite":
        assert statements.count("SELECT") == 2
        assert statements.count("DELETE") == 2
    else:  # (MariaDB: a DELETE for each 500 job ids)
        assert statements.count("SELECT") == 0
        assert statements.count("DELETE") == (1 if sql.kind == "postgresql" else 2)
    assert run_ids(log.read(limit=1000)) == [f"p1-{1000 + n:05d}" for n in range(599, -1, -1)]


def test_a_failed_trim_keeps_the_records_and_is_tried_with_the_next_write(
    sql: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    from sqlalchemy.exc import OperationalError

    from greensched.history.sql import SQLRunLog

    log = sql.make_log(limit=1)
    log.write([run(1, 1)])
    assert isinstance(log, SQLRunLog)
    assert log._writer is not None
    trim = log._writer.trim

    def failing(*args: Any) -> None:
        raise OperationalError("DELETE", {}, Exception("lock wait timeout"))

    log._writer.trim = failing  # type: ignore[method-assign,assignment]
    caplog.set_level(logging.INFO)
    log.write([run(2, 2)])  # written; its trim fails: logged, not raised
    assert "Could not trim the run history of 1 job(s)" in caplog.text
    assert run_ids(log.read(limit=10)) == ["p1-00002", "p1-00001"]
    log._writer.trim = trim  # type: ignore[method-assign]
    log.write([run(3, 3, job_id="other")])
    assert run_ids(log.read(limit=10)) == ["p1-00003", "p1-00002"]


def test_a_sql_history_trims_the_jobs_it_counted_longest_past_its_backlog(
    sql: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    import greensched.history.sql

    monkeypatch.setattr(greensched.history.sql, "TRIM_BACKLOG", 2)
    sql.make_log(limit=20).write([run(n, n, job_id="busy") for n in range(1, 21)])
    log = sql.make_log(limit=20)  # another process: one record of "busy" is not enough
    log.write([run(21, 21, job_id="busy", owner="p2")])
    assert len(log.read(limit=100)) == 21
    log.write([run(22, 22, job_id="a", owner="p2")])
    assert len(log.read(limit=100)) == 22
    log.write([run(23, 23, job_id="b", owner="p2")])
    assert len(log.read(limit=100)) == 22  # "busy", counted first, trimmed with a third job
    assert run_ids(log.read("busy"))[-1] == "p1-00002"


def test_prune_drops_the_runs_and_heartbeats_older_than_max_age(backend: Backend) -> None:
    log = backend.make_log(max_age=60)
    log.write([run(n, n * 10, job_id="ab"[n % 2]) for n in range(10)])
    log.heartbeat(ProcessInfo("old", "host-a", 1, at(0), at(5)))
    log.heartbeat(ProcessInfo("new", "host-b", 2, at(0), at(80)))
    assert log.prune(at(100)) == 4  # sort times 0, 10, 20, 30 < 40
    assert run_ids(log.read()) == [f"p1-{n:05d}" for n in range(9, 3, -1)]
    assert run_ids(log.read("a")) == ["p1-00008", "p1-00006", "p1-00004"]
    assert [process.owner for process in log.processes()] == ["new"]
    assert log.prune(at(100)) == 0


def test_prune_without_max_age_keeps_everything(log: RunLog) -> None:
    log.write([run(1, 0)])
    log.heartbeat(ProcessInfo("old", "host-a", 1, at(0), at(0)))
    assert log.prune(at(10**6)) == 0
    assert run_ids(log.read()) == ["p1-00001"]
    assert len(log.processes()) == 1


def test_history_stays_after_the_job_is_removed(
    backend: Backend,
    make_job: MakeJob,  # noqa: F811 (the fixture imported above)
) -> None:
    store = backend.make_store()
    store.runs.configure(limit=100, max_age=None)
    store.add_job(make_job("gone", at(100)))
    store.add_job(make_job("also-gone", at(100)))
    log = store.runs
    log.write([run(1, 1, job_id="gone"), run(2, 2, job_id="also-gone")])
    store.remove_job("gone")
    store.remove_all_jobs()
    assert store.get_all_jobs() == []
    assert run_ids(log.read("gone")) == ["p1-00001"]
    assert run_ids(log.read()) == ["p1-00002", "p1-00001"]


# Processes that died


def test_close_running_closes_only_the_running_records_of_those_owners(log: RunLog) -> None:
    a_running = run(1, 1, outcome=OUTCOME_RUNNING, owner="a")
    a_done = run(2, 2, owner="a")
    b_running = run(3, 3, outcome=OUTCOME_RUNNING, owner="b", job_id="other")
    c_running = run(4, 4, outcome=OUTCOME_RUNNING, owner="c")
    log.write([a_running, a_done, b_running, c_running])
    assert log.close_running({"a", "b"}, at(60), PROCESS_DIED, "process died") == 2
    by_id = {record.run_id: record for record in log.read()}
    for closed in (a_running, b_running):
        record = by_id[closed.run_id]
        assert record.outcome == OUTCOME_ERROR
        assert record.ended == at(60)
        assert (record.exc_type, record.exc_message) == (PROCESS_DIED, "process died")
        assert (record.started, record.job_id, record.owner) == (
            closed.started,
            closed.job_id,
            closed.owner,
        )
    assert by_id[a_done.run_id] == a_done
    assert by_id[c_running.run_id] == c_running
    assert log.read(outcome=OUTCOME_RUNNING) == [c_running]
    assert log.close_running({"a", "b"}, at(70), PROCESS_DIED, "again") == 0
    assert log.close_running(set(), at(70), PROCESS_DIED, "nobody") == 0


def test_a_closed_record_written_again_by_its_process_is_as_written(log: RunLog) -> None:
    log.write([run(1, 1, outcome=OUTCOME_RUNNING)])
    log.close_running({"p1"}, at(60), PROCESS_DIED, "process died")
    log.write([run(1, 1)])  # the process was alive after all
    assert log.read() == [run(1, 1)]


def test_heartbeats_replace_the_last_one_latest_first(log: RunLog) -> None:
    first = ProcessInfo("p1", "host-a", 11, at(0), at(5), runs=3, claims_lost=0)
    second = ProcessInfo("p2", "host-b", 22, at(1), at(10), runs=7, claims_lost=1)
    log.heartbeat(first)
    log.heartbeat(second)
    assert log.processes() == [second, first]
    again = ProcessInfo("p1", "host-a", 11, at(0), at(15), runs=9, claims_lost=2)
    log.heartbeat(again)
    assert log.processes() == [again, second]


def test_clear_drops_every_record_and_heartbeat(log: RunLog) -> None:
    log.write([run(1, 1, outcome=OUTCOME_RUNNING), run(2, 2, job_id="b")])
    log.heartbeat(ProcessInfo("p1", "host-a", 11, at(0), at(5)))
    log.clear()
    assert log.read() == []
    assert log.processes() == []
    assert log.close_running({"p1"}, at(9), PROCESS_DIED, "gone") == 0


# Processes sharing a store


def test_processes_sharing_a_store_see_each_others_runs(shared: Backend) -> None:
    first = shared.make_log(limit=3)
    second = shared.make_log(limit=3)
    first.write([run(1, 1, owner="a"), run(2, 3, owner="a", outcome=OUTCOME_RUNNING)])
    second.write([run(1, 2, owner="b"), run(2, 4, owner="b")])
    # the job keeps its newest 3, whoever wrote them
    assert run_ids(first.read()) == run_ids(second.read()) == ["b-00002", "a-00002", "b-00001"]
    assert second.close_running({"a"}, at(9), PROCESS_DIED, "process died") == 1
    [closed] = first.read(outcome=OUTCOME_ERROR)
    assert (closed.run_id, closed.exc_type) == ("a-00002", PROCESS_DIED)
    first.heartbeat(ProcessInfo("a", "host-a", 1, at(0), at(8)))
    second.heartbeat(ProcessInfo("b", "host-b", 2, at(0), at(9)))
    assert [process.owner for process in first.processes()] == ["b", "a"]


# SQL tables


def test_read_jobs_gives_each_jobs_newest_runs_as_read_does(log: RunLog) -> None:
    log.write([run(1, 1.0, job_id="a"), run(2, 2.0, job_id="b"), run(3, 3.0, job_id="a")])
    log.write([run(4, 4.0, job_id="a"), run(5, 5.0, job_id="c", outcome=OUTCOME_RUNNING)])
    found = log.read_jobs(["a", "b", "c", "none"], limit=2)
    assert {job_id: [r.run_id for r in runs] for job_id, runs in found.items()} == {
        "a": ["p1-00004", "p1-00003"],
        "b": ["p1-00002"],
        "c": ["p1-00005"],
        "none": [],
    }
    assert found["a"] == log.read("a", limit=2)
    assert found["c"] == log.read("c")


def test_a_store_not_started_reads_its_history_once_it_exists(shared: Backend) -> None:
    """A store whose scheduler has not started (a dashboard mounted before ``start()``)
    reads its history without failing: nothing while its tables do not exist yet, what
    another process wrote once they do."""
    idle = shared.make_store(start=False)
    assert idle.runs.read() == []
    assert idle.runs.read("job", outcome=OUTCOME_EXECUTED) == []
    assert idle.runs.processes() == []
    assert idle.runs.read_jobs(["job"]) == {"job": []}
    shared.make_log().write([run(1, 1.0)])
    assert [record.run_id for record in idle.runs.read()] == ["p1-00001"]


def test_the_sql_tables_are_indexed_for_the_history_queries(sql: Backend) -> None:
    import sqlalchemy

    store = sql.make_store()
    engine = sqlalchemy.create_engine(sql.url)
    try:
        inspector = sqlalchemy.inspect(engine)
        indexed = {
            tuple(index["column_names"]) for index in inspector.get_indexes(f"{sql.name}_runs")
        }
        assert {
            ("job_id", "sort_time"),
            ("sort_time",),
            ("outcome", "sort_time"),
        } <= indexed
        assert inspector.get_pk_constraint(f"{sql.name}_runs")["constrained_columns"] == ["run_id"]
        assert inspector.get_pk_constraint(f"{sql.name}_processes")["constrained_columns"] == [
            "owner"
        ]
    finally:
        engine.dispose()
    assert isinstance(store, SQLAlchemyJobStore)


def test_upgrade_creates_the_history_tables_of_a_table_apscheduler_wrote(sql: Backend) -> None:
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore as APSSQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    aps_store = APSSQLAlchemyJobStore(url=sql.url, tablename=sql.name)
    scheduler = BackgroundScheduler(jobstores={"default": aps_store}, timezone="UTC")
    scheduler.start(paused=True)
    scheduler.add_job(print, "interval", minutes=5, id="aps-job")
    scheduler.shutdown()

    store = sql.make_store(start=False)
    assert isinstance(store, SQLAlchemyJobStore)
    store.upgrade()
    log = store.runs
    log.write([run(1, 1, job_id="aps-job")])
    assert run_ids(log.read("aps-job")) == ["p1-00001"]
    store.upgrade()  # idempotent: the runs are still there
    store.start(StubScheduler(), "default")  # type: ignore[arg-type]
    assert run_ids(store.runs.read()) == ["p1-00001"]
    assert [job.id for job in store.get_all_jobs()] == ["aps-job"]


# Redis keys


def test_the_redis_history_lives_under_the_documented_keys(tmp_path: Path) -> None:
    backend = _backend("redis", tmp_path)
    try:
        log = backend.make_log(limit=1)
        log.write([run(1, 1, outcome=OUTCOME_RUNNING, owner="p1"), run(2, 0, job_id="old")])
        log.write([run(3, 2, job_id="old")])  # p1-00002 is trimmed
        log.heartbeat(ProcessInfo("p1", "host-a", 1, at(0), at(1)))
        log.close_running({"nobody"}, at(5), PROCESS_DIED, "gone")
        import redis

        client = redis.Redis.from_url(backend.url)
        try:
            prefix = f"{backend.name}.jobs.runs"
            assert {key.decode() for key in client.scan_iter(f"{backend.name}.*")} == {
                prefix,
                f"{prefix}.all",
                f"{prefix}.job.job",
                f"{prefix}.job.old",
                f"{prefix}.running.p1",
                f"{prefix}.processes",
            }
            assert sorted(client.hkeys(prefix)) == [b"p1-00001", b"p1-00003"]
            assert client.zrange(f"{prefix}.job.old", 0, -1, withscores=True) == [
                (b"p1-00003", at(2).timestamp())
            ]
            assert client.smembers(f"{prefix}.running.p1") == {b"p1-00001"}
        finally:
            client.close()
    finally:
        _teardown(backend)
