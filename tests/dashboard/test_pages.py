"""The dashboard's HTML pages, called as a WSGI application over a paused scheduler whose
history the tests write: what a user reads on each page."""

from __future__ import annotations

import os
import re
import socket
from datetime import datetime, timedelta
from typing import Any, Callable
from zoneinfo import ZoneInfo

from greensched.dashboard import Dashboard
from greensched.dashboard.data import PAGE_SIZE
from greensched.history import ProcessInfo
from greensched.history._records import PROCESS_DIED
from greensched.schedulers.gevent import GeventScheduler
from greensched.testing import MockClock
from tests.support.wsgi import Client


def cells(html: str) -> list[str]:
    """The table rows' text of a page, tags removed (one string per row)."""
    rows = re.findall(r"<tr>(.*?)</tr>", html, re.DOTALL)
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip() for row in rows]


def test_jobs_page_shows_each_job_with_its_schedule_and_last_run(
    client: Client, add_job: Callable[..., Any], record_run: Callable[..., Any]
) -> None:
    add_job(
        "report",
        "cron",
        hour=2,
        minute=30,
        day_of_week="mon-fri",
        name="Nightly report",
        timezone="Europe/Paris",
    )
    add_job("poll")
    record_run("poll", "executed", ago=300, duration=1.5, lateness=0.02)
    answer = client.get("/")
    assert answer.status == 200
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    rows = cells(answer.text)
    poll = next(row for row in rows if row.startswith("poll"))
    assert "every 5 minutes" in poll
    assert "2024-06-03 12:05:00 CEST (in 5 min)" in poll
    assert "scheduled" in poll
    assert "executed" in poll
    assert "20 ms late" in poll
    report = next(row for row in rows if row.startswith("report"))
    assert "Nightly report" in report
    assert "at 02:30 on Mon\u2013Fri (Europe/Paris)" in report
    assert "never ran" in report
    assert answer.text.count("<svg") == 1  # the chart of poll's runs; report has none


def test_jobs_page_shows_paused_and_running_jobs(
    client: Client,
    scheduler: GeventScheduler,
    add_job: Callable[..., Any],
    record_run: Callable[..., Any],
) -> None:
    add_job("sleepy")
    scheduler.pause_job("sleepy")
    add_job("busy")
    record_run("busy", "running", ago=90, host="box-7", pid=99)
    rows = cells(client.get("/").text)
    assert "paused" in next(row for row in rows if row.startswith("sleepy"))
    busy = next(row for row in rows if row.startswith("busy"))
    assert "running since 1 min ago on box-7:99" in busy


def test_search_by_id_or_name(client: Client, add_job: Callable[..., Any]) -> None:
    add_job("alpha", name="Billing export")
    add_job("beta", name="cleanup")
    add_job("gamma-billing", name="other")
    found = cells(client.get("/?q=BILLING").text)[1:]
    assert sorted(row.split()[0] for row in found) == ["alpha", "gamma-billing"]
    assert "no jobs" in client.get("/?q=nothing-like-it").text


def test_pages_of_jobs(client: Client, add_job: Callable[..., Any]) -> None:
    for index in range(PAGE_SIZE + 3):
        add_job(f"job-{index:03}", seconds=60 + index)
    first = client.get("/").text
    second = client.get("/?page=2").text
    assert len(cells(first)) - 1 == PAGE_SIZE
    assert [row.split()[0] for row in cells(second)[1:]] == ["job-050", "job-051", "job-052"]
    assert "page 1 of 2" in first
    assert "page=2" in first
    answer = client.get("/?page=0")
    assert answer.status == 400
    assert "page must be an integer from 1, got: &#x27;0&#x27;" in answer.text


def test_job_page_shows_runs_with_tracebacks_options_and_fire_times(
    client: Client, add_job: Callable[..., Any], record_run: Callable[..., Any]
) -> None:
    add_job(
        "sync",
        max_instances=3,
        coalesce=False,
        misfire_grace_time=30,
        args=[1, "x"],
        kwargs={"dry": True},
    )
    record_run("sync", "executed", ago=600, retval="'42 rows'")
    record_run(
        "sync",
        "error",
        ago=300,
        exc_type="builtins.ValueError",
        exc_message="bad input",
        traceback='Traceback (most recent call last):\n  File "job.py"\nValueError: bad input',
    )
    html = client.get("/jobs/sync").text
    assert "<details><summary>builtins.ValueError: bad input</summary>" in html
    assert "File &quot;job.py&quot;" in html
    assert "&#x27;42 rows&#x27;" in html
    for option in ("max_instances", "coalesce", "misfire_grace_time", "executor"):
        assert f"<dt>{option}</dt>" in html
    assert "(1, &#x27;x&#x27;)" in html
    assert "{&#x27;dry&#x27;: True}" in html
    times = re.findall(r"<li>(.*?)</li>", html)
    assert len(times) == 10
    assert "2024-06-03 12:05:00 CEST" in times[0]
    assert "2024-06-03 12:50:00 CEST" in times[9]
    # newest run first
    rows = cells(html)
    assert rows[1].startswith("2024-06-03 11:55:00 CEST")
    assert "error" in rows[1]


def test_job_page_marks_a_change_of_utc_offset(
    client: Client, add_job: Callable[..., Any], mock_clock: MockClock
) -> None:
    mock_clock.set(datetime(2024, 10, 22, 12, 0, tzinfo=ZoneInfo("Europe/Berlin")))
    add_job("daily", "cron", hour=9, timezone="Europe/Berlin")
    times = re.findall(r"<li>(.*?)</li>", client.get("/jobs/daily").text)
    marked = [index for index, text in enumerate(times) if "DST" in text]
    assert marked == [4]  # 2024-10-27 09:00 CET after 2024-10-26 09:00 CEST
    assert "2024-10-27 09:00:00 CET" in times[4]


def test_unknown_job_is_404(client: Client) -> None:
    answer = client.get("/jobs/no-such-job")
    assert answer.status == 404
    assert "no job with id &#x27;no-such-job&#x27;" in answer.text
    assert client.get("/no/such/page").status == 404


def test_everything_shown_is_escaped(
    client: Client, add_job: Callable[..., Any], record_run: Callable[..., Any]
) -> None:
    add_job("<script>alert(1)</script>", name="<script>alert(2)</script>")
    record_run(
        "<script>alert(1)</script>",
        "error",
        exc_type="<b>",
        exc_message="<img src=x>",
        traceback="<script>alert(3)</script>",
    )
    for path in ("/", "/jobs/%3Cscript%3Ealert(1)%3C%2Fscript%3E", "/attention"):
        answer = client.get(path)
        assert answer.status == 200, path
        assert "<script>" not in answer.text, path
        assert "<img" not in answer.text, path
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in client.get("/").text


def test_processes_page(client: Client, scheduler: GeventScheduler, mock_clock: MockClock) -> None:
    now = mock_clock.now()
    runs = scheduler.jobstores["default"].runs
    runs.heartbeat(
        ProcessInfo(
            "a:1:x", "host-a", 1, now - timedelta(hours=1), now - timedelta(seconds=2), 120, 3
        )
    )
    runs.heartbeat(
        ProcessInfo(
            "b:2:y", "host-b", 2, now - timedelta(hours=2), now - timedelta(minutes=10), 7, 0
        )
    )
    this, *rows = cells(client.get("/processes").text)[1:]  # latest heartbeat first
    assert this.startswith(f"{socket.gethostname()} {os.getpid()} alive")
    assert rows[0].startswith("host-a 1 alive")
    assert "120 3" in rows[0]
    assert rows[1].startswith("host-b 2 dead")
    assert "10 min ago" in rows[1]


def test_attention_page(
    client: Client,
    scheduler: GeventScheduler,
    add_job: Callable[..., Any],
    record_run: Callable[..., Any],
    mock_clock: MockClock,
) -> None:
    add_job("broken", minutes=10)
    record_run("broken", "executed", ago=600)
    record_run("broken", "error", ago=300, exc_type="builtins.OSError", exc_message="disk full")
    add_job("fine", minutes=10)
    record_run("fine", "error", ago=600)
    record_run("fine", "executed", ago=300)
    add_job("stuck", misfire_grace_time=10)
    add_job("orphan", minutes=10)
    now = mock_clock.now()
    runs = scheduler.jobstores["default"].runs
    runs.heartbeat(
        ProcessInfo(
            "dead:9:z", "gone-host", 9, now - timedelta(hours=1), now - timedelta(minutes=5)
        )
    )
    record_run("orphan", "running", ago=400, owner="dead:9:z", host="gone-host", pid=9)
    mock_clock.jump(5 * 60 + 11)  # stuck is due (in 5 min) and past its grace time
    html = client.get("/attention").text
    failed, overdue, abandoned = html.split("<h2>")[1:]
    assert "broken" in failed
    assert "disk full" in failed
    assert "fine" not in failed
    assert re.findall(r">(\w+)</a>", overdue) == ["stuck"]
    assert "orphan" in abandoned
    assert "gone-host:9" in abandoned
    [orphan] = scheduler.get_runs("orphan")
    if orphan.outcome == "running":  # not yet closed by this process's heartbeat
        assert "its process is dead" in abandoned
    else:  # closed by this process: the run is marked as cut short by the death
        assert orphan.exc_type == PROCESS_DIED
        assert "closed</span>" in abandoned
        assert "process dead:9:z (host gone-host, pid 9) stopped" in abandoned


def test_links_follow_where_the_dashboard_is_mounted(
    scheduler: GeventScheduler, add_job: Callable[..., Any]
) -> None:
    add_job("mounted")
    html = Client(Dashboard(scheduler), script_name="/ops/scheduler").get("/").text
    assert 'href="/ops/scheduler/jobs/mounted"' in html
    assert 'href="/ops/scheduler/processes"' in html


def test_a_scheduler_without_history_says_so(mock_clock: MockClock) -> None:
    scheduler = GeventScheduler(clock=mock_clock, history=False)
    scheduler.start(paused=True)
    try:
        html = Client(Dashboard(scheduler)).get("/").text
    finally:
        scheduler.shutdown(wait=False)
    assert "This scheduler does not record its runs (history=False)" in html
