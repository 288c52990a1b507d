"""``store_from_url``: the job store a URL names, and the URLs it refuses; ``display_url``: a
URL as shown, its secrets masked."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from greensched.jobstores._url import display_url, store_from_url
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


KNOWN = (
    "use sqlite:///PATH (greensched[cli]), postgresql+psycopg:// (greensched[postgresql]), "
    "mysql+pymysql:// (greensched[mysql]), redis:// (greensched[redis]), or memory: "
    "(greensched run only)"
)
REDIS_FORM = (
    "a Redis URL is redis://[[user]:password@]host[:port][/db] with a numeric db and no query"
)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        pytest.param("", "job store URL must be a non-empty string, got: ''", id="empty"),
        pytest.param(None, "job store URL must be a non-empty string, got: None", id="none"),
        pytest.param(
            "jobs.sqlite",
            f"job store URL 'jobs.sqlite' is not one greensched knows; {KNOWN}",
            id="path",
        ),
        pytest.param(
            "foo://u:secret@bar/db",
            f"job store URL 'foo://u:***@bar/db' is not one greensched knows; {KNOWN}",
            id="unknown-scheme",
        ),
        pytest.param(
            "postgresql+nodriver://h/db",
            f"job store URL 'postgresql+nodriver://h/db' is not one greensched knows; {KNOWN}",
            id="unknown-driver",
        ),
        pytest.param(
            "postgres://u:secret@h/db",
            "job store URL 'postgres://u:***@h/db': use postgresql+psycopg:// "
            "(greensched[postgresql]) instead of postgres://",
            id="postgres",
        ),
        pytest.param(
            "postgresql+psycopg://u:secret@h:port/db",
            "job store URL 'postgresql+psycopg://u:***@h:port/db' is not a database URL "
            "(scheme://[user[:password]@]host[:port]/database, or sqlite:///PATH)",
            id="bad-port",
        ),
        pytest.param(
            "postgresql+psycopg://u:se@cret@h/db",
            "job store URL 'postgresql+psycopg://u:***@h/db': percent-encode '@' in the password "
            "as %40",
            id="raw-at-in-password",
        ),
        pytest.param(
            "redis://:secret@127.0.0.1/zero",
            f"job store URL 'redis://:***@127.0.0.1/zero': {REDIS_FORM}",
            id="redis-db-name",
        ),
        pytest.param(
            "redis://127.0.0.1/0?timeout=1",
            f"job store URL 'redis://127.0.0.1/0?timeout=1': {REDIS_FORM}",
            id="redis-query",
        ),
        pytest.param(
            "redis://:se/cr?et@127.0.0.1/0",
            "job store URL 'redis://:***@127.0.0.1/0': percent-encode the user and password of "
            "a Redis URL ('@' as %40, '/' as %2F, '?' as %3F, '#' as %23, '%' as %25)",
            id="redis-raw-password",
        ),
    ],
)
def test_bad_urls_are_refused_naming_them(url: object, message: str) -> None:
    with pytest.raises(ValueError, match=rf"^{re.escape(message)}$"):
        store_from_url(url)  # type: ignore[arg-type]


def test_an_sqlite_file_in_a_missing_directory_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'missing' / 'jobs.sqlite'}"
    message = f"job store URL {url!r}: directory {str(tmp_path / 'missing')!r} does not exist"
    with pytest.raises(ValueError, match=rf"^{re.escape(message)}$"):
        store_from_url(url)
    assert not (tmp_path / "missing").exists()


@pytest.mark.skipif(importlib.util.find_spec("MySQLdb") is not None, reason="MySQLdb installed")
def test_a_driver_greensched_does_not_document_is_a_bad_url() -> None:
    message = (
        "job store URL 'mysql://u:***@h/db' needs MySQLdb, which is not installed; use "
        "mysql+pymysql:// (greensched[mysql])"
    )
    with pytest.raises(ValueError, match=rf"^{re.escape(message)}$"):
        store_from_url("mysql://u:secret@h/db")


def test_a_percent_encoded_redis_password_is_decoded() -> None:
    store = store_from_url("redis://us%40er:p%2Fa%3Fb%23c%40d%25e%3Af@127.0.0.1/0")
    assert isinstance(store, RedisJobStore)
    kwargs = store.redis.connection_pool.connection_kwargs
    assert (kwargs["username"], kwargs["password"]) == ("us@er", "p/a?b#c@d%e:f")


#: Passwords with / ? # @ % :, percent-encoded, and as SQLAlchemy's make_url reads them.
ENCODED = "p%2Fa%3Fb%23c%40d%25e%3Af"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        pytest.param(
            f"postgresql+psycopg://app:{ENCODED}@db:5432/jobs",
            "postgresql+psycopg://app:***@db:5432/jobs",
            id="percent-encoded",
        ),
        pytest.param(
            "postgresql+psycopg://app:p/a?b#c:d@db/jobs",
            "postgresql+psycopg://app:***@db/jobs",
            id="raw-slash-question-hash-colon",
        ),
        pytest.param(
            "postgresql+psycopg://app:100%@db/jobs",
            "postgresql+psycopg://app:***@db/jobs",
            id="raw-percent",
        ),
        pytest.param(
            "postgresql+psycopg://app:p@ss@db/jobs",
            "postgresql+psycopg://app:***@db/jobs",
            id="raw-at",
        ),
        pytest.param(
            "postgresql+psycopg://admin@server:secret@db/jobs",
            "postgresql+psycopg://admin@server:***@db/jobs",
            id="raw-at-in-user",
        ),
        pytest.param(
            "postgresql+psycopg://app:@db/jobs", "postgresql+psycopg://app:***@db/jobs", id="empty"
        ),
        pytest.param(
            "mysql+pymysql://app@db/jobs?charset=utf8mb4&password=p%2Fa&ssl_key=k",
            "mysql+pymysql://app@db/jobs?charset=utf8mb4&password=***&ssl_key=k",
            id="query-password",
        ),
        pytest.param(
            "postgresql+psycopg://app:pw@db/jobs?sslpassword=k&Token=t#x",
            "postgresql+psycopg://app:***@db/jobs?sslpassword=***&Token=***#x",
            id="query-secrets",
        ),
        pytest.param(
            "redis://:p%40ss@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0", id="redis"
        ),
        pytest.param("redis://user:pw@h", "redis://user:***@h", id="redis-user"),
        pytest.param("redis://h:6379/0", "redis://h:6379/0", id="redis-port"),
        pytest.param("postgresql+psycopg://app@db/x", "postgresql+psycopg://app@db/x", id="user"),
        pytest.param("sqlite:///dir@x/jobs.sqlite", "sqlite:///dir@x/jobs.sqlite", id="sqlite-at"),
        pytest.param("memory:", "memory:", id="memory"),
    ],
)
def test_display_url_masks_the_password(url: str, shown: str) -> None:
    assert display_url(url) == shown


@pytest.mark.parametrize(
    ("url", "password"),
    [
        (f"postgresql+psycopg://app:{ENCODED}@db/jobs", "p/a?b#c@d%e:f"),
        ("postgresql+psycopg://app:p/a?b#c:d@db/jobs", "p/a?b#c:d"),
        ("postgresql+psycopg://app:100%@db/jobs", "100%"),
    ],
    ids=["percent-encoded", "raw-slash-question-hash-colon", "raw-percent"],
)
def test_sqlalchemy_reads_the_password_that_display_url_masks(url: str, password: str) -> None:
    parsed = make_url(url)
    assert (parsed.password, parsed.host, parsed.database) == (password, "db", "jobs")
    store = store_from_url(url)  # accepted as SQLAlchemy reads it
    assert isinstance(store, SQLAlchemyJobStore)
    assert store.engine.url.password == password


def test_memory_takes_no_options() -> None:
    with pytest.raises(ValueError, match=r"^a memory: job store takes no name or options$"):
        store_from_url("memory:", name="x")
