"""A job store from a URL: ``memory:``, ``redis://…`` or any SQLAlchemy database URL."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from greensched.jobstores.base import BaseJobStore

__all__ = ("store_from_url",)


def store_from_url(url: str, *, name: str | None = None, **options: Any) -> BaseJobStore:
    """Return the job store ``url`` names.

    * ``memory:`` — a :class:`~greensched.jobstores.memory.MemoryJobStore`;
    * ``redis://[:password@]host[:port][/db]`` (or ``rediss://``) — a
      :class:`~greensched.jobstores.redis.RedisJobStore`; ``name`` is the key prefix
      (``<name>.jobs``, ``<name>.run_times``), APScheduler's keys without it;
    * anything else is an SQLAlchemy URL (``sqlite:///jobs.sqlite``,
      ``postgresql+psycopg://…``, ``mysql+pymysql://…``) — a
      :class:`~greensched.jobstores.sqlalchemy.SQLAlchemyJobStore`; ``name`` is the table
      name, APScheduler's ``apscheduler_jobs`` without it.

    :param options: further options of the store's class
    :raises ValueError: if ``url`` is not a string naming a store
    """
    if not isinstance(url, str) or not url:
        raise ValueError(f"job store URL must be a non-empty string, got: {url!r}")
    if url == "memory:":
        if name is not None or options:
            raise ValueError("a memory: job store takes no name or options")
        from greensched.jobstores.memory import MemoryJobStore

        return MemoryJobStore()
    if url.startswith(("redis://", "rediss://")):
        from greensched.jobstores.redis import RedisJobStore

        parts = urlsplit(url)
        database = parts.path.strip("/") or "0"
        if not database.isdigit() or parts.query:
            raise ValueError(
                "Redis job store URL must be redis://[user:password@]host[:port][/db] with a "
                f"numeric db and no query, got: {url!r}"
            )
        keys: dict[str, Any] = (
            {}
            if name is None
            else {"jobs_key": f"{name}.jobs", "run_times_key": f"{name}.run_times"}
        )
        connection: dict[str, Any] = {
            "host": parts.hostname or "127.0.0.1",
            "port": parts.port or 6379,
        }
        if parts.username:
            connection["username"] = parts.username
        if parts.password:
            connection["password"] = parts.password
        if parts.scheme == "rediss":
            connection["ssl"] = True
        return RedisJobStore(db=int(database), **keys, **connection, **options)
    if "://" not in url and not url.startswith("sqlite:"):
        raise ValueError(
            "job store URL must be 'memory:', a redis:// URL or an SQLAlchemy database URL "
            f"(sqlite:///path, postgresql+psycopg://..., mysql+pymysql://...), got: {url!r}"
        )
    from greensched.jobstores.sqlalchemy import SQLAlchemyJobStore

    table: dict[str, Any] = {} if name is None else {"tablename": name}
    return SQLAlchemyJobStore(url=url, **table, **options)
