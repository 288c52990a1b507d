"""The scheduler's hot loop under greensched and under APScheduler 3.11, side by side.

Four scenarios, each run for both implementations in fresh monkey-patched child interpreters
(this file, or ``bench_api_scale.py``, with ``--child``): the same jobs, the same job
functions, each implementation's ``GeventScheduler`` with its default executor and memory store
and default job options (``max_instances=1``, ``coalesce=True``, ``misfire_grace_time=1``).

1. **interval**: ``rate`` interval jobs, each every second, their first run times spread evenly
   over a second: ``rate`` due runs a second. Over a window of ``seconds`` (after a second of
   warm-up) it measures the fraction of the runs due in the window that executed, their
   lateness (the job function reads the clock first thing, minus the run time it was due at)
   and the process CPU time per executed run.
2. **burst**: ``n`` date jobs due at the same instant (added while the scheduler is paused, with
   no misfire limit): the time from ``resume()`` until the last one has run, and jobs/s.
3. **api**: ``add_job``, ``modify_job``, ``remove_job`` with ``n`` jobs in the store, and the
   resident memory per job, also with a string id and a ``next_run_time`` made for each job
   (``bench_api_scale.py``).
4. **fairness**: scenario 1 again with a greenlet that asks to run every millisecond
   (``gevent.sleep(0.001)``), as a web server in the same process would: its stall is how much
   later than asked it got to run. The bursts of scenario 2 run with it too.

Run every scenario and print the tables with::

    python bench/bench_hotloop.py [--seconds 5] [--rates 1000,5000,...] [--bursts ...]
        [--api-sizes ...] [--scenarios interval,burst,api,fairness] [--markdown FILE]
        [--count-rounds]

``--count-rounds`` also counts the rounds of each scheduler's processing loop over the window
(a wrapper around ``_process_jobs``, which costs a little) and reports rounds per executed run:
1 means a wake-up of the loop for each run, less means runs handled together.

``--markdown FILE`` writes the report there too; notes below the :data:`NOTES_MARKER` line of
an earlier report in that file are kept (``bench/results.py`` puts this report into
``bench/RESULTS.md`` beside the other benchmarks'). Or run one child per test with pytest-benchmark (the figures go into ``extra_info``;
the timed duration is only the length of the child's run)::

    pytest bench/bench_hotloop.py bench/bench_api_scale.py -o python_files='bench_*.py' \\
        --benchmark-only

The job function is the same for both implementations: it reads the wall clock, works out the
run time it was due at from its first run time (the interval grid), files the lateness and
counts the run. Nothing listens for events (a listener has its own cost). Warnings (runs
skipped because of ``max_instances``, missed runs, over the whole child run) go to a counting
handler, not to the terminal, and are reported. ``--profile-dir DIR`` writes a ``cProfile``
(CPU time) of each child's measuring window to ``DIR``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from _children import LABELS, count_warnings, describe_machine, run_in_child

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
IMPLEMENTATIONS = ("greensched", "apscheduler")

RATES = (1_000, 5_000, 10_000, 20_000, 50_000, 100_000)
SECONDS = 5.0
BURSTS = (10_000, 100_000, 1_000_000)

INTERVAL = 1.0  # seconds between two runs of an interval job
WARMUP = 1.0  # seconds between the first run times and the measuring window
GRACE = 1.5  # seconds after the window for late runs (misfire_grace_time is 1 s)
LEAD = 0.2  # seconds between the setup and the first run times, plus ADD_TIME per job
ADD_TIME = 40e-6
PROBE_PERIOD = 0.001  # seconds the fairness probe asks to sleep
#: seconds a burst may take to drain before it is given up (APScheduler's memory store removes
#: each fired date job from the front of a sorted list: quadratic, hours for a million jobs)
BURST_PATIENCE = 120.0


# -- the child side -----------------------------------------------------------------------------


class Figures:
    """What the job function and the probe record in a child."""

    def __init__(self) -> None:
        from array import array

        self.runs = 0  # every run, for the CPU figure
        self.rounds = 0  # rounds of the processing loop, with --count-rounds
        self.last_run = 0.0  # wall time of the latest run
        self.window = (math.inf, math.inf)  # due times counted: window[0] <= due < window[1]
        self.lateness = array("d")  # of the runs due in the window
        self.probing = False
        self.stalls = array("d")  # of the probe, while probing


def setup_child(implementation: str) -> tuple[Any, dict[str, int]]:
    """Patch, count the warnings instead of printing them, make the scheduler."""
    from gevent import monkey

    monkey.patch_all()

    warnings = count_warnings()

    if implementation == "greensched":
        from greensched.schedulers.gevent import GeventScheduler

        return GeventScheduler(timezone="UTC"), warnings
    from apscheduler.schedulers.gevent import GeventScheduler as APSGeventScheduler

    return APSGeventScheduler(timezone="UTC"), warnings


def count_rounds(scheduler: Any, figures: Figures) -> None:
    """Count each round of ``scheduler``'s processing loop in ``figures.rounds`` (both
    implementations' loops call ``self._process_jobs()``)."""
    process_jobs = scheduler._process_jobs

    def counted() -> Any:
        figures.rounds += 1
        return process_jobs()

    scheduler._process_jobs = counted


def start_probe(figures: Figures) -> None:
    """Spawn the fairness probe: a greenlet that wants to run every millisecond."""
    import gevent

    def probe() -> None:
        clock = time.perf_counter
        sleep = gevent.sleep
        stalls = figures.stalls
        while True:
            before = clock()
            sleep(PROBE_PERIOD)
            if figures.probing:
                stalls.append(clock() - before - PROBE_PERIOD)

    gevent.spawn(probe)


def wait_until(moment: float) -> None:
    """Sleep cooperatively until the wall time ``moment``."""
    import gevent

    while True:
        left = moment - time.time()
        if left <= 0:
            return
        gevent.sleep(min(left, 0.05))


def percentiles(values: Any, prefix: str) -> dict[str, float | None]:
    """p50, p99 and max of ``values`` (seconds), in milliseconds."""
    ordered = sorted(values)
    if not ordered:
        return {f"{prefix}_p50_ms": None, f"{prefix}_p99_ms": None, f"{prefix}_max_ms": None}

    def at(fraction: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000, 3)

    return {
        f"{prefix}_p50_ms": at(0.5),
        f"{prefix}_p99_ms": at(0.99),
        f"{prefix}_max_ms": round(ordered[-1] * 1000, 3),
    }


class Window:
    """CPU time, runs and the machine's other processes' CPU over a measuring window."""

    def __init__(self, figures: Figures, profile: str | None) -> None:
        from bench_crawler import machine_busy_seconds

        self.figures = figures
        self.machine_busy = machine_busy_seconds
        self.profile_path = profile
        self.profiler: Any = None
        if profile:
            import cProfile

            self.profiler = cProfile.Profile(time.process_time)
            self.profiler.enable()
        self.wall, self.cpu = time.time(), time.process_time()
        self.runs, self.busy = figures.runs, self.machine_busy()
        self.rounds = figures.rounds

    def close(self) -> dict[str, Any]:
        wall, cpu = time.time() - self.wall, time.process_time() - self.cpu
        runs, busy = self.figures.runs - self.runs, self.machine_busy()
        rounds = self.figures.rounds - self.rounds
        if self.profiler is not None:
            self.profiler.disable()
            self.profiler.dump_stats(self.profile_path)
        others = None
        if busy is not None and self.busy is not None:
            others = round(max(0.0, 100 * ((busy - self.busy) - cpu) / wall), 1)
        usage = {
            "cpu_us_per_run": round(cpu / runs * 1e6, 2) if runs else None,
            "cpu_percent": round(100 * cpu / wall, 1),
            "other_cpu_percent": others,
        }
        if rounds:  # counted (--count-rounds)
            usage["rounds_per_run"] = round(rounds / runs, 3) if runs else None
        return usage


def child_interval(
    implementation: str,
    rate: int,
    seconds: float,
    *,
    warmup: float = WARMUP,
    grace: float = GRACE,
    probe: bool = False,
    profile: str | None = None,
    rounds: bool = False,
) -> dict[str, Any]:
    """Scenario 1 (and 4, with the probe): see the module docstring."""
    import gc

    scheduler, warnings = setup_child(implementation)
    figures = Figures()
    if rounds:
        count_rounds(scheduler, figures)
    jobs = max(1, round(rate * INTERVAL))
    floor = math.floor
    wall = time.time
    lateness = figures.lateness.append

    def fire(first: float) -> None:
        now = wall()
        due = first + floor((now - first) / INTERVAL + 1e-6) * INTERVAL
        figures.runs += 1
        low, high = figures.window
        if low <= due < high:
            lateness(now - due)

    # The jobs are added to the paused scheduler; their first run times come after the setup
    setup_started = wall()
    scheduler.start(paused=True)
    origin = setup_started + LEAD + jobs * ADD_TIME
    firsts = [round(origin + index * INTERVAL / jobs, 6) for index in range(jobs)]
    for index, first in enumerate(firsts):
        scheduler.add_job(
            fire,
            "interval",
            seconds=INTERVAL,
            start_date=datetime.fromtimestamp(first, timezone.utc),
            args=(first,),
            id=f"{index:07d}",
        )
    scheduler.resume()
    setup_seconds = wall() - setup_started
    gc.collect()
    start = max(origin, wall()) + warmup
    end = start + seconds
    figures.window = (start, end)
    if probe:
        start_probe(figures)

    wait_until(start)
    figures.probing = True
    window = Window(figures, profile)
    wait_until(end)
    usage = window.close()
    figures.probing = False
    wait_until(end + grace)
    scheduler.shutdown(wait=False)

    due = 0
    for first in firsts:  # grid points first + k * INTERVAL in [start, end)
        low = max(0, math.ceil((start - first) / INTERVAL - 1e-9))
        high = max(0, math.ceil((end - first) / INTERVAL - 1e-9))
        due += high - low
    executed = len(figures.lateness)
    figures_out = {
        "scenario": "fairness" if probe else "interval",
        "implementation": implementation,
        "rate": rate,
        "jobs": jobs,
        "seconds": seconds,
        "setup_seconds": round(setup_seconds, 2),
        "due": due,
        "executed": executed,
        "executed_fraction": round(executed / due, 5) if due else None,
        **percentiles(figures.lateness, "lateness"),
        **usage,
        **warnings,
    }
    if probe:
        figures_out.update(percentiles(figures.stalls, "stall"))
    return figures_out


def add_burst(scheduler: Any, fire: Any, size: int) -> None:
    """Add ``size`` date jobs calling ``fire``, all due now, with no misfire limit."""
    due = datetime.fromtimestamp(round(time.time(), 6), timezone.utc)
    for index in range(size):
        scheduler.add_job(fire, "date", run_date=due, id=f"{index:07d}", misfire_grace_time=None)


def wait_for_runs(figures: Figures, target: int, window: Window) -> None:
    """Let the hub run until ``figures.runs`` reaches ``target``, at most
    :data:`BURST_PATIENCE` seconds after the window opened."""
    import gevent

    deadline = window.wall + BURST_PATIENCE
    while figures.runs < target and time.time() < deadline:
        gevent.sleep(0.01)


def child_burst(implementation: str, size: int, profile: str | None) -> dict[str, Any]:
    """Scenario 2, with the fairness probe: see the module docstring."""
    import gc

    import gevent

    scheduler, warnings = setup_child(implementation)
    figures = Figures()
    wall = time.time

    def fire() -> None:
        figures.runs += 1
        figures.last_run = wall()

    setup_started = wall()
    scheduler.start(paused=True)
    add_burst(scheduler, fire, size)
    setup_seconds = wall() - setup_started
    gc.collect()
    start_probe(figures)
    gevent.sleep(0.05)

    figures.probing = True
    window = Window(figures, profile)
    scheduler.resume()
    wait_for_runs(figures, size, window)
    usage = window.close()
    figures.probing = False
    executed = figures.runs
    drain = figures.last_run - window.wall if executed else None
    scheduler.shutdown(wait=False)
    return {
        "scenario": "burst",
        "implementation": implementation,
        "size": size,
        "setup_seconds": round(setup_seconds, 2),
        "executed": executed,
        "drained": executed == size,
        "drain_seconds": round(drain, 3) if drain is not None else None,
        "jobs_per_second": round(executed / drain) if drain else None,
        **usage,
        **warnings,
        **percentiles(figures.stalls, "stall"),
    }


# -- the parent side ----------------------------------------------------------------------------


def run_child(arguments: list[str], timeout: float) -> dict[str, Any]:
    """Run this file with ``--child ...`` in a fresh interpreter; return its figures."""
    return run_in_child(__file__, arguments, timeout)


def profile_arguments(profile_dir: Path | None, name: str) -> list[str]:
    if profile_dir is None:
        return []
    profile_dir.mkdir(parents=True, exist_ok=True)
    return [f"--profile={profile_dir / name}.prof"]


def measure_interval(
    implementation: str,
    rate: int,
    seconds: float = SECONDS,
    *,
    warmup: float = WARMUP,
    grace: float = GRACE,
    probe: bool = False,
    profile_dir: Path | None = None,
    rounds: bool = False,
) -> dict[str, Any]:
    """Scenario 1 (``probe``: 4) for one implementation and rate, in a child process."""
    scenario = "fairness" if probe else "interval"
    arguments = [implementation, scenario, str(rate), f"--seconds={seconds}"]
    arguments += [f"--warmup={warmup}", f"--grace={grace}"]
    arguments += ["--count-rounds"] if rounds else []
    arguments += profile_arguments(profile_dir, f"{scenario}-{implementation}-{rate}")
    return run_child(arguments, timeout=seconds + warmup + grace + rate * 1e-3 + 120)


def measure_burst(
    implementation: str, size: int, *, profile_dir: Path | None = None
) -> dict[str, Any]:
    """Scenario 2 for one implementation and size, in a child process."""
    arguments = [implementation, "burst", str(size)]
    arguments += profile_arguments(profile_dir, f"burst-{implementation}-{size}")
    return run_child(arguments, timeout=BURST_PATIENCE + size * 1e-3 + 120)


# -- the tables ---------------------------------------------------------------------------------


def number(value: Any, digits: int = 2) -> str:
    """A figure for a table cell (``-`` if missing)."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def pair(results: dict[str, dict[str, Any]], key: str, digits: int = 2) -> str:
    """``greensched / APScheduler`` for one figure."""
    return " / ".join(number(results[name].get(key), digits) for name in results)


def ratio(results: dict[str, dict[str, Any]], key: str, invert: bool = False) -> str:
    """APScheduler's figure divided by greensched's (``invert``: the other way round)."""
    mine, peer = (results.get(name, {}).get(key) for name in IMPLEMENTATIONS)
    if not mine or not peer:
        return "-"
    return f"{(mine / peer) if invert else (peer / mine):.1f}x"


def percent(value: float | None) -> str | None:
    return None if value is None else f"{100 * value:.2f}%"


def size_label(size: int) -> str:
    if size >= 1_000_000 and size % 1_000_000 == 0:
        return f"{size // 1_000_000}M"
    if size >= 1_000 and size % 1_000 == 0:
        return f"{size // 1_000}k"
    return str(size)


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def render(all_results: dict[str, dict[int, dict[str, dict[str, Any]]]]) -> str:
    """Markdown tables of every scenario that ran: ``all_results[scenario][size][impl]``."""
    names = [
        name
        for name in IMPLEMENTATIONS
        if any(name in by_impl for sizes in all_results.values() for by_impl in sizes.values())
    ]
    legend = " / ".join(LABELS[name] for name in names)
    sections = []
    for scenario, sizes in all_results.items():
        for results in sizes.values():
            for figures in results.values():
                if figures.get("executed_fraction") is not None:
                    figures["executed_percent"] = percent(figures["executed_fraction"])
        if scenario == "interval":
            counted = any(
                "rounds_per_run" in figures
                for results in sizes.values()
                for figures in results.values()
            )
            rows = [
                [
                    f"{rate:,}",
                    pair(results, "executed_percent"),
                    pair(results, "lateness_p50_ms"),
                    pair(results, "lateness_p99_ms"),
                    pair(results, "lateness_max_ms"),
                    pair(results, "cpu_us_per_run"),
                    ratio(results, "cpu_us_per_run"),
                    pair(results, "cpu_percent", 0),
                    pair(results, "skipped"),
                    pair(results, "missed"),
                    pair(results, "other_cpu_percent", 0),
                ]
                + ([pair(results, "rounds_per_run", 3)] if counted else [])
                for rate, results in sizes.items()
            ]
            sections.append(
                "### 1. Sustained interval firing\n\n"
                + table(
                    [
                        "due runs/s",
                        "executed",
                        "lateness p50 ms",
                        "p99 ms",
                        "max ms",
                        "CPU µs per run",
                        "CPU per run: APS ÷ greensched",
                        "CPU % of a core",
                        "runs skipped (max_instances)",
                        "runs missed",
                        "other processes' CPU %",
                    ]
                    + (["loop rounds per run"] if counted else []),
                    rows,
                )
            )
        elif scenario == "burst":
            rows = [
                [
                    size_label(size),
                    pair(results, "executed"),
                    pair(results, "drain_seconds", 3),
                    pair(results, "jobs_per_second", 0),
                    ratio(results, "jobs_per_second", invert=True),
                    pair(results, "cpu_us_per_run"),
                    pair(results, "stall_max_ms"),
                    pair(results, "other_cpu_percent", 0),
                ]
                for size, results in sizes.items()
            ]
            sections.append(
                "### 2. Burst of date jobs due at once\n\n"
                + table(
                    [
                        "due jobs",
                        "executed",
                        "drain s",
                        "jobs/s",
                        "jobs/s: greensched ÷ APS",
                        "CPU µs per job",
                        "longest stall ms",
                        "other processes' CPU %",
                    ],
                    rows,
                )
            )
        elif scenario == "api":
            rows = [
                [
                    size_label(size),
                    pair(results, "add_us"),
                    pair(results, "modify_us") + f" ({ratio(results, 'modify_us')})",
                    pair(results, "remove_us") + f" ({ratio(results, 'remove_us')})",
                    pair(results, "resident_bytes_per_job", 0),
                    pair(results, "resident_bytes_per_job_explicit", 0),
                ]
                for size, results in sizes.items()
            ]
            sections.append(
                "### 3. Job API with n jobs in the memory store\n\n"
                + table(
                    [
                        "n",
                        "add_job µs",
                        "modify_job µs (APS ÷ greensched)",
                        "remove_job µs (APS ÷ greensched)",
                        "resident bytes per job",
                        "with string ids and next_run_time",
                    ],
                    rows,
                )
            )
        elif scenario == "fairness":
            rows = [
                [
                    f"{rate:,}",
                    pair(results, "stall_p50_ms"),
                    pair(results, "stall_p99_ms"),
                    pair(results, "stall_max_ms"),
                    pair(results, "executed_percent"),
                    pair(results, "lateness_p99_ms"),
                    pair(results, "other_cpu_percent", 0),
                ]
                for rate, results in sizes.items()
            ]
            sections.append(
                "### 4. Fairness: a greenlet that wants to run every millisecond\n\n"
                + table(
                    [
                        "due runs/s",
                        "stall p50 ms",
                        "p99 ms",
                        "longest stall ms",
                        "executed",
                        "lateness p99 ms",
                        "other processes' CPU %",
                    ],
                    rows,
                )
            )
    return f"Each cell: {legend}.\n\n" + "\n\n".join(sections)


#: In a markdown report, the line from which the text is kept when the tables are rewritten
NOTES_MARKER = "<!-- notes: kept when bench_hotloop.py rewrites the tables above -->"


def write_markdown(path: Path, report: str) -> None:
    """Write ``report`` to ``path``, keeping the notes of an earlier report there (from
    :data:`NOTES_MARKER` on)."""
    notes = ""
    if path.exists():
        text = path.read_text()
        if NOTES_MARKER in text:
            notes = "\n" + text[text.index(NOTES_MARKER) :]
    path.write_text(report + notes)


# -- pytest-benchmark entry points (no pytest import: the --child mode must not load pytest
# before patching); each is one child run


def pytest_generate_tests(metafunc: Any) -> None:
    sizes = BURSTS if metafunc.function.__name__ == "test_burst" else RATES
    metafunc.parametrize("size", sizes, ids=[size_label(size) for size in sizes])
    metafunc.parametrize("implementation", IMPLEMENTATIONS)


def test_interval(benchmark: Any, implementation: str, size: int) -> None:
    figures = benchmark.pedantic(
        measure_interval, args=(implementation, size), rounds=1, iterations=1
    )
    benchmark.extra_info.update(figures)


def test_fairness(benchmark: Any, implementation: str, size: int) -> None:
    figures = benchmark.pedantic(
        measure_interval,
        args=(implementation, size),
        kwargs={"probe": True},
        rounds=1,
        iterations=1,
    )
    benchmark.extra_info.update(figures)


def test_burst(benchmark: Any, implementation: str, size: int) -> None:
    figures = benchmark.pedantic(
        measure_burst, args=(implementation, size), rounds=1, iterations=1
    )
    benchmark.extra_info.update(figures)


# -- the command line ---------------------------------------------------------------------------


def numbers(text: str) -> list[int]:
    return [int(part.replace("_", "")) for part in text.split(",") if part]


def main() -> None:
    from bench_api_scale import SIZES as API_SIZES
    from bench_api_scale import measure as measure_api

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=SECONDS, help="measuring window")
    parser.add_argument("--warmup", type=float, default=WARMUP, help="before the window")
    parser.add_argument("--grace", type=float, default=GRACE, help="after it, for late runs")
    parser.add_argument("--rates", type=numbers, default=list(RATES))
    parser.add_argument("--bursts", type=numbers, default=list(BURSTS))
    parser.add_argument("--api-sizes", type=numbers, default=list(API_SIZES))
    parser.add_argument(
        "--scenarios",
        default="interval,burst,api,fairness",
        help="which scenarios to run, in this order",
    )
    parser.add_argument("--only", choices=IMPLEMENTATIONS, help="one implementation (no ratios)")
    parser.add_argument("--markdown", type=Path, help="also write the report to this file")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument("--profile", type=str, help="child: write a cProfile here")
    parser.add_argument("--profile-dir", type=Path, help="a cProfile of each child's window")
    parser.add_argument(
        "--count-rounds",
        action="store_true",
        help="count the loop's rounds (scenario 1): rounds per executed run",
    )
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    options = parser.parse_args()

    if options.child:
        implementation, scenario, size = options.child
        if scenario == "burst":
            figures = child_burst(implementation, int(size), options.profile)
        else:
            figures = child_interval(
                implementation,
                int(size),
                options.seconds,
                warmup=options.warmup,
                grace=options.grace,
                probe=scenario == "fairness",
                profile=options.profile,
                rounds=options.count_rounds,
            )
        print(json.dumps(figures), flush=True)
        return

    names = [options.only] if options.only else list(IMPLEMENTATIONS)
    started = time.time()
    load_before = os.getloadavg()
    results: dict[str, dict[int, dict[str, dict[str, Any]]]] = {}
    for scenario in options.scenarios.split(","):
        sizes = {
            "interval": options.rates,
            "fairness": options.rates,
            "burst": options.bursts,
            "api": options.api_sizes,
        }[scenario]
        results[scenario] = {}
        for number_, size in enumerate(sizes):
            results[scenario][size] = {}
            # Alternate which implementation goes first: the noise of a shared machine
            for name in names if number_ % 2 == 0 else names[::-1]:
                if scenario == "burst":
                    figures = measure_burst(name, size, profile_dir=options.profile_dir)
                elif scenario == "api":
                    figures = measure_api(name, size)
                else:
                    figures = measure_interval(
                        name,
                        size,
                        options.seconds,
                        warmup=options.warmup,
                        grace=options.grace,
                        probe=scenario == "fairness",
                        profile_dir=options.profile_dir,
                        rounds=options.count_rounds and scenario == "interval",
                    )
                results[scenario][size][name] = figures
                print(f"{scenario} {size:,} {LABELS[name]}: {json.dumps(figures)}", flush=True)
            # greensched first in every cell
            results[scenario][size] = {
                name: results[scenario][size][name]
                for name in IMPLEMENTATIONS
                if name in results[scenario][size]
            }

    command = "python bench/bench_hotloop.py " + " ".join(sys.argv[1:])
    report = (
        f"Measured {datetime.fromtimestamp(started, timezone.utc):%Y-%m-%d %H:%M} UTC on "
        f"{describe_machine()}, in {(time.time() - started) / 60:.0f} min; load average "
        f"{load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after.\n"
        f"Command: `{command.strip()}`\n\n{render(results)}\n"
    )
    print("\n" + report)
    if options.markdown:
        write_markdown(options.markdown, report)
    if options.json:
        options.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
