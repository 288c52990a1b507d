"""Memory job store: greensched's heap side by side with APScheduler 3.11's sorted list.

Run with ``pytest bench/bench_memory_store.py --benchmark-only`` (or ``tox -e bench``); add
``--benchmark-json=out.json`` and run ``python bench/report.py out.json`` for a table.

Each store is built once per implementation and size (module-scoped fixture: only one is alive
at a time) with jobs at ``T0 + i`` seconds, ``i`` in ``range(n)``. Every benchmark leaves the
store as it found it (the layout, not necessarily the internal state). What is timed is one
store call per round (``add``, ``update``, ``remove``; the preparation of each call, in
pytest-benchmark's ``setup`` hook, is not timed), one ``get_due_jobs`` call returning ``DUE``
jobs, or one scheduler cycle (``fire``: take the ``DUE`` due jobs, give each its next run time
``n`` seconds later, ask for the next run time), which keeps the layout periodic. The garbage
collector stays on, as in a real program.

APScheduler's store is filled by calling its own ``add_job`` in ascending time order: its list
ends up exactly as with any other insertion order, each insertion is an append, so the 1M
setup takes seconds instead of the hours of random-order ``insort`` calls.
"""

from __future__ import annotations

import gc
import random
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from apscheduler.jobstores.memory import MemoryJobStore as APSMemoryJobStore

from greensched.job import Job
from greensched.jobstores.memory import MemoryJobStore

SIZES = (10_000, 100_000, 1_000_000)
IMPLEMENTATIONS = ("greensched", "apscheduler")
DUE = 100  # due jobs per get_due_jobs call and per fire cycle
T0 = datetime(2030, 1, 1, tzinfo=timezone.utc)
SEED = 3011

# Rounds per benchmark. greensched's removals and updates leave stale heap items that a
# compaction clears once they outnumber the live ones: those two benchmarks run more rounds
# than there are jobs, so that the mean includes at least one compaction (the amortized cost).
# APScheduler's O(n) operations get fewer rounds at large sizes, to keep the run short.
ROUNDS = {
    ("greensched", 10_000): 3000,
    ("greensched", 100_000): 3000,
    ("greensched", 1_000_000): 3000,
    ("apscheduler", 10_000): 3000,
    ("apscheduler", 100_000): 1000,
    ("apscheduler", 1_000_000): 200,
}
FIRE_ROUNDS = {
    ("greensched", 10_000): 300,
    ("greensched", 100_000): 300,
    ("greensched", 1_000_000): 300,
    ("apscheduler", 10_000): 200,
    ("apscheduler", 100_000): 30,
    ("apscheduler", 1_000_000): 5,
}


def stale_making_rounds(implementation: str, size: int) -> int:
    """Rounds for the update and remove benchmarks."""
    if implementation == "greensched":
        return size + size // 5
    return ROUNDS[implementation, size]


def make_job(job_id: str, next_run_time: datetime) -> Job:
    """A job with just what a memory store reads (``id``, ``next_run_time``); both stores
    get the same kind of object."""
    job = Job.__new__(Job)
    job.id = job_id
    job.next_run_time = next_run_time
    return job


class StoreBench:
    """A filled store, and where its layout currently starts."""

    def __init__(self, implementation: str, size: int) -> None:
        self.implementation = implementation
        self.size = size
        self.rounds = ROUNDS[implementation, size]
        self.long_rounds = stale_making_rounds(implementation, size)
        self.fire_rounds = FIRE_ROUNDS[implementation, size]
        self.rng = random.Random(SEED)
        self.jobs = [
            make_job(f"job{index:07d}", T0 + timedelta(seconds=index)) for index in range(size)
        ]
        self.base = 0  # the earliest run time is T0 + base seconds
        self.store: Any
        if implementation == "greensched":
            self.store = MemoryJobStore()
            order = list(self.jobs)
            self.rng.shuffle(order)
        else:
            self.store = APSMemoryJobStore()
            order = self.jobs  # ascending: each insort is an append
        add_job = self.store.add_job
        for job in order:
            add_job(job)

    def random_time(self) -> datetime:
        """A time drawn uniformly from the span the jobs currently cover."""
        return T0 + timedelta(seconds=self.base + self.rng.random() * self.size)

    def random_job(self) -> Job:
        return self.jobs[self.rng.randrange(self.size)]

    def tag(self, benchmark: Any, operation: str, jobs_per_call: int = 1) -> None:
        benchmark.group = f"{operation} n={self.size:,}"
        benchmark.extra_info.update(
            implementation=self.implementation,
            size=self.size,
            operation=operation,
            jobs_per_call=jobs_per_call,
        )


@pytest.fixture(
    scope="module",
    params=[(implementation, size) for size in SIZES for implementation in IMPLEMENTATIONS],
    ids=lambda param: f"{param[0]}-{param[1]:_}",
)
def bench(request: pytest.FixtureRequest) -> Iterator[StoreBench]:
    state = StoreBench(*request.param)
    gc.collect()
    yield state
    state.store.remove_all_jobs()
    del state
    gc.collect()


def test_add(benchmark: Any, bench: StoreBench) -> None:
    store = bench.store
    added: list[Job] = []

    def setup() -> tuple[tuple[Job], dict[str, Any]]:
        if added:
            store.remove_job(added.pop().id)
        job = make_job(f"extra{bench.rng.randrange(10**9)}", bench.random_time())
        added.append(job)
        return (job,), {}

    bench.tag(benchmark, "add")
    benchmark.pedantic(store.add_job, setup=setup, rounds=bench.rounds)
    store.remove_job(added.pop().id)


def test_update(benchmark: Any, bench: StoreBench) -> None:
    """Move a random job to a random time, as ``modify_job`` / ``reschedule_job`` do (the
    scheduler changes the job in place, then calls ``update_job``). The moved jobs get their
    own times back after the benchmark."""
    store = bench.store
    originals: dict[str, tuple[Job, datetime]] = {}

    def setup() -> tuple[tuple[Job], dict[str, Any]]:
        job = bench.random_job()
        originals.setdefault(job.id, (job, job.next_run_time))
        job.next_run_time = bench.random_time()
        return (job,), {}

    bench.tag(benchmark, "update")
    benchmark.pedantic(store.update_job, setup=setup, rounds=bench.long_rounds)
    for job, original in originals.values():
        job.next_run_time = original
        store.update_job(job)


def test_remove(benchmark: Any, bench: StoreBench) -> None:
    store = bench.store
    removed: list[Job] = []

    def setup() -> tuple[tuple[str], dict[str, Any]]:
        if removed:
            store.add_job(removed.pop())
        job = bench.random_job()
        removed.append(job)
        return (job.id,), {}

    bench.tag(benchmark, "remove")
    benchmark.pedantic(store.remove_job, setup=setup, rounds=bench.long_rounds)
    store.add_job(removed.pop())


def test_get_due_jobs(benchmark: Any, bench: StoreBench) -> None:
    store = bench.store
    now = T0 + timedelta(seconds=bench.base + DUE - 1)
    assert len(store.get_due_jobs(now)) == DUE
    bench.tag(benchmark, f"get_due_jobs (k={DUE})", jobs_per_call=DUE)
    benchmark.pedantic(store.get_due_jobs, args=(now,), rounds=bench.rounds // 10, iterations=10)


def test_fire(benchmark: Any, bench: StoreBench) -> None:
    """What the scheduler does with each batch of due jobs of an interval schedule."""
    store = bench.store
    period = timedelta(seconds=bench.size)

    def cycle() -> None:
        now = T0 + timedelta(seconds=bench.base + DUE - 1)
        for job in store.get_due_jobs(now):
            job.next_run_time += period
            store.update_job(job)
        store.get_next_run_time()
        bench.base += DUE

    bench.tag(benchmark, f"fire cycle (k={DUE})", jobs_per_call=DUE)
    benchmark.pedantic(cycle, rounds=bench.fire_rounds)
    assert store.get_next_run_time() == T0 + timedelta(seconds=bench.base)
