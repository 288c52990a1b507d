"""The dashboard's HTML pages, rendered on the server (no JavaScript): jobs, one job, processes,
attention, and the login form. Every value shown is escaped (:func:`html.escape`)."""

from __future__ import annotations

from datetime import datetime, tzinfo
from html import escape
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from greensched.cli.output import format_time, job_state, relative_time
from greensched.dashboard.data import PAGE_SIZE
from greensched.dashboard.describe import describe_trigger, zone_name
from greensched.dashboard.http import Request, url_quote
from greensched.dashboard.security import CSRF_FIELD, Guard
from greensched.history import OUTCOME_EXECUTED, OUTCOME_RUNNING, RunRecord

if TYPE_CHECKING:
    from greensched.dashboard.data import Attention, JobRow, Page, ProcessRow
    from greensched.job import Job

__all__ = ("ACTIONS", "Pages")

#: The actions on a job: URL name and button label
ACTIONS = (("pause", "Pause"), ("resume", "Resume"), ("run-now", "Run now"), ("remove", "Remove"))

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2430;background:#f6f7f9}
header{background:#1d2430;color:#fff;padding:10px 24px;display:flex;gap:24px;align-items:center}
header b{font-size:16px}header a{color:#c8d3e6;text-decoration:none}
header a.on{color:#fff;border-bottom:2px solid #6ea8fe}header .right{margin-left:auto}
main{padding:16px 24px;max-width:1400px}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #dde1e7}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid #eceef2;vertical-align:top}
th{background:#f0f2f5;font-weight:600;font-size:12px;text-transform:uppercase;color:#5a6372}
a{color:#0b5ed7}.muted{color:#6b7380;font-size:12px}code,pre{font:12px ui-monospace,monospace}
pre{white-space:pre-wrap;background:#f6f7f9;padding:8px;border:1px solid #e3e6ea;margin:4px 0}
.b{display:inline-block;padding:1px 7px;border-radius:9px;font-size:12px;font-weight:600}
.executed,.alive,.scheduled{background:#d1f0dc;color:#11632f}
.error,.timeout,.dead{background:#fbd9d9;color:#8a1c1c}
.missed,.max_instances,.claim_lost,.due{background:#fdeccb;color:#7a4b00}
.running{background:#d6e6ff;color:#0b4aa6}.paused{background:#e4e6ea;color:#444c58}
.msg{padding:8px 12px;margin-bottom:12px;background:#e7f1ff;border:1px solid #b6d2ff}
.err{background:#fde8e8;border-color:#f5b5b5}
form.inline{display:inline}button{font:inherit;padding:3px 10px;cursor:pointer}
input[type=search],input[type=password]{font:inherit;padding:4px 8px;width:260px}
.pager{margin:12px 0}.pager a,.pager span{margin-right:10px}h2{margin:22px 0 8px}
dl{display:grid;grid-template-columns:max-content auto;gap:4px 16px;background:#fff;
padding:10px 14px;border:1px solid #dde1e7}dt{color:#5a6372}dd{margin:0}
"""

#: The chart's size (pixels) and colours by outcome
_CHART_W, _CHART_H = 140, 28
_COLOURS = {
    "executed": "#2f9e5b",
    "error": "#d64545",
    "timeout": "#d64545",
    "running": "#3b7ddd",
}


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.0f} ms" if abs(value) < 1 else f"{value:.2f} s"


def _more(count: int, columns: int) -> str:
    """The row that says how many rows past the first :data:`PAGE_SIZE` are not shown."""
    if count <= PAGE_SIZE:
        return ""
    return f"<tr><td colspan={columns} class=muted>and {count - PAGE_SIZE} more</td></tr>"


def _cut_short(run: RunRecord) -> str:
    """What became of a run its process left running: still running, or closed since."""
    if run.outcome == OUTCOME_RUNNING:
        return f"{badge('running')} <span class=muted>its process is dead</span>"
    return f"{badge('closed', 'error')} <span class=muted>{escape(run.exc_message or '')}</span>"


def badge(text: str, kind: str | None = None) -> str:
    """A coloured label (its class is ``kind``, else ``text``)."""
    return f'<span class="b {escape(kind or text)}">{escape(text)}</span>'


def chart(runs: list[RunRecord]) -> str:
    """An SVG of the runs' durations (bars, coloured by outcome) and lateness (dots), oldest
    left; each bar's tooltip tells the run."""
    if not runs:
        return '<span class="muted">no runs</span>'
    ordered = list(reversed(runs))
    top = max(max(run.duration or 0, run.lateness or 0) for run in ordered) or 1.0
    width = _CHART_W / max(len(ordered), 10)
    parts = []
    for index, run in enumerate(ordered):
        x = index * width
        height = max(1.0, (run.duration or 0) / top * (_CHART_H - 2))
        late = (run.lateness or 0) / top * (_CHART_H - 2)
        colour = _COLOURS.get(run.outcome, "#d98c00")
        tip = (
            f"{run.outcome}, took {_seconds(run.duration)}, {_seconds(run.lateness)} late"
            f" ({run.scheduled.isoformat(' ', 'seconds') if run.scheduled else '?'})"
        )
        parts.append(
            f'<rect x="{x + 1:.1f}" y="{_CHART_H - height:.1f}" width="{max(width - 2, 1):.1f}" '
            f'height="{height:.1f}" fill="{colour}"><title>{escape(tip)}</title></rect>'
        )
        parts.append(
            f'<circle cx="{x + width / 2:.1f}" cy="{_CHART_H - 1 - late:.1f}" r="1.6" '
            'fill="#1d2430"/>'
        )
    return (
        f'<svg width="{_CHART_W}" height="{_CHART_H}" role="img" aria-label="last runs: '
        f'durations (bars) and lateness (dots)">{"".join(parts)}</svg>'
    )


def outcome(run: RunRecord | None) -> str:
    """A run's outcome badge with its duration and lateness."""
    if run is None:
        return '<span class="muted">never ran</span>'
    details = f"took {_seconds(run.duration)}" if run.outcome == OUTCOME_EXECUTED else ""
    if run.exc_type:
        details = f"{run.exc_type}: {run.exc_message or ''}"
    late = f"{_seconds(run.lateness)} late"
    return (
        f"{badge(run.outcome)} <span class='muted'>{escape(details)}"
        f"{' · ' if details else ''}{escape(late)}</span>"
    )


class Pages:
    """Renders the pages for a request.

    :param request: the request (for the links, under where the dashboard is mounted)
    :param guard: who may act (the buttons and the login link depend on it)
    :param zone: the zone times are shown in
    :param now: now, by the scheduler's clock
    :param history: whether the scheduler records its runs (a note says so if not)
    """

    def __init__(
        self, request: Request, guard: Guard, zone: tzinfo, now: datetime, history: bool = True
    ) -> None:
        self.request = request
        self.guard = guard
        self.zone = zone
        self.now = now
        self.history = history

    def _when(self, when: datetime | None, zone: tzinfo | None = None) -> str:
        if when is None:
            return "-"
        return (
            f"{escape(format_time(when, zone or self.zone))} "
            f"<span class='muted'>({escape(relative_time(when, self.now))})</span>"
        )

    def _link(self, path: str, **query: str | int) -> str:
        given = {key: value for key, value in query.items() if value not in ("", None)}
        return escape(self.request.url(path) + (f"?{urlencode(given)}" if given else ""))

    def layout(self, title: str, body: str, active: str = "") -> bytes:
        """The page around ``body``: the navigation and any message of a redirect."""
        nav = "".join(
            f'<a href="{self._link(path)}"{" class=on" if name == active else ""}>{name}</a>'
            for name, path in (
                ("Jobs", "/"),
                ("Processes", "/processes"),
                ("Attention", "/attention"),
            )
        )
        if self.guard.read_only:
            who = '<span class="muted">read-only</span>'
        elif self.guard.logged_in(self.request):
            who = self._form("/logout", "Log out")
        else:
            who = f'<a href="{self._link("/login")}">Log in</a>'
        message = self.request.arg("done")
        note = f'<div class="msg">{escape(message)}</div>' if message else ""
        if not self.history:
            note += (
                '<div class="msg">This scheduler does not record its runs (history=False): '
                "only other processes' runs are shown.</div>"
            )
        return (
            "<!doctype html><html lang=en><head><meta charset=utf-8>"
            '<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{escape(title)} · greensched</title><style>{_CSS}</style></head><body>"
            f"<header><b>greensched</b>{nav}<span class=right>{who}</span></header>"
            f"<main>{note}{body}</main></body></html>"
        ).encode()

    def _form(self, path: str, label: str, **fields: str) -> str:
        hidden = "".join(
            f'<input type=hidden name="{escape(name)}" value="{escape(value)}">'
            for name, value in fields.items()
        )
        if self.guard.logged_in(self.request):
            hidden += f'<input type=hidden name="{CSRF_FIELD}" value="{self.guard.csrf()}">'
        return (
            f'<form class=inline method=post action="{self._link(path)}">{hidden}'
            f"<button>{escape(label)}</button></form>"
        )

    def _pager(self, page: Page, path: str, query: str) -> str:
        if page.pages <= 1:
            return ""
        links = []
        if page.number > 1:
            links.append(f'<a href="{self._link(path, q=query, page=page.number - 1)}">« prev</a>')
        links.append(f"<span>page {page.number} of {page.pages}</span>")
        if page.number < page.pages:
            links.append(f'<a href="{self._link(path, q=query, page=page.number + 1)}">next »</a>')
        return f'<div class="pager">{"".join(links)}</div>'

    def _state(self, job: Job) -> str:
        return badge(job_state(job.next_run_time, self.now))

    def _running(self, row: JobRow) -> str:
        return "<br>".join(
            f"{badge('running')} <span class='muted'>since "
            f"{escape(relative_time(run.started or run.sort_time, self.now))} on "
            f"{escape(run.host)}:{run.pid}</span>"
            for run in row.running
        )

    def jobs(self, page: Page, query: str) -> bytes:
        """The jobs page: a search box, a page of jobs and the pager."""
        rows = "".join(
            "<tr>"
            f'<td><a href="{self._link("/jobs/" + url_quote(row.job.id))}">'
            f"{escape(row.job.id)}</a></td>"
            f"<td>{escape(str(row.job.name))}</td>"
            f"<td>{escape(describe_trigger(row.job.trigger))}</td>"
            f"<td>{self._when(row.job.next_run_time)}</td>"
            f"<td>{self._state(row.job)} {self._running(row)}</td>"
            f"<td>{outcome(row.last)}</td>"
            f"<td>{chart(row.runs)}</td>"
            "</tr>"
            for row in page.items
        )
        if not rows:
            rows = '<tr><td colspan=7 class="muted">no jobs</td></tr>'
        found = f"{page.total} job{'' if page.total == 1 else 's'}"
        body = (
            f'<form method=get action="{self._link("/")}"><input type=search name=q '
            f'value="{escape(query)}" placeholder="search by id or name"> <button>Search</button>'
            f' <span class="muted">{found}</span></form><br>'
            "<table><tr><th>ID</th><th>Name</th><th>Trigger</th><th>Next run</th>"
            "<th>State</th><th>Last run</th><th>Last runs</th></tr>"
            f"{rows}</table>{self._pager(page, '/', query)}"
        )
        return self.layout("Jobs", body, "Jobs")

    def _runs(self, runs: list[RunRecord]) -> str:
        rows = []
        for run in runs:
            problem = ""
            if run.exc_type or run.traceback:
                summary = escape(f"{run.exc_type or ''}: {run.exc_message or ''}")
                trace = f"<pre>{escape(run.traceback)}</pre>" if run.traceback else ""
                problem = f"<details><summary>{summary}</summary>{trace}</details>"
            elif run.retval is not None:
                problem = f"<code>{escape(run.retval)}</code>"
            rows.append(
                "<tr>"
                f"<td>{self._when(run.scheduled)}</td><td>{badge(run.outcome)}</td>"
                f"<td>{_seconds(run.duration)}</td><td>{_seconds(run.lateness)}</td>"
                f"<td>{escape(run.host)}:{run.pid}</td><td>{problem}</td></tr>"
            )
        if not rows:
            rows.append('<tr><td colspan=6 class="muted">no runs recorded</td></tr>')
        return (
            "<table><tr><th>Scheduled</th><th>Outcome</th><th>Duration</th><th>Late</th>"
            f"<th>Process</th><th>Result / error</th></tr>{''.join(rows)}</table>"
        )

    def job(self, row: JobRow, fire_times: list[tuple[datetime, bool]], more: bool) -> bytes:
        """One job's page: actions, options, next fire times (DST changes marked) and runs."""
        job = row.job
        path = "/jobs/" + url_quote(job.id)
        buttons = " ".join(self._form(f"{path}/{name}", label) for name, label in ACTIONS)
        zone = getattr(job.trigger, "timezone", None) or self.zone
        times = []
        for when, shifted in fire_times:
            mark = f" {badge('DST', 'due')}" if shifted else ""
            times.append(f"<li>{self._when(when, zone)}{mark}</li>")
        upcoming = (
            f"<ol>{''.join(times)}</ol>"
            if times
            else "<p class=muted>none (paused, or no more runs)</p>"
        )
        options = {
            "name": job.name,
            "function": job.func_ref,
            "trigger": f"{describe_trigger(job.trigger)}  [{job.trigger}]",
            "state": job_state(job.next_run_time, self.now),
            "store": row.store,
            "executor": job.executor,
            "max_instances": job.max_instances,
            "coalesce": job.coalesce,
            "misfire_grace_time": job.misfire_grace_time,
            "timeout": getattr(job, "timeout", None),
            "args": repr(tuple(job.args)),
            "kwargs": repr(dict(job.kwargs)),
        }
        details = "".join(
            f"<dt>{escape(key)}</dt><dd><code>{escape(str(value))}</code></dd>"
            for key, value in options.items()
        )
        older = ""
        if more and row.runs:
            last = row.runs[-1].sort_time.isoformat()
            older = f'<div class="pager"><a href="{self._link(path, before=last)}">older runs »</a></div>'
        body = (
            f"<h1>{escape(job.id)} {self._state(job)} {self._running(row)}</h1><p>{buttons}</p>"
            f"<h2>Options</h2><dl>{details}</dl>"
            f"<h2>Next {len(fire_times) or ''} run times "
            f"<span class=muted>({escape(zone_name(zone))})</span></h2>{upcoming}"
            f"<h2>Runs</h2>{self._runs(row.runs)}{older}"
        )
        return self.layout(f"Job {job.id}", body)

    def processes(self, rows: list[ProcessRow]) -> bytes:
        """The processes that share the stores, with their heartbeats."""
        lines = "".join(
            "<tr>"
            f"<td>{escape(row.process.host)}</td><td>{row.process.pid}</td>"
            f"<td>{badge('alive' if row.alive else 'dead')}</td>"
            f"<td>{self._when(row.process.heartbeat)}</td>"
            f"<td>{self._when(row.process.started)}</td>"
            f"<td>{row.process.runs}</td><td>{row.process.claims_lost}</td>"
            f"<td>{escape(row.store)}</td><td class=muted>{escape(row.process.owner)}</td></tr>"
            for row in rows
        )
        if not lines:
            lines = '<tr><td colspan=9 class="muted">no heartbeats recorded</td></tr>'
        body = (
            "<table><tr><th>Host</th><th>PID</th><th>Status</th><th>Last heartbeat</th>"
            "<th>Started</th><th>Runs</th><th>Claims lost</th><th>Store</th><th>Owner</th></tr>"
            f"{lines}</table>"
        )
        return self.layout("Processes", body, "Processes")

    def attention(self, attention: Attention) -> bytes:
        """The jobs whose last run failed, the overdue jobs and the abandoned runs."""

        def jobs(rows: list[JobRow], empty: str) -> str:
            items = "".join(
                f'<tr><td><a href="{self._link("/jobs/" + url_quote(row.job.id))}">'
                f"{escape(row.job.id)}</a></td><td>{self._when(row.job.next_run_time)}</td>"
                f"<td>{outcome(row.last)}</td></tr>"
                for row in rows[:PAGE_SIZE]
            ) + _more(len(rows), 3)
            return (
                "<table><tr><th>Job</th><th>Next run</th><th>Last run</th></tr>"
                f"{items or f'<tr><td colspan=3 class=muted>{empty}</td></tr>'}</table>"
            )

        abandoned = "".join(
            f"<tr><td>{escape(run.job_id)}</td><td>{self._when(run.started)}</td>"
            f"<td>{escape(run.host)}:{run.pid}</td><td>{_cut_short(run)}</td></tr>"
            for run in attention.abandoned[:PAGE_SIZE]
        ) + _more(len(attention.abandoned), 4)
        body = (
            f"<h2>Last run failed</h2>{jobs(attention.failed, 'none')}"
            f"<h2>Overdue past their grace time</h2>{jobs(attention.overdue, 'none')}"
            "<h2>Left running by dead processes</h2><table><tr><th>Job</th><th>Started</th>"
            "<th>Process</th><th>Now</th></tr>"
            f"{abandoned or '<tr><td colspan=4 class=muted>none</td></tr>'}</table>"
        )
        return self.layout("Attention", body, "Attention")

    def login(self, error: str = "") -> bytes:
        """The login form (the token)."""
        problem = f'<div class="msg err">{escape(error)}</div>' if error else ""
        body = (
            f'<h1>Log in</h1>{problem}<form method=post action="{self._link("/login")}">'
            '<input type=password name=token placeholder="dashboard token" autofocus> '
            "<button>Log in</button></form>"
        )
        return self.layout("Log in", body)

    def error(self, status: int, message: str) -> bytes:
        """An error page."""
        return self.layout(
            str(status), f'<h1>{status}</h1><div class="msg err">{escape(message)}</div>'
        )
