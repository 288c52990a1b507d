"""The job API at scale under greensched and under APScheduler 3.11 (scenario 3 of
``bench_hotloop.py``, which prints it in its table).

With ``n`` jobs in the memory store of a started ``GeventScheduler`` (a no-op function, an
interval trigger, no arguments; first run times a day away, one millisecond apart), each in a
fresh monkey-patched child interpreter, it measures:

* ``add_job``: the mean time per call while the ``n`` jobs are added (in run time order, so
  that each of APScheduler's sorted-list insertions is an append);
* ``modify_job``: the mean time per call of ``modify_job(job_id, next_run_time=t)`` on
  ``CALLS`` random jobs and random times within the span of the jobs (it moves each job in
  the store, as ``reschedule_job``, ``pause_job`` and ``resume_job`` do);
* ``remove_job``: the mean time per call of ``remove_job`` on ``CALLS`` other random jobs;
* the resident memory per job: the growth of the process's resident set size
  (``/proc/self/statm``) while the jobs are added, after a garbage collection, divided by
  ``n``;
* the same, in another child, for jobs that each bring their own string id and an explicit
  ``next_run_time``, both made as the job is added (``add_job(..., id=f"job-{i:07d}",
  next_run_time=origin + i * step)``): what a program that names and schedules its jobs pays.

With ``--burst``, it measures instead a burst of ``n`` date jobs (a no-op function, all due at
once, a second in the past) added to a ``GeventScheduler`` before ``start()`` and then run
(``max_instances`` jobs at a time in the greenlet pool): the seconds to add them, the seconds from
``start()`` until the last one has run, and the CPU time of both per job; with ids (``--ids
with``), without (``--ids without``: generated ids) or both.

Run it alone with ``python bench/bench_api_scale.py [--sizes 10000,100000,1000000]``, or as
pytest-benchmark tests: ``pytest bench/bench_api_scale.py -o python_files='bench_*.py'
--benchmark-only``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from _children import LABELS, run_in_child

IMPLEMENTATIONS = ("greensched", "apscheduler")
SIZES = (10_000, 100_000, 1_000_000)
CALLS = 2_000  # modify_job and remove_job calls timed (at most n / 2 each)
SEED = 5


def noop() -> None:
    """The job function."""


def resident_bytes() -> int:
    """The resident set size of this process (Linux)."""
    import os

    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def started_scheduler(implementation: str) -> Any:
    """Patch this (child) process, then make and start the implementation's
    ``GeventScheduler`` (UTC) with its default memory store."""
    from gevent import monkey

    monkey.patch_all()

    if implementation == "greensched":
        from greensched.schedulers.gevent import GeventScheduler

        scheduler: Any = GeventScheduler(timezone="UTC")
    else:
        from apscheduler.schedulers.gevent import GeventScheduler as APSGeventScheduler

        scheduler = APSGeventScheduler(timezone="UTC")
    scheduler.start()
    return scheduler


def child(implementation: str, size: int) -> dict[str, Any]:
    """Measure in this (child) process; see the module docstring."""
    scheduler = started_scheduler(implementation)

    import gc
    import random
    from datetime import datetime, timedelta, timezone

    origin = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=1)
    step = timedelta(milliseconds=1)
    ids = [f"{index:07d}" for index in range(size)]
    firsts = [origin + index * step for index in range(size)]
    calls = min(CALLS, size // 2)
    rng = random.Random(SEED)
    chosen = rng.sample(ids, 2 * calls)
    modified, removed = chosen[:calls], chosen[calls:]
    new_times = [origin + rng.random() * size * step for _ in range(calls)]
    gc.collect()
    resident_before = resident_bytes()

    add_job = scheduler.add_job
    started = time.perf_counter()
    for job_id, first in zip(ids, firsts):
        add_job(noop, "interval", hours=1, start_date=first, id=job_id)
    add_seconds = time.perf_counter() - started
    del firsts
    gc.collect()
    resident_per_job = (resident_bytes() - resident_before) / size

    modify_job = scheduler.modify_job
    started = time.perf_counter()
    for job_id, new_time in zip(modified, new_times):
        modify_job(job_id, next_run_time=new_time)
    modify_seconds = time.perf_counter() - started

    remove_job = scheduler.remove_job
    started = time.perf_counter()
    for job_id in removed:
        remove_job(job_id)
    remove_seconds = time.perf_counter() - started

    assert len(scheduler.get_jobs()) == size - calls
    scheduler.shutdown(wait=False)
    return {
        "scenario": "api",
        "implementation": implementation,
        "size": size,
        "calls": calls,
        "add_us": round(add_seconds / size * 1e6, 2),
        "modify_us": round(modify_seconds / calls * 1e6, 2),
        "remove_us": round(remove_seconds / calls * 1e6, 2),
        "resident_bytes_per_job": round(resident_per_job),
    }


def explicit_child(implementation: str, size: int) -> dict[str, Any]:
    """The resident memory per job of jobs added with a string id and a ``next_run_time`` of
    their own, made as each is added (see the module docstring)."""
    scheduler = started_scheduler(implementation)

    import gc
    from datetime import datetime, timedelta, timezone

    origin = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=1)
    step = timedelta(milliseconds=1)
    add_job = scheduler.add_job
    gc.collect()
    resident_before = resident_bytes()
    for index in range(size):
        add_job(
            noop, "interval", hours=1, id=f"job-{index:07d}", next_run_time=origin + index * step
        )
    gc.collect()
    resident_per_job = (resident_bytes() - resident_before) / size
    scheduler.shutdown(wait=False)
    return {"resident_bytes_per_job_explicit": round(resident_per_job)}


def burst_child(implementation: str, size: int, with_ids: bool) -> dict[str, Any]:
    """Measure a burst in this (child) process; see the module docstring."""
    from gevent import monkey

    monkey.patch_all()

    import gc
    from datetime import datetime, timedelta, timezone

    import gevent

    done = [0]

    def count() -> None:
        done[0] += 1

    defaults = {"misfire_grace_time": None}  # none of the burst is missed, however long it takes
    scheduler: Any
    if implementation == "greensched":
        from greensched.schedulers.gevent import GeventScheduler

        scheduler = GeventScheduler(timezone="UTC", job_defaults=defaults)
    else:
        from apscheduler.schedulers.gevent import GeventScheduler as APSGeventScheduler

        scheduler = APSGeventScheduler(timezone="UTC", job_defaults=defaults)
    run_date = datetime.now(timezone.utc) - timedelta(seconds=1)
    ids = [f"{index:07d}" for index in range(size)] if with_ids else [None] * size
    gc.collect()
    add_job = scheduler.add_job
    started, cpu_started = time.perf_counter(), time.process_time()
    for job_id in ids:
        add_job(count, "date", run_date=run_date, id=job_id)
    add_seconds = time.perf_counter() - started
    add_cpu = time.process_time() - cpu_started
    started, cpu_started = time.perf_counter(), time.process_time()
    scheduler.start()
    while done[0] < size:
        gevent.sleep(0.005)
    run_seconds = time.perf_counter() - started
    run_cpu = time.process_time() - cpu_started
    scheduler.shutdown(wait=False)
    return {
        "scenario": "burst",
        "implementation": implementation,
        "size": size,
        "ids": "with" if with_ids else "without",
        "add_s": round(add_seconds, 2),
        "run_s": round(run_seconds, 2),
        "total_s": round(add_seconds + run_seconds, 2),
        "add_cpu_us": round(add_cpu / size * 1e6, 2),
        "run_cpu_us": round(run_cpu / size * 1e6, 2),
    }


def measure(implementation: str, size: int, burst: str | None = None) -> dict[str, Any]:
    """Scenario 3 (or a burst, with ``burst`` ``'with'`` or ``'without'`` ids) for one
    implementation and size, in a child process."""

    def run(*extra: str) -> dict[str, Any]:
        return run_in_child(__file__, [implementation, str(size), *extra], 600)

    if burst is not None:
        return run("--burst", "--ids", burst)
    return {**run(), **run("--explicit")}


# pytest-benchmark entry points, without importing pytest (the --child mode must not load it
# before patching)


def pytest_generate_tests(metafunc: Any) -> None:
    metafunc.parametrize("size", SIZES, ids=[f"{size:_}" for size in SIZES])
    metafunc.parametrize("implementation", IMPLEMENTATIONS)


def test_api_scale(benchmark: Any, implementation: str, size: int) -> None:
    figures = benchmark.pedantic(measure, args=(implementation, size), rounds=1, iterations=1)
    benchmark.extra_info.update(figures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--burst", action="store_true", help="a burst of date jobs, run")
    parser.add_argument("--ids", choices=("with", "without", "both"), default="both")
    parser.add_argument(
        "--implementations", default=",".join(IMPLEMENTATIONS), help="which, in this order"
    )
    parser.add_argument(
        "--apscheduler-max",
        type=int,
        default=100_000,
        help="bursts: the largest APScheduler adds and runs (a million takes it minutes)",
    )
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--explicit", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        implementation, size = options.child
        if options.explicit:
            figures = explicit_child(implementation, int(size))
        elif options.burst:
            figures = burst_child(implementation, int(size), options.ids == "with")
        else:
            figures = child(implementation, int(size))
        print(json.dumps(figures), flush=True)
        return
    id_modes = ("with", "without") if options.ids == "both" else (options.ids,)
    bursts: list[dict[str, Any]] = []
    for size in (int(size) for size in options.sizes.split(",")):
        for implementation in options.implementations.split(","):
            if not options.burst:
                print(json.dumps(measure(implementation, size)), flush=True)
                continue
            if implementation == "apscheduler" and size > options.apscheduler_max:
                continue
            for ids in id_modes:
                figures = measure(implementation, size, ids)
                print(json.dumps(figures), file=sys.stderr, flush=True)
                bursts.append(figures)
    if options.burst:
        print(render_bursts(bursts))


def render_bursts(runs: list[dict[str, Any]]) -> str:
    """The markdown table of the burst runs (one row per run)."""
    lines = [
        (
            "Date jobs due at once, added before `start()` (with ids in order, or without "
            "ids: generated), then run to the last; seconds, and CPU µs per job."
        ),
        "",
        "| jobs | implementation | ids | add s | run s | add + run s | add CPU µs | run CPU µs |",
        "|---:|---|---|---:|---:|---:|---:|---:|",
    ]
    lines.extend(
        f"| {run['size']:,} | {LABELS[run['implementation']]} | {run['ids']} | {run['add_s']} "
        f"| {run['run_s']} | {run['total_s']} | {run['add_cpu_us']} | {run['run_cpu_us']} |"
        for run in runs
    )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
