"""The dashboard mounted in a Flask application (README, Dashboard): its pages, links and
actions under the mount point, through Flask's own WSGI stack."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from greensched.dashboard import Dashboard
from greensched.schedulers.gevent import GeventScheduler
from tests.dashboard.conftest import TOKEN

flask = pytest.importorskip("flask")


@pytest.mark.parametrize("store", ["memory"], indirect=True)
def test_mounted_in_flask(scheduler: GeventScheduler, add_job: Callable[..., Any]) -> None:
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    add_job("mounted-job")
    app = flask.Flask(__name__)

    @app.route("/")
    def home() -> str:
        return "the application"

    app.wsgi_app = DispatcherMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, {"/scheduler": Dashboard(scheduler, token=TOKEN)}
    )
    client = app.test_client()
    assert client.get("/").text == "the application"
    page = client.get("/scheduler/")
    assert page.status_code == 200
    assert 'href="/scheduler/jobs/mounted-job"' in page.text
    assert client.get("/scheduler/api/jobs").json["total"] == 1
    answer = client.post(
        "/scheduler/api/jobs/mounted-job/pause", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert answer.status_code == 200
    assert scheduler.get_job("mounted-job").next_run_time is None
    login = client.post("/scheduler/login", data={"token": TOKEN})
    assert login.headers["Location"] == "/scheduler/?done=Logged+in"
    assert "Path=/scheduler" in login.headers["Set-Cookie"]
