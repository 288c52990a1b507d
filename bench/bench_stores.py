"""Persistent job stores side by side with APScheduler 3.11's: API calls and fire rates.

Two parts, on each engine (SQLite file, PostgreSQL, MariaDB, Redis):

1. **API calls** at 10k and 100k stored jobs: ``add_job``, ``update_job`` (a new next run time,
   what ``modify_job`` does) and ``remove_job`` on the store, µs per call (median of
   ``--calls`` calls; greensched's and APScheduler's calls alternate). Both stores get the same table or keys, filled in bulk with the same
   pickled job states (the formats are the same).
2. **Fire rate**: N interval jobs due every second, staggered over the second (N per
   ``--rates``), run by 1, 2 and 4 greensched processes sharing the store and by one
   APScheduler process (APScheduler cannot share a store safely); of the runs due in a window
   of ``--seconds``: the share executed, runs/s, lateness p99, runs executed twice (must be 0),
   CPU time per run, and the longest stall a greenlet waking every millisecond saw in each
   process (the loop or the store's I/O holding the hub).

Run it as a script (tables; ratios against APScheduler measured in the same run)::

    python bench/bench_stores.py [--engines sqlite,postgresql,mariadb,redis]
        [--sizes 10000,100000] [--calls 300] [--rates 5000,10000] [--seconds 5]
        [--processes 1,2,4]

or with pytest-benchmark (figures in ``extra_info``)::

    pytest bench/bench_stores.py -o python_files='bench_*.py' --benchmark-only -s

Servers: the URLs of ``tests/services.py`` (environment variables ``GREENSCHED_TEST_*_URL``).
Each run uses tables / keys of its own and drops them.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _children import LABELS

from tests.services import MARIADB_URL, POSTGRESQL_URL, REDIS_URL, drop_store

ENGINES = ("sqlite", "postgresql", "mariadb", "redis")
IMPLEMENTATIONS = ("greensched", "apscheduler")
EPOCH = datetime(2030, 1, 1, tzinfo=timezone.utc)
#: greensched's claim_limit in the fire-rate runs (None: the store's default)
CLAIM_LIMIT: int | None = None


def tick() -> None:
    """The benchmark jobs' function."""


def engine_url(engine: str, workdir: Path) -> str:
    return {
        "sqlite": f"sqlite:///{workdir / 'bench.sqlite'}",
        "postgresql": POSTGRESQL_URL,
        "mariadb": MARIADB_URL,
        "redis": REDIS_URL,
    }[engine]


def make_store(implementation: str, url: str, name: str, **options: Any) -> Any:
    """A store of ``implementation`` on ``url`` whose table or key prefix is ``name``."""
    if implementation == "greensched":
        from greensched.jobstores._url import store_from_url

        return store_from_url(url, name=name, **options)
    if url.startswith("redis://"):
        from apscheduler.jobstores.redis import RedisJobStore

        return RedisJobStore(
            jobs_key=f"{name}.jobs", run_times_key=f"{name}.run_times", host="127.0.0.1"
        )
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    return SQLAlchemyJobStore(url=url, tablename=name)


class _Scheduler:
    """What a store and a job ask of their scheduler outside a running scheduler."""

    timezone = timezone.utc


def new_job(implementation: str, job_id: str, next_run_time: datetime) -> Any:
    if implementation == "greensched":
        from greensched.job import Job
        from greensched.triggers.interval import IntervalTrigger
    else:
        from apscheduler.job import Job
        from apscheduler.triggers.interval import IntervalTrigger
    trigger = IntervalTrigger(seconds=1, start_date=next_run_time, timezone=timezone.utc)
    return Job(
        _Scheduler(),
        id=job_id,
        func=tick,
        trigger=trigger,
        executor="default",
        args=(),
        kwargs={},
        name="tick",
        misfire_grace_time=3600,
        coalesce=True,
        max_instances=1,
        next_run_time=next_run_time,
    )


def fill(implementation: str, url: str, name: str, count: int, first: datetime) -> None:
    """Store ``count`` jobs due every second from ``first`` on (staggered over the first
    second), in bulk: one pickled state template, ids and run times substituted."""
    store = make_store(implementation, url, name)
    store.start(_Scheduler(), "default")  # creates the table
    state = new_job(implementation, "template", first).__getstate__()
    rows = []
    for index in range(count):
        when = first + timedelta(seconds=(index % 1000) / 1000)
        state["id"] = f"job{index:07d}"
        state["next_run_time"] = when
        state["trigger"].start_date = when
        rows.append((state["id"], when.timestamp(), pickle.dumps(state, 5)))
    if url.startswith("redis://"):
        import redis

        client = redis.Redis.from_url(url)
        for start in range(0, count, 5000):
            chunk = rows[start : start + 5000]
            with client.pipeline() as pipe:
                pipe.hset(f"{name}.jobs", mapping={job_id: data for job_id, _, data in chunk})
                pipe.zadd(f"{name}.run_times", {job_id: ts for job_id, ts, _ in chunk})
                pipe.execute()
        client.close()
    else:
        import sqlalchemy

        engine = sqlalchemy.create_engine(url)
        insert = sqlalchemy.text(
            f"INSERT INTO {name} (id, next_run_time, job_state) VALUES (:id, :ts, :state)"
        )
        with engine.begin() as connection:
            for start in range(0, count, 5000):
                connection.execute(
                    insert,
                    [
                        {"id": job_id, "ts": ts, "state": data}
                        for job_id, ts, data in rows[start : start + 5000]
                    ],
                )
        engine.dispose()
    store.shutdown()


def api_calls(
    implementations: tuple[str, ...], url: str, size: int, calls: int
) -> dict[str, dict[str, float]]:
    """µs per add, update and remove call on a store holding ``size`` jobs, for each
    implementation: their calls alternate (one of each in turn), so that a noisy machine
    slows them alike."""
    names = {impl: f"bench_{secrets.token_hex(4)}" for impl in implementations}
    try:
        stores = {}
        jobs = {}
        for impl in implementations:
            fill(impl, url, names[impl], size, EPOCH)
            stores[impl] = make_store(impl, url, names[impl])
            stores[impl].start(_Scheduler(), "default")
            jobs[impl] = [
                new_job(impl, f"new{index:06d}", EPOCH + timedelta(seconds=index))
                for index in range(calls)
            ]
        figures: dict[str, dict[str, float]] = {impl: {} for impl in implementations}
        for operation in ("add", "update", "remove"):
            durations: dict[str, list[float]] = {impl: [] for impl in implementations}
            for index in range(calls):
                for impl in implementations:
                    store, job = stores[impl], jobs[impl][index]
                    if operation == "update":
                        job.next_run_time += timedelta(days=1)
                    began = time.perf_counter()
                    if operation == "add":
                        store.add_job(job)
                    elif operation == "update":
                        store.update_job(job)
                    else:
                        store.remove_job(job.id)
                    durations[impl].append(time.perf_counter() - began)
            for impl in implementations:
                figures[impl][operation] = round(statistics.median(durations[impl]) * 1e6, 1)
        for store in stores.values():
            store.shutdown()
        return figures
    finally:
        for name in names.values():
            drop_store(url, name)


# -- fire rate ----------------------------------------------------------------------------------


def fire_rate(
    implementation: str,
    url: str,
    processes: int,
    rate: int,
    seconds: float,
    claim_limit: int | None = CLAIM_LIMIT,
    history: str = "on",
) -> dict[str, Any]:
    """Run ``processes`` schedulers of ``implementation`` on ``rate`` jobs due every second,
    staggered over each second, and look at the runs due in a window of ``seconds`` (from one
    second in): the fraction executed, lateness, runs executed twice, CPU per run and the
    longest hub stall. ``history``: greensched's run history ``"on"`` or ``"off"``."""
    name = f"bench_{secrets.token_hex(4)}"
    workdir = Path(tempfile.mkdtemp(prefix="greensched-bench-"))
    try:
        start = time.time() + 3.0 + processes  # the children import and start meanwhile
        fill(implementation, url, name, rate, datetime.fromtimestamp(start, timezone.utc))
        children = [
            subprocess.Popen(
                [
                    sys.executable,
                    str(Path(__file__).resolve()),
                    "--child",
                    implementation,
                    f"--url={url}",
                    f"--name={name}",
                    f"--start={start}",
                    f"--seconds={seconds}",
                    f"--out={workdir / f'child-{index}.json'}",
                    f"--claim-limit={claim_limit or 0}",
                    f"--history={history}",
                ],
                cwd=ROOT,
            )
            for index in range(processes)
        ]
        for child_process in children:
            child_process.wait(timeout=seconds + 180)
        if os.environ.get("GREENSCHED_BENCH_PROFILE"):
            for index in range(processes):
                print(f"profile: {workdir / f'child-{index}.json.prof'}", file=sys.stderr)
        results = [
            json.loads((workdir / f"child-{index}.json").read_text()) for index in range(processes)
        ]
    finally:
        drop_store(url, name)
    window_start, window_end = start + 1, start + 1 + seconds
    executions: dict[tuple[str, float], int] = {}
    lateness = []
    for result in results:
        for job_id, scheduled, started in result["runs"]:
            executions[(job_id, scheduled)] = executions.get((job_id, scheduled), 0) + 1
            if window_start <= scheduled < window_end:
                lateness.append(started - scheduled)
    in_window = sum(1 for _, scheduled in executions if window_start <= scheduled < window_end)
    lateness.sort()
    return {
        "executed_percent": round(100 * in_window / (rate * seconds), 1),
        "runs_per_second": round(in_window / seconds),
        "lateness_p99_ms": round(1000 * lateness[int(0.99 * (len(lateness) - 1))], 1)
        if lateness
        else None,
        "duplicated": sum(count - 1 for count in executions.values()),
        "max_stall_ms": max(r["max_stall_ms"] for r in results),
        "cpu_ms_per_run": round(1000 * sum(r["cpu"] for r in results) / max(1, in_window), 3),
    }


def child(implementation: str, options: argparse.Namespace) -> None:
    """The ``--child`` mode: a monkey-patched scheduler process; writes its runs (job id,
    scheduled time, start time), its CPU time over the window and the longest stall a
    greenlet waking every millisecond saw, as JSON."""
    from gevent import monkey

    monkey.patch_all()
    import gevent

    if implementation == "greensched":
        from greensched.events import EVENT_JOB_EXECUTED
        from greensched.schedulers.gevent import GeventScheduler
    else:
        from apscheduler.events import EVENT_JOB_EXECUTED
        from apscheduler.schedulers.gevent import GeventScheduler

    store_options = (
        {"claim_limit": options.claim_limit}
        if implementation == "greensched" and options.claim_limit
        else {}
    )
    store = make_store(implementation, options.url, options.name, **store_options)
    runs: list[tuple[str, float, float]] = []

    def executed(event: Any) -> None:
        runs.append((event.job_id, round(event.scheduled_run_time.timestamp(), 6), time.time()))

    stalls = [0.0]

    def watch() -> None:
        last = time.perf_counter()
        while True:
            gevent.sleep(0.001)
            now = time.perf_counter()
            stalls[0] = max(stalls[0], now - last)
            last = now

    history = {"history": options.history == "on"} if implementation == "greensched" else {}
    scheduler = GeventScheduler(jobstores={"default": store}, timezone="UTC", **history)
    scheduler.add_listener(executed, EVENT_JOB_EXECUTED)
    scheduler.start()
    # the window starts one second in (the first runs are staggered over the first second)
    gevent.sleep(max(options.start + 1 - time.time(), 0))
    watcher = gevent.spawn(watch)
    profiler = None
    if os.environ.get("GREENSCHED_BENCH_PROFILE"):  # a cProfile of the window, beside --out
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    gevent.sleep(options.seconds)
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(options.out + ".prof")
    watcher.kill()
    gevent.sleep(1)  # the window's last runs
    scheduler.shutdown(wait=False)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    Path(options.out).write_text(
        json.dumps({"runs": runs, "cpu": cpu, "max_stall_ms": round(stalls[0] * 1000, 1)})
    )


# -- reports ------------------------------------------------------------------------------------


def ratio(greensched: float, peer: float, lower_is_better: bool = True) -> str:
    if not greensched or not peer:
        return "—"
    value = peer / greensched if lower_is_better else greensched / peer
    return f"{value:.1f}x"


def run_all(options: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="greensched-bench-"))
    print("### API calls (µs per call, median)\n")
    print("| engine | jobs | call | greensched | APScheduler 3.11 | speedup |")
    print("|---|---:|---|---:|---:|---:|")
    for engine in options.engines:
        url = engine_url(engine, workdir)
        for size in options.sizes:
            figures = api_calls(IMPLEMENTATIONS, url, size, options.calls)
            for operation in ("add", "update", "remove"):
                ours, theirs = figures["greensched"][operation], figures["apscheduler"][operation]
                print(
                    f"| {engine} | {size:,} | {operation} | {ours} | {theirs} | "
                    f"{ratio(ours, theirs)} |",
                    flush=True,
                )
    print("\n### Fire rate (N jobs due every second, staggered; runs due in the window)\n")
    print(
        "| engine | implementation | history | processes | due runs/s | executed | runs/s "
        "| lateness p99 ms | executed twice | CPU ms per run | longest hub stall ms |"
    )
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    variants = ["off", "on"] if options.history == "both" else [options.history]
    for engine in options.engines:
        url = engine_url(engine, workdir)
        for rate in options.rates:
            runs = [("apscheduler", 1, "—")] + [
                ("greensched", count, variant)
                for count in options.processes
                for variant in variants
            ]
            for implementation, count, variant in runs:
                figures = fire_rate(
                    implementation,
                    url,
                    count,
                    rate,
                    options.seconds,
                    options.claim_limit,
                    variant if implementation == "greensched" else "off",
                )
                print(
                    f"| {engine} | {LABELS[implementation]} | {variant} | {count} | {rate:,} | "
                    f"{figures['executed_percent']}% | {figures['runs_per_second']:,} | "
                    f"{figures['lateness_p99_ms']} | {figures['duplicated']} | "
                    f"{figures['cpu_ms_per_run']} | {figures['max_stall_ms']} |",
                    flush=True,
                )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--child", choices=IMPLEMENTATIONS)
    parser.add_argument("--url")
    parser.add_argument("--name")
    parser.add_argument("--start", type=float)
    parser.add_argument("--out")
    parser.add_argument("--engines", type=lambda s: s.split(","), default=list(ENGINES))
    parser.add_argument(
        "--sizes",
        type=lambda s: [int(x) for x in s.split(",") if x],
        default=[10_000, 100_000],
        help="stored jobs for the API calls (empty: no API calls)",
    )
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--claim-limit", type=int, default=CLAIM_LIMIT, help="0: the default")
    parser.add_argument(
        "--rates",
        type=lambda s: [int(x) for x in s.split(",") if x],
        default=[5_000, 10_000],
        help="due runs per second of the fire-rate part (empty: no fire rates)",
    )
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument(
        "--history",
        choices=("on", "off", "both"),
        default="on",
        help="greensched's run history in the fire-rate runs (both: each rate with it off, on)",
    )
    parser.add_argument(
        "--processes", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2, 4]
    )
    return parser.parse_args(argv)


# -- pytest-benchmark ---------------------------------------------------------------------------


def _benchmark_once(benchmark: Any, measure: Callable[[], dict[str, Any]], **info: Any) -> None:
    figures: dict[str, Any] = {}
    benchmark.pedantic(lambda: figures.update(measure()), rounds=1, iterations=1)
    benchmark.extra_info.update(info)
    benchmark.extra_info.update(figures)


try:
    import pytest
except ImportError:  # the script runs without pytest
    pass
else:

    @pytest.fixture(scope="module")
    def workdir(tmp_path_factory: Any) -> Path:
        path: Path = tmp_path_factory.mktemp("stores")
        return path

    @pytest.mark.parametrize("engine", ENGINES)
    @pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
    @pytest.mark.parametrize("size", [10_000, 100_000])
    def bench_api_calls(
        benchmark: Any, workdir: Path, engine: str, implementation: str, size: int
    ) -> None:
        url = engine_url(engine, workdir)
        _benchmark_once(
            benchmark,
            lambda: api_calls((implementation,), url, size, 300)[implementation],
            operation="api_calls",
            implementation=implementation,
            size=size,
            engine=engine,
        )

    @pytest.mark.parametrize("engine", ENGINES)
    @pytest.mark.parametrize("rate", [5_000, 10_000])
    @pytest.mark.parametrize(
        ("implementation", "processes"),
        [("apscheduler", 1), ("greensched", 1), ("greensched", 2), ("greensched", 4)],
    )
    def bench_fire_rate(
        benchmark: Any,
        workdir: Path,
        engine: str,
        rate: int,
        implementation: str,
        processes: int,
    ) -> None:
        url = engine_url(engine, workdir)
        _benchmark_once(
            benchmark,
            lambda: fire_rate(implementation, url, processes, rate, 5.0),
            operation="fire_rate",
            implementation=implementation,
            processes=processes,
            rate=rate,
            engine=engine,
        )


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.child:
        child(arguments.child, arguments)
    else:
        run_all(arguments)
