"""Three scheduler replicas on one shared store send each run to a queue exactly once, also
when two of them are killed with SIGKILL mid-run: ``greensched celery-beat`` replicas (Redis and
PostgreSQL stores) with a real ``celery worker``, and ``greensched run`` replicas whose jobs go
through ``RQExecutor`` (Redis store) with a real ``rq worker``. Every scheduled time in the
window is delivered exactly once. Set ``GREENSCHED_PROOF_REPORT=<file>`` to append the figures
to a file."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.integration.test_shared_stores import report
from tests.queues.conftest import Deliveries
from tests.queues.servers import CELERY_URL, RQ_URL, STORE_URL
from tests.queues.tally import Run, expected_runs, rq_scheduled_run, scheduled_run, tally
from tests.services import POSTGRESQL_URL, drop_store, require, unique_name
from tests.support.queue_workers import WorkerProcess
from tests.support.waiting import PATIENCE, wait_until

pytestmark = pytest.mark.slow

#: the schedule of the replicas: entry -> seconds
INTERVALS = {"tick": 0.5, "tock": 1.0}
#: seconds of the window before the kills, and after them
BEFORE_KILL = 1.5
AFTER_KILL = 2.5
#: what every replica's log says once it runs
READY = "Running the jobs of"

#: a replica: started with the store (URL, name), the deliveries and a log
StartReplica = Callable[[tuple[str, str], Deliveries, Path], WorkerProcess]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@pytest.fixture(params=["redis", "postgresql"])
def store(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    url = require(STORE_URL if request.param == "redis" else POSTGRESQL_URL)
    name = unique_name("beat")
    yield url, name
    drop_store(url, name)


@pytest.fixture
def redis_store() -> Iterator[tuple[str, str]]:
    url, name = require(STORE_URL), unique_name("rq")
    yield url, name
    drop_store(url, name)


def celery_beat(store: tuple[str, str], deliveries: Deliveries, log_path: Path) -> WorkerProcess:
    url, name = store
    command = ["greensched", "celery-beat", "-A", "tests.queues.celery_app:app"]
    return WorkerProcess(
        [*command, f"--store={url}", f"--table={name}", "--poll-interval=0.5"],
        log_path,
        READY,
        {
            "GREENSCHED_TEST_CELERY_BROKER": CELERY_URL,
            "GREENSCHED_TEST_BEAT": json.dumps(INTERVALS),
            "GREENSCHED_TEST_RECORDS": deliveries.key,
        },
    )


def rq_jobs_file(folder: Path, deliveries: Deliveries) -> Path:
    """A jobs file of :data:`INTERVALS` jobs sent to RQ."""
    lines = ["[scheduler.executors.default]", 'type = "rq"', f'url = "{RQ_URL}"', ""]
    for entry, seconds in INTERVALS.items():
        lines += [
            "[[jobs]]",
            f'id = "{entry}"',
            'func = "tests.queues.rq_jobs:record"',
            'trigger = "interval"',
            f"seconds = {seconds}",
            f'args = ["{deliveries.key}", "{entry}"]',
            'misfire_grace_time = "none"',
            "",
        ]
    path = folder / "rq_jobs.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def prove_exactly_once(
    start: Callable[[Path], WorkerProcess],
    ids: Callable[[], list[str]],
    parse: Callable[[str], Run],
    tmp_path: Path,
    request: pytest.FixtureRequest,
    scenario: str,
) -> None:
    """Start three replicas, kill two once every entry was delivered past
    :data:`BEFORE_KILL`, wait until every entry was delivered past :data:`AFTER_KILL` more,
    then stop the third: every scheduled time of the window delivered once."""
    replicas = [start(tmp_path / f"replica{index}.log") for index in range(3)]

    def delivered() -> list[Run]:
        return [parse(message_id) for message_id in ids()]

    def delivered_until(when: datetime) -> bool:
        runs = delivered()
        return all(any(t >= when for e, t in runs if e == entry) for entry in INTERVALS)

    try:
        for process in replicas:
            process.wait_ready()
        begin = utcnow()
        kill_at = begin + timedelta(seconds=BEFORE_KILL)
        wait_until(lambda: delivered_until(kill_at), 2 * PATIENCE, what="runs before the kill")
        for victim in replicas[:2]:
            victim.process.kill()
            victim.process.wait(timeout=PATIENCE)
        end = utcnow() + timedelta(seconds=AFTER_KILL)
        wait_until(lambda: delivered_until(end), 2 * PATIENCE, what="runs after the kill")
        replicas[2].stop()
        assert replicas[2].process.returncode == 0, replicas[2].log()
        expected = expected_runs(delivered(), INTERVALS, begin, end)
        # the worker may still be recording the last few
        with contextlib.suppress(AssertionError):  # (what is missing is asserted below)
            wait_until(lambda: not tally(delivered(), expected).missed, PATIENCE)
    finally:
        for process in replicas:
            process.stop()
    result = tally(delivered(), expected)
    report(request.node.callspec.id, scenario, result.figures())
    assert result.duplicated == 0
    assert result.missed == []
    assert result.expected >= len(INTERVALS) * (BEFORE_KILL + AFTER_KILL) * 0.8


def test_celery_beat_replicas_deliver_each_run_once_when_two_are_killed(
    store: tuple[str, str],
    celery_deliveries: Deliveries,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    prove_exactly_once(
        lambda log: celery_beat(store, celery_deliveries, log),
        celery_deliveries.ids,
        scheduled_run,
        tmp_path,
        request,
        "3 celery-beat replicas, two killed",
    )


@pytest.mark.parametrize("engine", ["redis"])
def test_rq_replicas_deliver_each_run_once_when_two_are_killed(
    engine: str,
    redis_store: tuple[str, str],
    rq_deliveries: Deliveries,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    jobs_file = rq_jobs_file(tmp_path, rq_deliveries)
    url, name = redis_store
    command = ["greensched", "run", str(jobs_file), f"--store={url}", f"--table={name}"]
    prove_exactly_once(
        lambda log: WorkerProcess([*command, "--poll-interval=0.5"], log, READY),
        rq_deliveries.ids,
        rq_scheduled_run,
        tmp_path,
        request,
        "3 greensched run replicas sending to RQ, two killed",
    )
