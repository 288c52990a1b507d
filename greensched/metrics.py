"""Prometheus metrics of a scheduler, for any program that runs one (``greensched run
--metrics-port`` uses the same): install ``prometheus_client`` with ``pip install
'greensched[metrics]'``.

::

    from greensched.metrics import SchedulerMetrics

    metrics = SchedulerMetrics(scheduler)  # a listener, and collectors on prometheus_client's REGISTRY
    metrics.serve(9100)                    # optional: http://127.0.0.1:9100/metrics

The metrics (``job`` is a job's id, ``jobstore`` a job store's alias):

``greensched_runs_total{job, outcome}``
    Run times of each job by outcome: ``submitted`` (handed to an executor), ``executed``,
    ``failed`` (the job raised or timed out), ``missed`` (later than its
    ``misfire_grace_time``), ``max_instances`` (not submitted: the job already ran
    ``max_instances`` times).
``greensched_run_duration_seconds``
    Histogram of how long runs took, failed runs included.
``greensched_run_seconds_total{job}``
    Seconds spent running each job: with ``greensched_runs_total`` it gives each job's mean
    run time (a histogram per job would cost a series per bucket and job).
``greensched_run_lateness_seconds``
    Histogram of how long after its scheduled time each run started.
``greensched_loop_lag_seconds``
    How late the scheduler's loop submitted the latest run it submitted: the time of the
    submission less the scheduled time. A loop that keeps up stays within milliseconds.
``greensched_jobs{jobstore}``
    Jobs in each job store, paused ones included, counted when the metrics are scraped
    (:meth:`~greensched.jobstores.base.BaseJobStore.count_jobs`).
``greensched_claims_lost_total{jobstore}``
    Due runs of a shared store that this scheduler did not start because another process
    took them over, or the job changed meanwhile (``EVENT_JOB_CLAIM_LOST``).

.. versionadded:: greensched 0.1
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

try:
    from prometheus_client import (
        REGISTRY,
        CollectorRegistry,
        Counter,
        Gauge,
        Histogram,
        make_wsgi_app,
    )
    from prometheus_client.core import GaugeMetricFamily
except ImportError as exc:
    raise ImportError(
        "greensched.metrics requires prometheus_client installed "
        "(pip install 'greensched[metrics]')"
    ) from exc

from greensched.events import (
    EVENT_JOB_CLAIM_LOST,
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
    JobEvent,
    JobExecutionEvent,
    JobSubmissionEvent,
)
from greensched.schedulers.base import STATE_STOPPED

if TYPE_CHECKING:
    from gevent.pywsgi import WSGIServer

    from greensched.schedulers.base import BaseScheduler

__all__ = ("DURATION_BUCKETS", "LATENESS_BUCKETS", "SchedulerMetrics")

logger = logging.getLogger("greensched.metrics")

#: Bucket bounds (seconds) of ``greensched_run_duration_seconds``: jobs run from milliseconds
#: to an hour.
DURATION_BUCKETS = (
    0.001,
    0.005,
    0.01,
    0.05,
    0.1,
    0.5,
    1.0,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
    900.0,
    3600.0,
)
#: Bucket bounds (seconds) of ``greensched_run_lateness_seconds``: a loop that keeps up starts
#: runs within milliseconds.
LATENESS_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)

_OUTCOMES = {EVENT_JOB_EXECUTED: "executed", EVENT_JOB_ERROR: "failed", EVENT_JOB_MISSED: "missed"}
_MASK = (
    EVENT_JOB_SUBMITTED
    | EVENT_JOB_MAX_INSTANCES
    | EVENT_JOB_EXECUTED
    | EVENT_JOB_ERROR
    | EVENT_JOB_MISSED
    | EVENT_JOB_CLAIM_LOST
)


class _JobsCollector:
    """``greensched_jobs{jobstore}``: the scheduler's stores counted at each scrape."""

    _NAME = "greensched_jobs"
    _HELP = "Jobs in each job store, paused ones included (counted at scrape time)."

    def __init__(self, scheduler: BaseScheduler) -> None:
        self._scheduler = scheduler

    def describe(self) -> Iterator[GaugeMetricFamily]:
        """The metric's name (so that registering it does not count the jobs)."""
        yield GaugeMetricFamily(self._NAME, self._HELP, labels=["jobstore"])

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """Count the jobs of each store of a started scheduler; a store that fails is logged
        and left out of this scrape."""
        family = GaugeMetricFamily(self._NAME, self._HELP, labels=["jobstore"])
        scheduler = self._scheduler
        if scheduler.state != STATE_STOPPED:
            for alias, store in tuple(scheduler._jobstores.items()):
                try:
                    count = store.count_jobs()
                except Exception as exc:  # noqa: BLE001 (one failing store must not fail the scrape)
                    logger.warning("Cannot count the jobs of job store %r: %s", alias, exc)
                    continue
                family.add_metric([alias], count)
        yield family


class SchedulerMetrics:
    """Prometheus metrics of ``scheduler`` (listed in the module's docstring): a listener of its
    job events, and collectors registered on ``registry``.

    Attach it before or after the scheduler starts; :meth:`close` detaches it.

    :param scheduler: the scheduler to observe
    :param registry: where the metrics are registered (prometheus_client's default
        ``REGISTRY``: served by :meth:`serve` and by any exporter of the process)
    :raises ValueError: if ``registry`` already has metrics of these names (one
        :class:`SchedulerMetrics` per registry: give each scheduler of a process its own
        :class:`~prometheus_client.CollectorRegistry`)

    .. note:: Listening for run events has a cost: the executors then make an event for every
       run and time it. At tens of thousands of runs a second this is measurable.
    """

    def __init__(self, scheduler: BaseScheduler, registry: CollectorRegistry = REGISTRY) -> None:
        self._scheduler = scheduler
        self._registry = registry
        self._clock = scheduler._clock
        self._server: WSGIServer | None = None
        self._closed = False
        self._run_children: dict[tuple[str, str], Any] = {}
        self._seconds_children: dict[str, Any] = {}
        self._runs = Counter(
            "greensched_runs",
            "Run times of each job by outcome: submitted, executed, failed, missed, "
            "max_instances.",
            ["job", "outcome"],
            registry=None,
        )
        self._duration = Histogram(
            "greensched_run_duration_seconds",
            "How long runs took, failed runs included.",
            buckets=DURATION_BUCKETS,
            registry=None,
        )
        self._run_seconds = Counter(
            "greensched_run_seconds",
            "Seconds spent running each job, failed runs included.",
            ["job"],
            registry=None,
        )
        self._lateness = Histogram(
            "greensched_run_lateness_seconds",
            "How long after its scheduled time each run started.",
            buckets=LATENESS_BUCKETS,
            registry=None,
        )
        self._loop_lag = Gauge(
            "greensched_loop_lag_seconds",
            "How late the latest run was submitted: submission time less scheduled time.",
            registry=None,
        )
        self._claims_lost = Counter(
            "greensched_claims_lost",
            "Due runs not started because another process took them over, or the job "
            "changed meanwhile.",
            ["jobstore"],
            registry=None,
        )
        self._collectors: list[Any] = [
            self._runs,
            self._duration,
            self._run_seconds,
            self._lateness,
            self._loop_lag,
            self._claims_lost,
            _JobsCollector(scheduler),
        ]
        self._register()
        scheduler.add_listener(self._on_event, _MASK)

    def _register(self) -> None:
        """Register every collector, or none."""
        registered: list[Any] = []
        try:
            for collector in self._collectors:
                self._registry.register(collector)
                registered.append(collector)
        except ValueError as exc:
            for collector in registered:
                self._registry.unregister(collector)
            raise ValueError(
                f"registry must not hold greensched metrics already (one SchedulerMetrics per "
                f"registry), got: {self._registry!r} ({exc})"
            ) from None

    def _runs_of(self, job_id: str, outcome: str) -> Any:
        """The ``greensched_runs_total`` child of a job and outcome (kept: looking a child up
        through ``labels()`` validates the labels each time)."""
        key = (job_id, outcome)
        child = self._run_children.get(key)
        if child is None:
            child = self._run_children[key] = self._runs.labels(job_id, outcome)
        return child

    def _on_event(self, event: JobEvent) -> None:
        """The listener: count the event."""
        code = event.code
        if code == EVENT_JOB_SUBMITTED or code == EVENT_JOB_MAX_INSTANCES:
            assert isinstance(event, JobSubmissionEvent)
            times = event.scheduled_run_times
            if code == EVENT_JOB_MAX_INSTANCES:
                self._runs_of(event.job_id, "max_instances").inc(len(times))
                return
            self._runs_of(event.job_id, "submitted").inc(len(times))
            if times:
                lag = (self._clock.now() - max(times)).total_seconds()
                self._loop_lag.set(max(lag, 0.0))
        elif code == EVENT_JOB_CLAIM_LOST:
            self._claims_lost.labels(event.jobstore or "").inc()
        else:
            assert isinstance(event, JobExecutionEvent)
            self._runs_of(event.job_id, _OUTCOMES[code]).inc()
            if event.started is not None:
                lateness = (event.started - event.scheduled_run_time).total_seconds()
                self._lateness.observe(max(lateness, 0.0))
            duration = event.duration
            if duration is not None:
                self._duration.observe(duration)
                seconds = self._seconds_children.get(event.job_id)
                if seconds is None:
                    seconds = self._seconds_children[event.job_id] = self._run_seconds.labels(
                        event.job_id
                    )
                seconds.inc(duration)

    def serve(self, port: int, addr: str = "127.0.0.1") -> int:
        """Serve the registry's metrics over HTTP at ``http://ADDR:PORT/metrics`` (any path
        answers), in a :class:`gevent.pywsgi.WSGIServer` of the calling thread's hub: call it
        from the thread that runs the scheduler's loop (the main thread for a
        :class:`~greensched.schedulers.gevent.GeventScheduler` or a
        :class:`~greensched.schedulers.blocking.BlockingScheduler`).

        :param port: the TCP port; 0 picks a free one
        :param addr: the address to listen on (``127.0.0.1``: this host only; ``0.0.0.0``:
            every interface)
        :return: the port the metrics are served on
        :raises ValueError: if ``port`` is not an int from 0 to 65535
        :raises RuntimeError: if the metrics are served already, or :meth:`close` was called
        :raises OSError: if the address cannot be listened on (the port is taken)
        """
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port must be an int from 0 to 65535, got: {port!r}")
        if self._closed:
            raise RuntimeError("These metrics are closed")
        if self._server is not None:
            raise RuntimeError(
                f"The metrics are served already, on port {self._server.server_port}"
            )
        from gevent.pywsgi import WSGIServer

        server = WSGIServer(
            (addr, port), make_wsgi_app(self._registry), log=None, error_log=logger
        )
        server.start()
        self._server = server
        served: int = server.server_port
        logger.info("Serving metrics on http://%s:%d/metrics", addr, served)
        return served

    def close(self) -> None:
        """Stop serving, stop listening to the scheduler and unregister the metrics (calling
        it again does nothing)."""
        if self._closed:
            return
        self._closed = True
        if self._server is not None:
            self._server.stop()
            self._server = None
        self._scheduler.remove_listener(self._on_event)
        for collector in self._collectors:
            self._registry.unregister(collector)
