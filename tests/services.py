"""The database servers the persistent-store tests run against.

Each URL comes from an environment variable, with the server this machine and CI run as the
default. A test that needs a server asks for it through :func:`require`: where the server does
not answer, the test is skipped, unless ``GREENSCHED_REQUIRE_SERVICES=1`` is set (CI sets it:
there a missing server fails the run instead of skipping tests silently).
"""

from __future__ import annotations

import os
import secrets
import socket
from typing import Any
from urllib.parse import urlsplit

import pytest

POSTGRESQL_URL = os.environ.get(
    "GREENSCHED_TEST_POSTGRESQL_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
MARIADB_URL = os.environ.get(
    "GREENSCHED_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test"
)
REDIS_URL = os.environ.get("GREENSCHED_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

_DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "redis": 6379}


def _answers(url: str) -> bool:
    parts = urlsplit(url)
    scheme = parts.scheme.split("+")[0]
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or _DEFAULT_PORTS[scheme]), timeout=2
        ):
            return True
    except OSError:
        return False


def require(url: str) -> str:
    """Return ``url`` if its server answers; skip the test otherwise (fail under CI)."""
    if not _answers(url):
        message = f"no server answers at {url}"
        if os.environ.get("GREENSCHED_REQUIRE_SERVICES") == "1":
            pytest.fail(message + " (GREENSCHED_REQUIRE_SERVICES=1)")
        pytest.skip(message)
    return url


def backends(*names: str) -> list[Any]:
    """The parameters of a test run against each of these stores (``"sqlite"``,
    ``"postgresql"``, ``"mariadb"``, ``"redis"``, ...): MariaDB's are marked ``slow``.

    MariaDB creates and drops a table in about 35 ms each, so a test that makes a store (its
    job table and run history tables) and drops it takes half a second or more: its
    parametrizations were half of the fast subset's time. ``-m "not slow"`` runs every store
    contract against SQLite, PostgreSQL and Redis; CI runs MariaDB's too.
    """
    return [
        pytest.param(name, marks=pytest.mark.slow) if name == "mariadb" else name for name in names
    ]


def unique_name(prefix: str) -> str:
    """Return a table name or key prefix no other test run uses (runs never collide)."""
    return f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"


def drop_store(url: str, name: str) -> None:
    """Remove the tables (SQL: the job table and its run history tables) or the keys (Redis,
    ``<name>.*``) of one test or benchmark."""
    if url.startswith("redis://"):
        import redis

        client = redis.Redis.from_url(url)
        keys = list(client.scan_iter(f"{name}.*"))
        if keys:
            client.delete(*keys)
        client.close()
        return
    import sqlalchemy

    engine = sqlalchemy.create_engine(url)
    with engine.begin() as connection:
        # the job table and its run history tables
        for table in (name, f"{name}_runs", f"{name}_processes"):
            connection.execute(sqlalchemy.text(f"DROP TABLE IF EXISTS {table}"))
    engine.dispose()
