"""The thread pool executor of an unpatched program, greensched's beside APScheduler 3.11's.

Each scenario runs, for each implementation, in a fresh child interpreter (this file with
``--child``) that does **not** monkey-patch: a ``BackgroundScheduler`` (its loop in a real OS
thread; greensched's with a gevent hub of its own) configured with
``executors={'default': {'type': 'threadpool'}}`` (10 threads), the memory store and the
default job options (``max_instances=1``, ``coalesce=True``, ``misfire_grace_time=1``).

The runs are interval jobs whose run times lie on one grid: ``jobs`` jobs, each every
``interval`` seconds, their first run times spread evenly over one interval, all ending
(``end_date``) after ``seconds``, so exactly ``rate * seconds`` runs are due. The figures:

- **executed**: how many of the due runs executed (the job function counts its runs). A run
  can be lost three ways: logged as *missed* (later than ``misfire_grace_time``), logged as
  *skipped* (``max_instances`` reached: the job's previous run was still running, or not yet
  reported back), or silently coalesced (the loop woke up after several run times of a job
  had passed, and ``coalesce=True`` ran them once).
- **CPU µs per run**: the CPU time of the scheduler's side per executed run, from the first
  run time until the last run has ended: the whole process (``resource.getrusage``: every
  thread, kernel time included) less the helper threads that call the scheduler's API (read
  from each one's CPU clock). So the loop, the executor, the pool threads running the jobs,
  and the rounds of the loop that the helpers' calls cause (each call of the job API wakes
  the loop), are counted; the helpers' own work is not.
- **helper API calls/s**: how many calls the helper threads got through.

The scenarios:

1. **rate**: 50 jobs every 0.01 s: 5,000 no-op runs a second.
2. **modify**: 5 jobs every 0.01 s (500 runs a second) while 8 OS threads call
   ``scheduler.modify_job(...)`` back to back, each on a paused job of its own.
3. **api**: 5 jobs every 0.01 s whose function calls ``scheduler.get_job`` and
   ``scheduler.modify_job`` (its own name) from its pool thread, while 4 OS threads call
   ``scheduler.get_jobs()`` back to back (with 500 paused jobs stored, each call holds the
   scheduler's job store lock for a while).

``--helper-pause S`` has each helper thread sleep S seconds between two calls: with 0.0001,
APScheduler 3.11 keeps up in scenario 2 too (back to back, its ``threading.RLock`` lets the
helpers take the lock again and again while its loop waits).

Run it with::

    python bench/bench_threadpool.py [--seconds 8] [--scenarios rate,modify,api] [--quick]
        [--helper-pause 0] [--markdown bench/RESULTS.md] [--json FILE]

A full run takes about a minute and a half; ``--quick`` (one second a scenario) is a smoke
test. ``--markdown FILE`` writes the table into FILE between the :data:`BEGIN_MARKER` and
:data:`END_MARKER` lines (replacing what was there, or appended at the end), so
``bench/RESULTS.md`` keeps the other benchmarks' reports. Or one child per test with
pytest-benchmark (figures in ``extra_info``)::

    pytest bench/bench_threadpool.py -o python_files='bench_*.py' --benchmark-only
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from _children import LABELS, count_warnings, describe_machine, run_in_child

ROOT = Path(__file__).resolve().parents[1]
IMPLEMENTATIONS = ("greensched", "apscheduler")
SCENARIOS = ("rate", "modify", "api")
#: per scenario: jobs, seconds between two runs of a job, helper threads
SHAPES = {"rate": (50, 0.01, 0), "modify": (5, 0.01, 8), "api": (5, 0.01, 4)}
TITLES = {
    "rate": "5,000 no-op runs/s (50 jobs every 0.01 s)",
    "modify": "500 runs/s, 8 threads calling modify_job back to back",
    "api": "500 runs/s calling get_job + modify_job, 4 threads calling get_jobs back to back",
}
SECONDS = 8.0
QUICK_SECONDS = 1.0
LEAD = 0.5  # seconds between the setup and the first run time
GRACE = 1.5  # seconds after the last run time for late runs (misfire_grace_time is 1 s)
PAUSED_JOBS = 500  # paused jobs in the store of the "api" scenario
BEGIN_MARKER = "<!-- bench_threadpool.py: begin -->"
END_MARKER = "<!-- bench_threadpool.py: end -->"


# -- the child side -----------------------------------------------------------------------------


def noop() -> None:
    """A job that does nothing (the benchmark counts its runs by wrapping it)."""


def child(
    implementation: str, scenario: str, seconds: float, helper_pause: float = 0.0
) -> dict[str, Any]:
    """Run one scenario in this (unpatched) process; return its figures."""
    import resource
    import threading
    from datetime import timedelta

    warnings = count_warnings()

    if implementation == "greensched":
        from greensched.schedulers.background import BackgroundScheduler
    else:
        from apscheduler.schedulers.background import BackgroundScheduler

    jobs, interval, helpers = SHAPES[scenario]
    scheduler = BackgroundScheduler(timezone="UTC", executors={"default": {"type": "threadpool"}})
    runs: list[None] = []  # list.append is atomic: the runs of every pool thread land here
    count = runs.append

    def tick() -> None:
        count(None)

    def tick_and_call(job_id: str) -> None:
        count(None)
        scheduler.get_job(job_id)
        try:
            scheduler.modify_job(job_id, name=job_id)
        except LookupError:  # a job whose last run has ended is gone from the store
            pass

    scheduler.start(paused=True)
    if scenario == "modify":
        for index in range(helpers):
            scheduler.add_job(
                noop, "interval", seconds=1, id=f"target-{index}", next_run_time=None
            )
    elif scenario == "api":
        for index in range(PAUSED_JOBS):
            scheduler.add_job(
                noop, "interval", seconds=1, id=f"paused-{index}", next_run_time=None
            )

    # The grid: job i's first run time is origin + i * interval / jobs; the last run times
    # lie before end, which no grid point comes near
    origin = round(time.time() + LEAD, 3)
    end = origin + seconds - interval / (2 * jobs)
    end_date = datetime.fromtimestamp(end, timezone.utc)
    due = round(seconds * jobs / interval)
    for index in range(jobs):
        job_id = f"job-{index}"
        first = datetime.fromtimestamp(origin, timezone.utc) + timedelta(
            seconds=index * interval / jobs
        )
        if scenario == "api":
            func: Any = tick_and_call
            arguments: tuple[Any, ...] = (job_id,)
        else:
            func, arguments = tick, ()
        scheduler.add_job(
            func,
            "interval",
            seconds=interval,
            start_date=first,
            end_date=end_date,
            args=arguments,
            id=job_id,
        )
    scheduler.resume()

    stop = threading.Event()
    calls = [0] * helpers

    def helper(index: int) -> None:
        job_id = f"target-{index}"
        while not stop.is_set():
            if scenario == "modify":
                scheduler.modify_job(job_id, name=f"{job_id} {calls[index]}")
            else:
                scheduler.get_jobs()
            calls[index] += 1
            if helper_pause:
                time.sleep(helper_pause)

    threads = [
        threading.Thread(target=helper, args=(index,), daemon=True) for index in range(helpers)
    ]
    for thread in threads:
        thread.start()
    clocks = [time.pthread_getcpuclockid(thread.ident or 0) for thread in threads]

    def helper_cpu() -> float:
        return sum(time.clock_gettime(clock) for clock in clocks)

    time.sleep(max(0.0, origin - time.time()))
    usage_before = resource.getrusage(resource.RUSAGE_SELF)
    helpers_before = helper_cpu()
    calls_before = sum(calls)
    wall_before = time.time()
    deadline = end + GRACE
    while len(runs) < due and time.time() < deadline:
        time.sleep(0.01)
    # let the last runs end: the count stays still for a moment
    last = -1
    while len(runs) != last and time.time() < deadline + 0.5:
        last = len(runs)
        time.sleep(0.05)
    usage_after = resource.getrusage(resource.RUSAGE_SELF)
    helpers_cpu = helper_cpu() - helpers_before
    helper_calls = sum(calls) - calls_before
    wall = time.time() - wall_before
    executed = len(runs)
    stop.set()
    for thread in threads:
        thread.join()
    scheduler.shutdown(wait=True)

    cpu = (usage_after.ru_utime - usage_before.ru_utime) + (
        usage_after.ru_stime - usage_before.ru_stime
    )
    scheduler_cpu = max(0.0, cpu - helpers_cpu)
    return {
        "scenario": scenario,
        "implementation": implementation,
        "jobs": jobs,
        "interval": interval,
        "seconds": seconds,
        "due": due,
        "executed": executed,
        "executed_fraction": round(executed / due, 5),
        **warnings,
        "cpu_us_per_run": round(scheduler_cpu / executed * 1e6, 1) if executed else None,
        "cpu_percent": round(100 * scheduler_cpu / wall, 1),
        "helper_calls_per_second": round(helper_calls / wall) if helpers else None,
    }


# -- the parent side ----------------------------------------------------------------------------


def measure(
    implementation: str, scenario: str, seconds: float = SECONDS, helper_pause: float = 0.0
) -> dict[str, Any]:
    """Run one scenario for one implementation in a fresh interpreter; return its figures."""
    arguments = [
        implementation,
        scenario,
        f"--seconds={seconds}",
        f"--helper-pause={helper_pause}",
    ]
    return run_in_child(__file__, arguments, timeout=seconds + 120)


def pair(results: dict[str, dict[str, Any]], key: str, digits: int = 1) -> str:
    """``greensched / APScheduler`` of one figure (``-`` where it is missing)."""

    def cell(figures: dict[str, Any] | None) -> str:
        value = None if figures is None else figures.get(key)
        if value is None:
            return "-"
        if isinstance(value, float):
            return f"{value:,.{digits}f}"
        return f"{value:,}"

    return " / ".join(cell(results.get(name)) for name in IMPLEMENTATIONS)


def ratio(results: dict[str, dict[str, Any]]) -> str:
    """APScheduler's CPU per run ÷ greensched's."""
    ours = results.get("greensched", {}).get("cpu_us_per_run")
    theirs = results.get("apscheduler", {}).get("cpu_us_per_run")
    if not ours or not theirs:
        return "-"
    return f"{theirs / ours:.2f}x"


def render(results: dict[str, dict[str, dict[str, Any]]]) -> str:
    """The markdown table of every scenario measured."""
    header = (
        "| scenario | due runs | executed | missed | skipped (max_instances) "
        "| CPU µs per run | CPU per run: APS ÷ greensched | scheduler CPU % of a core "
        "| helper API calls/s |"
    )
    lines = [header, "|---|---:|---|---|---|---|---:|---|---|"]
    for number, (scenario, figures) in enumerate(results.items(), 1):
        any_figures = next(iter(figures.values()))
        executed = " / ".join(
            f"{figures[name]['executed']:,} ({100 * figures[name]['executed_fraction']:.2f}%)"
            if name in figures
            else "-"
            for name in IMPLEMENTATIONS
        )
        lines.append(
            f"| {number}. {TITLES[scenario]} | {any_figures['due']:,} | {executed} "
            f"| {pair(figures, 'missed')} | {pair(figures, 'skipped')} "
            f"| {pair(figures, 'cpu_us_per_run')} | {ratio(figures)} "
            f"| {pair(figures, 'cpu_percent', 0)} | {pair(figures, 'helper_calls_per_second')} |"
        )
    return "\n".join(lines)


def write_markdown(path: Path, section: str) -> None:
    """Put ``section`` between the markers in ``path`` (appended if they are not there)."""
    block = f"{BEGIN_MARKER}\n{section.strip()}\n{END_MARKER}"
    text = path.read_text() if path.exists() else ""
    if BEGIN_MARKER in text and END_MARKER in text:
        before = text[: text.index(BEGIN_MARKER)]
        after = text[text.index(END_MARKER) + len(END_MARKER) :]
        path.write_text(before + block + after)
    else:
        separator = (
            "" if not text or text.endswith("\n\n") else "\n" if text.endswith("\n") else "\n\n"
        )
        path.write_text(f"{text}{separator}{block}\n")


# -- pytest-benchmark entry points (no pytest import: the child must stay light) ---------------


def pytest_generate_tests(metafunc: Any) -> None:
    metafunc.parametrize("scenario", SCENARIOS)
    metafunc.parametrize("implementation", IMPLEMENTATIONS)


def test_threadpool(benchmark: Any, implementation: str, scenario: str) -> None:
    figures = benchmark.pedantic(measure, args=(implementation, scenario), rounds=1, iterations=1)
    benchmark.extra_info.update(figures)


# -- the command line ---------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument(
        "--seconds", type=float, help=f"seconds of due runs per scenario (default {SECONDS})"
    )
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_SECONDS} s per scenario")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="which, in this order")
    parser.add_argument(
        "--helper-pause",
        type=float,
        default=0.0,
        help="seconds each helper thread sleeps between two API calls (default: none)",
    )
    parser.add_argument("--only", choices=IMPLEMENTATIONS, help="one implementation (no ratios)")
    parser.add_argument("--markdown", type=Path, help="also write the table into this file")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    options = parser.parse_args()
    seconds = options.seconds or (QUICK_SECONDS if options.quick else SECONDS)

    if options.child:
        implementation, scenario = options.child
        figures = child(implementation, scenario, seconds, options.helper_pause)
        print(json.dumps(figures), flush=True)
        return

    names = [options.only] if options.only else list(IMPLEMENTATIONS)
    started = time.time()
    results: dict[str, dict[str, dict[str, Any]]] = {}
    for number, scenario in enumerate(options.scenarios.split(",")):
        if scenario not in SCENARIOS:
            parser.error(f"unknown scenario {scenario!r} (known: {', '.join(SCENARIOS)})")
        figures = {}
        # Alternate which implementation goes first: the noise of a shared machine
        for name in names if number % 2 == 0 else names[::-1]:
            figures[name] = measure(name, scenario, seconds, options.helper_pause)
            print(f"{scenario} {LABELS[name]}: {json.dumps(figures[name])}", flush=True)
        results[scenario] = {name: figures[name] for name in IMPLEMENTATIONS if name in figures}

    command = "python bench/bench_threadpool.py " + " ".join(sys.argv[1:])
    section = (
        "## Thread pool executor, unpatched (`bench_threadpool.py`)\n\n"
        f"Measured {datetime.fromtimestamp(started, timezone.utc):%Y-%m-%d %H:%M} UTC on "
        f"{describe_machine()}, in {time.time() - started:.0f} s; load average "
        f"{os.getloadavg()[0]:.2f} after.\nCommand: `{command.strip()}`\n\n"
        "Each cell: greensched / APScheduler 3.11. `BackgroundScheduler` with "
        "`executors={'default': {'type': 'threadpool'}}`, no monkey-patching. CPU: the whole "
        "process less the helper threads, per executed run.\n\n" + render(results) + "\n"
    )
    print("\n" + section)
    if options.markdown:
        write_markdown(options.markdown, section)
    if options.json:
        options.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
