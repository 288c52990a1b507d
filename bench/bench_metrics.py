"""What Prometheus metrics cost the hot loop: greensched with ``SchedulerMetrics`` attached,
and APScheduler 3.11 with a listener that keeps the same counters, side by side.

The scenario is bench_hotloop.py's burst (``n`` date jobs due at the same instant, each
implementation's ``GeventScheduler`` with its default executor and memory store, in fresh
monkey-patched child interpreters), without a listener (``bare``) and with metrics
(``metrics``). Each child drains two bursts: the first with job ids the metrics have not seen
(each id makes new labelled series), the second with the same ids again (as recurring jobs
are). The figure is the process CPU time per job from ``resume()`` until the last job of the
burst has run.

The metrics are greensched's: ``greensched_runs_total{job,outcome}`` for every run submitted,
executed, failed, missed or refused, the run lateness histogram, the loop lag gauge, and the
run duration histogram per job. APScheduler's listener keeps the same counters, lateness and
lag from its events; its events carry no run duration, so it has no duration histogram (it
does a little less work).

Run it with::

    python bench/bench_metrics.py [--sizes 10000,50000]

or one child per test with pytest-benchmark (figures in ``extra_info``)::

    pytest bench/bench_metrics.py -o python_files='bench_*.py' --benchmark-only
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from _children import run_in_child
from bench_hotloop import BURST_PATIENCE, Figures, Window, add_burst, setup_child, wait_for_runs

IMPLEMENTATIONS = ("greensched", "apscheduler")
VARIANTS = ("bare", "metrics")
SIZES = (10_000, 50_000)


def attach_apscheduler_metrics(scheduler: Any) -> None:
    """APScheduler's counterpart of ``SchedulerMetrics``: the same counters, lateness and lag
    from its events (no duration: its events do not carry one)."""
    from apscheduler import events
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

    registry = CollectorRegistry()
    runs = Counter("runs", "", ["job", "outcome"], registry=registry)
    lateness = Histogram("lateness_seconds", "", registry=registry)
    lag = Gauge("loop_lag_seconds", "", registry=registry)
    outcomes = {
        events.EVENT_JOB_EXECUTED: "executed",
        events.EVENT_JOB_ERROR: "failed",
        events.EVENT_JOB_MISSED: "missed",
    }

    def listener(event: Any) -> None:
        code = event.code
        if code in (events.EVENT_JOB_SUBMITTED, events.EVENT_JOB_MAX_INSTANCES):
            outcome = "submitted" if code == events.EVENT_JOB_SUBMITTED else "max_instances"
            runs.labels(event.job_id, outcome).inc(len(event.scheduled_run_times))
            if code == events.EVENT_JOB_SUBMITTED:
                late = datetime.now(timezone.utc) - max(event.scheduled_run_times)
                lag.set(max(late.total_seconds(), 0.0))
            return
        runs.labels(event.job_id, outcomes[code]).inc()
        if code != events.EVENT_JOB_MISSED:
            late = datetime.now(timezone.utc) - event.scheduled_run_time
            lateness.observe(max(late.total_seconds(), 0.0))

    mask = (
        events.EVENT_JOB_SUBMITTED
        | events.EVENT_JOB_MAX_INSTANCES
        | events.EVENT_JOB_EXECUTED
        | events.EVENT_JOB_ERROR
        | events.EVENT_JOB_MISSED
    )
    scheduler.add_listener(listener, mask)


def child(implementation: str, variant: str, size: int) -> dict[str, Any]:
    """One drained burst (see the module docstring); return its figures."""
    import gc

    scheduler, warnings = setup_child(implementation)
    if variant == "metrics":
        if implementation == "greensched":
            from prometheus_client import CollectorRegistry

            from greensched.metrics import SchedulerMetrics

            SchedulerMetrics(scheduler, CollectorRegistry())
        else:
            attach_apscheduler_metrics(scheduler)
    figures = Figures()
    wall = time.time

    def fire() -> None:
        figures.runs += 1
        figures.last_run = wall()

    def burst() -> dict[str, Any]:
        """Add the jobs while paused, resume, wait for every run; the CPU figures."""
        scheduler.pause()
        add_burst(scheduler, fire, size)
        gc.collect()
        target = figures.runs + size
        window = Window(figures, None)
        scheduler.resume()
        wait_for_runs(figures, target, window)
        usage = window.close()
        usage["executed"] = size - (target - figures.runs)
        return usage

    scheduler.start(paused=True)
    first = burst()  # job ids the metrics have not seen
    second = burst()  # the same ids again: their metrics exist
    scheduler.shutdown(wait=False)
    return {
        "implementation": implementation,
        "variant": variant,
        "size": size,
        "executed": first["executed"] + second["executed"],
        "cpu_us_per_run_new_ids": first["cpu_us_per_run"],
        "cpu_us_per_run_known_ids": second["cpu_us_per_run"],
        **warnings,
    }


def measure(implementation: str, variant: str, size: int) -> dict[str, Any]:
    """One child run: this file with ``--child``, in a fresh interpreter."""
    return run_in_child(
        __file__, [implementation, variant, str(size)], BURST_PATIENCE + size * 1e-3 + 120
    )


def render(results: dict[int, dict[tuple[str, str], dict[str, Any]]]) -> str:
    """The table: CPU per job bare and with metrics, for each implementation, and the ratios."""
    lines = [
        (
            "| due jobs | job ids | greensched µs/job: bare → metrics "
            "| APScheduler µs/job: bare → metrics | with metrics: APS ÷ greensched |"
        ),
        "|---|---|---|---|---|",
    ]
    for size, runs in results.items():
        if not all(figures["executed"] == 2 * size for figures in runs.values()):
            lines.append(f"| {size:,} | NOT ALL RUNS EXECUTED | | | |")
            continue
        for ids in ("new", "known"):

            def cpu(implementation: str, variant: str, runs: Any = runs, ids: str = ids) -> float:
                return float(runs[(implementation, variant)][f"cpu_us_per_run_{ids}_ids"])

            ours = f"{cpu('greensched', 'bare'):.2f} → {cpu('greensched', 'metrics'):.2f}"
            theirs = f"{cpu('apscheduler', 'bare'):.2f} → {cpu('apscheduler', 'metrics'):.2f}"
            ratio = cpu("apscheduler", "metrics") / cpu("greensched", "metrics")
            lines.append(f"| {size:,} | {ids} | {ours} | {theirs} | {ratio:.1f}x |")
    return "\n".join(lines)


# -- pytest-benchmark entry point (no pytest import: see bench_hotloop.py)


def pytest_generate_tests(metafunc: Any) -> None:
    metafunc.parametrize("size", SIZES)
    metafunc.parametrize("variant", VARIANTS)
    metafunc.parametrize("implementation", IMPLEMENTATIONS)


def test_burst(benchmark: Any, implementation: str, variant: str, size: int) -> None:
    figures = benchmark.pedantic(
        measure, args=(implementation, variant, size), rounds=1, iterations=1
    )
    benchmark.extra_info.update(figures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument(
        "--sizes",
        type=lambda text: [int(part) for part in text.split(",") if part],
        default=list(SIZES),
        help="burst sizes, comma-separated",
    )
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        implementation, variant, size = options.child
        print(json.dumps(child(implementation, variant, int(size))), flush=True)
        return
    results: dict[int, dict[tuple[str, str], dict[str, Any]]] = {}
    for number, size in enumerate(options.sizes):
        results[size] = {}
        pairs = [(i, v) for i in IMPLEMENTATIONS for v in VARIANTS]
        # Alternate the order: the noise of a shared machine
        for implementation, variant in pairs if number % 2 == 0 else pairs[::-1]:
            results[size][(implementation, variant)] = measure(implementation, variant, size)
    if options.json:
        flat = [figures for runs in results.values() for figures in runs.values()]
        options.json.write_text(json.dumps(flat, indent=2) + "\n", encoding="utf-8")
    print(render(results))


if __name__ == "__main__":
    main()
