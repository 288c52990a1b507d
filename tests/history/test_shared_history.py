"""Run history shared by real scheduler processes on one PostgreSQL or Redis store: each
process sees the others' runs through ``scheduler.get_runs``, and a process killed in the
middle of a run leaves a ``running`` record that a survivor closes once the dead process's
heartbeats have stopped for longer than the lease.

The workers are this module run as a script (``python -m tests.history.test_shared_history``):
each runs a ``GeventScheduler`` on the store, with heartbeats every :data:`HEARTBEAT` seconds
and a lease of :data:`LEASE` seconds, and writes what its ``get_runs()`` returns to a file
every :data:`VIEW_INTERVAL` seconds, so that the test reads each process's own view.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.services import POSTGRESQL_URL, REDIS_URL, drop_store, require, unique_name
from tests.support import PATIENCE, wait_until
from tests.support.processes import ROOT

pytestmark = pytest.mark.slow

#: the workers' heartbeat interval and lease: a killed worker is found dead after 2 seconds (a
#: live one on a busy machine is not: its heartbeats come ten times as often)
HEARTBEAT = 0.2
LEASE = 2.0
VIEW_INTERVAL = 0.1


def tick() -> str:
    """The quick job: returns at once."""
    return "tick"


def hold() -> None:
    """The long job: runs until its process dies."""
    import gevent

    gevent.sleep(3600)


# -- the worker ---------------------------------------------------------------------------------


def worker() -> None:
    from gevent import monkey

    monkey.patch_all()
    import gevent
    import gevent.event

    import greensched.history._recorder as recorder
    from greensched.jobstores._url import store_from_url
    from greensched.schedulers.gevent import GeventScheduler

    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--view", type=Path, required=True)
    arguments = parser.parse_args()

    recorder.HEARTBEAT_INTERVAL = HEARTBEAT
    store = store_from_url(
        arguments.url, name=arguments.name, lease_time=LEASE, poll_interval=VIEW_INTERVAL
    )
    scheduler = GeventScheduler(jobstores={"default": store}, timezone="UTC")
    scheduler.start()
    stop = gevent.event.Event()
    gevent.signal_handler(signal.SIGTERM, stop.set)
    while not stop.wait(VIEW_INTERVAL):
        view = {
            "pid": os.getpid(),
            "runs": [record.to_dict() for record in scheduler.get_runs(limit=1000)],
        }
        partial = arguments.view.with_suffix(".tmp")
        partial.write_text(json.dumps(view), encoding="utf-8")
        partial.replace(arguments.view)
    scheduler.shutdown(wait=False)


# -- the test's side ----------------------------------------------------------------------------


@dataclass
class Workers:
    url: str
    name: str
    tmp_path: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, count: int) -> None:
        for index in range(len(self.processes), len(self.processes) + count):
            log = (self.tmp_path / f"worker-{index}.log").open("wb")
            self.processes.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "tests.history.test_shared_history",
                        f"--url={self.url}",
                        f"--name={self.name}",
                        f"--view={self.view_path(index)}",
                    ],
                    cwd=ROOT,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )

    def wait_until_running(self) -> None:
        """Wait until every worker's scheduler runs (has written its first view)."""
        self.wait_for(
            lambda: all(self.view_path(index).exists() for index in range(len(self.processes))),
            what="the workers to start",
        )

    def view_path(self, index: int) -> Path:
        return self.tmp_path / f"view-{index}.json"

    def view(self, index: int) -> list[dict[str, Any]]:
        """What worker ``index``'s ``get_runs()`` returned last (nothing before its first)."""
        try:
            runs: list[dict[str, Any]] = json.loads(self.view_path(index).read_text("utf-8"))[
                "runs"
            ]
        except FileNotFoundError:
            return []
        return runs

    def logs(self) -> str:
        return "\n".join(
            f"--- worker {index} ---\n{(self.tmp_path / f'worker-{index}.log').read_text()}"
            for index in range(len(self.processes))
        )

    def wait_for(self, condition: Callable[[], object], what: str) -> None:
        try:
            wait_until(condition, what=what)
        except AssertionError:
            pytest.fail(f"timed out waiting for {what}:\n{self.logs()}")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            process.wait(timeout=PATIENCE)


@pytest.fixture(params=["postgresql", "redis"])
def workers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Workers]:
    url = require({"postgresql": POSTGRESQL_URL, "redis": REDIS_URL}[request.param])
    workers = Workers(url, unique_name("shared_history"), tmp_path)
    yield workers
    workers.stop()
    drop_store(url, workers.name)


def add_jobs(workers: Workers, *jobs: tuple[Callable[[], object], dict[str, Any]]) -> None:
    """Add jobs to the workers' store from this process (a paused scheduler of its own)."""
    from greensched.jobstores._url import store_from_url
    from greensched.schedulers.background import BackgroundScheduler

    store = store_from_url(workers.url, name=workers.name, lease_time=LEASE)
    scheduler = BackgroundScheduler(jobstores={"default": store}, timezone="UTC", history=False)
    scheduler.start(paused=True)
    try:
        for func, options in jobs:
            scheduler.add_job(func, **options)
    finally:
        scheduler.shutdown()


def pids(runs: list[dict[str, Any]], **match: Any) -> set[int]:
    return {
        run["pid"] for run in runs if all(run.get(key) == value for key, value in match.items())
    }


def test_each_process_sees_the_runs_of_the_others(workers: Workers) -> None:
    add_jobs(
        workers,
        *((tick, {"trigger": "interval", "seconds": 0.2, "id": f"tick-{n}"}) for n in range(4)),
    )
    workers.start(2)
    processes = {process.pid for process in workers.processes}
    for index in range(2):
        workers.wait_for(
            lambda index=index: pids(workers.view(index), outcome="executed") == processes,  # type: ignore[misc]
            what=f"worker {index} to see the runs of both workers",
        )
    run = next(r for r in workers.view(0) if r["outcome"] == "executed")
    assert run["retval"] == "'tick'"
    assert run["job_id"].startswith("tick-")


def test_a_survivor_closes_the_run_a_killed_process_left_running(workers: Workers) -> None:
    workers.start(2)
    workers.wait_until_running()
    add_jobs(workers, (hold, {"trigger": "date", "id": "hold", "misfire_grace_time": None}))
    for index in range(2):
        workers.wait_for(
            lambda index=index: pids(workers.view(index), job_id="hold", outcome="running"),  # type: ignore[misc]
            what=f"worker {index} to see the held run running",
        )
    [running] = [r for r in workers.view(0) if r["job_id"] == "hold"]
    holder = next(p for p in workers.processes if p.pid == running["pid"])
    survivor = workers.processes.index(next(p for p in workers.processes if p is not holder))
    holder.send_signal(signal.SIGKILL)
    holder.wait()

    def closed() -> dict[str, Any] | None:
        found = [r for r in workers.view(survivor) if r["run_id"] == running["run_id"]]
        return found[0] if found and found[0]["outcome"] != "running" else None

    workers.wait_for(closed, what="the survivor to close the dead process's run")
    record = closed()
    assert record is not None
    assert record["outcome"] == "error"
    assert record["exc_type"] == "greensched.ProcessDied"
    assert (record["started"], record["pid"], record["owner"]) == (
        running["started"],
        running["pid"],
        running["owner"],
    )
    assert record["ended"] is not None


if __name__ == "__main__":
    worker()
