"""The dashboard's WSGI application: :class:`Dashboard` (routing, the actions, the login)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from greensched import _actions as actions
from greensched.dashboard import api
from greensched.dashboard.data import PAGE_SIZE, View, upcoming
from greensched.dashboard.http import HTTPError, Request, Response, json_response, url_quote
from greensched.dashboard.pages import ACTIONS, Pages
from greensched.dashboard.security import COOKIE, Guard
from greensched.history import OUTCOMES

if TYPE_CHECKING:
    from greensched.schedulers.base import BaseScheduler

__all__ = ("Dashboard",)

logger = logging.getLogger("greensched.dashboard")

#: The most runs ``/api/runs`` answers with
MAX_RUNS = 1000

_DONE = {"pause": "Paused", "resume": "Resumed", "run-now": "Made due now", "remove": "Removed"}
_DO: dict[str, Callable[..., actions.Done]] = {
    "pause": actions.pause,
    "resume": actions.resume,
    "run-now": actions.run_now,
    "remove": actions.remove,
}
assert set(_DO) == {name for name, _ in ACTIONS}


class Dashboard:
    """A web dashboard over ``scheduler``, as a WSGI application: its jobs (``/``), one job
    (``/jobs/<id>``), the processes sharing its stores (``/processes``), what needs attention
    (``/attention``), the same as JSON (``/api/...``) and actions on jobs (pause, resume, run
    now, remove) for those who have the token.

    Mount it anywhere a WSGI application goes (links follow ``SCRIPT_NAME``), or serve it from
    the scheduler's hub with :func:`~greensched.dashboard.serve`. Calls the scheduler's API
    from the thread that serves the request.

    :param scheduler: the scheduler shown (started, or at least with its job stores added)
    :param token: the secret that allows actions (``None``: read-only; see
        :mod:`greensched.dashboard.security`)
    :param jobstore: show only this store's jobs and history (default: every store's)
    :raises ValueError: if ``token`` is empty, or ``jobstore`` is not one of the scheduler's
    """

    def __init__(
        self, scheduler: BaseScheduler, *, token: str | None = None, jobstore: str | None = None
    ) -> None:
        if jobstore is not None and jobstore not in scheduler.jobstores:
            raise ValueError(
                f"jobstore must be one of the scheduler's stores "
                f"({', '.join(sorted(scheduler.jobstores))}), got: {jobstore!r}"
            )
        self.scheduler = scheduler
        self.view = View(scheduler, jobstore)
        self.guard = Guard(token)

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        request = Request(environ)
        api_call = request.path.startswith("/api/")
        try:
            response = self._route(request)
        except HTTPError as exc:
            response = self._error(request, exc.status, exc.message, api_call)
        except Exception:
            logger.exception("Dashboard: %s %s failed", request.method, request.path)
            response = self._error(request, 500, "internal error (see the log)", api_call)
        return response.start(start_response)

    def _pages(self, request: Request) -> Pages:
        scheduler = self.scheduler
        return Pages(
            request, self.guard, scheduler.timezone, self.view.now(), scheduler.history_enabled
        )

    def _error(self, request: Request, status: int, message: str, api_call: bool) -> Response:
        if api_call:
            return json_response({"error": message}, status)
        return Response(self._pages(request).error(status, message), status)

    def _route(self, request: Request) -> Response:
        path, method = request.path, request.method
        if method == "POST":
            return self._post(request)
        if method not in ("GET", "HEAD"):
            raise HTTPError(405, f"method {method} is not allowed here")
        pages = self._pages(request)
        if path == "/":
            query = request.arg("q")
            return Response(pages.jobs(self.view.jobs(query, request.int_arg("page", 1)), query))
        if path.startswith("/jobs/"):
            row, times, more = self._job(request, path[len("/jobs/") :])
            return Response(pages.job(row, times, more))
        if path == "/processes":
            return Response(pages.processes(self.view.processes()))
        if path == "/attention":
            return Response(pages.attention(self.view.attention()))
        if path == "/login":
            return Response(pages.login())
        if path == "/api/jobs":
            page = self.view.jobs(request.arg("q"), request.int_arg("page", 1))
            return json_response(api.jobs_json(page, self.view.now()))
        if path.startswith("/api/jobs/"):
            row, times, more = self._job(request, path[len("/api/jobs/") :])
            return json_response(
                {
                    "job": api.job_json(row, self.view.now()),
                    "runs": api.runs_json(row.runs),
                    "more_runs": more,
                    "next_fire_times": api.fire_times_json(times),
                }
            )
        if path == "/api/runs":
            return json_response({"runs": api.runs_json(self._runs(request))})
        if path == "/api/processes":
            return json_response({"processes": api.processes_json(self.view.processes())})
        raise HTTPError(404, f"no page at {path}")

    def _job(self, request: Request, job_id: str) -> tuple[Any, list[tuple[datetime, bool]], bool]:
        """A job, a page of its runs (``?before=``), its next fire times and whether it has
        older runs."""
        try:
            row = self.view.job(job_id, PAGE_SIZE + 1, _before(request))
        except LookupError:
            raise HTTPError(404, f"no job with id {job_id!r}") from None
        more = len(row.runs) > PAGE_SIZE
        del row.runs[PAGE_SIZE:]
        return row, upcoming(row.job), more

    def _runs(self, request: Request) -> list[Any]:
        outcome = request.arg("outcome") or None
        if outcome is not None and outcome not in OUTCOMES:
            raise HTTPError(400, f"outcome must be one of {', '.join(OUTCOMES)}, got: {outcome!r}")
        return self.view.runs(
            request.arg("job_id") or None,
            outcome=outcome,
            limit=request.int_arg("limit", PAGE_SIZE, 1, MAX_RUNS),
            before=_before(request),
        )

    def _post(self, request: Request) -> Response:
        path = request.path
        if path == "/login":
            return self._login(request)
        if path == "/logout":
            self.guard.check_origin(request)
            return _redirect(request, "/", cookie=f"{COOKIE}=; Max-Age=0")
        api_call = path.startswith("/api/jobs/")
        if not api_call and not path.startswith("/jobs/"):
            raise HTTPError(405, f"method POST is not allowed at {path}")
        job_id, _, name = path[len("/api/jobs/" if api_call else "/jobs/") :].rpartition("/")
        if not job_id or name not in _DO:
            raise HTTPError(
                404, f"no action at {path} (POST .../jobs/<id>/pause|resume|run-now|remove)"
            )
        if api_call:
            self.guard.check_api(request)
        else:
            self.guard.check_form(request)
        alias = self._alias(job_id)
        job = actions.find_job(self.scheduler.jobstores[alias], job_id)
        if job is None:
            raise HTTPError(404, f"no job with id {job_id!r}")
        try:
            done = _DO[name](self.scheduler, alias, job)
        except actions.ActionError as exc:
            raise HTTPError(409, str(exc)) from None
        logger.info("Dashboard: %s job %s", name, job_id)
        gone = name == "remove" or (name == "resume" and done.next_run_time is None)
        if api_call:
            when = done.next_run_time
            return json_response(
                {
                    "job_id": done.job_id,
                    "action": name,
                    "next_run_time": None if when is None else when.isoformat(),
                    "removed": gone,
                }
            )
        target = "/" if gone else "/jobs/" + url_quote(job_id)
        return _redirect(request, target, done=f"{_DONE[name]} job {job_id!r}")

    def _alias(self, job_id: str) -> str:
        """The store that holds ``job_id`` (the first store shown, if none does)."""
        stores = self.view.stores()
        for alias, store in stores:
            if actions.find_job(store, job_id) is not None:
                return alias
        return stores[0][0]

    def _login(self, request: Request) -> Response:
        self.guard.check_origin(request)
        if self.guard.read_only:
            raise HTTPError(403, "the dashboard is read-only: there is no token to log in with")
        if not self.guard.token_matches(request.field("token")):
            logger.warning("Dashboard: a login with a wrong token")
            return Response(self._pages(request).login("wrong token"), 401)
        cookie = (
            f"{COOKIE}={self.guard.session()}; Path={request.base or '/'}; HttpOnly; "
            "SameSite=Strict"
        )
        return _redirect(request, "/", cookie=cookie, done="Logged in")


def _before(request: Request) -> datetime | None:
    text = request.arg("before")
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise HTTPError(400, f"before must be an ISO 8601 time with its offset, got: {text!r}")
    return when


def _redirect(request: Request, path: str, *, cookie: str = "", done: str = "") -> Response:
    """A 303 to ``path`` (with ``?done=`` shown as a message), setting ``cookie``."""
    location = request.url(path) + (f"?{urlencode({'done': done})}" if done else "")
    headers = [("Location", location)]
    if cookie:
        headers.append(("Set-Cookie", cookie))
    return Response(b"", 303, headers=headers)
