"""The crawler of ``examples/crawler.py`` under greensched and under APScheduler 3.11, side by side.

The issue's target: with 1,000 fetch jobs every second, the scheduler's lateness p99 stays under
10 ms and an HTTP endpoint in the same process keeps answering under 20 ms p99. This prints the
figures; it checks no bound (a benchmark, not a test: the figures depend on the machine).

Run it as a script (a table, ratios against APScheduler measured in the same run)::

    python bench/bench_crawler.py [--jobs 1000] [--seconds 10] [--timeout 2] [--rounds 1]

or with pytest-benchmark (one round per implementation; the figures go into ``extra_info``, the
timed duration is only the length of the run)::

    pytest bench/bench_crawler.py -o python_files='bench_*.py' --benchmark-only -s

Each run is a fresh monkey-patched interpreter (this file with ``--child``) that loads the
example and calls its ``run()`` with the implementation's ``GeventScheduler``, so patching never
leaks into the caller and the two schedulers never share a process. greensched enforces the job
timeout itself (``add_job(..., timeout=T)``); APScheduler has no job timeouts, so its jobs get the
same bound from a :class:`gevent.Timeout` inside the job function, which raises the same
:exc:`TimeoutError`. The crawled server runs in a further child process unless
``--target-in-process`` is given.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from _children import LABELS, ROOT

CRAWLER = ROOT / "examples" / "crawler.py"
IMPLEMENTATIONS = ("greensched", "apscheduler")
JOBS = 1000
SECONDS = 10.0
TIMEOUT = 2.0

#: (key in the figures, row title, lower is better); ratios are given for the times
ROWS = (
    ("fetches_per_second", "fetches/s", False),
    ("errors", "errors (HTTP 500)", None),
    ("timeouts", "timeouts", None),
    ("skipped", "runs skipped (max_instances)", None),
    ("missed", "runs missed (misfire)", None),
    ("runs_measured", "runs measured", None),
    ("lateness_p50_ms", "lateness p50 ms", True),
    ("lateness_p99_ms", "lateness p99 ms", True),
    ("lateness_max_ms", "lateness max ms", True),
    ("health_requests", "/health requests", None),
    ("health_failures", "/health failures", None),
    ("health_p50_ms", "/health p50 ms", True),
    ("health_p99_ms", "/health p99 ms", True),
    ("health_max_ms", "/health max ms", True),
    ("cpu_percent", "crawler process CPU % of one core", True),
    ("other_cpu_percent", "other processes' CPU % (of one core)", None),
)


def measure(
    implementation: str,
    *,
    jobs: int = JOBS,
    seconds: float = SECONDS,
    timeout: float = TIMEOUT,
    target_in_process: bool = False,
) -> dict[str, Any]:
    """Run the crawler once in a child process with ``implementation``; return its figures.

    The child's live summary lines go to this process's stderr.
    """
    import subprocess  # here: the child must not import it before patching

    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        implementation,
        f"--jobs={jobs}",
        f"--seconds={seconds}",
        f"--timeout={timeout}",
    ]
    if target_in_process:
        command.append("--target-in-process")
    busy_before, children_before = machine_busy_seconds(), children_cpu_seconds()
    wall_before = time.perf_counter()
    result = subprocess.run(
        command,
        stdout=subprocess.PIPE,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=seconds + 120,
    )
    figures: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    wall = time.perf_counter() - wall_before
    if busy_before is not None:
        busy = machine_busy_seconds()
        assert busy is not None
        others = (busy - busy_before) - (children_cpu_seconds() - children_before)
        figures["other_cpu_percent"] = round(max(0.0, 100 * others / wall), 1)
    return figures


def machine_busy_seconds() -> float | None:
    """CPU seconds all processes of the machine have used since boot (Linux), else ``None``."""
    try:
        with open("/proc/stat") as stat:
            fields = stat.readline().split()
    except OSError:
        return None
    # user nice system idle iowait irq softirq steal ...: all but idle and iowait are busy
    ticks = [int(field) for field in fields[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    """CPU seconds used by this process's ended children and their waited-for descendants."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def child(implementation: str, options: argparse.Namespace) -> None:
    """The ``--child`` mode: patch, load the example, run it, print the figures as JSON."""
    from gevent import monkey

    monkey.patch_all()

    import importlib.util

    spec = importlib.util.spec_from_file_location("crawler_example", CRAWLER)
    assert spec is not None
    assert spec.loader is not None
    crawler = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(crawler)

    scheduler: Any
    if implementation == "greensched":
        from greensched.schedulers.gevent import GeventScheduler

        scheduler = GeventScheduler(timezone="UTC")
    else:
        from apscheduler.schedulers.gevent import GeventScheduler as APSGeventScheduler

        scheduler = APSGeventScheduler(timezone="UTC")
    crawler.quiet_logging(f"{implementation}.executors")
    print(f"--- {LABELS[implementation]}", file=sys.stderr, flush=True)
    figures = crawler.run(
        scheduler,
        jobs=options.jobs,
        seconds=options.seconds,
        timeout=options.timeout,
        timeout_in_job=implementation == "apscheduler",
        target_in_process=options.target_in_process,
        out=sys.stderr,
    )
    print(json.dumps(figures), flush=True)


def median_figures(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of each numeric figure over ``runs``."""
    merged = dict(runs[0])
    for key, value in runs[0].items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            merged[key] = statistics.median(run[key] for run in runs)
    return merged


def run_line(figures: dict[str, Any]) -> str:
    """One run's main figures on one line."""
    return (
        f"{figures['fetches_per_second']:6.1f} fetches/s, lateness p99 "
        f"{figures['lateness_p99_ms']:6.2f} ms, /health p99 {figures['health_p99_ms']:6.2f} ms, "
        f"CPU {figures['cpu_percent']:5.1f}%, others' CPU {figures.get('other_cpu_percent', '?')}%"
    )


def render(results: dict[str, dict[str, Any]]) -> str:
    """A markdown table of the figures, with ratios when both implementations ran."""
    names = [name for name in IMPLEMENTATIONS if name in results]
    both = len(names) == 2
    header = "| figure | " + " | ".join(LABELS[name] for name in names)
    header += " | APScheduler ÷ greensched |" if both else " |"
    lines = [header, "|---" * (len(names) + 1 + both) + "|"]
    for key, title, lower_is_better in ROWS:
        values = [results[name][key] for name in names]
        cells = [f"{value:.2f}" if isinstance(value, float) else str(value) for value in values]
        line = f"| {title} | " + " | ".join(cells)
        if both:
            ratio = ""
            if lower_is_better is not None and values[0]:
                ratio = f"{values[1] / values[0]:.2f}x"
            line += f" | {ratio}"
        lines.append(line + " |")
    return "\n".join(lines)


# pytest-benchmark entry points (no pytest import: the --child mode must not load pytest before
# patching); each is one round of one implementation


def run_in_benchmark(benchmark: Any, implementation: str) -> None:
    figures = benchmark.pedantic(measure, args=(implementation,), rounds=1, iterations=1)
    benchmark.extra_info.update(
        {"scenario": "crawler", "implementation": implementation, "jobs": JOBS, **figures}
    )


def test_crawler_greensched(benchmark: Any) -> None:
    run_in_benchmark(benchmark, "greensched")


def test_crawler_apscheduler(benchmark: Any) -> None:
    run_in_benchmark(benchmark, "apscheduler")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, default=JOBS)
    parser.add_argument("--seconds", type=float, default=SECONDS)
    parser.add_argument("--timeout", type=float, default=TIMEOUT)
    parser.add_argument("--target-in-process", action="store_true")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="runs of each implementation, alternating which goes first; medians are shown",
    )
    parser.add_argument(
        "--only", choices=IMPLEMENTATIONS, help="run one implementation (no ratios)"
    )
    parser.add_argument("--json", type=Path, help="also write every run's figures to this file")
    parser.add_argument("--child", choices=IMPLEMENTATIONS, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        child(options.child, options)
        return

    names = [options.only] if options.only else list(IMPLEMENTATIONS)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for round_number in range(options.rounds):
        order = names if round_number % 2 == 0 else names[::-1]
        for name in order:
            runs[name].append(
                measure(
                    name,
                    jobs=options.jobs,
                    seconds=options.seconds,
                    timeout=options.timeout,
                    target_in_process=options.target_in_process,
                )
            )
    results = {name: median_figures(figures) for name, figures in runs.items()}

    target = "in the crawler's process" if options.target_in_process else "in a child process"
    print(
        f"\n{options.jobs} fetch jobs every second for {options.seconds} s, job timeout "
        f"{options.timeout} s, max_instances 1, crawled server {target}; "
        f"{options.rounds} round(s){', medians' if options.rounds > 1 else ''}; "
        f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}\n"
    )
    print(render(results), flush=True)
    if options.rounds > 1:
        print("\nEach run (the noise of a shared machine shows here):")
        for name, figures in runs.items():
            for number, run in enumerate(figures, 1):
                print(f"  {LABELS[name]:<16} #{number}: {run_line(run)}")
    for name, result in results.items():
        if not result.get("timeouts_enforced", True):
            print(
                f"\nNOTE: {LABELS[name]} ran without job timeouts (not supported yet)", flush=True
            )
    if options.json:
        options.json.write_text(json.dumps(runs, indent=2) + "\n")


if __name__ == "__main__":
    main()
