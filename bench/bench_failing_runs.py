"""What a failing run costs: CPU per run of runs that succeed, raise or time out, under
greensched and under APScheduler 3.11, side by side (issue 19 point 7).

Each figure comes from a fresh monkey-patched child interpreter (this file with ``--child``):
``runs`` date jobs due at the same instant (added while the scheduler is paused, with no
misfire limit) in each implementation's ``GeventScheduler`` with its default executor and
memory store. The process CPU time from ``resume()`` until every run has been reported
(nothing left counted towards ``max_instances``), divided by the runs, is the figure. Kinds of
run:

- **ok**: the job returns at once;
- **raise**: the job raises a :exc:`ValueError` three frames down;
- **timeout**: the job sleeps longer than its ``timeout`` (greensched only: APScheduler 3.x has
  no job timeouts).

Each kind runs with logging off (the root logger's level above ``ERROR``: the executor's
``Job ... raised an exception`` is not even made) and with a file handler (``os.devnull``, the
default formatter, level ``WARNING``) on the root logger, which formats the traceback of every
failure it logs. Nothing listens for events. Run it and print the table with::

    python bench/bench_failing_runs.py [--runs 2000] [--kinds ok,raise,timeout]
        [--logging off,file]

or one child per test with pytest-benchmark (the figures go into ``extra_info``)::

    pytest bench/bench_failing_runs.py -o python_files='bench_*.py' --benchmark-only
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from _children import LABELS, run_in_child

IMPLEMENTATIONS = ("greensched", "apscheduler")
KINDS = ("ok", "raise", "timeout")
LOGGING = ("off", "file")
RUNS = 2_000
TIMEOUT = 0.05  # seconds a timed-out run is given
PATIENCE = 120.0  # seconds the runs may take before the child gives up


# -- the child side -----------------------------------------------------------------------------


class Counter:
    runs = 0


def ok_job() -> None:
    Counter.runs += 1


def _parse(value: str) -> int:
    return int(value, 16)


def _check(value: str) -> int:
    return _parse(value)


def raising_job() -> None:
    Counter.runs += 1
    _check("not a number")  # ValueError, three frames down


def hung_job() -> None:
    import gevent

    Counter.runs += 1
    gevent.sleep(TIMEOUT * 20)


def child(implementation: str, kind: str, logging_mode: str, runs: int) -> dict[str, Any]:
    """Run ``runs`` runs of ``kind`` and return the figures."""
    from gevent import monkey

    monkey.patch_all()

    import logging
    import os
    from datetime import datetime, timezone

    import gevent

    root = logging.getLogger()
    if logging_mode == "file":
        handler = logging.FileHandler(os.devnull)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        root.addHandler(handler)
        root.setLevel(logging.WARNING)
    else:
        root.setLevel(logging.CRITICAL)

    if implementation == "greensched":
        from greensched.schedulers.gevent import GeventScheduler
    else:
        from apscheduler.schedulers.gevent import GeventScheduler  # type: ignore[no-redef]

    func = {"ok": ok_job, "raise": raising_job, "timeout": hung_job}[kind]
    options: dict[str, Any] = {"misfire_grace_time": None}
    if kind == "timeout":
        options["timeout"] = TIMEOUT
    scheduler = GeventScheduler(timezone="UTC")
    scheduler.start(paused=True)
    due = datetime.now(timezone.utc)
    for number in range(runs):
        scheduler.add_job(func, "date", run_date=due, id=str(number), **options)
    executor = scheduler._lookup_executor("default")
    gevent.sleep(0.01)

    start_cpu, start = time.process_time(), time.perf_counter()
    scheduler.resume()
    deadline = start + PATIENCE
    while Counter.runs < runs or executor._instances:
        if time.perf_counter() > deadline:
            break
        gevent.sleep(0.001)
    cpu, elapsed = time.process_time() - start_cpu, time.perf_counter() - start
    scheduler.shutdown(wait=False)
    return {
        "runs": Counter.runs,
        "reported": Counter.runs if not executor._instances else None,
        "seconds": round(elapsed, 3),
        "cpu_us_per_run": round(cpu / max(Counter.runs, 1) * 1e6, 2),
    }


# -- the parent side ----------------------------------------------------------------------------


def measure(implementation: str, kind: str, logging_mode: str, runs: int) -> dict[str, Any]:
    """The figures of one kind of run for one implementation, from a child process."""
    arguments = [implementation, kind, logging_mode, str(runs)]
    return run_in_child(__file__, arguments, timeout=PATIENCE + 60)


def supported(implementation: str, kind: str) -> bool:
    return not (implementation == "apscheduler" and kind == "timeout")


def measure_all(
    runs: int, kinds: list[str], logging_modes: list[str]
) -> dict[str, dict[str, dict[str, dict[str, Any]]]]:
    """``results[logging_mode][kind][implementation]``; each kind's ``ratio`` to ``ok``."""
    results: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}
    for logging_mode in logging_modes:
        by_kind = results.setdefault(logging_mode, {})
        for kind in dict.fromkeys(["ok", *kinds]):
            for implementation in IMPLEMENTATIONS:
                if supported(implementation, kind):
                    figures = measure(implementation, kind, logging_mode, runs)
                    by_kind.setdefault(kind, {})[implementation] = figures
        for by_impl in by_kind.values():
            for implementation, figures in by_impl.items():
                base = by_kind["ok"][implementation]["cpu_us_per_run"]
                figures["ratio_to_ok"] = round(figures["cpu_us_per_run"] / base, 2)
        if "ok" not in kinds:
            del by_kind["ok"]
    return results


def render(results: dict[str, dict[str, dict[str, dict[str, Any]]]]) -> str:
    lines = [
        "| logging | run | "
        + " | ".join(f"{LABELS[name]} µs CPU per run (÷ ok)" for name in IMPLEMENTATIONS)
        + " |",
        "|---|---|" + "---|" * len(IMPLEMENTATIONS),
    ]
    for logging_mode, by_kind in results.items():
        for kind, by_impl in by_kind.items():
            cells = []
            for name in IMPLEMENTATIONS:
                figures = by_impl.get(name)
                cells.append(
                    "-"
                    if figures is None
                    else f"{figures['cpu_us_per_run']:,.1f} ({figures['ratio_to_ok']:.1f}x)"
                )
            lines.append(f"| {logging_mode} | {kind} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    if argv[:1] == ["--child"]:
        implementation, kind, logging_mode, runs = argv[1:5]
        print(json.dumps(child(implementation, kind, logging_mode, int(runs))))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--logging", default=",".join(LOGGING))
    parser.add_argument("--json", help="write the figures to this file too")
    options = parser.parse_args(argv)
    results = measure_all(options.runs, options.kinds.split(","), options.logging.split(","))
    if options.json:
        with open(options.json, "w") as file:
            json.dump(results, file, indent=2)
    print(render(results))


# -- pytest-benchmark entry points (no pytest import: the child must stay light) ---------------


def pytest_generate_tests(metafunc: Any) -> None:
    cases = [
        (implementation, kind, logging_mode)
        for implementation in IMPLEMENTATIONS
        for kind in KINDS
        for logging_mode in LOGGING
        if supported(implementation, kind)
    ]
    metafunc.parametrize(("implementation", "kind", "logging_mode"), cases)


def test_failing_runs(benchmark: Any, implementation: str, kind: str, logging_mode: str) -> None:
    figures = benchmark.pedantic(
        measure, args=(implementation, kind, logging_mode, RUNS), rounds=1, iterations=1
    )
    benchmark.extra_info.update(figures)


if __name__ == "__main__":
    main(sys.argv[1:])
