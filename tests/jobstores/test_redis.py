"""Tests for the Redis job store, against a real Redis server."""

from __future__ import annotations

import importlib
import pickle
import queue
import sys
import threading
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable, cast
from zoneinfo import ZoneInfo

import gevent
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from greensched.job import Job
from greensched.jobstores import redis as redis_store
from greensched.jobstores._shared import SharedJobStore
from greensched.jobstores.base import ConflictingIdError, JobLookupError
from greensched.jobstores.redis import RedisJobStore
from greensched.schedulers.gevent import GeventScheduler
from greensched.triggers.cron import CronTrigger
from greensched.triggers.date import DateTrigger
from greensched.triggers.interval import IntervalTrigger
from tests.jobstores.conftest import StubScheduler, at, ids
from tests.schedulers.test_patched import run_patched
from tests.services import REDIS_URL, require, unique_name

if TYPE_CHECKING:
    from collections.abc import Iterator

    from greensched.testing import MockClock

MakeJob = Callable[..., Job]
MakeStore = Callable[..., RedisJobStore]

LEASE = 30


runs: list[tuple[Any, ...]] = []


def record(*args: Any, **kwargs: Any) -> None:
    """A stored job's function: notes each run."""
    runs.append((args, kwargs))


class Stop(Exception):
    """Ends a listener under test."""


@pytest.fixture
def redis_url() -> str:
    return require(REDIS_URL)


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    """A plain client, to look at the keys directly."""
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def prefix(client: redis.Redis) -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    name = unique_name("greensched_test")
    yield name
    keys = list(client.scan_iter(f"{name}.*"))
    if keys:
        client.delete(*keys)


@pytest.fixture
def make_store(redis_url: str, prefix: str) -> Iterator[MakeStore]:
    """Return a factory of started stores on this test's keys (each with its own owner)."""
    stores: list[RedisJobStore] = []

    def make(**options: Any) -> RedisJobStore:
        store = RedisJobStore(
            jobs_key=f"{prefix}.jobs",
            run_times_key=f"{prefix}.run_times",
            url=redis_url,
            lease_time=LEASE,
            **options,
        )
        store.start(StubScheduler(), "redis")  # type: ignore[arg-type]
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.shutdown()


@pytest.fixture
def store(make_store: MakeStore) -> RedisJobStore:
    return make_store()


def stored_state(client: redis.Redis, store: RedisJobStore, job_id: str) -> dict[str, Any]:
    data = cast("bytes | None", client.hget(store.jobs_key, job_id))
    assert data is not None
    return cast("dict[str, Any]", pickle.loads(data))


def comparable(state: dict[str, Any]) -> dict[str, Any]:
    """A job state with its trigger (which has no equality) replaced by the trigger's type."""
    return {**state, "trigger": type(state["trigger"])}


def score(client: redis.Redis, store: RedisJobStore, job_id: str) -> float | None:
    return cast("float | None", client.zscore(store.run_times_key, job_id))


def claims(client: redis.Redis, store: RedisJobStore) -> dict[str, str]:
    entries = cast("dict[bytes, bytes]", client.hgetall(store.claims_key))
    return {key.decode(): value.decode() for key, value in entries.items()}


def key_names(client: redis.Redis, prefix: str) -> set[str]:
    return {cast("bytes", key).decode() for key in client.scan_iter(f"{prefix}.*")}


def store_unrestorable(
    client: redis.Redis, store: RedisJobStore, make_job: MakeJob, job_id: str, when: datetime
) -> bytes:
    """Write a job whose function's module does not exist, as another program would; return
    its state."""
    state = make_job(job_id, when).__getstate__()
    state["func"] = "greensched_missing_module:gone"
    data = pickle.dumps(state)
    client.hset(store.jobs_key, job_id, data)
    client.zadd(store.run_times_key, {job_id: when.timestamp()})
    return data


# Construction


def test_is_a_shared_job_store_with_apscheduler_key_names() -> None:
    store = RedisJobStore()
    assert isinstance(store, SharedJobStore)
    assert (store.jobs_key, store.run_times_key, store.claims_key) == (
        "apscheduler.jobs",
        "apscheduler.run_times",
        "apscheduler.jobs.claims",
    )
    assert store.channel == "apscheduler.jobs.wakeup"
    assert store.redis.get_connection_kwargs()["db"] == 0
    assert repr(store) == "<RedisJobStore>"


def test_options_are_kept() -> None:
    store = RedisJobStore(
        "3",
        "my.jobs",
        "my.times",
        2,
        claims_key="my.claims",
        lease_time=5,
        poll_interval=0.5,
        claim_limit=7,
        notify=False,
        host="redis.example",
        port=6380,
    )
    assert (store.jobs_key, store.run_times_key, store.claims_key) == (
        "my.jobs",
        "my.times",
        "my.claims",
    )
    assert store.channel == "my.jobs.wakeup"
    assert (store.pickle_protocol, store.lease_time, store.poll_interval) == (2, 5, 0.5)
    assert (store.claim_limit, store.notify) == (7, False)
    connection = store.redis.get_connection_kwargs()
    assert (connection["db"], connection["host"], connection["port"]) == (3, "redis.example", 6380)


def test_url_gives_the_connection_and_its_db_wins() -> None:
    connection = RedisJobStore(
        url="redis://redis.example:6380/5", db=2
    ).redis.get_connection_kwargs()
    assert (connection["db"], connection["host"], connection["port"]) == (5, "redis.example", 6380)
    connection = RedisJobStore(url="redis://redis.example", db=2).redis.get_connection_kwargs()
    assert connection["db"] == 2


@pytest.mark.parametrize(
    ("options", "exc_type", "message"),
    [
        ({"jobs_key": ""}, ValueError, "jobs_key must be a non-empty string, got: ''"),
        ({"run_times_key": None}, TypeError, "run_times_key must be a string, got: None"),
        ({"claims_key": ""}, ValueError, "claims_key must be a non-empty string, got: ''"),
        (
            {"run_times_key": "apscheduler.jobs"},
            ValueError,
            "run_times_key must differ from jobs_key, got: 'apscheduler.jobs'",
        ),
        (
            {"claims_key": "apscheduler.run_times"},
            ValueError,
            "claims_key must differ from jobs_key and run_times_key, got: 'apscheduler.run_times'",
        ),
        ({"db": None}, TypeError, "db must be a database number, got: None"),
        ({"db": "one"}, ValueError, "db must be a database number, got: 'one'"),
        ({"db": -1}, ValueError, "db must be a database number, got: -1"),
        (
            {"decode_responses": True},
            ValueError,
            "decode_responses must be False (job states are binary), got: True",
        ),
        (
            {"lease_time": 0},
            ValueError,
            "lease_time must be a positive finite number of seconds, got: 0",
        ),
    ],
    ids=[
        "empty-jobs-key",
        "run-times-key-none",
        "empty-claims-key",
        "same-keys",
        "claims-key-taken",
        "db-none",
        "db-text",
        "db-negative",
        "decode-responses",
        "lease-time",
    ],
)
def test_invalid_options(options: dict[str, Any], exc_type: type[Exception], message: str) -> None:
    with pytest.raises(exc_type) as exc_info:
        RedisJobStore(**options)
    assert str(exc_info.value) == message


def test_missing_redis_package_raises_a_clear_import_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)
    monkeypatch.delitem(sys.modules, "greensched.jobstores.redis")
    with pytest.raises(
        ImportError,
        match=r"^RedisJobStore requires redis installed \(pip install 'greensched\[redis\]'\)$",
    ):
        importlib.import_module("greensched.jobstores.redis")


# The job store API


def test_empty_store(store: RedisJobStore, client: redis.Redis, prefix: str) -> None:
    assert store.lookup_job("nothing") is None
    assert store.get_due_jobs(at(10**6)) == []
    assert store.acquire_due_jobs(at(10**6)) == []
    assert store.get_next_run_time() is None
    assert store.get_all_jobs() == []
    assert key_names(client, prefix) == set()


def test_layout_is_apscheduler_s(
    store: RedisJobStore, make_job: MakeJob, client: redis.Redis, prefix: str
) -> None:
    job = make_job("a", at(1), func=record, args=(1, "x"), kwargs={"k": [2]})
    store.add_job(job)
    store.add_job(make_job("paused", None))
    assert key_names(client, prefix) == {f"{prefix}.jobs", f"{prefix}.run_times"}
    assert comparable(stored_state(client, store, "a")) == comparable(job.__getstate__())
    assert client.zrange(store.run_times_key, 0, -1, withscores=True) == [
        (b"a", at(1).timestamp())
    ]
    assert stored_state(client, store, "paused")["next_run_time"] is None


def test_lookup_restores_the_job_bound_to_the_store(
    store: RedisJobStore, make_job: MakeJob
) -> None:
    job = make_job("a", at(1), func=record, args=(1,), kwargs={"k": "v"}, name="named")
    store.add_job(job)
    found = store.lookup_job("a")
    assert found is not None
    assert found is not job
    assert comparable(found.__getstate__()) == comparable(job.__getstate__())
    assert found._jobstore_alias == "redis"
    assert found.next_run_time == at(1)
    assert store.lookup_job("b") is None


def test_add_with_a_taken_id_raises(
    store: RedisJobStore, make_job: MakeJob, client: redis.Redis
) -> None:
    store.add_job(make_job("a", at(1)))
    with pytest.raises(
        ConflictingIdError, match=r"^'Job identifier \(a\) conflicts with an existing job'$"
    ):
        store.add_job(make_job("a", at(0), name="other"))
    assert stored_state(client, store, "a")["name"] == "noop"
    assert store.get_next_run_time() == at(1)


def test_add_of_an_unstorable_job_raises_and_writes_nothing(
    store: RedisJobStore, make_job: MakeJob, client: redis.Redis, prefix: str
) -> None:
    with pytest.raises(ValueError, match=r"^Job 'lambda' cannot be stored in a persistent"):
        store.add_job(make_job("lambda", at(1), func=lambda: None))
    with pytest.raises(ValueError, match=r"^Job 'lock' cannot be stored .* cannot be pickled"):
        store.add_job(make_job("lock", at(1), func=record, args=(threading.Lock(),)))
    assert key_names(client, prefix) == set()


def test_update_of_a_missing_job_raises(
    store: RedisJobStore, make_job: MakeJob, client: redis.Redis, prefix: str
) -> None:
    with pytest.raises(JobLookupError, match=r"^'No job by the id of ghost was found'$"):
        store.update_job(make_job("ghost", at(1)))
    assert key_names(client, prefix) == set()


def test_remove_of_a_missing_job_raises(store: RedisJobStore, make_job: MakeJob) -> None:
    store.add_job(make_job("a", at(1)))
    with pytest.raises(JobLookupError, match=r"^'No job by the id of ghost was found'$"):
        store.remove_job("ghost")
    store.remove_job("a")
    with pytest.raises(JobLookupError, match=r"^'No job by the id of a was found'$"):
        store.remove_job("a")


def test_all_jobs_by_next_run_time_ties_by_id_paused_last(
    store: RedisJobStore, make_job: MakeJob
) -> None:
    store.add_job(make_job("late", at(30)))
    store.add_job(make_job("paused2", None))
    store.add_job(make_job("tie-b", at(10)))
    store.add_job(make_job("paused1", None))
    store.add_job(make_job("tie-a", at(10)))
    store.add_job(make_job("early", at(5)))
    assert ids(store.get_all_jobs()) == ["early", "tie-a", "tie-b", "late", "paused1", "paused2"]


def test_all_jobs_are_fetched_in_chunks(
    store: RedisJobStore, make_job: MakeJob, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redis_store, "CHUNK_SIZE", 2)
    for number in range(7):
        store.add_job(make_job(f"s{number}", at(10 - number)))
    for number in range(5):
        store.add_job(make_job(f"p{number}", None))
    expected = [f"s{number}" for number in reversed(range(7))]
    assert ids(list(store.iter_jobs()))[:7] == expected
    assert sorted(ids(list(store.iter_jobs()))[7:]) == [f"p{number}" for number in range(5)]
    assert ids(store.get_all_jobs()) == [*expected, "p0", "p1", "p2", "p3", "p4"]


def test_due_jobs_up_to_now_inclusive(store: RedisJobStore, make_job: MakeJob) -> None:
    store.add_job(make_job("now", at(10)))
    store.add_job(make_job("later", at(10.000001)))
    store.add_job(make_job("before", at(9)))
    store.add_job(make_job("paused", None))
    assert ids(store.get_due_jobs(at(10))) == ["before", "now"]
    assert ids(store.get_due_jobs(at(10).astimezone(ZoneInfo("Europe/Berlin")))) == [
        "before",
        "now",
    ]
    assert ids(store.get_due_jobs(at(9))) == ["before"]
    assert store.get_due_jobs(at(8.999999)) == []
    assert ids(store.get_due_jobs(at(10))) == ["before", "now"]  # nothing was claimed


def test_next_run_time_is_the_earliest_in_utc(store: RedisJobStore, make_job: MakeJob) -> None:
    store.add_job(make_job("paused", None))
    assert store.get_next_run_time() is None
    store.add_job(make_job("b", at(20).astimezone(ZoneInfo("Europe/Berlin"))))
    store.add_job(make_job("a", at(10)))
    next_run_time = store.get_next_run_time()
    assert next_run_time == at(10)
    assert next_run_time is not None
    assert next_run_time.tzinfo is timezone.utc
    store.remove_job("a")
    assert store.get_next_run_time() == at(20)


def test_update_moves_pauses_and_resumes(
    store: RedisJobStore, make_job: MakeJob, client: redis.Redis
) -> None:
    store.add_job(make_job("a", at(1)))
    store.add_job(make_job("b", at(2)))
    store.update_job(make_job("a", at(3), name="moved"))
    assert ids(store.get_all_jobs()) == ["b", "a"]
    assert stored_state(client, store, "a")["name"] == "moved"
    store.update_job(make_job("b", None))
    assert score(client, store, "b") is None
    assert ids(store.get_all_jobs()) == ["a", "b"]
    assert store.get_next_run_time() == at(3)
    store.update_job(make_job("b", at(0)))
    assert ids(store.get_due_jobs(at(3))) == ["b", "a"]


def test_remove_all_jobs_deletes_the_keys(
    store: RedisJobStore, make_job: MakeJob, client: redis.Redis, prefix: str
) -> None:
    store.add_job(make_job("a", at(1)))
    store.add_job(make_job("b", None))
    store.acquire_due_jobs(at(1))
    store.remove_all_jobs()
    assert key_names(client, prefix) == set()
    store.add_job(make_job("a", at(2)))
    assert ids(store.get_all_jobs()) == ["a"]


# Claims


def test_a_claim_script_sent_twice_claims_the_same_jobs(
    store: RedisJobStore, make_job: MakeJob, client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    # redis-py sent the claim script again on a new connection (the first answer was lost):
    # the second run takes back what the first claimed (a claim whose answer was lost without
    # a second run: tests/jobstores/test_contract.py)
    for job_id in ("a", "b"):
        store.add_job(make_job(job_id, at(0)))
    claim = store._claim_script

    def sent_twice(**kwargs: Any) -> Any:
        claim(**kwargs)
        return claim(**kwargs)

    monkeypatch.setattr(store, "_claim_script", sent_twice)
    claimed = store.acquire_due_jobs(at(1))
    assert ids(claimed) == ["a", "b"]
    assert [job.next_run_time for job in claimed] == [at(0), at(0)]
    for job in claimed:
        job._modify(next_run_time=at(60))
    assert store.release_due_jobs(claimed, []) == set()
    assert claims(client, store) == {}
    assert store.get_next_run_time() == at(60)


def test_a_release_sent_again_answers_the_same_and_changes_nothing(
    make_store: MakeStore, make_job: MakeJob, client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    # redis-py sends a command again when its connection broke before the answer came: the
    # second release must neither report the runs lost (they would not run) nor write again
    a, b = make_store(), make_store()
    for job_id in ("kept", "taken", "done"):
        a.add_job(make_job(job_id, at(0)))
    claimed = {job.id: job for job in a.acquire_due_jobs(at(0))}
    kept, taken, done = claimed["kept"], claimed["taken"], claimed["done"]
    client.hset(a.claims_key, "taken", b.owner)  # another process took this one over
    release = a._release_script
    answers: list[Any] = []

    def sent_twice(**kwargs: Any) -> Any:
        answers.append(release(**kwargs))
        kept_state = client.hget(a.jobs_key, "kept")
        client.hset(a.jobs_key, "kept", b"changed meanwhile")  # a second write would undo it
        answers.append(release(**kwargs))
        assert client.hget(a.jobs_key, "kept") == b"changed meanwhile"
        client.hset(a.jobs_key, "kept", kept_state)
        return answers[-1]

    monkeypatch.setattr(a, "_release_script", sent_twice)
    kept._modify(next_run_time=at(60))
    taken._modify(next_run_time=at(60))
    assert a.release_due_jobs([kept, taken], [done]) == {"taken"}
    assert [[job_id.decode() for job_id in answer] for answer in answers] == [["taken"]] * 2
    assert a.lookup_job("done") is None
    assert claims(client, a) == {"taken": b.owner}
    monkeypatch.setattr(a, "_release_script", release)
    kept._modify(next_run_time=at(90))
    assert a.release_due_jobs([kept], []) == {"kept"}  # a new release: the claim has ended


# Faults


def kill_while_waiting(
    client: redis.Redis, client_name: str, call: Callable[[], Any]
) -> tuple[Any, BaseException | None]:
    """Run ``call`` while the server holds back writes, kill the caller's connection while it
    waits for its reply (the server drops the command), and return what ``call`` returned or
    raised."""
    outcome: list[Any] = [None, None]

    def run() -> None:
        try:
            outcome[0] = call()
        except BaseException as exc:  # noqa: BLE001 (handed to the test)
            outcome[1] = exc

    client.client_pause(5000, all=False)
    thread = threading.Thread(target=run)
    try:
        thread.start()
        for _ in range(500):
            waiting = [
                entry
                for entry in client.client_list()
                if entry["name"] == client_name and "b" in entry["flags"]
            ]
            if waiting:
                break
            thread.join(0.01)
        else:
            pytest.fail("the call never reached the server")
        for entry in waiting:
            client.client_kill_filter(_id=entry["id"])
    finally:
        client.client_unpause()
    thread.join(10)
    assert not thread.is_alive()
    return outcome[0], outcome[1]


@pytest.mark.parametrize("retries", [pytest.param(0, id="no-retry"), pytest.param(3, id="retry")])
def test_killed_connection_during_release_loses_and_doubles_nothing(
    make_store: MakeStore,
    make_job: MakeJob,
    client: redis.Redis,
    retries: int,
) -> None:
    client_name = unique_name("greensched_store")
    store = make_store(client_name=client_name, retry=Retry(NoBackoff(), retries))
    store.add_job(make_job("one", at(0)))
    store.add_job(make_job("two", at(0)))

    started: list[str] = []
    jobs = store.acquire_due_jobs(at(1))
    for job in jobs:
        job._modify(next_run_time=at(60))
    lost, error = kill_while_waiting(client, client_name, lambda: store.release_due_jobs(jobs, []))
    if retries == 0:
        assert isinstance(error, redis.ConnectionError)
        jobs = store.acquire_due_jobs(at(2))  # the next round: the same jobs, as stored
        assert [(job.id, job.next_run_time) for job in jobs] == [("one", at(0)), ("two", at(0))]
        for job in jobs:
            job._modify(next_run_time=at(60))
        lost = store.release_due_jobs(jobs, [])
    else:
        assert error is None  # redis-py sent it again on a new connection
    assert lost == set()
    started.extend(job.id for job in jobs)  # what the loop submits

    assert started == ["one", "two"]
    assert store.acquire_due_jobs(at(3)) == []
    assert claims(client, store) == {}
    assert store.get_next_run_time() == at(60)


def test_killed_idle_connections_reconnect(
    make_store: MakeStore, make_job: MakeJob, client: redis.Redis
) -> None:
    client_name = unique_name("greensched_store")
    store = make_store(client_name=client_name, retry=Retry(NoBackoff(), 0))
    store.add_job(make_job("job", at(0)))
    for entry in client.client_list():
        if entry["name"] == client_name:
            client.client_kill_filter(_id=entry["id"])
    assert ids(store.acquire_due_jobs(at(0))) == ["job"]


# Notifications


def test_listener_hears_the_owner_of_a_change(
    make_store: MakeStore, make_job: MakeJob, client: redis.Redis
) -> None:
    sender, listener = make_store(), make_store()
    heard: queue.Queue[str] = queue.Queue()

    def notified(owner: str) -> None:
        heard.put(owner)
        raise Stop

    errors: list[BaseException] = []
    subscribed = threading.Event()

    def listen() -> None:
        try:
            listener._listen(notified, subscribed.set)
        except Stop:
            pass
        except BaseException as exc:  # noqa: BLE001 (handed to the test)
            errors.append(exc)

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    assert subscribed.wait(10), "the listener never subscribed"
    assert client.pubsub_numsub(listener.channel) == [(listener.channel.encode(), 1)]
    sender.add_job(make_job("job", at(0)))
    assert heard.get(timeout=10) == sender.owner
    thread.join(10)
    assert not thread.is_alive()
    assert errors == []
    assert client.pubsub_numsub(listener.channel) == [(listener.channel.encode(), 0)]


def test_every_api_change_is_announced_unless_notify_is_off(
    make_store: MakeStore, make_job: MakeJob, client: redis.Redis
) -> None:
    quiet, loud = make_store(notify=False), make_store()
    pubsub = client.pubsub()
    pubsub.subscribe(loud.channel)
    try:
        confirmation = pubsub.get_message(timeout=10)
        assert confirmation is not None
        assert confirmation["type"] == "subscribe"
        quiet.add_job(make_job("quiet", at(0)))
        quiet.update_job(make_job("quiet", at(1)))
        quiet.remove_job("quiet")
        quiet.remove_all_jobs()
        loud.add_job(make_job("job", at(0)))
        (claimed,) = loud.acquire_due_jobs(at(0))
        loud.release_due_jobs([claimed], [])  # the loop's own writes are not announced
        loud.update_job(make_job("job", at(1)))
        loud.remove_job("job")
        loud.remove_all_jobs()
        messages = []
        for _ in range(4):
            message = pubsub.get_message(timeout=10)
            assert message is not None
            messages.append(message["data"])
        assert pubsub.get_message(timeout=0) is None
    finally:
        pubsub.close()
    assert messages == [loud.owner.encode()] * 4


@pytest.mark.slow
def test_a_notification_wakes_a_patched_scheduler_before_its_poll(
    redis_url: str, prefix: str
) -> None:
    lines = run_patched(
        f"""
        from greensched.jobstores.redis import RedisJobStore
        from greensched.schedulers.gevent import GeventScheduler

        def make_scheduler():
            store = RedisJobStore(
                jobs_key="{prefix}.jobs",
                run_times_key="{prefix}.run_times",
                url="{redis_url}",
                poll_interval=60,
            )
            return GeventScheduler(timezone="UTC", jobstores={{"default": store}}), store

        ran = gevent.event.Event()
        def job():
            ran.set()

        listener, listening_store = make_scheduler()
        listener.start()
        for _ in range(500):  # until its listener has subscribed
            if listening_store.redis.pubsub_numsub(listening_store.channel)[0][1]:
                break
            gevent.sleep(0.01)
        adder, _ = make_scheduler()
        adder.start(paused=True)  # stores the job, never runs it
        started = time.perf_counter()
        adder.add_job(job, "date", run_date=soon(), id="job")
        print(ran.wait(10))
        print(time.perf_counter() - started < 5)
        listener.shutdown()
        adder.shutdown()
        print(listening_store._listener is None)
        print(listening_store.redis.pubsub_numsub(listening_store.channel)[0][1])
        """
    )
    assert lines == ["True", "True", "True", "0"]


# With schedulers


def test_scheduler_runs_stored_jobs_on_a_mock_clock(
    make_store: MakeStore, client: redis.Redis, mock_clock: MockClock
) -> None:
    runs.clear()
    store = make_store()
    scheduler = GeventScheduler(clock=mock_clock, timezone="UTC")
    scheduler.add_jobstore(store, "redis")
    scheduler.add_job(record, "interval", minutes=1, args=["tick"], id="tick", jobstore="redis")
    scheduler.start()
    try:
        gevent.idle()
        assert runs == []
        start = mock_clock.now()
        for _ in range(3):
            mock_clock.jump(60)
            gevent.idle()
    finally:
        scheduler.shutdown()
    assert runs == [(("tick",), {})] * 3
    assert claims(client, store) == {}
    assert score(client, store, "tick") == (start + timedelta(minutes=4)).timestamp()


APSCHEDULER_NOW = datetime(2024, 6, 3, 12, 0, tzinfo=ZoneInfo("Europe/Berlin"))


def write_with_apscheduler(redis_url: str, prefix: str) -> dict[str, Any]:
    """Store three jobs with APScheduler 3.x's own RedisJobStore; return them by id."""
    from apscheduler.job import Job as APSJob
    from apscheduler.jobstores.redis import RedisJobStore as APSRedisJobStore
    from apscheduler.triggers.cron import CronTrigger as APSCronTrigger
    from apscheduler.triggers.date import DateTrigger as APSDateTrigger
    from apscheduler.triggers.interval import IntervalTrigger as APSIntervalTrigger

    zone = ZoneInfo("Europe/Berlin")
    triggers = {
        "interval": APSIntervalTrigger(
            minutes=5, start_date=datetime(2024, 6, 3, 11, 2, tzinfo=zone), timezone=zone
        ),
        "cron": APSCronTrigger(hour="*", minute="3,33", timezone=zone),
        "date": APSDateTrigger(run_date=datetime(2024, 6, 3, 12, 4, tzinfo=zone)),
    }
    connection = redis.connection.parse_url(redis_url)
    aps_store = APSRedisJobStore(
        jobs_key=f"{prefix}.jobs", run_times_key=f"{prefix}.run_times", **connection
    )
    jobs = {}
    try:
        for job_id, trigger in triggers.items():
            job = APSJob(
                StubScheduler(),
                id=job_id,
                func=record,
                trigger=trigger,
                executor="default",
                args=(job_id, 1),
                kwargs={"kind": job_id},
                name=f"{job_id} job",
                misfire_grace_time=60,
                coalesce=True,
                max_instances=1,
                next_run_time=trigger.get_next_fire_time(None, APSCHEDULER_NOW),
            )
            aps_store.add_job(job)
            jobs[job_id] = job
    finally:
        aps_store.shutdown()
    return jobs


def test_jobs_written_by_apscheduler_open_as_greensched_jobs(
    store: RedisJobStore, redis_url: str, prefix: str
) -> None:
    written = write_with_apscheduler(redis_url, prefix)
    loaded = {job.id: job for job in store.get_all_jobs()}
    assert list(loaded) == ["interval", "cron", "date"]  # by next run time: 12:02, :03, :04
    expected_types = {"interval": IntervalTrigger, "cron": CronTrigger, "date": DateTrigger}
    for job_id, job in loaded.items():
        original = written[job_id]
        assert type(job) is Job
        assert type(job.trigger) is expected_types[job_id]
        assert str(job.trigger) == str(original.trigger)
        assert job.next_run_time == original.next_run_time
        assert (job.func, job.args, job.kwargs) == (record, (job_id, 1), {"kind": job_id})
        assert (job.name, job.misfire_grace_time) == (f"{job_id} job", 60)


def test_scheduler_runs_jobs_written_by_apscheduler(
    redis_url: str, prefix: str, make_store: MakeStore, mock_clock: MockClock
) -> None:
    assert mock_clock.now() == APSCHEDULER_NOW
    write_with_apscheduler(redis_url, prefix)
    runs.clear()
    store = make_store()
    scheduler = GeventScheduler(clock=mock_clock, timezone="Europe/Berlin")
    scheduler.add_jobstore(store, "redis")
    scheduler.start()
    try:
        gevent.idle()
        assert runs == []
        for _ in range(20):
            mock_clock.jump(60)
            gevent.idle()
    finally:
        scheduler.shutdown()
    assert runs == [
        (("interval", 1), {"kind": "interval"}),  # 12:02
        (("cron", 1), {"kind": "cron"}),  # 12:03
        (("date", 1), {"kind": "date"}),  # 12:04
        (("interval", 1), {"kind": "interval"}),  # 12:07
        (("interval", 1), {"kind": "interval"}),  # 12:12
        (("interval", 1), {"kind": "interval"}),  # 12:17
    ]
    assert store.lookup_job("date") is None
    assert [(job.id, job.next_run_time) for job in store.get_all_jobs()] == [
        ("interval", APSCHEDULER_NOW + timedelta(minutes=22)),
        ("cron", APSCHEDULER_NOW + timedelta(minutes=33)),
    ]
