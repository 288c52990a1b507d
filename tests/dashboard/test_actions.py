"""The dashboard's actions (pause, resume, run now, remove): read-only without a token; with
one, the JSON actions need it as a bearer token and the forms need the login cookie and the
CSRF field; cross-origin posts are refused."""

from __future__ import annotations

import re
from typing import Any, Callable

import pytest

from greensched.dashboard import Dashboard
from greensched.dashboard.security import COOKIE
from greensched.schedulers.gevent import GeventScheduler
from greensched.testing import MockClock
from tests.dashboard.conftest import TOKEN
from tests.support.wsgi import Client

BEARER = {"Authorization": f"Bearer {TOKEN}"}


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found is not None, "the page has no CSRF field"
    return found.group(1)


def logged_in(client: Client) -> Client:
    answer = client.post("/login", form={"token": TOKEN})
    assert answer.status == 303, answer.text
    return client


@pytest.mark.parametrize("action", ["pause", "resume", "run-now", "remove"])
def test_read_only_without_a_token(
    client: Client, scheduler: GeventScheduler, add_job: Callable[..., Any], action: str
) -> None:
    add_job("job")
    before = scheduler.get_job("job").next_run_time
    for answer in (
        client.post(f"/api/jobs/job/{action}", headers={"Authorization": "Bearer anything"}),
        client.post(f"/jobs/job/{action}", form={}),
    ):
        assert answer.status == 403
        assert "the dashboard is read-only: start it with a token" in answer.text
    assert scheduler.get_job("job").next_run_time == before
    assert "read-only" in client.get("/").text
    assert client.post("/login", form={"token": "x"}).status == 403


def test_api_actions_with_the_token(
    admin_client: Client,
    scheduler: GeventScheduler,
    add_job: Callable[..., Any],
    mock_clock: MockClock,
) -> None:
    add_job("job")
    answer = admin_client.post("/api/jobs/job/pause", headers=BEARER)
    assert answer.status == 200
    assert answer.json() == {
        "job_id": "job",
        "action": "pause",
        "next_run_time": None,
        "removed": False,
    }
    assert scheduler.get_job("job").next_run_time is None
    refused = admin_client.post("/api/jobs/job/run-now", headers=BEARER)
    assert refused.status == 409
    assert refused.json() == {"error": "job 'job' is paused: resume it first"}
    resumed = admin_client.post("/api/jobs/job/resume", headers=BEARER).json()
    assert resumed["next_run_time"] == "2024-06-03T12:05:00+02:00"
    due = admin_client.post("/api/jobs/job/run-now", headers=BEARER).json()
    assert due["next_run_time"] == "2024-06-03T12:00:00+02:00"
    assert scheduler.get_job("job").next_run_time == mock_clock.now()
    removed = admin_client.post("/api/jobs/job/remove", headers=BEARER).json()
    assert removed["removed"] is True
    assert scheduler.get_job("job") is None


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}],
    ids=["none", "wrong", "not-bearer"],
)
def test_api_actions_need_the_right_token(
    admin_client: Client,
    scheduler: GeventScheduler,
    add_job: Callable[..., Any],
    headers: dict[str, str],
) -> None:
    add_job("job")
    answer = admin_client.post("/api/jobs/job/pause", headers=headers)
    assert answer.status == 401
    assert answer.json() == {"error": "actions need the header Authorization: Bearer <token>"}
    assert scheduler.get_job("job").next_run_time is not None


def test_unknown_job_or_action(admin_client: Client, add_job: Callable[..., Any]) -> None:
    add_job("job")
    missing = admin_client.post("/api/jobs/nope/pause", headers=BEARER)
    assert missing.status == 404
    assert missing.json() == {"error": "no job with id 'nope'"}
    assert admin_client.post("/api/jobs/job/explode", headers=BEARER).status == 404
    assert admin_client.post("/api/jobs/pause", headers=BEARER).status == 404
    assert admin_client.post("/jobs/pause", form={}).status == 404
    assert admin_client.post("/api/jobs", headers=BEARER).status == 405
    assert admin_client.request("DELETE", "/jobs/job").status == 405


def test_login_sets_a_strict_http_only_cookie_not_the_token(admin_client: Client) -> None:
    wrong = admin_client.post("/login", form={"token": "guess"})
    assert wrong.status == 401
    assert "wrong token" in wrong.text
    assert COOKIE not in admin_client.cookies
    answer = admin_client.post("/login", form={"token": TOKEN})
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert TOKEN not in cookie
    assert answer.headers["location"] == "/?done=Logged+in"
    assert "Log out" in admin_client.get("/").text


def test_form_actions_need_login_and_csrf(
    admin_client: Client, scheduler: GeventScheduler, add_job: Callable[..., Any]
) -> None:
    add_job("job")
    assert "csrf" not in admin_client.get("/jobs/job").text  # no forms' token before login
    anonymous = admin_client.post("/jobs/job/pause", form={"csrf": "0" * 64})
    assert anonymous.status == 401
    logged_in(admin_client)
    page = admin_client.get("/jobs/job").text
    assert admin_client.post("/jobs/job/pause", form={}).status == 403
    forged = admin_client.post("/jobs/job/pause", form={"csrf": "0" * 64})
    assert forged.status == 403
    assert "CSRF token is missing or wrong" in forged.text
    assert scheduler.get_job("job").next_run_time is not None
    answer = admin_client.post("/jobs/job/pause", form={"csrf": csrf_of(page)})
    assert answer.status == 303
    assert answer.headers["location"] == "/jobs/job?done=Paused+job+%27job%27"
    assert scheduler.get_job("job").next_run_time is None
    assert "Paused job &#x27;job&#x27;" in admin_client.get(answer.headers["location"]).text
    removed = admin_client.post("/jobs/job/remove", form={"csrf": csrf_of(page)})
    assert removed.headers["location"].startswith("/?done=Removed")
    assert scheduler.get_job("job") is None


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Referer": "https://evil.example/page"},
    ],
    ids=["origin", "null-origin", "referer"],
)
def test_cross_origin_posts_are_refused(
    admin_client: Client,
    scheduler: GeventScheduler,
    add_job: Callable[..., Any],
    headers: dict[str, str],
) -> None:
    add_job("job")
    logged_in(admin_client)
    csrf = csrf_of(admin_client.get("/jobs/job").text)
    form = admin_client.post("/jobs/job/pause", form={"csrf": csrf}, headers=headers)
    api = admin_client.post("/api/jobs/job/pause", headers={**BEARER, **headers})
    for answer in (form, api):
        assert answer.status == 403
        assert "cross-origin request refused" in answer.text
    assert scheduler.get_job("job").next_run_time is not None
    same = admin_client.post(
        "/jobs/job/pause", form={"csrf": csrf}, headers={"Origin": "http://localhost"}
    )
    assert same.status == 303


def test_logout_forgets_the_session(admin_client: Client, add_job: Callable[..., Any]) -> None:
    add_job("job")
    logged_in(admin_client)
    csrf = csrf_of(admin_client.get("/jobs/job").text)
    assert admin_client.post("/logout", form={}).status == 303
    assert admin_client.post("/jobs/job/pause", form={"csrf": csrf}).status == 401


def test_a_token_must_be_a_non_empty_string(scheduler: GeventScheduler) -> None:
    with pytest.raises(ValueError, match=r"^token must be a non-empty string or None, got: ''$"):
        Dashboard(scheduler, token="")
    with pytest.raises(ValueError, match="jobstore must be one of the scheduler's stores"):
        Dashboard(scheduler, jobstore="nope")
