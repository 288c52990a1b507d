"""The deadline heap's hot paths: the first due entries of a burst, and the head moved in place."""

from __future__ import annotations

import random

import pytest

from greensched._heap import DeadlineHeap, HeapEntry
from tests.test_heap import filled, values


def test_due_with_most_returns_the_earliest_in_order() -> None:
    heap, _ = filled(5.0, 1.0, 4.0, 1.0, 3.0, 9.0)
    assert values(heap.due(5.0, 3)) == ["e1", "e3", "e4"]
    assert values(heap.due(5.0, 10)) == ["e1", "e3", "e4", "e2", "e0"]
    assert heap.due(5.0, 0) == []
    assert len(heap) == 6  # nothing unscheduled


def test_due_with_most_in_a_large_burst_walks_best_first() -> None:
    """Far more due entries than asked for: the first ones, in order, from the best-first
    walk (the cap of the depth-first walk is exceeded)."""
    heap: DeadlineHeap[int] = DeadlineHeap()
    rng = random.Random(7)
    whens = [float(rng.randrange(1000)) for _ in range(5000)]
    entries = [HeapEntry(index) for index in range(len(whens))]
    for entry, when in zip(entries, whens):
        heap.push(entry, when)
    expected = [entry for _, entry in sorted(zip(whens, entries), key=lambda pair: pair[0])]
    # equal deadlines come first in, first out: the order of the pushes
    assert heap.due(2000.0, 10) == expected[:10]
    assert heap.due(2000.0, 1000) == expected[:1000]


def test_due_with_most_skips_stale_items_and_does_not_count_them() -> None:
    heap, entries = filled(1.0, 2.0, 3.0, 4.0, 5.0)
    heap.cancel(entries[1])
    heap.reschedule(entries[2], 9.0)  # leaves a stale item at 3.0
    assert values(heap.due(6.0, 2)) == ["e0", "e3"]
    assert values(heap.due(6.0, 3)) == ["e0", "e3", "e4"]


@pytest.mark.parametrize("seed", range(20))
def test_due_with_most_is_a_prefix_of_all_due(seed: int) -> None:
    rng = random.Random(seed)
    heap: DeadlineHeap[int] = DeadlineHeap()
    entries = [HeapEntry(index, f"{index:04d}") for index in range(rng.randrange(1, 400))]
    for entry in entries:
        heap.push(entry, float(rng.randrange(50)))
    for entry in rng.sample(entries, len(entries) // 3):
        heap.cancel(entry)
    for entry in rng.sample(entries, len(entries) // 3):
        if entry.scheduled:
            heap.reschedule(entry, float(rng.randrange(50)))
    limit = float(rng.randrange(60))
    everything = heap.due(limit)
    for most in (1, 5, 50, 1000):
        assert heap.due(limit, most) == everything[:most]
    heap._check_invariants()


def test_entries_added_in_order_are_kept_in_the_run() -> None:
    heap, _ = filled(1.0, 2.0, 2.0, 3.0)
    assert heap._items == []
    assert [item[3].value for item in heap._run] == ["e0", "e1", "e2", "e3"]
    heap._check_invariants()


def test_an_earlier_entry_goes_on_the_heap_and_keeps_its_place_in_every_order() -> None:
    heap, _ = filled(2.0, 4.0)
    late = HeapEntry("late")
    early = HeapEntry("early")
    heap.push(late, 3.0)  # before the end of the run: on the heap
    heap.push(early, 1.0)
    assert [item[3] for item in heap._items] in ([early, late], [early, late][::-1])
    assert values(heap.ordered()) == ["early", "e0", "late", "e1"]
    assert values(heap.due(3.0)) == ["early", "e0", "late"]
    assert values(heap.due(3.0, 2)) == ["early", "e0"]
    assert heap.peek() is early
    assert [heap.pop().value for _ in range(4)] == ["early", "e0", "late", "e1"]
    heap._check_invariants()


def test_a_due_entry_moved_past_the_end_of_the_run_reuses_its_item() -> None:
    """What a scheduler does to each due interval job: from the front of the run to its end,
    in O(1), with no stale item and no new item (a new one for each run of each job would
    survive young garbage collections and make full ones frequent)."""
    heap, entries = filled(1.0, 2.0, 3.0)
    head_item = heap._run[0]
    heap.reschedule(entries[0], 10.0)
    assert heap._run[-1] is head_item
    assert head_item[0] == 10.0
    assert heap._items == []
    assert heap.stale_count == 0
    assert values(heap.ordered()) == ["e1", "e2", "e0"]
    heap._check_invariants()


def test_the_heap_head_moved_past_the_end_of_the_run_joins_the_run() -> None:
    heap, entries = filled(5.0)
    early = HeapEntry("early")
    heap.push(early, 1.0)
    item = heap._items[0]
    heap.reschedule(early, 9.0)
    assert heap._items == []
    assert heap._run[-1] is item
    heap.reschedule(entries[0], 6.0)  # the front of the run, not past its end: on the heap
    assert heap._items[0][3] is entries[0]
    assert values(heap.ordered()) == ["e0", "early"]
    heap.reschedule(entries[0], 7.0)  # the heap head, still before the end of the run
    assert heap._items[0][3] is entries[0]
    assert heap.stale_count == 0
    heap._check_invariants()


def test_rescheduled_head_goes_behind_entries_with_the_same_deadline() -> None:
    heap, entries = filled(1.0, 5.0)
    heap.reschedule(entries[0], 5.0)  # in place, with a new sequence number
    assert values(heap.ordered()) == ["e1", "e0"]
