"""Prometheus metrics of a scheduler, for any program that runs one (``greensched run
--metrics-port`` uses the same): install ``prometheus_client`` with ``pip install
'greensched[metrics]'``.

::

    from greensched.metrics import SchedulerMetrics

    metrics = SchedulerMetrics(scheduler)  # a listener, and a collector on prometheus_client's REGISTRY
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
``greensched_history_write_failures_total``, ``greensched_history_records_dropped_total``
    Writes of the run history that failed (each is retried), and run records dropped
    unwritten from a full buffer, since the scheduler started (see
    :mod:`greensched.history._recorder`).

Every metric has its series from the first scrape, at 0, so that ``rate()`` and ``increase()``
see the first run, failure or lost claim: ``greensched_jobs`` and
``greensched_claims_lost_total`` for each job store of the started scheduler; for each job,
``greensched_runs_total`` (one series per outcome) and ``greensched_run_seconds_total`` from
the moment the job is added while the metrics listen (the pending jobs of a scheduler that
starts afterwards included), or else from its first run (a job already stored when they
attach, or added by another process). With ``per_job=False``, the ``job="*"`` series are there
from the start.

The listener keeps plain numbers, turned into metrics when they are scraped: counting a run
costs a few dictionary updates, not the locks of prometheus_client's metric objects
(``bench/bench_metrics.py`` measures what metrics cost per run).

.. versionadded:: greensched 0.1
"""

from __future__ import annotations

import logging
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

try:
    from prometheus_client import REGISTRY, CollectorRegistry, make_wsgi_app
    from prometheus_client.core import (
        CounterMetricFamily,
        GaugeMetricFamily,
        HistogramMetricFamily,
    )
except ImportError as exc:
    raise ImportError(
        "greensched.metrics requires prometheus_client installed "
        "(pip install 'greensched[metrics]')"
    ) from exc

from greensched.events import (
    _RUN_OUTCOMES,
    EVENT_JOB_ADDED,
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
DURATION_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600)
#: Bucket bounds (seconds) of ``greensched_run_lateness_seconds``: a loop that keeps up starts
#: runs within milliseconds.
LATENESS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

_MASK = (
    EVENT_JOB_SUBMITTED
    | EVENT_JOB_MAX_INSTANCES
    | EVENT_JOB_EXECUTED
    | EVENT_JOB_ERROR
    | EVENT_JOB_MISSED
    | EVENT_JOB_CLAIM_LOST
)
#: The ``outcome`` label's values, each a series of every job from the start
_OUTCOMES = ("submitted", "executed", "failed", "missed", "max_instances")


class _Histogram:
    """The observations of a histogram: a count per bucket (the last one: above every bound)
    and their sum."""

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = list(bounds)
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        # the first bound >= value: Prometheus buckets count the values less than or equal
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    def family(self, name: str, documentation: str) -> HistogramMetricFamily:
        """The histogram as Prometheus shows it: cumulative buckets up to ``+Inf``."""
        buckets = []
        total = 0
        for bound, count in zip([*self.bounds, float("inf")], list(self.counts)):
            total += count
            buckets.append((_bound_text(bound), total))
        return HistogramMetricFamily(name, documentation, buckets=buckets, sum_value=self.sum)


def _bound_text(bound: float) -> str:
    """A bucket bound as Prometheus writes it (``1.0``, ``0.005``, ``+Inf``)."""
    return "+Inf" if bound == float("inf") else repr(float(bound))


class _Collector:
    """Turns the numbers a :class:`SchedulerMetrics` keeps into metrics, at each scrape."""

    _RUNS = ("greensched_runs", "Run times of each job by outcome.")
    _DURATION = ("greensched_run_duration_seconds", "How long runs took, failed runs included.")
    _RUN_SECONDS = ("greensched_run_seconds", "Seconds spent running each job.")
    _LATENESS = (
        "greensched_run_lateness_seconds",
        "How long after its scheduled time each run started.",
    )
    _LOOP_LAG = (
        "greensched_loop_lag_seconds",
        "How late the latest run was submitted: submission time less scheduled time.",
    )
    _JOBS = ("greensched_jobs", "Jobs in each job store, paused ones included.")
    _CLAIMS_LOST = (
        "greensched_claims_lost",
        "Due runs not started: another process took them over, or the job changed.",
    )

    _HISTORY_FAILED = (
        "greensched_history_write_failures",
        "Writes of the run history (records, heartbeats) that failed, since the start.",
    )
    _HISTORY_DROPPED = (
        "greensched_history_records_dropped",
        "Run records dropped unwritten from a full buffer, since the start.",
    )

    def __init__(self, metrics: SchedulerMetrics) -> None:
        self._metrics = metrics

    def describe(self) -> Iterator[Any]:
        """The metrics' names (so that registering this does not collect)."""
        yield CounterMetricFamily(*self._RUNS, labels=["job", "outcome"])
        yield HistogramMetricFamily(*self._DURATION)
        yield CounterMetricFamily(*self._RUN_SECONDS, labels=["job"])
        yield HistogramMetricFamily(*self._LATENESS)
        yield GaugeMetricFamily(*self._LOOP_LAG)
        yield GaugeMetricFamily(*self._JOBS, labels=["jobstore"])
        yield CounterMetricFamily(*self._CLAIMS_LOST, labels=["jobstore"])
        yield CounterMetricFamily(*self._HISTORY_FAILED)
        yield CounterMetricFamily(*self._HISTORY_DROPPED)

    def collect(self) -> Iterator[Any]:
        """The metrics now."""
        metrics = self._metrics
        runs = CounterMetricFamily(*self._RUNS, labels=["job", "outcome"])
        for (job_id, outcome), count in dict(metrics._runs).items():
            runs.add_metric([job_id, outcome], count)
        yield runs
        yield metrics._duration.family(*self._DURATION)
        run_seconds = CounterMetricFamily(*self._RUN_SECONDS, labels=["job"])
        for job_id, seconds in dict(metrics._run_seconds).items():
            run_seconds.add_metric([job_id], seconds)
        yield run_seconds
        yield metrics._lateness.family(*self._LATENESS)
        yield GaugeMetricFamily(*self._LOOP_LAG, value=metrics._loop_lag)
        yield self._jobs(metrics._scheduler)
        claims_lost = CounterMetricFamily(*self._CLAIMS_LOST, labels=["jobstore"])
        lost = dict.fromkeys(tuple(metrics._scheduler.jobstores), 0)  # each store from 0
        lost.update(metrics._claims_lost)
        for alias, count in lost.items():
            claims_lost.add_metric([alias], count)
        yield claims_lost
        recorder = metrics._scheduler.run_history
        failed, dropped = (
            (0, 0) if recorder is None else (recorder.failed_writes, recorder.dropped_records)
        )
        yield CounterMetricFamily(*self._HISTORY_FAILED, value=failed)
        yield CounterMetricFamily(*self._HISTORY_DROPPED, value=dropped)

    def _jobs(self, scheduler: BaseScheduler) -> GaugeMetricFamily:
        """The jobs of each store of a started scheduler; a store that fails is logged and
        left out of this scrape."""
        family = GaugeMetricFamily(*self._JOBS, labels=["jobstore"])
        if scheduler.state != STATE_STOPPED:
            for alias, store in scheduler.jobstores.items():
                try:
                    count = store.count_jobs()
                except Exception as exc:  # noqa: BLE001 (one failing store must not fail the scrape)
                    logger.warning("Cannot count the jobs of job store %r: %s", alias, exc)
                    continue
                family.add_metric([alias], count)
        return family


class SchedulerMetrics:
    """Prometheus metrics of ``scheduler`` (listed in the module's docstring): a listener of its
    job events, and a collector registered on ``registry``.

    Attach it before or after the scheduler starts; :meth:`close` detaches it.

    :param scheduler: the scheduler to observe
    :param registry: where the metrics are registered (prometheus_client's default
        ``REGISTRY``: served by :meth:`serve` and by any exporter of the process)
    :param per_job: ``False``: the ``job`` label of every run is ``*``, for a program that
        makes many jobs of unique ids (one-off jobs named after what they fetch, say): each id
        is a series of its own, kept for the life of the process (keyword-only)
    :raises ValueError: if ``registry`` already has metrics of these names (one
        :class:`SchedulerMetrics` per registry: give each scheduler of a process its own
        :class:`~prometheus_client.CollectorRegistry`)

    .. note:: Listening for run events has a cost: the executors then make an event for every
       run and time it, and this listener counts it (a few microseconds a run, more for the
       first run of a job).
    """

    def __init__(
        self,
        scheduler: BaseScheduler,
        registry: CollectorRegistry = REGISTRY,
        *,
        per_job: bool = True,
    ) -> None:
        self._scheduler = scheduler
        self._per_job = per_job
        self._registry = registry
        self._clock = scheduler.clock
        self._server: WSGIServer | None = None
        self._closed = False
        self._runs: dict[tuple[str, str], int] = {}
        self._run_seconds: dict[str, float] = {}
        self._duration = _Histogram(DURATION_BUCKETS)
        self._lateness = _Histogram(LATENESS_BUCKETS)
        self._loop_lag = 0.0
        self._claims_lost: dict[str, int] = {}
        if not per_job:
            self._know("*")
        self._collector = _Collector(self)
        try:
            registry.register(self._collector)
        except ValueError as exc:
            raise ValueError(
                f"registry must not hold greensched metrics already (one SchedulerMetrics per "
                f"registry), got: {registry!r} ({exc})"
            ) from None
        scheduler.add_listener(self._on_event, (_MASK | EVENT_JOB_ADDED) if per_job else _MASK)

    def _know(self, job_id: str) -> None:
        """Give the job its series, at 0 (a job is known from its addition or first event)."""
        runs = self._runs
        for outcome in _OUTCOMES:
            runs.setdefault((job_id, outcome), 0)
        self._run_seconds.setdefault(job_id, 0.0)

    def _on_event(self, event: JobEvent) -> None:
        """The listener: count the event."""
        code = event.code
        runs = self._runs
        job_id = event.job_id if self._per_job else "*"
        if code == EVENT_JOB_EXECUTED or code == EVENT_JOB_ERROR or code == EVENT_JOB_MISSED:
            assert isinstance(event, JobExecutionEvent)
            key = (job_id, _RUN_OUTCOMES[code])
            if key not in runs:
                self._know(job_id)
            runs[key] += 1
            started = event.started
            if started is not None:
                lateness = (started - event.scheduled_run_time).total_seconds()
                self._lateness.observe(max(0.0, lateness))
            duration = event.duration
            if duration is not None:
                self._duration.observe(duration)
                seconds = self._run_seconds
                seconds[job_id] = seconds.get(job_id, 0.0) + duration
        elif code == EVENT_JOB_SUBMITTED or code == EVENT_JOB_MAX_INSTANCES:
            assert isinstance(event, JobSubmissionEvent)
            times = event.scheduled_run_times
            outcome = "submitted" if code == EVENT_JOB_SUBMITTED else "max_instances"
            key = (job_id, outcome)
            if key not in runs:
                self._know(job_id)
            runs[key] += len(times)
            if code == EVENT_JOB_SUBMITTED and times:
                lag = (self._clock.now() - max(times)).total_seconds()
                self._loop_lag = max(0.0, lag)
        elif code == EVENT_JOB_CLAIM_LOST:
            alias = event.jobstore or ""
            self._claims_lost[alias] = self._claims_lost.get(alias, 0) + 1
        elif code == EVENT_JOB_ADDED:
            self._know(job_id)

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
        self._registry.unregister(self._collector)
