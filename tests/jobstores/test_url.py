"""``store_from_url``: the job store a URL names."""

from __future__ import annotations

from pathlib import Path

import pytest

from greensched.jobstores._url import store_from_url
from greensched.jobstores.memory import MemoryJobStore
from greensched.jobstores.redis import RedisJobStore
from greensched.jobstores.sqlalchemy import SQLAlchemyJobStore


def test_memory() -> None:
    assert type(store_from_url("memory:")) is MemoryJobStore


def test_redis_url_gives_host_port_db_and_key_prefix() -> None:
    store = store_from_url("redis://:secret@db.example:6380/3", name="app", lease_time=5)
    assert isinstance(store, RedisJobStore)
    assert (store.jobs_key, store.run_times_key) == ("app.jobs", "app.run_times")
    kwargs = store.redis.connection_pool.connection_kwargs
    assert (kwargs["host"], kwargs["port"], kwargs["db"], kwargs["password"]) == (
        "db.example",
        6380,
        3,
        "secret",
    )
    assert store.lease_time == 5


def test_redis_url_without_name_uses_apschedulers_keys() -> None:
    store = store_from_url("redis://127.0.0.1")
    assert isinstance(store, RedisJobStore)
    assert (store.jobs_key, store.run_times_key) == ("apscheduler.jobs", "apscheduler.run_times")


def test_sqlalchemy_url_gives_the_table(tmp_path: Path) -> None:
    store = store_from_url(f"sqlite:///{tmp_path}/jobs.sqlite", name="my_jobs", poll_interval=3)
    assert isinstance(store, SQLAlchemyJobStore)
    assert store.jobs_t.name == "my_jobs"
    assert store.poll_interval == 3


@pytest.mark.parametrize(
    "url",
    ["", "jobs.sqlite", "redis://127.0.0.1/zero", "redis://127.0.0.1/0?timeout=1", None],
    ids=["empty", "path", "redis-db-name", "redis-query", "none"],
)
def test_bad_urls_are_refused_naming_them(url: object) -> None:
    with pytest.raises(ValueError, match="URL must be") as info:
        store_from_url(url)  # type: ignore[arg-type]
    assert repr(url) in str(info.value)


def test_memory_takes_no_options() -> None:
    with pytest.raises(ValueError, match=r"^a memory: job store takes no name or options$"):
        store_from_url("memory:", name="x")
