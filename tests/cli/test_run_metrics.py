"""``greensched run --metrics-port``: Prometheus metrics scraped over HTTP from a real ``greensched
run`` process on SQLite and PostgreSQL, whose counters move as the jobs run; a port that cannot
be served, or a missing prometheus_client, is one error line and leaves the store untouched."""

from __future__ import annotations

import re
import socket
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.cli.conftest import Store, sqlite_store, toml, write_jobs
from tests.support import PATIENCE
from tests.support.processes import Run, greensched, run_python

pytestmark = pytest.mark.slow


def jobs_file(tmp_path: Path) -> Path:
    records = toml(tmp_path / "records.jsonl")
    return write_jobs(
        tmp_path / "jobs.toml",
        f'[[jobs]]\nid = "tick"\nfunc = "tests.cli.jobfuncs:record"\nargs = [{records}, "tick"]\n'
        'trigger = "interval"\nseconds = 0.2\n'
        f'[[jobs]]\nid = "bad"\nfunc = "tests.cli.jobfuncs:fail"\nargs = [{records}]\n'
        'trigger = "interval"\nseconds = 0.2\n'
        f'[[jobs]]\nid = "idle"\nfunc = "tests.cli.jobfuncs:record"\nargs = [{records}]\n'
        'trigger = "interval"\nhours = 1\n',
    )


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """GET the metrics; return every sample by (name, sorted labels)."""
    url = f"http://127.0.0.1:{port}/metrics"
    with urllib.request.urlopen(url, timeout=PATIENCE) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def runs(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], job: str, outcome: str
) -> float:
    key = ("greensched_runs_total", (("job", job), ("outcome", outcome)))
    return samples.get(key, 0.0)


def served_port(run: Run) -> int:
    pattern = re.compile(r"Serving metrics on http://127\.0\.0\.1:(\d+)/metrics")
    run.wait_for(lambda: pattern.search(run.log()), "the metrics server")
    match = pattern.search(run.log())
    assert match is not None
    return int(match.group(1))


def test_a_scrape_shows_the_counters_moving(
    store: Store, tmp_path: Path, start_run: Callable[..., Run]
) -> None:
    run = start_run(jobs_file(tmp_path), *store.args(), "--metrics-port", "0")
    port = served_port(run)
    run.wait_until_running()
    run.wait_for(lambda: runs(scrape(port), "tick", "executed") >= 2, "two runs of tick")
    first = scrape(port)
    run.wait_for(
        lambda: runs(scrape(port), "tick", "executed") >= runs(first, "tick", "executed") + 2,
        "the counters to move",
    )
    second = scrape(port)
    assert run.stop() == 0

    for samples in (first, second):
        assert samples[("greensched_jobs", (("jobstore", "default"),))] == 3
        assert runs(samples, "bad", "failed") >= 1
        assert runs(samples, "bad", "executed") == 0
        assert runs(samples, "idle", "submitted") == 0
        # every run submitted has ended, or is the one running now
        assert 0 <= runs(samples, "tick", "submitted") - runs(samples, "tick", "executed") <= 1
        assert 0 <= samples[("greensched_loop_lag_seconds", ())] < 1
        ended = runs(samples, "tick", "executed") + runs(samples, "bad", "failed")
        assert samples[("greensched_run_lateness_seconds_count", ())] == ended
        assert samples[("greensched_run_duration_seconds_count", ())] == ended
        assert 0 <= samples[("greensched_run_seconds_total", (("job", "tick"),))] < 1
    for job, outcome in [("tick", "submitted"), ("tick", "executed"), ("bad", "failed")]:
        assert runs(second, job, outcome) > runs(first, job, outcome)


def test_a_port_that_cannot_be_served_is_one_line_and_the_store_is_untouched(
    sqlite: Store, tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = greensched("run", str(jobs_file(tmp_path)), "--metrics-port", str(port))
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"greensched: error: cannot serve metrics on 127.0.0.1:{port}: "
        f"[Errno 98] Address already in use: ('127.0.0.1', {port})\n"
    )
    assert not sqlite.has_table()


def test_a_bad_port_is_a_usage_error(tmp_path: Path) -> None:
    result = greensched("run", str(jobs_file(tmp_path)), "--metrics-port", "70000")
    assert result.returncode == 2
    assert result.stderr.endswith(
        "greensched run: error: argument --metrics-port: must be a port number from 0 to "
        "65535, got: '70000'\n"
    )


def test_without_prometheus_client_it_says_what_to_install(sqlite: Store, tmp_path: Path) -> None:
    hide = (
        "import sys; sys.modules['prometheus_client'] = None; "
        "from greensched.cli import main; sys.exit(main())"
    )
    result = run_python(
        "-c", hide, "run", str(jobs_file(tmp_path)), "--metrics-port", "0", timeout=PATIENCE
    )
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "greensched: error: --metrics-port: greensched.metrics requires prometheus_client "
        "installed (pip install 'greensched[metrics]')\n"
    )
    assert not sqlite.has_table()


def test_a_module_that_attached_metrics_already_is_a_usage_error(tmp_path: Path) -> None:
    store = sqlite_store(tmp_path)
    result = greensched(
        "run", "tests.cli.measured:scheduler", *store.args(), "--metrics-port", "0"
    )
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith(
        "greensched: error: --metrics-port: registry must not hold greensched metrics already "
        "(one SchedulerMetrics per registry), got: <prometheus_client.registry.CollectorRegistry"
    )
    assert result.stderr.count("\n") == 1
    assert not store.has_table()
