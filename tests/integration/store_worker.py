"""One scheduler process of the multi-process tests: ``python -m tests.integration.store_worker``.

It monkey-patches, opens the shared store the arguments name, runs a ``GeventScheduler`` on it
until ``--until`` (a wall-clock timestamp) and records each run to ``--out`` as a JSON line
``{"job": id, "scheduled": timestamp, "pid": pid, "started": timestamp, "event": "executed"}``
(``"missed"`` for a run reported missed), flushed at once, so that the test can read what a
process did even after it is killed. After each round whose results the store recorded, it
writes ``{"event": "recorded", "pid": pid, "runs": [[id, first, next], ...]}``: the runs of
each job from ``first`` (its run time when claimed) up to ``next`` (its new next run time,
``null`` if it finished) are recorded as started by this process; a run this process never
executed nor reported missed is lost only if the process died after recording it. It writes
``--ready`` when its scheduler has started and listens on the store's notification channel
(PostgreSQL, Redis).

With ``--die-holding-claims-after N`` it kills itself (SIGKILL) right after its N-th round
that claimed jobs, before storing that round's results: it dies holding claims, which the
other processes must take over. It first records ``{"event": "died", "claimed": [[id,
scheduled], ...]}``.

With ``--stop-in-claim`` it stops itself (SIGSTOP) inside its first claim transaction that
claims jobs, after the claim's statements and before the commit: its row locks stay held
until the server ends the transaction. It first records ``{"event": "stopped", "claimed":
[[id, scheduled], ...], "at": timestamp}``.

The tests import :func:`tick`, the jobs' function.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from greensched.job import Job
from greensched.jobstores._url import store_from_url
from greensched.jobstores.base import BaseJobStore

if TYPE_CHECKING:
    from collections.abc import Collection, Sequence


def tick() -> None:
    """The jobs' function: the run is recorded by the worker's listener."""


def _recorder(out: IO[str]) -> Any:
    from greensched.events import EVENT_JOB_MISSED, JobExecutionEvent

    def record(event: JobExecutionEvent) -> None:
        line = {
            "job": event.job_id,
            "scheduled": event.scheduled_run_time.timestamp(),
            "pid": os.getpid(),
            "started": _now(),
            "event": "missed" if event.code == EVENT_JOB_MISSED else "executed",
        }
        out.write(json.dumps(line) + "\n")
        out.flush()

    return record


def _record_releases(store: BaseJobStore, out: IO[str]) -> None:
    """Write a ``recorded`` line after each release the store accepted (see the module
    docstring)."""
    acquire, release = store.acquire_due_jobs, store.release_due_jobs
    claimed: dict[str, float | None] = {}

    def acquire_and_note(now: datetime) -> list[Job]:
        jobs = acquire(now)
        claimed.clear()
        claimed.update((job.id, _timestamp(job.next_run_time)) for job in jobs)
        return jobs

    def release_and_note(updated: Sequence[Job], removed: Sequence[Job]) -> Collection[str]:
        lost = release(updated, removed)
        runs = [
            [job.id, claimed[job.id], _timestamp(job.next_run_time)]
            for job in updated
            if job.id not in lost
        ]
        runs += [[job.id, claimed[job.id], None] for job in removed if job.id not in lost]
        if runs:
            line = {"event": "recorded", "pid": os.getpid(), "runs": runs}
            out.write(json.dumps(line) + "\n")
            out.flush()
        return lost

    store.acquire_due_jobs = acquire_and_note  # type: ignore[method-assign]
    store.release_due_jobs = release_and_note  # type: ignore[method-assign]


def _timestamp(when: datetime | None) -> float | None:
    return None if when is None else when.timestamp()


def _die_holding_claims(store: BaseJobStore, rounds: int, out: IO[str]) -> None:
    """Make the store's ``rounds``-th claiming round the last: SIGKILL before releasing."""
    acquire = store.acquire_due_jobs
    claiming_rounds = [0]

    def acquire_then_die(now: datetime) -> list[Job]:
        jobs = acquire(now)
        if jobs:
            claiming_rounds[0] += 1
            if claiming_rounds[0] >= rounds:
                claimed = [[job.id, job.next_run_time.timestamp()] for job in jobs]  # type: ignore[union-attr]
                died = {"event": "died", "pid": os.getpid(), "claimed": claimed}
                out.write(json.dumps(died) + "\n")
                out.flush()
                os.kill(os.getpid(), signal.SIGKILL)
        return jobs

    store.acquire_due_jobs = acquire_then_die  # type: ignore[method-assign]


def _stop_in_claim(store: Any, out: IO[str]) -> None:
    """Make the SQL store's first claim transaction that claims jobs stop this process
    (SIGSTOP) after its statements, before its commit (a claim of one statement in autocommit
    mode, PostgreSQL's on an engine the store created: once it is committed)."""
    transaction = store._transaction

    def stopping_transaction(work: Any, *, claim: bool = False, **options: Any) -> Any:
        if not claim or stopped:
            return transaction(work, claim=claim, **options)

        def claim_then_stop(connection: Any) -> Any:
            result = work(connection)
            if isinstance(result, list) and result:  # a claim (a release returns a set)
                stopped.append(True)
                # each claimed row: id, state, run time before the claim
                claimed = [[job_id, run_time] for job_id, _, run_time in result]
                line = {"event": "stopped", "pid": os.getpid(), "claimed": claimed, "at": _now()}
                out.write(json.dumps(line) + "\n")
                out.flush()
                os.kill(os.getpid(), signal.SIGSTOP)
            return result

        return transaction(claim_then_stop, claim=claim, **options)

    stopped: list[bool] = []
    store._transaction = stopping_transaction


def _now() -> float:
    from greensched._clock import current_clock

    return current_clock().now().timestamp()


def main() -> None:
    from gevent import monkey

    monkey.patch_all()
    import gevent

    from greensched.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED
    from greensched.schedulers.gevent import GeventScheduler

    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--until", type=float, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--ready", type=Path, required=True)
    parser.add_argument("--lease-time", type=float, default=30)
    parser.add_argument("--poll-interval", type=float, default=1)
    parser.add_argument("--die-holding-claims-after", type=int, default=0)
    parser.add_argument("--stop-in-claim", action="store_true")
    parser.add_argument("--retry-interval", type=float, default=10)
    parser.add_argument(
        "--tag", default="", help="names the connections (PostgreSQL, Redis) for the test to kill"
    )
    args = parser.parse_args()

    options: dict[str, Any] = {"lease_time": args.lease_time, "poll_interval": args.poll_interval}
    if args.tag and args.url.startswith("redis"):
        options["client_name"] = args.tag
    elif args.tag:
        options["engine_options"] = {"connect_args": {"application_name": args.tag}}
    store = store_from_url(args.url, name=args.name, **options)
    with args.out.open("a", encoding="utf-8") as out:
        _record_releases(store, out)
        if args.die_holding_claims_after:
            _die_holding_claims(store, args.die_holding_claims_after, out)
        if args.stop_in_claim:
            _stop_in_claim(store, out)
        scheduler = GeventScheduler(
            jobstores={"default": store}, jobstore_retry_interval=args.retry_interval
        )
        scheduler.add_listener(
            _recorder(out), EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED
        )
        scheduler.start()
        if store._listener is not None:  # a change made elsewhere wakes it from now on
            store._listening.wait(10)
        args.ready.write_text(str(os.getpid()))
        gevent.sleep(max(args.until - _now(), 0))
        scheduler.shutdown(wait=True)


if __name__ == "__main__":
    main()
