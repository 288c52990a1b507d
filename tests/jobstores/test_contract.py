"""The claim protocol of the shared stores (:mod:`greensched.jobstores._shared`), run against
every engine: SQLite, PostgreSQL, MariaDB and Redis. What only one engine has (SQL
transactions and their timeouts, Redis scripts, MariaDB collations) is tested in its own
module."""

from __future__ import annotations

import logging
import pickle
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

import pytest

from greensched.job import Job
from greensched.jobstores._shared import SharedJobStore
from tests.services import MARIADB_URL, POSTGRESQL_URL, REDIS_URL, backends, require, unique_name

from .conftest import StubScheduler, at, ids, reschedule

MakeJob = Callable[..., Job]

LEASE = 30


@dataclass
class Engine:
    """One engine's stores on this test's table (SQL) or keys (Redis), and a direct view of
    what they stored."""

    url: str
    name: str
    stores: list[SharedJobStore] = field(default_factory=list)

    @property
    def redis(self) -> bool:
        return self.url.startswith("redis://")

    def make_store(self, **options: Any) -> SharedJobStore:
        """Return a started store (its own owner) on the test's data."""
        options.setdefault("lease_time", LEASE)
        store: SharedJobStore
        if self.redis:
            from greensched.jobstores.redis import RedisJobStore

            store = RedisJobStore(
                jobs_key=f"{self.name}.jobs",
                run_times_key=f"{self.name}.run_times",
                url=self.url,
                **options,
            )
        else:
            from greensched.jobstores.sqlalchemy import SQLAlchemyJobStore

            store = SQLAlchemyJobStore(url=self.url, tablename=self.name, **options)
        store.start(StubScheduler(), "default")  # type: ignore[arg-type]
        self.stores.append(store)
        return store

    def rows(self) -> dict[str, tuple[float | None, bytes, str | None]]:
        """Return what is stored: id -> (indexed run time, state, claimer)."""
        if self.redis:
            import redis

            client = redis.Redis.from_url(self.url)
            try:
                states = client.hgetall(f"{self.name}.jobs")
                claims = client.hgetall(f"{self.name}.jobs.claims")
                return {
                    raw_id.decode(): (
                        client.zscore(f"{self.name}.run_times", raw_id),
                        bytes(state),
                        claims[raw_id].decode() if raw_id in claims else None,
                    )
                    for raw_id, state in states.items()
                }
            finally:
                client.close()
        import sqlalchemy

        engine = sqlalchemy.create_engine(self.url)
        try:
            with engine.connect() as connection:
                rows = connection.execute(
                    sqlalchemy.text(
                        f"SELECT id, next_run_time, job_state, claimed_by FROM {self.name}"
                    )
                )
                return {
                    row.id: (row.next_run_time, bytes(row.job_state), row.claimed_by)
                    for row in rows
                }
        finally:
            engine.dispose()

    def times_and_claims(self) -> dict[str, tuple[float | None, str | None]]:
        return {job_id: (row[0], row[2]) for job_id, row in self.rows().items()}

    def write_unrestorable(self, make_job: MakeJob, job_id: str, when: datetime) -> bytes:
        """Store a job whose function's module does not exist, as another program could;
        return its state."""
        state = make_job(job_id, when).__getstate__()
        state["func"] = "greensched_missing_module:gone"
        data = pickle.dumps(state)
        if self.redis:
            import redis

            client = redis.Redis.from_url(self.url)
            client.hset(f"{self.name}.jobs", job_id, data)
            client.zadd(f"{self.name}.run_times", {job_id: when.timestamp()})
            client.close()
            return data
        import sqlalchemy

        engine = sqlalchemy.create_engine(self.url)
        with engine.begin() as connection:
            connection.execute(
                sqlalchemy.text(
                    f"INSERT INTO {self.name} (id, next_run_time, job_state) VALUES (:i, :t, :s)"
                ),
                {"i": job_id, "t": when.timestamp(), "s": data},
            )
        engine.dispose()
        return data


@pytest.fixture(params=backends("sqlite", "postgresql", "mariadb", "redis"))
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    from tests.services import drop_store

    url = {
        "sqlite": lambda: f"sqlite:///{tmp_path}/jobs.sqlite",
        "postgresql": lambda: require(POSTGRESQL_URL),
        "mariadb": lambda: require(MARIADB_URL),
        "redis": lambda: require(REDIS_URL),
    }[request.param]()
    engine = Engine(url, unique_name("contract"))
    yield engine
    for store in engine.stores:
        store.shutdown()
    drop_store(url, engine.name)


@pytest.fixture
def store(engine: Engine) -> SharedJobStore:
    return engine.make_store()


# Leases and owners


def test_a_claim_moves_the_run_time_to_the_lease_end_and_hides_the_jobs(
    engine: Engine, make_job: MakeJob
) -> None:
    a, b = engine.make_store(), engine.make_store()
    for job_id, seconds in [("x", 2), ("y", 1), ("later", 100)]:
        a.add_job(make_job(job_id, at(seconds)))
    claimed = a.acquire_due_jobs(at(5))
    assert ids(claimed) == ["y", "x"]
    assert [job.next_run_time for job in claimed] == [at(1), at(2)]  # the true run times
    assert engine.times_and_claims() == {
        "x": (at(35).timestamp(), a.owner),
        "y": (at(35).timestamp(), a.owner),
        "later": (at(100).timestamp(), None),
    }
    assert pickle.loads(engine.rows()["x"][1])["next_run_time"] == at(2)  # the true time stays
    lookup = b.lookup_job("y")
    assert lookup is not None
    assert lookup.next_run_time == at(1)
    assert b.acquire_due_jobs(at(5)) == []
    assert b.get_due_jobs(at(5)) == []
    assert a.get_next_run_time() == b.get_next_run_time() == at(35)
    # listed with their true next run times: SQL streams them in the order of their lease
    # end (then id), Redis sorts them by true next run time (as APScheduler 3.x does)
    listed = [("x", at(2)), ("y", at(1)), ("later", at(100))]
    if engine.redis:
        listed = [("y", at(1)), ("x", at(2)), ("later", at(100))]
    assert [(job.id, job.next_run_time) for job in b.get_all_jobs()] == listed


def test_a_release_stores_the_results_and_ends_the_claims(
    engine: Engine, store: SharedJobStore, make_job: MakeJob
) -> None:
    for job_id in ("a", "b", "c"):
        store.add_job(make_job(job_id, at(1)))
    a, b, c = store.acquire_due_jobs(at(5))
    reschedule([a, b], 60)
    assert store.release_due_jobs([a, b], [c]) == set()
    assert engine.times_and_claims() == {
        "a": (at(60).timestamp(), None),
        "b": (at(60).timestamp(), None),
    }
    assert pickle.loads(engine.rows()["a"][1])["next_run_time"] == at(60)
    assert store.lookup_job("c") is None
    assert [job.next_run_time for job in store.get_all_jobs()] == [at(60), at(60)]
    assert store.get_next_run_time() == at(60)
    assert store.release_due_jobs([], []) == ()


def test_a_paused_job_is_released_without_a_run_time(
    engine: Engine, store: SharedJobStore, make_job: MakeJob
) -> None:
    store.add_job(make_job("job", at(1)))
    (job,) = store.acquire_due_jobs(at(5))
    job._modify(next_run_time=None)
    assert store.release_due_jobs([job], []) == set()
    assert engine.times_and_claims() == {"job": (None, None)}
    assert [(job.id, job.next_run_time) for job in store.get_all_jobs()] == [("job", None)]


def test_a_release_of_many_jobs_stores_each_ones_own_state_and_run_time(
    engine: Engine, store: SharedJobStore, make_job: MakeJob
) -> None:
    """One statement writes them all on PostgreSQL and MariaDB: each row gets its own values
    (a paused job first, run times to the microsecond)."""
    for number in range(7):
        store.add_job(make_job(f"j{number}", at(1)))
    claimed = store.acquire_due_jobs(at(5))
    times = [None] + [at(60 + number + number / 1e6 + 0.25) for number in range(1, 7)]
    for job, when in zip(claimed, times):
        job._modify(next_run_time=when, name=f"run at {when}")
    assert store.release_due_jobs(claimed, []) == set()
    assert engine.times_and_claims() == {
        f"j{number}": (None if when is None else when.timestamp(), None)
        for number, when in enumerate(times)
    }
    assert [(job.id, job.next_run_time, job.name) for job in store.get_all_jobs()] == [
        (f"j{number}", when, f"run at {when}") for number, when in [*enumerate(times)][1:]
    ] + [("j0", None, "run at None")]


def test_claimed_jobs_come_by_true_next_run_time(engine: Engine, make_job: MakeJob) -> None:
    a, b = engine.make_store(), engine.make_store()
    a.add_job(make_job("stranded", at(0)))
    a.acquire_due_jobs(at(0))  # a dies holding it: its indexed time is now at(LEASE)
    a.add_job(make_job("plain", at(20)))
    assert ids(b.acquire_due_jobs(at(LEASE))) == ["stranded", "plain"]


# Take-over


def test_an_expired_claim_is_taken_over_and_the_late_release_writes_nothing(
    engine: Engine, make_job: MakeJob
) -> None:
    a, b = engine.make_store(), engine.make_store()
    for job_id in ("x", "y"):
        a.add_job(make_job(job_id, at(1)))
    mine = a.acquire_due_jobs(at(5))
    assert b.acquire_due_jobs(at(34.9)) == []  # the lease has not ended yet
    theirs = b.acquire_due_jobs(at(35))
    assert ids(theirs) == ["x", "y"]
    assert [job.next_run_time for job in theirs] == [at(1), at(1)]
    taken_over = engine.rows()
    assert {row[2] for row in taken_over.values()} == {b.owner}
    reschedule(mine, 60)
    assert a.release_due_jobs(mine[:1], mine[1:]) == {"x", "y"}
    assert engine.rows() == taken_over
    reschedule(theirs, 90)
    assert b.release_due_jobs(theirs, []) == set()
    assert [job.next_run_time for job in a.get_all_jobs()] == [at(90), at(90)]


def test_a_held_claim_taken_over_meanwhile_is_not_taken_back(
    engine: Engine, make_job: MakeJob
) -> None:
    a, b = engine.make_store(), engine.make_store()
    a.add_job(make_job("job", at(0)))
    a.acquire_due_jobs(at(0))  # and never released
    assert ids(b.acquire_due_jobs(at(LEASE))) == ["job"]
    assert a.acquire_due_jobs(at(LEASE + 1)) == []


def test_api_changes_during_a_claim_make_the_release_report_them_lost(
    engine: Engine, make_job: MakeJob
) -> None:
    a, b = engine.make_store(), engine.make_store()
    for job_id in ("modified", "removed", "kept"):
        a.add_job(make_job(job_id, at(1)))
    claimed = {job.id: job for job in a.acquire_due_jobs(at(5))}
    b.update_job(make_job("modified", None, name="paused by the API"))  # in another process
    b.remove_job("removed")
    assert engine.times_and_claims() == {
        "modified": (None, None),
        "kept": (at(35).timestamp(), a.owner),
    }
    reschedule(list(claimed.values()), 60)
    released = a.release_due_jobs([claimed["modified"], claimed["kept"]], [claimed["removed"]])
    assert released == {"modified", "removed"}
    assert [(job.id, job.name, job.next_run_time) for job in a.get_all_jobs()] == [
        ("kept", "noop", at(60)),
        ("modified", "paused by the API", None),
    ]


def test_a_job_changed_while_claimed_and_still_due_is_claimed_again(
    engine: Engine, make_job: MakeJob
) -> None:
    a, b = engine.make_store(), engine.make_store()
    a.add_job(make_job("job", at(0)))
    (claimed,) = a.acquire_due_jobs(at(0))
    b.update_job(make_job("job", at(0), name="renamed"))
    (again,) = b.acquire_due_jobs(at(1))
    assert again.name == "renamed"
    assert a.release_due_jobs([claimed], []) == {"job"}
    assert b.release_due_jobs([again], []) == set()


# Claims held on the server, not in memory


class ConnectionLost(Exception):
    """What a broken connection raises, for the primitives made to fail here."""


def connection_lost(*args: Any, **kwargs: Any) -> Any:
    raise ConnectionLost


def test_a_failed_release_is_claimed_again_at_once_by_its_owner(
    engine: Engine, make_job: MakeJob, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = engine.make_store(), engine.make_store()
    for job_id in ("x", "y"):
        a.add_job(make_job(job_id, at(1)))
    claimed = a.acquire_due_jobs(at(5))
    reschedule(claimed, 60)
    with monkeypatch.context() as patch:
        patch.setattr(a, "_release", connection_lost)
        with pytest.raises(ConnectionLost):
            a.release_due_jobs(claimed, [])
    assert b.acquire_due_jobs(at(6)) == []  # still a's
    again = a.acquire_due_jobs(at(6))  # before the lease ends: only because a holds them
    assert ids(again) == ["x", "y"]
    assert [job.next_run_time for job in again] == [at(1), at(1)]  # nothing was stored
    assert engine.times_and_claims()["x"] == (at(6 + LEASE).timestamp(), a.owner)
    reschedule(again, 60)
    assert a.release_due_jobs(again, []) == set()
    assert a.acquire_due_jobs(at(7)) == []
    assert a.get_next_run_time() == at(60)


def test_a_claim_whose_answer_was_lost_is_taken_back_by_its_owner(
    engine: Engine, make_job: MakeJob, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The claim happened on the server, but its answer did not arrive
    a, b = engine.make_store(), engine.make_store()
    for job_id in ("x", "y"):
        a.add_job(make_job(job_id, at(1)))
    claim = a._claim

    def claim_then_break(*args: Any, **kwargs: Any) -> Any:
        claim(*args, **kwargs)
        raise ConnectionLost

    with monkeypatch.context() as patch:
        patch.setattr(a, "_claim", claim_then_break)
        with pytest.raises(ConnectionLost):
            a.acquire_due_jobs(at(5))
    assert b.acquire_due_jobs(at(6)) == []  # the claim happened: the jobs are a's
    again = a.acquire_due_jobs(at(6))
    assert ids(again) == ["x", "y"]  # at once, not when the lease ends
    assert [job.next_run_time for job in again] == [at(1), at(1)]
    reschedule(again, 60)
    assert a.release_due_jobs(again, []) == set()
    assert engine.times_and_claims() == {
        "x": (at(60).timestamp(), None),
        "y": (at(60).timestamp(), None),
    }


def test_a_claim_takes_at_most_claim_limit_jobs_held_ones_first(
    engine: Engine, make_job: MakeJob
) -> None:
    limited, other = engine.make_store(claim_limit=3), engine.make_store(claim_limit=1)
    for number in range(6):
        limited.add_job(make_job(f"j{number}", at(6 - number)))
    claimed = limited.acquire_due_jobs(at(10))
    assert ids(claimed) == ["j5", "j4", "j3"]  # earliest first
    assert ids(other.acquire_due_jobs(at(10))) == ["j2"]
    # a release that fails: the next claim takes the held jobs again first, and no more
    assert ids(limited.acquire_due_jobs(at(10))) == ["j5", "j4", "j3"]
    reschedule(claimed, 60)
    assert limited.release_due_jobs(claimed, []) == set()
    assert ids(limited.acquire_due_jobs(at(10))) == ["j1", "j0"]


# Jobs that cannot be restored


def test_an_unrestorable_job_is_logged_once_skipped_and_left_untouched(
    engine: Engine, make_job: MakeJob, caplog: pytest.LogCaptureFixture
) -> None:
    store = engine.make_store()
    store.add_job(make_job("good", at(2)))
    data = engine.write_unrestorable(make_job, "broken", at(1))
    assert store.get_next_run_time() == at(1)  # not known to be broken yet
    with caplog.at_level(logging.ERROR, logger="greensched.jobstores"):
        assert ids(store.get_due_jobs(at(5))) == ["good"]
        assert ids(store.acquire_due_jobs(at(5))) == ["good"]
        assert ids(store.get_all_jobs()) == ["good"]
        assert store.lookup_job("broken") is None
        assert ids(store.get_due_jobs(at(10**6))) == ["good"]
    assert [(record.name, record.getMessage()) for record in caplog.records] == [
        (
            "greensched.jobstores.default",
            (
                "Unable to restore job 'broken': it is left in the store untouched and "
                "skipped by this process until the job is replaced or removed"
            ),
        )
    ]
    assert engine.rows()["broken"] == (at(1).timestamp(), data, None)
    assert store.get_next_run_time() == at(5 + LEASE)  # the good job's lease
    assert engine.make_store().get_next_run_time() == at(1)  # another has not met it yet


def test_an_unrestorable_job_found_while_claiming_is_given_back_untouched(
    engine: Engine, make_job: MakeJob, caplog: pytest.LogCaptureFixture
) -> None:
    store = engine.make_store()
    store.add_job(make_job("good", at(2)))
    data = engine.write_unrestorable(make_job, "broken", at(1))
    with caplog.at_level(logging.ERROR, logger="greensched.jobstores"):
        assert ids(store.acquire_due_jobs(at(5))) == ["good"]
    assert ["'broken'" in record.getMessage() for record in caplog.records] == [True]
    assert engine.rows()["broken"] == (at(1).timestamp(), data, None)
    assert engine.times_and_claims()["good"] == (at(5 + LEASE).timestamp(), store.owner)
    assert ids(store.acquire_due_jobs(at(6))) == ["good"]  # held, and never the broken one
    assert engine.rows()["broken"] == (at(1).timestamp(), data, None)


def test_the_claim_limit_holds_beside_unrestorable_jobs(engine: Engine, make_job: MakeJob) -> None:
    store = engine.make_store(claim_limit=1)
    engine.write_unrestorable(make_job, "broken-due", at(0))
    engine.write_unrestorable(make_job, "broken-later", at(100))
    store.add_job(make_job("g1", at(1)))
    store.add_job(make_job("g2", at(2)))
    assert store.acquire_due_jobs(at(5)) == []  # it met broken-due
    assert store.lookup_job("broken-later") is None
    assert ids(store.acquire_due_jobs(at(5))) == ["g1"]
    assert engine.make_store(claim_limit=1).acquire_due_jobs(at(5)) == []  # met broken-due


def test_replacing_an_unrestorable_job_makes_it_visible_again(
    engine: Engine, store: SharedJobStore, make_job: MakeJob
) -> None:
    store.add_job(make_job("good", at(2)))
    engine.write_unrestorable(make_job, "broken", at(1))
    assert ids(store.get_due_jobs(at(5))) == ["good"]
    store.update_job(make_job("broken", at(3)))
    assert ids(store.get_due_jobs(at(5))) == ["good", "broken"]
    assert store.get_next_run_time() == at(2)
    assert ids(store.acquire_due_jobs(at(5))) == ["good", "broken"]


def test_count_jobs_counts_every_stored_job(
    engine: Engine, store: SharedJobStore, make_job: MakeJob
) -> None:
    assert store.count_jobs() == 0
    store.add_job(make_job("good", at(2)))
    engine.write_unrestorable(make_job, "broken", at(1))
    store.add_job(make_job("paused", None))
    assert ids(store.get_all_jobs()) == ["good", "paused"]
    assert store.count_jobs() == 3  # the one it cannot restore too
    store.remove_job("paused")
    assert store.count_jobs() == 2
