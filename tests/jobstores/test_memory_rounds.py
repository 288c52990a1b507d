"""The memory store's answer to the processing loop: due jobs in rounds of ACQUIRE_LIMIT."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Callable

from greensched.job import Job
from greensched.jobstores.memory import ACQUIRE_LIMIT, MemoryJobStore

MakeJob = Callable[..., Job]

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)


def test_acquire_returns_the_earliest_due_jobs_up_to_the_limit(make_job: MakeJob) -> None:
    store = MemoryJobStore()
    count = ACQUIRE_LIMIT + 7
    # added latest first: the order comes from the run times, then the ids
    for index in reversed(range(count)):
        store.add_job(make_job(f"j{index:05d}", T0 + timedelta(milliseconds=index // 2)))
    now = T0 + timedelta(hours=1)
    acquired = store.acquire_due_jobs(now)
    assert [job.id for job in acquired] == [f"j{index:05d}" for index in range(ACQUIRE_LIMIT)]
    assert len(store.get_due_jobs(now)) == count  # get_due_jobs still returns them all


def test_released_jobs_make_room_for_the_next_round(make_job: MakeJob) -> None:
    store = MemoryJobStore()
    for index in range(ACQUIRE_LIMIT + 3):
        store.add_job(make_job(f"j{index:05d}", T0))
    first = store.acquire_due_jobs(T0)
    store.release_due_jobs([], first)
    assert [job.id for job in store.acquire_due_jobs(T0)] == [
        f"j{index:05d}" for index in range(ACQUIRE_LIMIT, ACQUIRE_LIMIT + 3)
    ]


def test_a_subclass_that_overrides_get_due_jobs_decides_what_is_due(make_job: MakeJob) -> None:
    class EvenOnly(MemoryJobStore):
        def get_due_jobs(self, now: datetime) -> list[Job]:
            return [job for job in super().get_due_jobs(now) if job.id.endswith(("0", "2"))]

    store = EvenOnly()
    for index in range(4):
        store.add_job(make_job(f"j{index}", T0))
    assert [job.id for job in store.acquire_due_jobs(T0)] == ["j0", "j2"]
