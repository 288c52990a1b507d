"""What the run history costs the hot loop: greensched with its history off and on, and
APScheduler 3.11 (which has none) as the reference, side by side.

The scenario is bench_hotloop.py's interval scenario (``rate`` interval jobs, each every
second, their first run times spread over a second: ``rate`` due runs a second, in fresh
monkey-patched child interpreters, each implementation's ``GeventScheduler`` with its default
executor), on the memory store by default or on the store ``--store URL`` names (a table or
key prefix ``bench_history_<pid>`` of its own, emptied at the end but left in place; the job
function is then stored by reference, through :func:`fire`). The figure is the process
CPU time per executed run over the measuring window, and the fraction of the due runs that
executed. With the history on, every run is recorded (a running record at its start, closed
at its end): the child checks that the history holds a record for each run it counted.

Each (implementation, variant) child runs ``--repeat`` times, alternating the order (the
noise of a shared machine); the table shows the median CPU per run.

Run it with::

    python bench/bench_history.py [--rates 10000] [--seconds 5] [--repeat 3]
        [--store URL] [--json FILE]

or one child per test with pytest-benchmark (figures in ``extra_info``)::

    pytest bench/bench_history.py -o python_files='bench_*.py' --benchmark-only
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path
from typing import Any

from _children import describe_machine, run_in_child

#: (implementation, variant): greensched with its history off and on, APScheduler as it is
CHILDREN = (("greensched", "off"), ("greensched", "on"), ("apscheduler", "none"))
RATES = (10_000,)
SECONDS = 5.0
REPEAT = 3


#: the job function of the running child's scenario (a persistent store needs a reference)
_FIRE: Any = None


def fire(*args: Any) -> None:
    """The job function stored by reference (``--store``): calls the scenario's own."""
    _FIRE(*args)


def child(
    implementation: str,
    variant: str,
    rate: int,
    seconds: float,
    warmup: float,
    grace: float,
    store_url: str | None,
) -> dict[str, Any]:
    """One interval run (bench_hotloop's) with the history ``variant``; return its figures."""
    import bench_hotloop

    made: list[Any] = []
    original = bench_hotloop.setup_child

    def setup(implementation: str) -> tuple[Any, dict[str, int]]:
        scheduler, warnings = original(implementation)
        if implementation == "greensched":
            options: dict[str, Any] = {"timezone": "UTC", "history": variant == "on"}
            if store_url:
                from greensched.jobstores._url import store_from_url

                store = store_from_url(store_url, name=f"bench_history_{os.getpid()}")
                options["jobstores"] = {"default": store}
            scheduler.configure(**options)
            if store_url:
                add_job = scheduler.add_job

                def add_job_by_reference(func: Any, *args: Any, **kwargs: Any) -> Any:
                    global _FIRE
                    _FIRE = func
                    return add_job(fire, *args, **kwargs)

                scheduler.add_job = add_job_by_reference
        made.append(scheduler)
        return scheduler, warnings

    bench_hotloop.setup_child = setup  # child_interval makes its scheduler through it
    figures = bench_hotloop.child_interval(
        implementation, rate, seconds, warmup=warmup, grace=grace
    )
    figures["variant"] = variant
    if implementation == "greensched":
        [scheduler] = made
        recorded = scheduler.get_runs(limit=10**8)
        figures["recorded"] = len(recorded)
        figures["recorded_running"] = sum(record.outcome == "running" for record in recorded)
        if store_url:
            scheduler.remove_all_jobs()
            scheduler.jobstores["default"].runs.clear()
    return figures


def measure(
    implementation: str,
    variant: str,
    rate: int,
    seconds: float,
    warmup: float,
    grace: float,
    store_url: str | None,
) -> dict[str, Any]:
    """One child run: this file with ``--child``, in a fresh interpreter."""
    arguments = [implementation, variant, str(rate), str(seconds), str(warmup), str(grace)]
    arguments.append(store_url or "")
    return run_in_child(__file__, arguments, timeout=seconds + warmup + grace + rate * 1e-3 + 120)


def median_cpu(runs: list[dict[str, Any]]) -> float | None:
    values = [run["cpu_us_per_run"] for run in runs if run["cpu_us_per_run"] is not None]
    return statistics.median(values) if values else None


def render(results: dict[int, dict[tuple[str, str], list[dict[str, Any]]]], store: str) -> str:
    """The table: median CPU per run off and on, their ratio, APScheduler's, and the fraction
    of due runs executed (the lowest of the repeats)."""
    lines = [
        (
            f"Store: {store}. CPU µs per executed run (median of the repeats); executed: the "
            "lowest fraction of the due runs executed."
        ),
        "",
        (
            "| runs/s | greensched history off | history on | on ÷ off | APScheduler 3.11 "
            "| executed off / on / APS |"
        ),
        "|---|---|---|---|---|---|",
    ]
    for rate, by_child in results.items():
        off = median_cpu(by_child[("greensched", "off")])
        on = median_cpu(by_child[("greensched", "on")])
        aps = median_cpu(by_child.get(("apscheduler", "none"), []))
        ratio = f"{on / off:.2f}" if on is not None and off else "-"

        def executed(key: tuple[str, str], by_child: Any = by_child) -> str:
            runs = by_child.get(key)
            if not runs:
                return "-"
            return f"{min(run['executed_fraction'] or 0.0 for run in runs):.3f}"

        def cell(value: float | None) -> str:
            return "-" if value is None else f"{value:.2f}"

        fractions = " / ".join(executed(key) for key in CHILDREN)
        lines.append(
            f"| {rate:,} | {cell(off)} | {cell(on)} | {ratio} | {cell(aps)} | {fractions} |"
        )
    return "\n".join(lines)


# -- pytest-benchmark entry point (no pytest import: see bench_hotloop.py)


def pytest_generate_tests(metafunc: Any) -> None:
    metafunc.parametrize("rate", RATES)
    metafunc.parametrize(("implementation", "variant"), CHILDREN)


def test_interval(benchmark: Any, implementation: str, variant: str, rate: int) -> None:
    figures = benchmark.pedantic(
        measure,
        args=(implementation, variant, rate, SECONDS, 1.0, 1.5, None),
        rounds=1,
        iterations=1,
    )
    benchmark.extra_info.update(figures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument(
        "--rates",
        type=lambda text: [int(part) for part in text.split(",") if part],
        default=list(RATES),
        help="due runs a second, comma-separated",
    )
    parser.add_argument("--seconds", type=float, default=SECONDS, help="measuring window")
    parser.add_argument("--warmup", type=float, default=1.0, help="before the window")
    parser.add_argument("--grace", type=float, default=1.5, help="after it, for late runs")
    parser.add_argument("--repeat", type=int, default=REPEAT, help="children per variant")
    parser.add_argument("--store", help="a job store URL (default: the memory store)")
    parser.add_argument(
        "--no-apscheduler", action="store_true", help="skip APScheduler's reference"
    )
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument("--child", nargs=7, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        implementation, variant, rate, seconds, warmup, grace, url = options.child
        figures = child(
            implementation, variant, int(rate), float(seconds), float(warmup), float(grace),
            url or None,
        )  # fmt: skip
        print(json.dumps(figures), flush=True)
        return
    children = [c for c in CHILDREN if not (options.no_apscheduler and c[0] == "apscheduler")]
    results: dict[int, dict[tuple[str, str], list[dict[str, Any]]]] = {}
    for rate in options.rates:
        results[rate] = {key: [] for key in children}
        for number in range(options.repeat):
            # Alternate the order: the noise of a shared machine
            for key in children if number % 2 == 0 else children[::-1]:
                figures = measure(
                    *key, rate, options.seconds, options.warmup, options.grace, options.store
                )
                results[rate][key].append(figures)
    if options.json:
        flat = [run for by_child in results.values() for runs in by_child.values() for run in runs]
        options.json.write_text(json.dumps(flat, indent=2) + "\n", encoding="utf-8")
    print(render(results, options.store or "memory"))
    print(f"\n{describe_machine()}", file=sys.stderr)


if __name__ == "__main__":
    main()
