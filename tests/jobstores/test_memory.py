"""Tests for the heap-indexed memory job store, and its answer to the processing loop: due jobs
in rounds of ACQUIRE_LIMIT."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Callable
from zoneinfo import ZoneInfo

import pytest

from greensched._heap import MAX_STALE_FRACTION, MIN_HEAP, STALE, DeadlineHeap
from greensched.job import Job
from greensched.jobstores.base import BaseJobStore, ConflictingIdError, JobLookupError
from greensched.jobstores.memory import ACQUIRE_LIMIT, MemoryJobStore

from .conftest import T0, at, ids

MakeJob = Callable[..., Job]


def check_invariants(store: MemoryJobStore) -> None:
    """Assert that the heap, the index and the paused jobs agree with each other."""
    heap = store._heap
    heap._check_invariants()
    scheduled = [item for item in store._entries.values() if item[0] is not None]
    assert len(scheduled) == len(heap)
    # the index holds the very items the heap keeps live
    live = [item for item in [*heap._items, *heap._run] if item[2] is not STALE]
    assert {id(item) for item in live} == {id(item) for item in scheduled}
    assert {id(job) for job in heap.ordered()} == {id(item[2]) for item in scheduled}
    for job_id, item in store._entries.items():
        job = item[2]
        assert job is not STALE
        assert job.id == job_id
        assert item[1] == job_id
        if job.next_run_time is None:
            assert item[0] is None
            assert store._paused[job_id] is item
        else:
            assert item[0] == job.next_run_time.timestamp()
            assert job_id not in store._paused
    assert set(store._paused) <= set(store._entries)
    assert len(store._paused) + len(heap) == len(store._entries)


@pytest.fixture
def store() -> MemoryJobStore:
    return MemoryJobStore()


def test_is_a_job_store(store: MemoryJobStore) -> None:
    assert isinstance(store, BaseJobStore)


def test_empty_store(store: MemoryJobStore) -> None:
    assert store.lookup_job("nothing") is None
    assert store.get_due_jobs(at(10**6)) == []
    assert store.get_next_run_time() is None
    assert store.get_all_jobs() == []
    assert repr(store) == "<MemoryJobStore (jobs=0, paused=0)>"


def test_lookup_returns_the_stored_object(store: MemoryJobStore, make_job: MakeJob) -> None:
    job = make_job("a", at(1))
    store.add_job(job)
    assert store.lookup_job("a") is job
    assert store.lookup_job("b") is None


def test_add_with_a_taken_id_raises(store: MemoryJobStore, make_job: MakeJob) -> None:
    store.add_job(make_job("a", at(1)))
    duplicate = make_job("a", at(0))
    with pytest.raises(
        ConflictingIdError, match=r"^'Job identifier \(a\) conflicts with an existing job'$"
    ):
        store.add_job(duplicate)
    assert store.lookup_job("a") is not duplicate
    assert store.get_next_run_time() == at(1)
    check_invariants(store)


def test_add_of_a_paused_job_with_a_taken_id_raises(
    store: MemoryJobStore, make_job: MakeJob
) -> None:
    store.add_job(make_job("a", None))
    with pytest.raises(
        ConflictingIdError, match=r"^'Job identifier \(a\) conflicts with an existing job'$"
    ):
        store.add_job(make_job("a", at(1)))
    assert store.get_next_run_time() is None
    check_invariants(store)


def test_update_of_a_missing_job_raises(store: MemoryJobStore, make_job: MakeJob) -> None:
    with pytest.raises(JobLookupError, match=r"^'No job by the id of ghost was found'$"):
        store.update_job(make_job("ghost", at(1)))
    assert store.get_all_jobs() == []


def test_remove_of_a_missing_job_raises(store: MemoryJobStore, make_job: MakeJob) -> None:
    store.add_job(make_job("a", at(1)))
    with pytest.raises(JobLookupError, match=r"^'No job by the id of ghost was found'$"):
        store.remove_job("ghost")
    assert ids(store.get_all_jobs()) == ["a"]


def test_remove_twice_raises(store: MemoryJobStore, make_job: MakeJob) -> None:
    store.add_job(make_job("a", at(1)))
    store.remove_job("a")
    with pytest.raises(JobLookupError, match=r"^'No job by the id of a was found'$"):
        store.remove_job("a")


def test_all_jobs_in_next_run_order_paused_last(store: MemoryJobStore, make_job: MakeJob) -> None:
    store.add_job(make_job("late", at(30)))
    store.add_job(make_job("paused1", None))
    store.add_job(make_job("early", at(10)))
    store.add_job(make_job("paused2", None))
    store.add_job(make_job("middle", at(20)))
    assert ids(store.get_all_jobs()) == ["early", "middle", "late", "paused1", "paused2"]
    assert repr(store) == "<MemoryJobStore (jobs=5, paused=2)>"


def test_equal_run_times_come_in_job_id_order(store: MemoryJobStore, make_job: MakeJob) -> None:
    """The order APScheduler 3.x's memory store gives."""
    for job_id in ("c", "a", "d", "b"):
        store.add_job(make_job(job_id, at(5)))
    store.add_job(make_job("first", at(4)))
    assert ids(store.get_all_jobs()) == ["first", "a", "b", "c", "d"]
    assert ids(store.get_due_jobs(at(5))) == ["first", "a", "b", "c", "d"]


def test_same_instant_in_other_zones_is_a_tie(store: MemoryJobStore, make_job: MakeJob) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    store.add_job(make_job("berlin", at(0).astimezone(berlin)))
    store.add_job(make_job("utc", at(0)))
    store.add_job(make_job("earlier", at(-1).astimezone(berlin)))
    store.add_job(make_job("also-utc", at(0)))
    assert ids(store.get_due_jobs(at(0).astimezone(berlin))) == [
        "earlier",
        "also-utc",
        "berlin",
        "utc",
    ]
    assert ids(store.get_due_jobs(at(-0.000001))) == ["earlier"]


def test_next_run_time_is_the_earliest(store: MemoryJobStore, make_job: MakeJob) -> None:
    store.add_job(make_job("paused", None))
    assert store.get_next_run_time() is None
    store.add_job(make_job("b", at(20)))
    store.add_job(make_job("a", at(10)))
    next_run_time = store.get_next_run_time()
    assert next_run_time == at(10)
    assert next_run_time is store.lookup_job("a").next_run_time  # type: ignore[union-attr]
    store.remove_job("a")
    assert store.get_next_run_time() == at(20)
    store.remove_job("b")
    assert store.get_next_run_time() is None


def test_job_due_exactly_now_is_due(store: MemoryJobStore, make_job: MakeJob) -> None:
    store.add_job(make_job("now", at(10)))
    store.add_job(make_job("later", at(10.000001)))
    store.add_job(make_job("before", at(9)))
    store.add_job(make_job("paused", None))
    assert ids(store.get_due_jobs(at(10))) == ["before", "now"]
    assert ids(store.get_due_jobs(at(9.999999))) == ["before"]
    assert store.get_due_jobs(at(8.999999)) == []


def test_get_due_jobs_does_not_remove(store: MemoryJobStore, make_job: MakeJob) -> None:
    for number in range(5):
        store.add_job(make_job(f"j{number}", at(number)))
    first = store.get_due_jobs(at(2))
    assert ids(first) == ["j0", "j1", "j2"]
    assert store.get_due_jobs(at(2)) == first
    assert ids(store.get_all_jobs()) == ["j0", "j1", "j2", "j3", "j4"]
    assert store.get_next_run_time() == at(0)


def test_acquire_due_jobs_defaults_to_get_due_jobs(
    store: MemoryJobStore, make_job: MakeJob
) -> None:
    store.add_job(make_job("a", at(1)))
    store.add_job(make_job("b", at(3)))
    assert ids(store.acquire_due_jobs(at(2))) == ["a"]
    assert ids(store.get_all_jobs()) == ["a", "b"]


def test_update_to_a_new_time_moves_the_job(store: MemoryJobStore, make_job: MakeJob) -> None:
    store.add_job(make_job("a", at(1)))
    store.add_job(make_job("b", at(2)))
    store.add_job(make_job("c", at(3)))
    job = store.lookup_job("a")
    assert job is not None
    job._modify(next_run_time=at(2.5))  # in place, as the scheduler does
    store.update_job(job)
    assert ids(store.get_all_jobs()) == ["b", "a", "c"]
    assert store.get_next_run_time() == at(2)
    assert ids(store.get_due_jobs(at(2))) == ["b"]
    check_invariants(store)


def test_update_to_an_earlier_time(store: MemoryJobStore, make_job: MakeJob) -> None:
    store.add_job(make_job("a", at(1)))
    store.add_job(make_job("b", at(2)))
    store.update_job(make_job("b", at(0)))
    assert ids(store.get_all_jobs()) == ["b", "a"]
    assert store.get_next_run_time() == at(0)
    check_invariants(store)


def test_update_to_the_same_time_keeps_the_place(store: MemoryJobStore, make_job: MakeJob) -> None:
    for job_id in ("a", "b", "c"):
        store.add_job(make_job(job_id, at(5)))
    replacement = make_job("a", at(5), name="renamed")
    store.update_job(replacement)
    assert ids(store.get_all_jobs()) == ["a", "b", "c"]
    assert store.lookup_job("a") is replacement
    assert store._heap.stale_count == 0
    check_invariants(store)


def test_update_to_an_equal_time_goes_behind(store: MemoryJobStore, make_job: MakeJob) -> None:
    store.add_job(make_job("a", at(5)))
    store.add_job(make_job("b", at(5)))
    store.add_job(make_job("c", at(1)))
    store.update_job(make_job("c", at(5)))
    assert ids(store.get_all_jobs()) == ["a", "b", "c"]


def test_update_replaces_the_stored_object(store: MemoryJobStore, make_job: MakeJob) -> None:
    original = make_job("a", at(1))
    store.add_job(original)
    replacement = make_job("a", at(7), name="new name")
    store.update_job(replacement)
    assert store.lookup_job("a") is replacement
    assert store.get_all_jobs() == [replacement]
    assert store.get_all_jobs()[0] is replacement
    assert store.get_next_run_time() == at(7)
    check_invariants(store)


def test_update_scheduled_to_paused(store: MemoryJobStore, make_job: MakeJob) -> None:
    store.add_job(make_job("a", at(1)))
    store.add_job(make_job("b", at(2)))
    job = store.lookup_job("a")
    assert job is not None
    job._modify(next_run_time=None)
    store.update_job(job)
    assert store.get_next_run_time() == at(2)
    assert ids(store.get_due_jobs(at(100))) == ["b"]
    assert ids(store.get_all_jobs()) == ["b", "a"]
    assert store.lookup_job("a") is job
    assert repr(store) == "<MemoryJobStore (jobs=2, paused=1)>"
    check_invariants(store)


def test_update_paused_to_scheduled(store: MemoryJobStore, make_job: MakeJob) -> None:
    store.add_job(make_job("a", None))
    store.add_job(make_job("b", at(2)))
    store.update_job(make_job("a", at(1)))
    assert store.get_next_run_time() == at(1)
    assert ids(store.get_due_jobs(at(100))) == ["a", "b"]
    assert ids(store.get_all_jobs()) == ["a", "b"]
    assert repr(store) == "<MemoryJobStore (jobs=2, paused=0)>"
    check_invariants(store)


def test_update_paused_to_paused(store: MemoryJobStore, make_job: MakeJob) -> None:
    store.add_job(make_job("a", None))
    store.add_job(make_job("b", None))
    replacement = make_job("a", None, name="still paused")
    store.update_job(replacement)
    assert store.get_all_jobs() == [replacement, store.lookup_job("b")]
    assert store.get_all_jobs()[0] is replacement
    assert store.get_next_run_time() is None
    check_invariants(store)


def test_paused_jobs_are_listed_last_by_job_id(store: MemoryJobStore, make_job: MakeJob) -> None:
    for job_id in ("a", "b", "c"):
        store.add_job(make_job(job_id, at(1)))
    for job_id in ("c", "a"):
        store.update_job(make_job(job_id, None))
    assert ids(store.get_all_jobs()) == ["b", "a", "c"]
    store.update_job(make_job("a", at(2)))
    assert ids(store.get_all_jobs()) == ["b", "a", "c"]
    store.update_job(make_job("b", None))
    assert ids(store.get_all_jobs()) == ["a", "b", "c"]


def test_remove_scheduled_and_paused_jobs(store: MemoryJobStore, make_job: MakeJob) -> None:
    store.add_job(make_job("a", at(1)))
    store.add_job(make_job("b", None))
    store.add_job(make_job("c", at(2)))
    store.remove_job("a")
    store.remove_job("b")
    assert store.lookup_job("a") is None
    assert store.lookup_job("b") is None
    assert ids(store.get_all_jobs()) == ["c"]
    assert store.get_next_run_time() == at(2)
    check_invariants(store)


def test_removed_id_can_be_added_again(store: MemoryJobStore, make_job: MakeJob) -> None:
    store.add_job(make_job("a", at(1)))
    store.remove_job("a")
    again = make_job("a", at(3))
    store.add_job(again)
    assert store.get_all_jobs() == [again]
    assert ids(store.get_due_jobs(at(2))) == []
    assert ids(store.get_due_jobs(at(3))) == ["a"]
    check_invariants(store)


def test_count_jobs_counts_paused_jobs_too(store: MemoryJobStore, make_job: MakeJob) -> None:
    assert store.count_jobs() == 0
    store.add_job(make_job("a", at(1)))
    store.add_job(make_job("b", None))
    store.add_job(make_job("c", at(2)))
    assert store.count_jobs() == 3
    store.remove_job("c")
    assert store.count_jobs() == 2


def test_remove_all_jobs(store: MemoryJobStore, make_job: MakeJob) -> None:
    store.add_job(make_job("a", at(1)))
    store.add_job(make_job("b", None))
    store.remove_all_jobs()
    assert store.get_all_jobs() == []
    assert store.get_next_run_time() is None
    assert store.lookup_job("a") is None
    store.add_job(make_job("a", at(2)))
    assert ids(store.get_all_jobs()) == ["a"]
    check_invariants(store)


def test_shutdown_removes_all_jobs(store: MemoryJobStore, make_job: MakeJob) -> None:
    store.add_job(make_job("a", at(1)))
    store.add_job(make_job("b", None))
    store.shutdown()
    assert store.get_all_jobs() == []


def test_processing_due_jobs_in_order_leaves_no_stale_items(
    store: MemoryJobStore, make_job: MakeJob
) -> None:
    """The scheduler's loop: take the due jobs, give each its next run time, look at the next
    wakeup. Each due job is at the head of the heap when it is updated or removed."""
    for number in range(500):
        store.add_job(make_job(f"j{number}", at(number % 50)))
    now = at(0)
    for _ in range(200):
        removed = 0
        for job in store.get_due_jobs(now):
            assert job.next_run_time is not None
            if job.id.endswith("3"):
                store.remove_job(job.id)
                removed += 1
            else:
                job._modify(next_run_time=job.next_run_time + timedelta(seconds=50))
                store.update_job(job)
        assert store._heap.stale_count <= removed  # only removals are lazy
        next_run_time = store.get_next_run_time()
        assert next_run_time is not None
        assert next_run_time > now
        assert store._heap.stale_count == 0
        now = next_run_time
    check_invariants(store)
    assert len(store.get_all_jobs()) == 450


def test_many_updates_compact_the_heap(store: MemoryJobStore, make_job: MakeJob) -> None:
    count = 4 * MIN_HEAP
    jobs = [make_job(f"j{number}", at(number)) for number in range(count)]
    for job in jobs:
        store.add_job(job)
    for round_ in range(1, 4):
        for job in jobs[1:]:  # never the head: every update leaves a stale item
            job._modify(next_run_time=at(count * round_ + int(job.id[1:])))
            store.update_job(job)
            assert store._heap.stale_count <= MAX_STALE_FRACTION * store._heap.size
        check_invariants(store)
    assert store._heap.size < 2 * count
    assert store.get_all_jobs() == jobs


def test_randomized_operations_match_a_naive_model(
    store: MemoryJobStore, make_job: MakeJob, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Random adds, updates (new time, pause, resume, same time, new object), removals and
    due-job queries, checked against a dict-and-sort model after every step."""
    compactions = []
    compact = DeadlineHeap._compact

    def counting_compact(self: DeadlineHeap[Job]) -> None:
        compactions.append(self.size)
        compact(self)

    monkeypatch.setattr(DeadlineHeap, "_compact", counting_compact)

    rng = random.Random(1059)
    times = [at(seconds) for seconds in range(40)]  # few distinct run times: many ties
    job_ids = [f"job{number}" for number in range(250)]
    # the model: id -> job, the order each scheduled job got its run time, the paused ids
    jobs: dict[str, Job] = {}
    order: dict[str, int] = {}
    paused: dict[str, None] = {}
    counter = 0

    def expected_scheduled() -> list[str]:
        return sorted(order, key=lambda job_id: (jobs[job_id].next_run_time, job_id))

    def random_time() -> datetime | None:
        return None if rng.random() < 0.15 else rng.choice(times)

    for _ in range(4000):
        job_id = rng.choice(job_ids)
        operation = rng.random()
        if operation < 0.3:  # add
            job = make_job(job_id, random_time())
            if job_id in jobs:
                with pytest.raises(ConflictingIdError):
                    store.add_job(job)
            else:
                store.add_job(job)
                jobs[job_id] = job
                if job.next_run_time is None:
                    paused[job_id] = None
                else:
                    order[job_id] = counter
                    counter += 1
        elif operation < 0.65:  # update: in place or with another object
            new_time = random_time()
            if job_id not in jobs:
                with pytest.raises(JobLookupError):
                    store.update_job(make_job(job_id, new_time))
                continue
            old_time = jobs[job_id].next_run_time
            if rng.random() < 0.5:
                job = jobs[job_id]
                job._modify(next_run_time=new_time)
            else:
                job = make_job(job_id, new_time)
            store.update_job(job)
            jobs[job_id] = job
            if new_time is None:
                order.pop(job_id, None)
                if old_time is not None:
                    paused[job_id] = None
            else:
                paused.pop(job_id, None)
                if new_time != old_time:
                    order[job_id] = counter
                    counter += 1
        elif operation < 0.85:  # remove
            if job_id in jobs:
                store.remove_job(job_id)
                del jobs[job_id]
                order.pop(job_id, None)
                paused.pop(job_id, None)
            else:
                with pytest.raises(JobLookupError):
                    store.remove_job(job_id)
        elif operation < 0.998:  # take the due jobs, as the scheduler would
            now = rng.choice(times)
            expected_due = [
                job_id
                for job_id in expected_scheduled()
                if jobs[job_id].next_run_time <= now  # type: ignore[operator]
            ]
            assert ids(store.get_due_jobs(now)) == expected_due
        else:
            store.remove_all_jobs()
            jobs.clear()
            order.clear()
            paused.clear()

        check_invariants(store)
        all_jobs = store.get_all_jobs()
        assert ids(all_jobs) == expected_scheduled() + sorted(paused)
        assert all(job is jobs[job.id] for job in all_jobs)
        assert store.lookup_job(job_id) is jobs.get(job_id)
        scheduled = expected_scheduled()
        expected_next = jobs[scheduled[0]].next_run_time if scheduled else None
        assert store.get_next_run_time() == expected_next

    assert compactions, "the operations never made the heap compact itself"


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
