"""Job store URLs: the store a URL names (``memory:``, ``redis://…`` or an SQLAlchemy database
URL), checked before anything is opened, and :func:`display_url`, the one way a URL is shown
(its password and secret query parameters masked)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from greensched.jobstores.base import BaseJobStore

__all__ = ("ACCEPTED_URLS", "display_url", "store_from_url")

#: The store URLs greensched documents, each with the extra that installs its driver.
ACCEPTED_URLS = (
    "sqlite:///PATH (greensched[cli]), postgresql+psycopg:// (greensched[postgresql]), "
    "mysql+pymysql:// (greensched[mysql]), redis:// (greensched[redis]), or memory: "
    "(greensched run only)"
)

#: The documented scheme, its driver and the extra that installs it, by SQLAlchemy backend.
_RECOMMENDED = {
    "postgresql": ("postgresql+psycopg://", "psycopg", "greensched[postgresql]"),
    "mysql": ("mysql+pymysql://", "pymysql", "greensched[mysql]"),
    "mariadb": ("mysql+pymysql://", "pymysql", "greensched[mysql]"),
}

# scheme://user:password@ as SQLAlchemy reads it (the user has no ':' or '/', the password
# may hold a raw '/', '?', '#' or ':'), extended to the last '@' before the host so that a raw
# '@' in the password is masked whole
_USERINFO = re.compile(
    r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://(?P<user>[^:/]*?))"
    r"(?::(?P<password>.*?))?"
    r"@(?=[^@/?]*(?:[/?]|$))",
    re.DOTALL,
)
# a query parameter whose name says it is a secret: ?password=..., &sslpassword=, &token=
_SECRET_PARAMETER = re.compile(
    r"([?&][^=&#]*(?:pass|pwd|secret|token)[^=&#]*=)[^&#]*", re.IGNORECASE
)


def display_url(url: str) -> str:
    """Return ``url`` as it may be shown (logged, printed, put in an error): its password
    replaced by ``***``, and so is the value of a query parameter named like a secret
    (``?password=``, ``sslpassword``, ``passwd``, ``pwd``, ``secret``, ``token``).

    The password is found as SQLAlchemy finds it (``make_url`` takes a raw ``/``, ``?``,
    ``#`` or ``:`` in it), or percent-encoded; a raw ``@`` in it is masked too, up to the last
    ``@`` before the host. A URL without credentials is returned as it is.
    """
    match = _USERINFO.match(url)
    if match is None:
        head, rest = "", url
    else:
        head = match["head"] + (":***" if match["password"] is not None else "") + "@"
        rest = url[match.end() :]
    return head + _SECRET_PARAMETER.sub(r"\1***", rest)


def _userinfo(url: str) -> tuple[str, str | None] | None:
    """The user and password of ``url`` as written (``None``: it has none)."""
    match = _USERINFO.match(url)
    return None if match is None else (match["user"], match["password"])


def _sqlite_file(backend: str, database: str | None, query: Mapping[str, Any]) -> bool:
    """Whether an SQLAlchemy URL names an SQLite file by its path (not ``:memory:``, nor a
    ``file:`` URI)."""
    if backend != "sqlite" or database in (None, "", ":memory:"):
        return False
    return not query.get("uri") and query.get("mode") != "memory"


def _not_a_url(shown: str) -> ValueError:
    return ValueError(f"job store URL {shown!r} is not one greensched knows; use {ACCEPTED_URLS}")


def store_from_url(url: str, *, name: str | None = None, **options: Any) -> BaseJobStore:
    """Return the job store ``url`` names, after checking what can be checked without
    connecting (errors show the URL through :func:`display_url`).

    * ``memory:`` — a :class:`~greensched.jobstores.memory.MemoryJobStore`;
    * ``redis://[[user]:password@]host[:port][/db]`` (or ``rediss://``; the user and password
      percent-encoded) — a :class:`~greensched.jobstores.redis.RedisJobStore`; ``name`` is the
      key prefix (``<name>.jobs``, ``<name>.run_times``), APScheduler's keys without it;
    * anything else is an SQLAlchemy URL (``sqlite:///jobs.sqlite``,
      ``postgresql+psycopg://…``, ``mysql+pymysql://…``) — a
      :class:`~greensched.jobstores.sqlalchemy.SQLAlchemyJobStore`; ``name`` is the table
      name, APScheduler's ``apscheduler_jobs`` without it.

    :param options: further options of the store's class
    :raises ValueError: if ``url`` names no store: not a URL, an unknown scheme (listing
        :data:`ACCEPTED_URLS`), ``postgres://``, a raw ``@`` in the password, a Redis URL
        whose database is not a number, or an SQLite file in a directory that does not exist
    :raises ImportError: if the library the store needs is not installed (naming the extra
        that installs it)
    """
    if not isinstance(url, str) or not url:
        raise ValueError(f"job store URL must be a non-empty string, got: {url!r}")
    if url == "memory:":
        if name is not None or options:
            raise ValueError("a memory: job store takes no name or options")
        from greensched.jobstores.memory import MemoryJobStore

        return MemoryJobStore()
    shown = display_url(url)
    if url.startswith(("redis://", "rediss://")):
        return _redis_store(url, shown, name, options)
    if "://" not in url and not url.startswith("sqlite:"):
        raise _not_a_url(shown)
    return _sqlalchemy_store(url, shown, name, options)


def _redis_store(url: str, shown: str, name: str | None, options: dict[str, Any]) -> BaseJobStore:
    userinfo = _userinfo(url)
    if userinfo is not None and any(c in "".join(filter(None, userinfo)) for c in "@/?#"):
        raise ValueError(
            f"job store URL {shown!r}: percent-encode the user and password of a Redis URL "
            "('@' as %40, '/' as %2F, '?' as %3F, '#' as %23, '%' as %25)"
        )
    parts = urlsplit(url)
    database = parts.path.strip("/") or "0"
    if not database.isdigit() or parts.query or parts.fragment:
        raise ValueError(
            f"job store URL {shown!r}: a Redis URL is redis://[[user]:password@]host[:port][/db] "
            "with a numeric db and no query"
        )
    try:
        from greensched.jobstores.redis import RedisJobStore
    except ImportError:
        raise ImportError(
            f"job store URL {shown!r} needs redis-py, which is not installed: "
            "pip install 'greensched[redis]'"
        ) from None
    keys: dict[str, Any] = (
        {} if name is None else {"jobs_key": f"{name}.jobs", "run_times_key": f"{name}.run_times"}
    )
    connection: dict[str, Any] = {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 6379,
    }
    if parts.username:
        connection["username"] = unquote(parts.username)
    if parts.password:
        connection["password"] = unquote(parts.password)
    if parts.scheme == "rediss":
        connection["ssl"] = True
    return RedisJobStore(db=int(database), **keys, **connection, **options)


def _sqlalchemy_store(
    url: str, shown: str, name: str | None, options: dict[str, Any]
) -> BaseJobStore:
    userinfo = _userinfo(url)
    if userinfo is not None and userinfo[1] is not None and "@" in userinfo[1]:
        # SQLAlchemy would take what follows the first '@' for the host
        raise ValueError(f"job store URL {shown!r}: percent-encode '@' in the password as %40")
    try:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError
    except ImportError:
        raise ImportError(
            f"job store URL {shown!r} needs SQLAlchemy, which is not installed: "
            "pip install 'greensched[cli]'"
        ) from None
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # no scheme://, or a port that is not a number
        raise ValueError(
            f"job store URL {shown!r} is not a database URL "
            "(scheme://[user[:password]@]host[:port]/database, or sqlite:///PATH)"
        ) from None
    backend = parsed.get_backend_name()
    if backend == "postgres":
        raise ValueError(
            f"job store URL {shown!r}: use postgresql+psycopg:// (greensched[postgresql]) "
            f"instead of {parsed.drivername}://"
        )
    try:
        dialect = parsed.get_dialect()
    except NoSuchModuleError:
        raise _not_a_url(shown) from None
    try:
        dialect.import_dbapi()
    except ImportError as exc:
        module = exc.name or str(exc)
        scheme, driver, extra = _RECOMMENDED.get(backend, ("", "", ""))
        if dialect.driver == driver:
            raise ImportError(
                f"job store URL {shown!r} needs {module}, which is not installed: "
                f"pip install '{extra}'"
            ) from None
        # another driver than the one greensched documents: a usage error
        use = f"; use {scheme} ({extra})" if scheme else f"; use {ACCEPTED_URLS}"
        raise ValueError(
            f"job store URL {shown!r} needs {module}, which is not installed{use}"
        ) from None
    if _sqlite_file(backend, parsed.database, parsed.query):
        directory = Path(str(parsed.database)).parent
        if not directory.is_dir():
            raise ValueError(
                f"job store URL {shown!r}: directory {str(directory.resolve())!r} does not exist"
            )
    from greensched.jobstores.sqlalchemy import SQLAlchemyJobStore

    table: dict[str, Any] = {} if name is None else {"tablename": name}
    return SQLAlchemyJobStore(url=url, **table, **options)
