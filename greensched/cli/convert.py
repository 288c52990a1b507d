"""``greensched store convert``: rewrite every job of a store from one serializer (and signing
key) to another.

Every row is read with the source format first (with stand-ins for what cannot be imported
here, as the admin commands read it), then written in the target format; a row the source
refuses (not signed with ``--from-signing-key``, not of its format) or a job the target cannot
express (``json``: arguments that are not JSON values) is listed, and nothing is written. The
rows are rewritten in one transaction (SQL: each row only if it is still the one read; Redis:
``WATCH`` on the jobs hash, then one ``MULTI``/``EXEC``): a job changed meanwhile fails the
command with nothing written.

.. warning:: Reading pickled rows unpickles them: convert from ``pickle`` only a store you
   trust (or whose rows are signed with ``--from-signing-key``).
"""

from __future__ import annotations

import os
import pickle
import sys
from typing import TYPE_CHECKING, Any

from greensched._logging import count
from greensched.cli.admin import opened
from greensched.cli.errors import EXIT_OK, EXIT_USAGE, CommandError
from greensched.cli.stores import SIGNING_KEY_ENV
from greensched.jobstores._serializers import JobSerializer, make_serializer
from greensched.jobstores._shared import SharedJobStore
from greensched.jobstores._states import describe_failure

if TYPE_CHECKING:
    import argparse

    from sqlalchemy.engine import Connection

__all__ = ("convert_command", "convert_rows")


class StoreChangedError(RuntimeError):
    """A row changed between being read and being rewritten (nothing was written)."""

    def __init__(self, job_id: str) -> None:
        super().__init__(
            f"job {job_id!r} changed while the store was converted: nothing was written (stop "
            "the schedulers of the store, then try again)"
        )


def convert_rows(
    rows: list[tuple[str, bytes]], source: JobSerializer, target: JobSerializer
) -> tuple[list[tuple[str, bytes, bytes]], list[str]]:
    """Convert stored rows.

    :return: the ``(id, old data, new data)`` of each row, and why each job that cannot be
        converted cannot be (``"job 'x': ..."``)
    """
    converted: list[tuple[str, bytes, bytes]] = []
    refused: list[str] = []
    for job_id, data in rows:
        try:
            state, _ = source.read(data)
        except Exception as exc:  # noqa: BLE001 (a refused or damaged row: listed)
            refused.append(
                f"job {job_id!r}: cannot be read as {source.name} ({describe_failure(exc)})"
            )
            continue
        try:
            new = target.dumps_read(dict(state))
        except Exception as exc:  # noqa: BLE001 (the target cannot express it: listed)
            refused.append(f"job {job_id!r}: cannot be written as {target.name}: {exc}")
            continue
        converted.append((job_id, data, new))
    return converted, refused


def _rewrite_sql(store: Any, rows: list[tuple[str, bytes, bytes]]) -> None:
    from sqlalchemy import update

    table = store.jobs_t

    def work(connection: Connection) -> None:
        for job_id, old, new in rows:
            statement = (
                update(table)
                .where(table.c.id == job_id, table.c.job_state == old)
                .values(job_state=new)
            )
            if connection.execute(statement).rowcount != 1:
                raise StoreChangedError(job_id)

    store._transaction(work, write=True)


def _read_and_rewrite(
    store: SharedJobStore, source: JobSerializer, target: JobSerializer
) -> tuple[int, list[str]]:
    """Convert the store's rows; return how many were rewritten and the refusals (nothing is
    written if there is one)."""
    client = getattr(store, "redis", None)
    if client is None:
        converted, refused = convert_rows(list(store._read_states()), source, target)
        if not refused and converted:
            _rewrite_sql(store, converted)
        return len(converted), refused
    from redis.exceptions import WatchError

    jobs_key = store.jobs_key  # type: ignore[attr-defined]
    with client.pipeline() as pipe:
        pipe.watch(jobs_key)  # any write to the jobs after this fails the EXEC below
        converted, refused = convert_rows(list(store._read_states()), source, target)
        if refused or not converted:
            return len(converted), refused
        pipe.multi()
        pipe.hset(jobs_key, mapping={job_id: new for job_id, _, new in converted})
        try:
            pipe.execute()
        except WatchError:
            raise StoreChangedError(converted[0][0]) from None
    return len(converted), refused


def convert_command(args: argparse.Namespace) -> int:
    """``greensched store convert``: see the module docstring."""
    target_key = args.signing_key
    if target_key is None:
        target_key = os.environ.get(SIGNING_KEY_ENV) or None
    for option, key in (
        ("--from-signing-key", args.from_signing_key),
        ("--signing-key", target_key),
    ):
        if key == "":
            raise CommandError(f"{option} must not be empty", exit_code=EXIT_USAGE)
    protocol = pickle.HIGHEST_PROTOCOL
    source = make_serializer(
        args.source, signing_key=args.from_signing_key, pickle_protocol=protocol
    )
    target = make_serializer(args.target, signing_key=target_key, pickle_protocol=protocol)
    # the store is opened with the source format: what the paused scheduler reads is read so
    args.serializer, args.signing_key = args.source, args.from_signing_key
    with opened(args) as admin:
        store = admin.store
        assert isinstance(store, SharedJobStore)  # opened() refuses memory:
        try:
            done, refused = _read_and_rewrite(store, source, target)
        except StoreChangedError as exc:
            raise CommandError(str(exc)) from None
    if refused:
        for line in refused:
            sys.stderr.write(f"greensched: {line}\n")
        raise CommandError(
            f"{count(len(refused), 'job')} of {admin.where} cannot be converted to "
            f"{args.target}: nothing was written"
        )
    signed = " (signed)" if target_key is not None else ""
    sys.stderr.write(
        f"Converted {count(done, 'job')} of {admin.where} from {args.source} to "
        f"{args.target}{signed}\n"
    )
    return EXIT_OK
