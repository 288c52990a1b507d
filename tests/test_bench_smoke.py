"""Smoke run of the hot-loop benchmark (``bench/bench_hotloop.py``): every scenario at a tiny
size, for greensched and APScheduler 3.11, through the same runner, child processes and report
as the full run, so the benchmark cannot rot. Only correctness is checked, never speed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.processes import ROOT, run_python

pytestmark = pytest.mark.slow

RATE = 100  # due runs a second
BURST = 200  # date jobs due at once
JOBS = 100  # jobs in the store for the API figures
IMPLEMENTATIONS = ("greensched", "apscheduler")
#: bench_hotloop.NOTES_MARKER (the module is a script: not imported here)
NOTES_MARKER = "<!-- notes: kept when bench_hotloop.py rewrites the tables above -->"


def run_bench(script: str, *arguments: str) -> str:
    """Run ``bench/<script>`` with ``arguments`` to its end; return what it printed."""
    # every scenario, each in child interpreters: longer than one script
    result = run_python(str(ROOT / "bench" / script), *arguments, timeout=180)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    """The figures (``figures[scenario][size][implementation]``) and the markdown report of
    one tiny run of every scenario."""
    directory = tmp_path_factory.mktemp("bench")
    (directory / "report.md").write_text(f"stale tables\n{NOTES_MARKER}\nour notes\n")
    run_bench(
        "bench_hotloop.py",
        f"--rates={RATE}",
        "--seconds=0.5",
        "--warmup=0.2",
        "--grace=0.3",
        f"--bursts={BURST}",
        f"--api-sizes={JOBS}",
        f"--json={directory / 'figures.json'}",
        f"--markdown={directory / 'report.md'}",
    )
    figures = json.loads((directory / "figures.json").read_text())
    return figures, (directory / "report.md").read_text()


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("scenario", ["interval", "fairness"])
def test_every_run_due_at_a_tiny_rate_is_executed(
    run: tuple[dict[str, Any], str], scenario: str, implementation: str
) -> None:
    figures = run[0][scenario][str(RATE)][implementation]
    assert figures["jobs"] == RATE
    assert figures["due"] >= RATE * 0.5 - 1  # half a second of due runs
    assert figures["executed"] == figures["due"]
    assert figures["executed_fraction"] == 1.0
    assert (figures["skipped"], figures["missed"], figures["other_warnings"]) == (0, 0, 0)
    assert figures["cpu_us_per_run"] > 0


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_the_fairness_probe_reports_its_stalls(
    run: tuple[dict[str, Any], str], implementation: str
) -> None:
    figures = run[0]["fairness"][str(RATE)][implementation]
    assert figures["stall_max_ms"] is not None
    assert figures["stall_p50_ms"] <= figures["stall_p99_ms"] <= figures["stall_max_ms"]
    assert "stall_max_ms" not in run[0]["interval"][str(RATE)][implementation]


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_a_burst_is_drained(run: tuple[dict[str, Any], str], implementation: str) -> None:
    figures = run[0]["burst"][str(BURST)][implementation]
    assert figures["drained"] is True
    assert figures["executed"] == BURST
    assert figures["jobs_per_second"] > 0
    assert figures["stall_max_ms"] is not None


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_the_api_figures_are_measured(
    run: tuple[dict[str, Any], str], implementation: str
) -> None:
    figures = run[0]["api"][str(JOBS)][implementation]
    assert figures["calls"] == JOBS // 2
    assert min(figures["add_us"], figures["modify_us"], figures["remove_us"]) > 0
    assert figures["resident_bytes_per_job"] is not None
    assert figures["resident_bytes_per_job_explicit"] is not None


def test_the_report_has_a_table_for_each_scenario(run: tuple[dict[str, Any], str]) -> None:
    report = run[1]
    for title in (
        "### 1. Sustained interval firing",
        "### 2. Burst of date jobs due at once",
        "### 3. Job API with n jobs in the memory store",
        "### 4. Fairness: a greenlet that wants to run every millisecond",
    ):
        assert title in report
    assert "Each cell: greensched / APScheduler 3.11." in report


def test_the_notes_of_an_earlier_report_are_kept(run: tuple[dict[str, Any], str]) -> None:
    report = run[1]
    assert "stale tables" not in report
    assert report.endswith(f"{NOTES_MARKER}\nour notes\n")


def test_the_metrics_benchmark_drains_both_bursts_for_every_variant(tmp_path: Path) -> None:
    """``bench/bench_metrics.py``: each implementation with and without metrics."""
    figures_path = tmp_path / "figures.json"
    output = run_bench("bench_metrics.py", f"--sizes={BURST}", f"--json={figures_path}")
    figures = json.loads(figures_path.read_text())
    assert sorted((f["implementation"], f["variant"]) for f in figures) == [
        ("apscheduler", "bare"),
        ("apscheduler", "metrics"),
        ("greensched", "bare"),
        ("greensched", "metrics"),
    ]
    for run in figures:
        assert run["executed"] == 2 * BURST
        assert run["cpu_us_per_run_new_ids"] > 0
        assert run["cpu_us_per_run_known_ids"] > 0
    rows = [line for line in output.splitlines() if line.startswith(f"| {BURST} |")]
    assert [row.split(" | ")[1] for row in rows] == ["new", "known"]


def test_blocking_job_benchmark_reports_both_libraries() -> None:
    out = run_bench(
        "bench_blocking_job.py", "--seconds=1.5", "--block=0.3", "--every=0.5", "--tick=0.25"
    )
    rows = [line.split("|")[1:-1] for line in out.splitlines()[2:]]
    assert [(row[0].strip(), row[1].strip()) for row in rows] == [
        ("greensched", "ThreadPoolExecutor"),
        ("apscheduler", "ThreadPoolExecutor"),
    ]
    assert all(int(row[2]) > 0 for row in rows)


def test_the_threadpool_benchmark_measures_every_scenario(tmp_path: Path) -> None:
    """``bench/bench_threadpool.py``: every scenario for both implementations, and its table
    goes into its own section of a markdown file, whose other text is kept."""
    figures_path = tmp_path / "figures.json"
    report = tmp_path / "RESULTS.md"
    report.write_text(
        "# Results\n\nother benchmarks\n\n<!-- bench_threadpool.py: begin -->\nstale table\n"
        "<!-- bench_threadpool.py: end -->\n\nmore benchmarks\n"
    )
    output = run_bench(
        "bench_threadpool.py", "--seconds=0.3", f"--json={figures_path}", f"--markdown={report}"
    )
    figures = json.loads(figures_path.read_text())
    assert list(figures) == ["rate", "modify", "api"]
    for scenario, by_implementation in figures.items():
        assert list(by_implementation) == list(IMPLEMENTATIONS)
        for run in by_implementation.values():
            assert run["scenario"] == scenario
            assert 0 < run["executed"] <= run["due"]
            assert run["cpu_us_per_run"] > 0
            if scenario != "rate":
                assert run["helper_calls_per_second"] > 0
    text = report.read_text()
    assert text.startswith("# Results\n\nother benchmarks\n\n<!-- bench_threadpool.py: begin -->")
    assert text.endswith("<!-- bench_threadpool.py: end -->\n\nmore benchmarks\n")
    assert "stale table" not in text
    assert text.count("| 1. 5,000 no-op runs/s") == 1
    assert "| 1. 5,000 no-op runs/s" in output


def test_the_failing_runs_benchmark_measures_every_kind_of_run(tmp_path: Path) -> None:
    """``bench/bench_failing_runs.py``: every kind of run, with and without logging, for both
    implementations (APScheduler has no timeouts), each run reported."""
    figures_path = tmp_path / "figures.json"
    output = run_bench("bench_failing_runs.py", "--runs=50", f"--json={figures_path}")
    figures = json.loads(figures_path.read_text())
    assert list(figures) == ["off", "file"]
    for by_kind in figures.values():
        assert list(by_kind) == ["ok", "raise", "timeout"]
        for kind, by_implementation in by_kind.items():
            expected = ["greensched"] if kind == "timeout" else list(IMPLEMENTATIONS)
            assert list(by_implementation) == expected
            for run in by_implementation.values():
                assert (run["runs"], run["reported"]) == (50, 50)
                assert run["cpu_us_per_run"] > 0
                assert run["ratio_to_ok"] > 0
    assert "| off | raise |" in output
    assert "| file | timeout |" in output


def test_the_history_benchmark_measures_history_off_and_on(tmp_path: Path) -> None:
    """``bench/bench_history.py``: greensched with its history off and on, and APScheduler;
    with the history on, every run is in the history."""
    figures_path = tmp_path / "figures.json"
    output = run_bench(
        "bench_history.py",
        f"--rates={RATE}",
        "--seconds=0.5",
        "--warmup=0.2",
        "--grace=0.3",
        "--repeat=1",
        f"--json={figures_path}",
    )
    figures = json.loads(figures_path.read_text())
    assert [(f["implementation"], f["variant"]) for f in figures] == [
        ("greensched", "off"),
        ("greensched", "on"),
        ("apscheduler", "none"),
    ]
    for run in figures:
        assert run["executed"] == run["due"] > 0
        assert run["cpu_us_per_run"] > 0
    off, on, _ = figures
    assert off["recorded"] == 0
    assert on["recorded"] >= on["executed"]  # the window's runs, and those around it
    assert on["recorded_running"] == 0
    assert f"| {RATE} |" in output


def test_the_results_file_is_rewritten_by_one_command_keeping_its_notes(tmp_path: Path) -> None:
    """``bench/results.py``: the parts measured get fresh sections under a header naming the
    command and the machine; the sections of parts not measured again, and the hand-written
    notes, are kept."""
    marker = "<!-- notes: kept when bench/results.py rewrites the tables above -->"
    out = tmp_path / "RESULTS.md"
    out.write_text(
        "# stale header\n<!-- part: hotloop -->\n## hot loop, earlier\n\n"
        f"<!-- part: stores -->\n## stale stores\n\n{marker}\n## Notes\nour notes\n"
    )
    run_bench("results.py", "--quick", "--parts=history,stores", f"--out={out}")
    report = out.read_text()
    assert report.startswith("# Benchmarks: greensched beside APScheduler 3.11\n")
    assert "Regenerated by `python bench/results.py`" in report
    assert "# stale header" not in report
    assert "## stale stores" not in report
    assert report.endswith(f"{marker}\n## Notes\nour notes\n")
    hotloop = report.index("<!-- part: hotloop -->\n## hot loop, earlier\n")
    history = report.index("## What the run history costs (`bench_history.py`)")
    stores = report.index("## Persistent stores (`bench_stores.py`)")
    assert hotloop < history < stores < report.index(marker)
    assert "Arguments: `--rates=100 " in report[history:stores]
    assert "| 100 |" in report[history:stores]  # the history table's row at the quick rate
    assert "| sqlite | 200 | add |" in report[stores:]


def test_the_wakeups_benchmark_measures_each_period(tmp_path: Path) -> None:
    """``bench/bench_wakeups.py``: the CPU of a hub wake-up after each sleep asked for."""
    figures_path = tmp_path / "figures.json"
    output = run_bench(
        "bench_wakeups.py", "--periods=0.001,0.004", "--seconds=0.1", f"--json={figures_path}"
    )
    figures = json.loads(figures_path.read_text())
    assert [(run["period_ms"], run["wakeups"]) for run in figures] == [(1.0, 100), (4.0, 25)]
    for run in figures:
        assert run["cpu_us_per_wakeup"] > 0
        # each wake-up comes no earlier than its sleep ends
        assert run["wall_ms_per_wakeup"] >= run["period_ms"]
    assert [line.split(" | ")[0] for line in output.splitlines()[2:]] == ["| 1", "| 4"]
