"""The job store a command works on: its URL (``--store``, ``GREENSCHED_STORE``, or the store
of a jobs file), how its rows are serialized (``--serializer``, ``--signing-key``, or
``GREENSCHED_SERIALIZER`` and ``GREENSCHED_SIGNING_KEY``), how it is shown
(:func:`display_url`: without its password) and how it is opened (checked before anything
starts)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from greensched.cli.errors import EXIT_FAILURE, EXIT_USAGE, CommandError
from greensched.jobstores._serializers import SERIALIZERS
from greensched.jobstores._url import display_url, store_from_url  # display_url: re-exported
from greensched.jobstores.base import BaseJobStore

if TYPE_CHECKING:
    import argparse

__all__ = (
    "DEFAULT_JOBS_FILE",
    "SERIALIZER_ENV",
    "SIGNING_KEY_ENV",
    "STORE_ENV",
    "admin_store_url",
    "check_store",
    "describe_error",
    "describe_store",
    "display_url",
    "neighbour_store_url",
    "open_store",
    "serializer_options",
    "store_url",
)

#: The environment variable that gives the store URL when ``--store`` is not given.
STORE_ENV = "GREENSCHED_STORE"

#: The environment variable that gives the serializer when ``--serializer`` is not given.
SERIALIZER_ENV = "GREENSCHED_SERIALIZER"

#: The environment variable that gives the signing key when ``--signing-key`` is not given
#: (better than the option: a command line is visible to the other users of the host).
SIGNING_KEY_ENV = "GREENSCHED_SIGNING_KEY"

#: The jobs file whose store the admin commands use when given no store nor jobs file, if it
#: is in the current directory.
DEFAULT_JOBS_FILE = "jobs.toml"


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


def serializer_options(args: argparse.Namespace) -> dict[str, Any]:
    """Return the ``serializer`` and ``signing_key`` options of a persistent store from
    ``--serializer`` / ``--signing-key``, else ``GREENSCHED_SERIALIZER`` /
    ``GREENSCHED_SIGNING_KEY``, else ``'pickle'`` and no key.

    :raises CommandError: (usage) if ``GREENSCHED_SERIALIZER`` names no serializer, or the key
        is empty
    """
    serializer = args.serializer or os.environ.get(SERIALIZER_ENV) or "pickle"
    if serializer not in SERIALIZERS:
        raise CommandError(
            f"{SERIALIZER_ENV} must be one of {', '.join(SERIALIZERS)}, got: {serializer!r}",
            exit_code=EXIT_USAGE,
        )
    key = args.signing_key if args.signing_key is not None else os.environ.get(SIGNING_KEY_ENV)
    if key == "":
        raise CommandError(
            f"the signing key (--signing-key or {SIGNING_KEY_ENV}) must not be empty",
            exit_code=EXIT_USAGE,
        )
    return {"serializer": serializer, "signing_key": key}


def neighbour_store_url(path: Path) -> str:
    """Return the URL of the SQLite file next to ``path``, with its stem
    (``jobs.toml`` -> ``sqlite:////abs/dir/jobs.sqlite``)."""
    return f"sqlite:///{path.resolve().with_suffix('.sqlite')}"


def admin_store_url(option: str | None, jobs_file: str | None) -> str:
    """Return the store URL of an admin command: ``--store``, else ``GREENSCHED_STORE``, else
    the store ``greensched run JOBS_FILE`` uses by default (the SQLite file next to it), with
    ``jobs_file`` (``--jobs-file``), else ``./jobs.toml`` if it exists.

    The jobs file is not read: only its path matters.

    :raises CommandError: (usage) if there is none, or ``jobs_file`` is not a file
    """
    url = option or os.environ.get(STORE_ENV)
    if url:
        return url
    if jobs_file is None:
        if not Path(DEFAULT_JOBS_FILE).is_file():
            raise CommandError(
                "no job store: pass --jobs-file JOBS_FILE (the jobs file greensched run runs; "
                f"its store is the .sqlite file next to it), --store URL, or set {STORE_ENV} "
                f"(there is no {DEFAULT_JOBS_FILE} here)",
                exit_code=EXIT_USAGE,
            )
        jobs_file = DEFAULT_JOBS_FILE
    path = Path(jobs_file)
    if not path.is_file():
        raise CommandError(
            f"{jobs_file}: no such jobs file (the TOML file greensched run runs; for a "
            "scheduler module, pass --store URL)",
            exit_code=EXIT_USAGE,
        )
    return neighbour_store_url(path)


def open_store(url: str, name: str | None = None, **options: Any) -> BaseJobStore:
    """Return the (not yet started) job store ``url`` names, once it answers; ``options``
    apply to persistent stores only (a ``memory:`` store takes none).

    The URL is checked first (its scheme, its driver, an SQLite file's directory), then a
    PostgreSQL, MySQL or Redis server is connected to once, without retries: an unreachable
    store is reported before a scheduler starts.

    :param name: the table name or Redis key prefix (``--table``)
    :raises CommandError: (usage) for a bad URL; (failure) if the store's library is missing
        or the store does not answer
    """
    if url == "memory:":
        options = {}
    where = display_url(url)
    try:
        store = store_from_url(url, name=name, **options)
    except ImportError as exc:
        raise CommandError(str(exc), exit_code=EXIT_FAILURE) from None
    except ValueError as exc:  # the URL, as store_from_url shows it
        raise CommandError(str(exc), exit_code=EXIT_USAGE) from None
    except Exception as exc:  # noqa: BLE001 (an option the store's class refuses)
        raise CommandError(
            f"job store URL {where!r}: {describe_error(exc)}", exit_code=EXIT_USAGE
        ) from None
    check_store(store, where)
    return store


def check_store(store: BaseJobStore, where: str) -> None:
    """Connect once to the server of ``store`` (PostgreSQL, MySQL, Redis), without the retries
    its client makes later on (an SQLite file is opened when the store starts).

    :param where: the store as shown (:func:`describe_store`, :func:`display_url`)
    :raises CommandError: (failure) if it does not answer (the store is shut down)
    """
    try:
        _connect_once(store)
    except Exception as exc:  # noqa: BLE001 (an unreachable or unusable store)
        store.shutdown()
        raise CommandError(f"cannot open job store {where}: {describe_error(exc)}") from None


def _connect_once(store: BaseJobStore) -> None:
    client = getattr(store, "redis", None)
    if client is not None:
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        retry = client.get_retry()
        client.set_retry(Retry(NoBackoff(), 0))
        try:
            client.ping()
        finally:
            client.set_retry(retry)
        return
    engine = getattr(store, "engine", None)
    if engine is not None and engine.dialect.name != "sqlite":
        with engine.connect():
            pass


def describe_store(store: BaseJobStore) -> str:
    """Return how ``store`` is shown: its URL (through :func:`display_url`) for an SQLAlchemy
    store, ``redis://host:port/db`` for a Redis one, else its ``repr``."""
    engine = getattr(store, "engine", None)
    if engine is not None:
        return display_url(engine.url.render_as_string(hide_password=False))
    client = getattr(store, "redis", None)
    if client is not None:
        kwargs = client.connection_pool.connection_kwargs
        if "host" in kwargs:
            return f"redis://{kwargs['host']}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"
    return repr(store)


def describe_error(exc: BaseException) -> str:
    """Return ``exc`` as one line: the first line of its message, after its class name where
    the message alone would not say what failed (``OperationalError: ...``)."""
    lines = str(exc).strip().splitlines()
    message = lines[0].strip() if lines else repr(exc)
    if isinstance(exc, (ValueError, TypeError, LookupError)):
        return message
    return f"{type(exc).__name__}: {message}"
