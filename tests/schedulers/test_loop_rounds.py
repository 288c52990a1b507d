"""The rounds of a real scheduler's loop (GeventScheduler, system clock): each at the run
time it woke for, and a round that only the timer woke asks only the stores with something
due."""

from __future__ import annotations

from datetime import datetime

import gevent
import gevent.event

from greensched.job import Job
from greensched.jobstores.memory import MemoryJobStore
from greensched.schedulers.gevent import GeventScheduler
from tests.support import PATIENCE


class CountingStore(MemoryJobStore):
    """A memory store that counts how often the loop asks it for due jobs."""

    def __init__(self) -> None:
        super().__init__()
        self.asked = 0

    def acquire_due_jobs(self, now: datetime) -> list[Job]:
        self.asked += 1
        return super().acquire_due_jobs(now)


def noop() -> None:
    pass


def test_a_store_beside_a_busy_one_is_asked_only_when_the_loop_is_woken() -> None:
    scheduler = GeventScheduler(timezone="UTC")
    other = CountingStore()
    scheduler.add_jobstore(other, "other")
    runs = 0
    done = gevent.event.Event()

    def tick() -> None:
        nonlocal runs
        runs += 1
        if runs == 30:
            done.set()

    scheduler.add_job(tick, "interval", seconds=0.002, id="tick")
    scheduler.add_job(noop, "interval", hours=1, id="hourly", jobstore="other")
    scheduler.start()
    try:
        assert done.wait(PATIENCE)
    finally:
        scheduler.shutdown()
    assert other.asked == 1  # the round that start() woke; then 30 rounds of the timer
