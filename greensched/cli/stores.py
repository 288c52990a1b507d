"""The job store a command works on: its URL (``--store``, ``GREENSCHED_STORE`` or a default),
how it is shown (without its password) and how it is opened."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from greensched.cli.errors import EXIT_FAILURE, EXIT_USAGE, CommandError
from greensched.jobstores._url import store_from_url
from greensched.jobstores.base import BaseJobStore

__all__ = (
    "STORE_ENV",
    "describe_error",
    "display_url",
    "neighbour_store_url",
    "open_store",
    "store_url",
)

#: The environment variable that gives the store URL when ``--store`` is not given.
STORE_ENV = "GREENSCHED_STORE"


def store_url(option: str | None, default: str | None = None) -> str:
    """Return the store URL from ``--store``, else ``GREENSCHED_STORE``, else ``default``.

    :raises CommandError: (usage) if there is none
    """
    url = option or os.environ.get(STORE_ENV) or default
    if not url:
        raise CommandError(
            f"no job store: pass --store URL or set {STORE_ENV} (sqlite:///path, "
            "postgresql+psycopg://..., redis://...)",
            exit_code=EXIT_USAGE,
        )
    return url


def neighbour_store_url(path: Path) -> str:
    """Return the URL of the SQLite file next to ``path``, with its stem
    (``jobs.toml`` -> ``sqlite:////abs/dir/jobs.sqlite``)."""
    return f"sqlite:///{path.resolve().with_suffix('.sqlite')}"


def display_url(url: str) -> str:
    """Return ``url`` with its password (if any) replaced by ``***``."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host += f":{parts.port}"
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def open_store(url: str, name: str | None = None, **options: Any) -> BaseJobStore:
    """Return the (not yet started) job store ``url`` names; ``options`` apply to persistent
    stores only (a ``memory:`` store takes none).

    :param name: the table name or Redis key prefix (``--table``)
    :raises CommandError: (usage) for a bad URL; (failure) if the store's library is missing
    """
    if url == "memory:":
        options = {}
    try:
        return store_from_url(url, name=name, **options)
    except ImportError as exc:
        raise CommandError(
            f"job store {display_url(url)!r} needs a library that is not installed ({exc}): "
            "pip install 'greensched[cli]' for SQLite, 'greensched[postgresql]', "
            "'greensched[mysql]' or 'greensched[redis]'",
            exit_code=EXIT_FAILURE,
        ) from None
    except Exception as exc:  # noqa: BLE001 (SQLAlchemy's ArgumentError and the like: a bad URL)
        raise CommandError(f"--store: {describe_error(exc)}", exit_code=EXIT_USAGE) from None


def describe_error(exc: BaseException) -> str:
    """Return ``exc`` as one line: the first line of its message, after its class name where
    the message alone would not say what failed (``OperationalError: ...``)."""
    lines = str(exc).strip().splitlines()
    message = lines[0].strip() if lines else repr(exc)
    if isinstance(exc, (ValueError, TypeError, LookupError)):
        return message
    return f"{type(exc).__name__}: {message}"
