"""SchedulerMetrics: the Prometheus metrics a library user attaches to a scheduler, driven by a
real GeventScheduler loop on a mock clock, and served over HTTP."""

from __future__ import annotations

import importlib
import logging
import re
import sys
import urllib.error
import urllib.request
from collections.abc import Collection, Iterator, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path

import gevent
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from greensched.job import Job
from greensched.jobstores.memory import MemoryJobStore
from greensched.metrics import SchedulerMetrics
from greensched.schedulers.gevent import GeventScheduler
from greensched.testing import MockClock
from tests.support import PATIENCE

START = datetime(2024, 6, 3, 10, 0, tzinfo=timezone.utc)
README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture
def clock() -> MockClock:
    return MockClock(START)


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def scheduler(clock: MockClock) -> Iterator[GeventScheduler]:
    scheduler = GeventScheduler(clock=clock, timezone="UTC")
    yield scheduler
    if scheduler.running:
        scheduler.shutdown()


@pytest.fixture
def metrics(scheduler: GeventScheduler, registry: CollectorRegistry) -> Iterator[SchedulerMetrics]:
    metrics = SchedulerMetrics(scheduler, registry)
    yield metrics
    metrics.close()


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def runs(registry: CollectorRegistry, job: str, outcome: str) -> float | None:
    return value(registry, "greensched_runs_total", job=job, outcome=outcome)


def advance(clock: MockClock, seconds: float) -> None:
    """Move the mock clock and let the loop and the jobs run."""
    clock.jump(seconds)
    gevent.idle()


def succeed() -> None:
    pass


def fail() -> None:
    raise ValueError("boom")


def take(clock: MockClock, seconds: float) -> None:
    clock.jump(seconds)


def block(gate: gevent.event.Event) -> None:
    gate.wait()


def test_runs_are_counted_per_job_and_outcome(
    scheduler: GeventScheduler, metrics: SchedulerMetrics, registry: CollectorRegistry
) -> None:
    scheduler.add_job(succeed, "interval", seconds=10, id="ok")
    scheduler.add_job(fail, "interval", seconds=10, id="bad")
    scheduler.start()
    clock = scheduler._clock
    assert isinstance(clock, MockClock)
    advance(clock, 10)
    advance(clock, 10)
    assert runs(registry, "ok", "submitted") == 2
    assert runs(registry, "ok", "executed") == 2
    assert runs(registry, "bad", "submitted") == 2
    assert runs(registry, "bad", "failed") == 2
    # every outcome of a job is a series from the job's addition, at 0 until it happens
    assert runs(registry, "ok", "failed") == 0
    assert runs(registry, "bad", "executed") == 0
    assert runs(registry, "ok", "missed") == runs(registry, "ok", "max_instances") == 0


def test_missed_and_max_instances_runs_are_counted(
    scheduler: GeventScheduler, metrics: SchedulerMetrics, registry: CollectorRegistry
) -> None:
    gate = gevent.event.Event()
    scheduler.add_job(block, "interval", seconds=10, args=[gate], id="busy")
    scheduler.add_job(
        succeed, "interval", seconds=10, id="late", misfire_grace_time=1, coalesce=False
    )
    scheduler.start()
    clock = scheduler._clock
    assert isinstance(clock, MockClock)
    advance(clock, 10)  # "busy" runs and blocks; "late" runs
    advance(clock, 10)  # "busy" is still running: refused
    gate.set()
    gevent.idle()
    assert runs(registry, "busy", "submitted") == 1
    assert runs(registry, "busy", "max_instances") == 1
    assert runs(registry, "busy", "executed") == 1
    # "late" found 25 s after its two run times of 20 and 30 s: both are past its grace time
    advance(clock, 25)
    assert runs(registry, "late", "submitted") == 4
    assert runs(registry, "late", "missed") == 2
    assert runs(registry, "late", "executed") == 2


def test_duration_lateness_and_loop_lag(
    scheduler: GeventScheduler,
    clock: MockClock,
    metrics: SchedulerMetrics,
    registry: CollectorRegistry,
) -> None:
    when = START + timedelta(seconds=10)
    scheduler.add_job(take, "date", run_date=when, args=[clock, 1.5], id="slow")
    scheduler.add_job(succeed, "date", run_date=when, id="quick")
    scheduler.start()
    assert value(registry, "greensched_loop_lag_seconds") == 0
    advance(clock, 10.4)  # found 0.4 s late by the loop
    assert value(registry, "greensched_loop_lag_seconds") == pytest.approx(0.4)
    assert value(registry, "greensched_run_duration_seconds_count") == 2
    assert value(registry, "greensched_run_duration_seconds_sum") == 1.5
    assert value(registry, "greensched_run_duration_seconds_bucket", le="0.001") == 1  # quick
    assert value(registry, "greensched_run_duration_seconds_bucket", le="1.0") == 1
    assert value(registry, "greensched_run_duration_seconds_bucket", le="5.0") == 2  # slow
    assert value(registry, "greensched_run_seconds_total", job="quick") == 0
    assert value(registry, "greensched_run_seconds_total", job="slow") == 1.5
    # both started 0.4 s late (each run is a greenlet of its own)
    assert value(registry, "greensched_run_lateness_seconds_count") == 2
    assert value(registry, "greensched_run_lateness_seconds_sum") == pytest.approx(0.8)
    assert value(registry, "greensched_run_lateness_seconds_bucket", le="0.25") == 0
    assert value(registry, "greensched_run_lateness_seconds_bucket", le="0.5") == 2


def test_jobs_are_counted_per_store_at_scrape_time(
    scheduler: GeventScheduler, metrics: SchedulerMetrics, registry: CollectorRegistry
) -> None:
    scheduler.add_jobstore(MemoryJobStore(), "other")
    scheduler.add_job(succeed, "interval", seconds=10, id="a")
    scheduler.add_job(succeed, "interval", seconds=10, id="b")
    assert value(registry, "greensched_jobs", jobstore="default") is None  # not started
    scheduler.start()
    scheduler.add_job(succeed, "interval", seconds=10, id="c", jobstore="other")
    scheduler.pause_job("c", "other")
    assert value(registry, "greensched_jobs", jobstore="default") == 2
    assert value(registry, "greensched_jobs", jobstore="other") == 1
    scheduler.remove_job("a")
    assert value(registry, "greensched_jobs", jobstore="default") == 1


class BrokenCountStore(MemoryJobStore):
    def count_jobs(self) -> int:
        raise ConnectionError("server closed the connection")


def test_a_store_that_cannot_count_is_left_out_and_logged(
    scheduler: GeventScheduler,
    metrics: SchedulerMetrics,
    registry: CollectorRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    scheduler.add_jobstore(BrokenCountStore(), "broken")
    scheduler.start()
    assert value(registry, "greensched_jobs", jobstore="default") == 0
    assert value(registry, "greensched_jobs", jobstore="broken") is None
    assert (
        "Cannot count the jobs of job store 'broken': server closed the connection"
        in caplog.messages
    )


class LosingStore(MemoryJobStore):
    """Reports every released job as lost (another process took it over)."""

    def release_due_jobs(self, updated: Sequence[Job], removed: Sequence[Job]) -> Collection[str]:
        super().release_due_jobs(updated, removed)
        return {job.id for job in [*updated, *removed]}


def test_lost_claims_are_counted_per_store(
    clock: MockClock, scheduler: GeventScheduler, registry: CollectorRegistry
) -> None:
    scheduler.add_jobstore(LosingStore(), "shared")
    metrics = SchedulerMetrics(scheduler, registry)
    scheduler.add_job(succeed, "interval", seconds=10, id="x", jobstore="shared")
    scheduler.start()
    advance(clock, 10)
    advance(clock, 10)
    metrics.close()
    assert value(registry, "greensched_claims_lost_total", jobstore="shared") is None  # closed
    metrics = SchedulerMetrics(scheduler, registry)
    advance(clock, 10)
    assert value(registry, "greensched_claims_lost_total", jobstore="shared") == 1
    assert runs(registry, "x", "submitted") is None
    metrics.close()


def fetch(url: str) -> tuple[int, str]:
    """GET ``url`` from a native thread (the hub serves the request meanwhile)."""

    def get() -> tuple[int, str]:
        with urllib.request.urlopen(url, timeout=PATIENCE) as response:
            return response.status, response.read().decode()

    result: tuple[int, str] = gevent.get_hub().threadpool.spawn(get).get()
    return result


def test_serve_answers_scrapes_over_http(
    scheduler: GeventScheduler,
    clock: MockClock,
    metrics: SchedulerMetrics,
    caplog: pytest.LogCaptureFixture,
) -> None:
    scheduler.add_job(succeed, "interval", seconds=10, id="tick")
    scheduler.start()
    caplog.set_level(logging.INFO, "greensched.metrics")
    port = metrics.serve(0)
    assert port > 0
    assert f"Serving metrics on http://127.0.0.1:{port}/metrics" in caplog.messages
    advance(clock, 10)
    status, body = fetch(f"http://127.0.0.1:{port}/metrics")
    assert status == 200
    assert 'greensched_runs_total{job="tick",outcome="executed"} 1.0' in body
    assert 'greensched_jobs{jobstore="default"} 1.0' in body
    advance(clock, 10)
    _, body = fetch(f"http://127.0.0.1:{port}/metrics")
    assert 'greensched_runs_total{job="tick",outcome="executed"} 2.0' in body
    with pytest.raises(RuntimeError, match=f"^The metrics are served already, on port {port}$"):
        metrics.serve(0)
    metrics.close()
    with pytest.raises(Exception, match="Connection refused"):
        fetch(f"http://127.0.0.1:{port}/metrics")


@pytest.mark.parametrize("port", [-1, 65536, "9100", 1.5, True])
def test_serve_refuses_a_bad_port(metrics: SchedulerMetrics, port: object) -> None:
    with pytest.raises(ValueError, match=r"^port must be an int from 0 to 65535, got: "):
        metrics.serve(port)  # type: ignore[arg-type]


def test_close_detaches_everything(
    scheduler: GeventScheduler, clock: MockClock, registry: CollectorRegistry
) -> None:
    metrics = SchedulerMetrics(scheduler, registry)
    metrics.close()
    metrics.close()  # again: nothing happens
    assert list(registry.collect()) == []
    scheduler.add_job(succeed, "interval", seconds=10, id="tick")
    scheduler.start()
    advance(clock, 10)
    assert runs(registry, "tick", "executed") is None
    assert scheduler._listener_mask == 0
    with pytest.raises(RuntimeError, match=r"^These metrics are closed$"):
        metrics.serve(0)
    # the registry takes new metrics again
    SchedulerMetrics(scheduler, registry).close()


def test_a_registry_takes_one_scheduler_metrics(
    scheduler: GeventScheduler, metrics: SchedulerMetrics, registry: CollectorRegistry
) -> None:
    other = GeventScheduler(clock=MockClock(START), timezone="UTC")
    with pytest.raises(ValueError, match=r"^registry must not hold greensched metrics already"):
        SchedulerMetrics(other, registry)
    assert other._listener_mask == 0
    # the first one's metrics are all still there
    names = {metric.name for metric in registry.collect()}
    assert {"greensched_runs", "greensched_jobs", "greensched_claims_lost"} <= names


def test_without_prometheus_client_the_import_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    monkeypatch.delitem(sys.modules, "greensched.metrics")
    with pytest.raises(ImportError, match=r"pip install 'greensched\[metrics\]'"):
        importlib.import_module("greensched.metrics")


def test_per_job_false_counts_every_job_under_one_label(
    scheduler: GeventScheduler, registry: CollectorRegistry
) -> None:
    metrics = SchedulerMetrics(scheduler, registry, per_job=False)
    for index in range(3):
        scheduler.add_job(succeed, "date", run_date=START, id=f"fetch-{index}")
    scheduler.start()
    gevent.idle()
    assert runs(registry, "*", "submitted") == 3
    assert runs(registry, "*", "executed") == 3
    assert value(registry, "greensched_run_seconds_total", job="*") == 0
    assert runs(registry, "fetch-0", "executed") is None
    metrics.close()


def documented_metrics() -> dict[str, tuple[str, set[str]]]:
    """The rows of README's metrics table: each metric's name, type and labels."""
    rows = re.findall(
        r"^\| `(greensched_\w+)(?:\{([\w,]+)\})?` \| (\w+) \|", README.read_text(), re.MULTILINE
    )
    assert len(rows) >= 7, rows  # the table is still there, in this form
    return {
        name: (kind, set(labels.split(",")) if labels else set()) for name, labels, kind in rows
    }


def documented_outcomes() -> list[str]:
    """The values of ``outcome`` listed in README's row of ``greensched_runs_total``."""
    (row,) = [
        line
        for line in README.read_text().splitlines()
        if line.startswith("| `greensched_runs_total")
    ]
    listed = row.split("|")[3].split("`outcome`", 1)[1]
    return re.findall(r"`(\w+)`", re.sub(r"\([^)]*\)", "", listed))  # not the parentheses


def scrape(registry: CollectorRegistry) -> dict[str, list[tuple[str, dict[str, str], float]]]:
    """A scrape as Prometheus reads it: each metric's type and samples, by its documented name
    (a histogram's ``_bucket``, ``_count`` and ``_sum`` samples under the histogram's name)."""
    metrics = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            name = sample.name
            if family.type == "histogram":
                name = re.sub(r"_(bucket|count|sum)$", "", name)
            metrics.setdefault(name, []).append((family.type, sample.labels, sample.value))
    return metrics


def test_the_first_scrape_has_every_documented_metric_at_zero(
    scheduler: GeventScheduler, registry: CollectorRegistry
) -> None:
    scheduler.add_jobstore(LosingStore(), "shared")
    scheduler.add_job(succeed, "interval", seconds=10, id="tick", name="Tick")
    SchedulerMetrics(scheduler, registry)
    scheduler.start()
    metrics = scrape(registry)

    documented = documented_metrics()
    assert set(metrics) == set(documented)  # all of them, and nothing undocumented
    for name, (kind, labels) in documented.items():
        samples = metrics[name]
        assert samples, name
        for sample_kind, sample_labels, sample_value in samples:
            assert sample_kind == kind, name
            assert set(sample_labels) - {"le"} == labels, name
            if name != "greensched_jobs":
                assert sample_value == 0, (name, sample_labels)
    outcomes = [labels["outcome"] for _, labels, _ in metrics["greensched_runs_total"]]
    assert outcomes == documented_outcomes()
    assert {labels["job"] for _, labels, _ in metrics["greensched_runs_total"]} == {"tick"}
    assert value(registry, "greensched_run_seconds_total", job="tick") == 0
    assert value(registry, "greensched_jobs", jobstore="default") == 1
    assert value(registry, "greensched_jobs", jobstore="shared") == 0
    assert value(registry, "greensched_claims_lost_total", jobstore="default") == 0
    assert value(registry, "greensched_claims_lost_total", jobstore="shared") == 0


def test_a_job_added_later_has_its_series_before_its_first_run(
    scheduler: GeventScheduler, metrics: SchedulerMetrics, registry: CollectorRegistry
) -> None:
    scheduler.start()
    assert runs(registry, "later", "submitted") is None
    scheduler.add_job(succeed, "interval", seconds=10, id="later")
    assert [runs(registry, "later", outcome) for outcome in documented_outcomes()] == [0] * 5
    assert value(registry, "greensched_run_seconds_total", job="later") == 0


def test_with_per_job_false_the_first_scrape_has_the_star_series(
    scheduler: GeventScheduler, registry: CollectorRegistry
) -> None:
    metrics = SchedulerMetrics(scheduler, registry, per_job=False)
    scheduler.start()  # no job at all
    assert [runs(registry, "*", outcome) for outcome in documented_outcomes()] == [0] * 5
    assert value(registry, "greensched_run_seconds_total", job="*") == 0
    scheduler.add_job(succeed, "interval", seconds=10, id="tick")
    assert runs(registry, "tick", "submitted") is None
    metrics.close()
