"""The dashboard's JSON endpoints: their shapes (as README documents them), filters and
paging, and their errors."""

from __future__ import annotations

import os
from datetime import timedelta, timezone
from typing import Any, Callable
from urllib.parse import quote
from zoneinfo import ZoneInfo

from greensched.dashboard.data import PAGE_SIZE
from greensched.history import ProcessInfo, RunRecord
from greensched.schedulers.gevent import GeventScheduler
from greensched.testing import MockClock
from tests.support.wsgi import Client

JOB_KEYS = {
    "id",
    "name",
    "func",
    "trigger",
    "trigger_text",
    "next_run_time",
    "state",
    "args",
    "kwargs",
    "executor",
    "misfire_grace_time",
    "coalesce",
    "max_instances",
    "timeout",
    "store",
    "running",
    "last_run",
}


def test_jobs(client: Client, add_job: Callable[..., Any], record_run: Callable[..., Any]) -> None:
    add_job("poll", name="Poll the feed")
    add_job("other")
    run = record_run("poll", "executed", ago=120)
    answer = client.get("/api/jobs?q=feed")
    assert answer.status == 200
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert (body["page"], body["pages"], body["total"]) == (1, 1, 1)
    [job] = body["jobs"]
    assert set(job) == JOB_KEYS
    assert job["id"] == "poll"
    assert job["trigger_text"] == "every 5 minutes"
    assert job["next_run_time"] == "2024-06-03T12:05:00+02:00"
    assert job["state"] == "scheduled"
    assert job["running"] == []
    assert job["last_run"] == run.to_dict()


def test_jobs_paging(client: Client, add_job: Callable[..., Any]) -> None:
    for index in range(PAGE_SIZE + 1):
        add_job(f"job-{index:03}", seconds=60 + index)
    body = client.get("/api/jobs?page=2").json()
    assert [job["id"] for job in body["jobs"]] == [f"job-{PAGE_SIZE:03}"]
    assert (body["page"], body["pages"], body["total"]) == (2, 2, PAGE_SIZE + 1)
    answer = client.get("/api/jobs?page=x")
    assert answer.status == 400
    assert answer.json() == {"error": "page must be an integer from 1, got: 'x'"}


def test_one_job(
    client: Client, add_job: Callable[..., Any], record_run: Callable[..., Any]
) -> None:
    add_job("sync")
    older = record_run("sync", "executed", ago=600)
    newer = record_run("sync", "error", ago=300, exc_type="builtins.KeyError", traceback="tb")
    body = client.get("/api/jobs/sync").json()
    assert set(body) == {"job", "runs", "more_runs", "next_fire_times"}
    assert body["job"]["id"] == "sync"
    assert set(body["job"]) == JOB_KEYS
    assert body["runs"] == [newer.to_dict(), older.to_dict()]
    assert body["more_runs"] is False
    assert len(body["next_fire_times"]) == 10
    assert body["next_fire_times"][0] == {"time": "2024-06-03T12:05:00+02:00", "dst_change": False}
    assert body["next_fire_times"][1]["time"] == "2024-06-03T12:10:00+02:00"
    page = client.get(f"/api/jobs/sync?before={quote(newer.started.isoformat())}").json()
    assert page["runs"] == [older.to_dict()]
    missing = client.get("/api/jobs/nope")
    assert missing.status == 404
    assert missing.json() == {"error": "no job with id 'nope'"}


def test_runs_filters(
    client: Client, add_job: Callable[..., Any], record_run: Callable[..., Any]
) -> None:
    add_job("a")
    add_job("b")
    first = record_run("a", "executed", ago=400)
    second = record_run("b", "error", ago=300)
    third = record_run("a", "error", ago=200)

    def ids(query: str) -> list[str]:
        answer = client.get("/api/runs" + query)
        assert answer.status == 200, answer.text
        runs: list[dict[str, Any]] = answer.json()["runs"]
        return [run["run_id"] for run in runs]

    assert ids("") == [third.run_id, second.run_id, first.run_id]
    assert ids("?job_id=a") == [third.run_id, first.run_id]
    assert ids("?outcome=error") == [third.run_id, second.run_id]
    assert ids("?limit=1") == [third.run_id]
    assert ids(f"?before={quote(third.started.isoformat())}") == [second.run_id, first.run_id]
    assert client.get("/api/runs").json()["runs"][0] == third.to_dict()
    bad = client.get("/api/runs?outcome=exploded")
    assert bad.status == 400
    assert "outcome must be one of running, executed" in bad.json()["error"]
    assert client.get("/api/runs?limit=0").status == 400
    assert client.get("/api/runs?before=yesterday").json() == {
        "error": "before must be an ISO 8601 time with its offset, got: 'yesterday'"
    }


def test_processes(client: Client, scheduler: GeventScheduler, mock_clock: MockClock) -> None:
    now = mock_clock.now().astimezone(timezone.utc)  # as a persistent store gives it back
    process = ProcessInfo(
        "h:1:t", "h", 1, now - timedelta(hours=1), now - timedelta(seconds=1), 5, 1
    )
    scheduler.jobstores["default"].runs.heartbeat(process)
    this, other = client.get("/api/processes").json()["processes"]  # latest heartbeat first
    assert other == {**process.to_dict(), "alive": True, "store": "default"}
    assert (this["pid"], this["heartbeat"], this["alive"]) == (os.getpid(), now.isoformat(), True)


def test_runs_of_a_removed_job_stay_readable(
    client: Client,
    scheduler: GeventScheduler,
    add_job: Callable[..., Any],
    record_run: Callable[..., Any],
) -> None:
    add_job("gone")
    run: RunRecord = record_run("gone", "executed")
    scheduler.remove_job("gone")
    assert client.get("/api/runs?job_id=gone").json()["runs"] == [run.to_dict()]
    assert client.get("/api/jobs/gone").status == 404


def test_times_are_in_utc(
    client: Client, scheduler: GeventScheduler, mock_clock: MockClock, add_job: Callable[..., Any]
) -> None:
    """The memory store keeps a record's times as recorded (here in Berlin's zone): the JSON
    gives them in UTC, as a persistent store's are."""
    add_job("berlin")
    started = mock_clock.now().astimezone(ZoneInfo("Europe/Berlin"))
    run = RunRecord("run-b", "berlin", None, started, "running", started=started)
    scheduler.jobstores["default"].runs.write([run])
    [shown] = client.get("/api/runs?job_id=berlin").json()["runs"]
    expected = started.astimezone(timezone.utc).isoformat()
    assert (shown["scheduled"], shown["started"]) == (expected, expected)
    assert expected.endswith("+00:00")
