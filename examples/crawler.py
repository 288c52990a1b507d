"""A monkey-patched crawler: many interval fetch jobs with timeouts and ``max_instances=1``.

Run it with ``python examples/crawler.py [--jobs N] [--seconds S] [--timeout T]`` (defaults:
1000 jobs, 10 seconds, 2 s timeout; ``--json`` adds the final figures as one JSON line; Ctrl-C
stops early with the summary so far). ``bench/bench_crawler.py`` runs it side by side with
APScheduler 3.11.

What it does:

* It starts the "web" to crawl: a gevent WSGI server on a free port of 127.0.0.1 with a
  ``/fast`` endpoint, a ``/slow`` one (a tenth of the jobs; one request in five hangs for longer
  than the job timeout) and an ``/error`` one (HTTP 500; a twentieth of the jobs). By default that
  server runs in a child process (this script with ``--serve``), so the crawler's process only
  crawls; ``--target-in-process`` serves it from the crawler's own process instead.
* It serves a ``/health`` endpoint from its own process, and a separate greenlet requests it
  every 10 ms and records each response time: how a service that embeds the crawler's scheduler
  keeps answering while the jobs run.
* It schedules ``N`` interval jobs (every second, first runs spread evenly over one second) that
  fetch one URL each with :mod:`urllib.request`, cooperative since the program is patched. Each
  job has a ``timeout`` (an overrunning fetch is stopped and reported as ``EVENT_JOB_ERROR`` with
  a :exc:`TimeoutError`) and ``max_instances=1`` (while a fetch hangs, the job's next runs are
  skipped, reported as ``EVENT_JOB_MAX_INSTANCES``).
* Each second it prints a summary of the last second: successful fetches, errors, timeouts,
  skipped and missed runs, the scheduler's lateness (p50 and p99 of the time a job's function
  started minus the run time it was scheduled for) and the p99 response time of ``/health``. At
  the end it shuts the scheduler down, waiting for the running fetches, and prints the totals.

Lateness: the job function reads the clock first thing and files the reading under its job id;
the listener of ``EVENT_JOB_EXECUTED`` / ``EVENT_JOB_ERROR`` takes it back and subtracts the
event's ``scheduled_run_time``. ``max_instances=1`` means a job has at most one run at a time, so
the job id is enough to pair them.

Health: the prober times each request from just before ``urlopen`` to the end of the body, so
the figure includes the wait of both ends (the handler and the prober) for this process's hub: a
client in another process would see about as long, or less.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse
import json
import logging
import math
import os
import random
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import IO, Any, Callable
from urllib.parse import parse_qs

import gevent
from gevent.pywsgi import WSGIServer
from gevent.socket import wait_read

from greensched.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
)
from greensched.schedulers.gevent import GeventScheduler

HEALTH_PERIOD = 0.010  # seconds between two requests to /health
LEAD_TIME = 0.5  # seconds between starting the scheduler and the first scheduled fetch
HANG_CHANCE = 0.2  # share of /slow requests that hang for longer than the job timeout
FETCH_SOCKET_TIMEOUT = 30.0  # urllib's own timeout: a safety net far above any job timeout

# -- the web to crawl, and the health endpoint ---------------------------------------------------

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def web_app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """The WSGI application of both servers: ``/health``, ``/fast``, ``/slow``, ``/error``.

    ``/slow?hang=H`` answers after 50 to 500 ms, or, one time in five, after ``H`` seconds.
    """
    path = environ.get("PATH_INFO", "")
    status = "200 OK"
    if path in ("/health", "/fast"):
        body = b"ok\n"
    elif path == "/slow":
        hang = float(parse_qs(environ.get("QUERY_STRING", "")).get("hang", ["1"])[0])
        gevent.sleep(hang if random.random() < HANG_CHANCE else random.uniform(0.05, 0.5))
        body = b"slow but ok\n"
    elif path == "/error":
        status, body = "500 Internal Server Error", b"failed\n"
    else:
        status, body = "404 Not Found", b"not found\n"
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def start_server() -> WSGIServer:
    """Serve :func:`web_app` on a free port of 127.0.0.1 from this process, without access
    log."""
    server = WSGIServer(("127.0.0.1", 0), web_app, log=None)
    server.start()
    return server


def serve_until_stdin_closes() -> None:
    """The ``--serve`` mode: serve :func:`web_app`, print the port, stop at end of stdin."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the crawler, which stops us
    server = start_server()
    print(server.server_port, flush=True)
    fd = sys.stdin.fileno()
    while True:
        wait_read(fd)  # cooperative: the server's greenlets run meanwhile
        if not os.read(fd, 4096):
            break
    server.stop(timeout=1)


class TargetProcess:
    """The web to crawl, served by this script with ``--serve`` in a child process."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.strip().isdigit():
            self.stop()
            raise RuntimeError(f"the target server did not start (it printed {line!r})")
        self.port = int(line)

    def stop(self) -> None:
        """End the child: close its stdin, then terminate it if it lingers."""
        process = self.process
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


# -- figures -------------------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of ``values`` (``nan`` when there are none)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


class Window:
    """What happened during one reporting period (one second, or the whole run)."""

    def __init__(self) -> None:
        self.fetches = 0
        self.errors = 0
        self.timeouts = 0
        self.skipped = 0  # runs not started because the previous one was still running
        self.missed = 0  # runs not started because the scheduler was too late
        self.lateness: list[float] = []  # seconds
        self.health: list[float] = []  # seconds
        self.health_failures = 0

    def merge(self, other: Window) -> None:
        self.fetches += other.fetches
        self.errors += other.errors
        self.timeouts += other.timeouts
        self.skipped += other.skipped
        self.missed += other.missed
        self.lateness.extend(other.lateness)
        self.health.extend(other.health)
        self.health_failures += other.health_failures

    def figures(self, seconds: float) -> dict[str, Any]:
        """The summary of this window, ``seconds`` long; times in milliseconds."""
        return {
            "seconds": round(seconds, 3),
            "fetches": self.fetches,
            "fetches_per_second": round(self.fetches / seconds, 1) if seconds > 0 else math.nan,
            "errors": self.errors,
            "timeouts": self.timeouts,
            "skipped": self.skipped,
            "missed": self.missed,
            "runs_measured": len(self.lateness),
            "lateness_p50_ms": percentile(self.lateness, 0.50) * 1e3,
            "lateness_p99_ms": percentile(self.lateness, 0.99) * 1e3,
            "lateness_max_ms": max(self.lateness, default=math.nan) * 1e3,
            "health_requests": len(self.health),
            "health_failures": self.health_failures,
            "health_p50_ms": percentile(self.health, 0.50) * 1e3,
            "health_p99_ms": percentile(self.health, 0.99) * 1e3,
            "health_max_ms": max(self.health, default=math.nan) * 1e3,
        }


def summary_line(figures: dict[str, Any]) -> str:
    return (
        f"fetches/s {figures['fetches_per_second']:7.1f}  errors {figures['errors']:5d}  "
        f"timeouts {figures['timeouts']:4d}  skipped {figures['skipped']:4d}  "
        f"missed {figures['missed']:4d}  "
        f"lateness p50 {figures['lateness_p50_ms']:6.2f} ms p99 {figures['lateness_p99_ms']:6.2f} ms"
        f"  health p99 {figures['health_p99_ms']:6.2f} ms (n={figures['health_requests']})"
    )


# -- the crawler ---------------------------------------------------------------------------------


class Crawler:
    """The jobs, the listener, the health prober and the reporter, around one scheduler.

    :param scheduler: a scheduler not started yet, with the 3.x API (``GeventScheduler``)
    :param timeout: the job timeout in seconds (``None``: no timeout)
    :param timeout_in_job: ``True`` to enforce ``timeout`` inside the job function with
        :class:`gevent.Timeout` instead of passing it to ``add_job`` (for schedulers that have
        no job timeouts)
    """

    def __init__(
        self,
        scheduler: Any,
        *,
        timeout: float | None,
        timeout_in_job: bool = False,
        out: IO[str] = sys.stdout,
    ) -> None:
        self.scheduler = scheduler
        self.timeout = timeout
        self.timeout_in_job = timeout_in_job
        self.out = out
        self.window = Window()  # the current second
        self.total = Window()
        self.started: dict[str, datetime] = {}  # job id -> when its running function started
        self.stopping = False

    # the job and its events

    def fetch(self, job_id: str, url: str) -> int:
        """The job: fetch ``url`` and return the size of the body."""
        self.started[job_id] = datetime.now(timezone.utc)
        if self.timeout_in_job and self.timeout is not None:
            with gevent.Timeout(self.timeout, TimeoutError(f"fetch took over {self.timeout} s")):
                return self._get(url)
        return self._get(url)

    @staticmethod
    def _get(url: str) -> int:
        with urllib.request.urlopen(url, timeout=FETCH_SOCKET_TIMEOUT) as response:
            return len(response.read())

    def on_event(self, event: Any) -> None:
        """Listener: count outcomes, and measure the lateness of each run that started."""
        window = self.window
        if event.code == EVENT_JOB_MAX_INSTANCES:
            window.skipped += 1
            return
        if event.code == EVENT_JOB_MISSED:
            window.missed += 1
            return
        if event.code == EVENT_JOB_EXECUTED:
            window.fetches += 1
        elif isinstance(event.exception, TimeoutError):
            window.timeouts += 1
        else:
            window.errors += 1
        started = self.started.pop(event.job_id, None)
        if started is not None:
            window.lateness.append((started - event.scheduled_run_time).total_seconds())

    # the scheduling

    def add_jobs(self, base_url: str, jobs: int, first_run: datetime) -> bool:
        """Add ``jobs`` interval jobs whose first runs are spread over one second.

        :return: whether the runs have a timeout (the scheduler's, or the one inside the job)
        """
        job_timeout = self.timeout is not None and not self.timeout_in_job
        for i in range(jobs):
            if i % 20 == 0:
                url = f"{base_url}/error"
            elif i % 10 == 5:
                url = f"{base_url}/slow?hang={1.5 * (self.timeout or 2.0)}"
            else:
                url = f"{base_url}/fast?job={i}"
            job_id = f"fetch-{i}"
            options: dict[str, Any] = {
                "args": [job_id, url],
                "id": job_id,
                "seconds": 1,
                "start_date": first_run + timedelta(seconds=i / jobs),
                "max_instances": 1,
            }
            if job_timeout:
                try:
                    self.scheduler.add_job(self.fetch, "interval", timeout=self.timeout, **options)
                    continue
                except (TypeError, LookupError) as exc:
                    if "timeout" not in str(exc):
                        raise
                    job_timeout = False
                    print(
                        f"NOTE: this greensched has no job timeouts yet ({exc}): the jobs run "
                        "without one, and hung fetches end only when the server answers.",
                        file=self.out,
                        flush=True,
                    )
            self.scheduler.add_job(self.fetch, "interval", **options)
        return job_timeout or self.timeout_in_job

    # the health prober and the reporter

    def probe_health(self, url: str) -> None:
        """Request ``url`` every ``HEALTH_PERIOD`` seconds and record each response time."""
        next_at = time.perf_counter()
        while not self.stopping:
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    response.read()
            except OSError:
                self.window.health_failures += 1
            else:
                self.window.health.append(time.perf_counter() - started)
            next_at += HEALTH_PERIOD
            delay = next_at - time.perf_counter()
            if delay > 0:
                gevent.sleep(delay)
            else:  # late: go on at once, without a burst to catch up
                next_at = time.perf_counter()
                gevent.sleep(0)

    def wait_for_running(self, limit: float) -> None:
        """Wait up to ``limit`` seconds for the runs that started to be reported."""
        deadline = time.perf_counter() + limit
        while self.started and time.perf_counter() < deadline:
            gevent.sleep(0.01)

    def end_window(self, seconds: float) -> dict[str, Any]:
        """Close the current window, add it to the total and return its figures."""
        window, self.window = self.window, Window()
        self.total.merge(window)
        return window.figures(seconds)

    def report_every_second(self, origin: float) -> None:
        """Print a summary of each second from ``origin`` (a ``perf_counter`` reading) on."""
        last = origin
        tick = 0
        while True:
            tick += 1
            gevent.sleep(max(0.0, origin + tick - time.perf_counter()))
            if self.stopping:
                return
            now = time.perf_counter()
            figures = self.end_window(now - last)
            last = now
            print(f"[{now - origin:5.1f} s] {summary_line(figures)}", file=self.out, flush=True)


def run(
    scheduler: Any,
    *,
    jobs: int = 1000,
    seconds: float = 10.0,
    timeout: float | None = 2.0,
    timeout_in_job: bool = False,
    target_in_process: bool = False,
    out: IO[str] = sys.stdout,
) -> dict[str, Any]:
    """Run the crawler for ``seconds`` after the first scheduled fetch; return the totals.

    :param scheduler: a GeventScheduler not started yet (greensched's, or APScheduler 3.x's with
        ``timeout_in_job=True``), whose timezone is UTC
    :return: the figures of the whole run (:meth:`Window.figures`), plus
        ``"timeouts_enforced"`` and ``"cpu_percent"`` (this process's CPU time over the measured
        time, in percent of one core)
    """
    crawler = Crawler(scheduler, timeout=timeout, timeout_in_job=timeout_in_job, out=out)
    health_server = start_server()
    target: TargetProcess | None = None
    greenlets: list[gevent.Greenlet] = []
    try:
        if target_in_process:
            target_port = health_server.server_port
        else:
            target = TargetProcess()
            target_port = target.port
        scheduler.add_listener(
            crawler.on_event,
            EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED,
        )
        first_run = datetime.now(timezone.utc) + timedelta(seconds=LEAD_TIME)
        enforced = crawler.add_jobs(f"http://127.0.0.1:{target_port}", jobs, first_run)
        print(
            f"crawling http://127.0.0.1:{target_port} with {jobs} jobs every second "
            f"(timeout {f'{timeout} s' if enforced else 'none'}, max_instances 1) for "
            f"{seconds} s; /health on port {health_server.server_port}",
            file=out,
            flush=True,
        )
        scheduler.start()

        # Measure from the first scheduled run on
        gevent.sleep(max(0.0, (first_run - datetime.now(timezone.utc)).total_seconds()))
        origin = time.perf_counter()
        health_url = f"http://127.0.0.1:{health_server.server_port}/health"
        greenlets = [
            gevent.spawn(crawler.probe_health, health_url),
            gevent.spawn(crawler.report_every_second, origin),
        ]
        cpu_origin = time.process_time()
        try:
            gevent.sleep(max(0.0, origin + seconds - time.perf_counter()))
        except KeyboardInterrupt:  # Ctrl-C: stop early, with the summary of the time so far
            print("interrupted: stopping", file=out, flush=True)
        measured = time.perf_counter() - origin
        cpu = time.process_time() - cpu_origin
    finally:
        crawler.stopping = True
        gevent.killall(greenlets)  # the prober and the reporter: the measured time is over
        if scheduler.running:
            scheduler.shutdown(wait=True)
        # APScheduler's shutdown(wait=True) does not wait for greenlet jobs: let the runs end
        # before their server goes away, or they count as errors
        crawler.wait_for_running(2 * (timeout or 2.0))
        health_server.stop(timeout=1)
        if target is not None:
            target.stop()

    # The runs that ended during the shutdown count too (over the measured time)
    last = crawler.window.figures(0)
    crawler.end_window(measured)
    figures = crawler.total.figures(measured)
    figures["timeouts_enforced"] = enforced
    figures["cpu_percent"] = round(100 * cpu / measured, 1)  # of one core, this process only
    if last["fetches"] or last["errors"] or last["timeouts"]:
        print(
            f"while shutting down: {last['fetches']} fetches, {last['errors']} errors, "
            f"{last['timeouts']} timeouts",
            file=out,
            flush=True,
        )
    return figures


def quiet_logging(*executor_loggers: str) -> None:
    """Log errors only, and not each failed job: the listener counts those.

    Without this, each failed fetch logs its traceback, each skipped run a warning, and at a
    thousand jobs the terminal (and the formatting of tracebacks) takes over.
    """
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    for name in executor_loggers:
        logging.getLogger(name).setLevel(logging.CRITICAL)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, default=1000, help="fetch jobs (default: 1000)")
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="how long to crawl (default: 10)"
    )
    parser.add_argument(
        "--timeout", type=float, default=2.0, help="job timeout in seconds (default: 2)"
    )
    parser.add_argument(
        "--target-in-process",
        action="store_true",
        help="serve the crawled endpoints from this process rather than from a child process",
    )
    parser.add_argument(
        "--json", action="store_true", help="also print the final figures as one JSON line"
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.serve:
        serve_until_stdin_closes()
        return
    if options.jobs < 1 or options.seconds <= 0 or options.timeout <= 0:
        parser.error("--jobs, --seconds and --timeout must be positive")

    quiet_logging("greensched.executors")
    figures = run(
        GeventScheduler(timezone="UTC"),
        jobs=options.jobs,
        seconds=options.seconds,
        timeout=options.timeout,
        target_in_process=options.target_in_process,
    )
    print(
        f"final: fetches={figures['fetches']} errors={figures['errors']} "
        f"timeouts={figures['timeouts']} skipped={figures['skipped']} "
        f"missed={figures['missed']} over {figures['seconds']} s, "
        f"crawler process CPU {figures['cpu_percent']}% of one core",
        flush=True,
    )
    print(f"final: {summary_line(figures)}", flush=True)
    if options.json:
        print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
