"""Tests for the private deadline heap: ordering, lazy deletion, compaction, and the hot paths
(the first due entries of a burst, the head moved in place)."""

from __future__ import annotations

import random

import pytest

from greensched._heap import MAX_STALE_FRACTION, MIN_HEAP, DeadlineHeap, HeapEntry


def filled(*whens: float) -> tuple[DeadlineHeap[str], list[HeapEntry[str]]]:
    """Return a heap with one entry per deadline, valued ``"e0"``, ``"e1"``, ..."""
    heap: DeadlineHeap[str] = DeadlineHeap()
    entries = [HeapEntry(f"e{index}") for index in range(len(whens))]
    for entry, when in zip(entries, whens):
        heap.push(entry, when)
    return heap, entries


def values(entries: list[HeapEntry[str]]) -> list[str]:
    return [entry.value for entry in entries]


def drain(heap: DeadlineHeap[str]) -> list[str]:
    result = []
    while heap:
        result.append(heap.pop().value)
    return result


def test_empty_heap() -> None:
    heap: DeadlineHeap[str] = DeadlineHeap()
    assert len(heap) == 0
    assert heap.peek() is None
    assert heap.due(1e12) == []
    assert heap.ordered() == []
    assert repr(heap) == "<DeadlineHeap (live=0, stale=0)>"


def test_pop_from_empty_heap_raises() -> None:
    heap: DeadlineHeap[str] = DeadlineHeap()
    with pytest.raises(IndexError, match=r"^pop from an empty DeadlineHeap$"):
        heap.pop()


def test_pops_in_deadline_order() -> None:
    heap, _ = filled(30.0, 10.0, 20.0, 5.0)
    assert drain(heap) == ["e3", "e1", "e2", "e0"]


def test_equal_deadlines_pop_first_in_first_out() -> None:
    heap, _ = filled(7.0, 3.0, 7.0, 3.0, 7.0)
    assert drain(heap) == ["e1", "e3", "e0", "e2", "e4"]


def test_peek_does_not_remove() -> None:
    heap, entries = filled(2.0, 1.0)
    assert heap.peek() is entries[1]
    assert heap.peek() is entries[1]
    assert len(heap) == 2


def test_entry_records_its_schedule() -> None:
    heap: DeadlineHeap[str] = DeadlineHeap()
    entry = HeapEntry("job")
    assert not entry.scheduled
    assert entry.when is None
    heap.push(entry, 4.5)
    assert entry.scheduled
    assert entry.when == 4.5
    assert repr(entry) == "<HeapEntry when=4.5 value='job'>"
    assert heap.pop() is entry
    assert not entry.scheduled
    assert entry.when is None


def test_push_of_a_scheduled_entry_raises() -> None:
    heap, entries = filled(1.0)
    with pytest.raises(
        ValueError, match=r"^<HeapEntry when=1\.0 value='e0'> is already scheduled$"
    ):
        heap.push(entries[0], 2.0)
    assert len(heap) == 1


def test_reschedule_of_an_unscheduled_entry_raises() -> None:
    heap: DeadlineHeap[str] = DeadlineHeap()
    with pytest.raises(ValueError, match=r"^<HeapEntry when=None value='x'> is not scheduled$"):
        heap.reschedule(HeapEntry("x"), 2.0)


def test_cancel_is_lazy() -> None:
    heap, entries = filled(1.0, 2.0, 3.0)
    heap.cancel(entries[1])
    assert len(heap) == 2
    assert heap.size == 3
    assert heap.stale_count == 1
    assert not entries[1].scheduled
    assert drain(heap) == ["e0", "e2"]
    assert heap.size == 0
    assert heap.stale_count == 0


def test_cancel_twice_counts_once() -> None:
    heap, entries = filled(1.0, 2.0)
    heap.cancel(entries[0])
    heap.cancel(entries[0])
    heap.cancel(HeapEntry("never scheduled"))
    assert heap.stale_count == 1
    assert len(heap) == 1


def test_peek_discards_stale_heads() -> None:
    heap, entries = filled(1.0, 2.0, 3.0)
    heap.cancel(entries[0])
    heap.cancel(entries[1])
    assert heap.peek() is entries[2]
    assert heap.size == 1
    assert heap.stale_count == 0


def test_cancelled_entry_can_be_pushed_again() -> None:
    heap, entries = filled(1.0, 2.0)
    heap.cancel(entries[0])
    heap.push(entries[0], 3.0)
    assert drain(heap) == ["e1", "e0"]
    heap._check_invariants()


def test_reschedule_moves_the_entry() -> None:
    heap, entries = filled(1.0, 2.0, 3.0)
    heap.reschedule(entries[1], 0.5)
    heap.reschedule(entries[0], 9.0)
    assert entries[0].when == 9.0
    heap._check_invariants()
    assert drain(heap) == ["e1", "e2", "e0"]


def test_reschedule_of_the_head_leaves_no_stale_item() -> None:
    heap, entries = filled(1.0, 2.0, 3.0)
    heap.reschedule(entries[0], 10.0)
    assert heap.stale_count == 0
    assert heap.size == 3
    assert heap.peek() is entries[1]


def test_reschedule_of_another_entry_leaves_a_stale_item() -> None:
    heap, entries = filled(1.0, 2.0, 3.0)
    heap.reschedule(entries[2], 0.5)
    assert heap.stale_count == 1
    assert heap.size == 4
    assert len(heap) == 3
    heap._check_invariants()


def test_reschedule_to_the_same_deadline_keeps_the_place() -> None:
    heap, entries = filled(5.0, 5.0, 5.0)
    heap.reschedule(entries[0], 5.0)
    assert heap.stale_count == 0
    assert drain(heap) == ["e0", "e1", "e2"]


def test_reschedule_to_an_equal_deadline_goes_behind() -> None:
    heap, entries = filled(5.0, 5.0, 1.0)
    heap.reschedule(entries[2], 5.0)
    assert drain(heap) == ["e0", "e1", "e2"]


def test_due_includes_the_exact_limit() -> None:
    heap, _ = filled(10.0, 10.000001, 9.0)
    assert values(heap.due(10.0)) == ["e2", "e0"]


def test_due_is_sorted_and_first_in_first_out() -> None:
    heap, _ = filled(5.0, 3.0, 5.0, 1.0, 3.0, 8.0)
    assert values(heap.due(5.0)) == ["e3", "e1", "e4", "e0", "e2"]


def test_due_does_not_remove() -> None:
    heap, _ = filled(1.0, 2.0, 3.0)
    assert values(heap.due(2.0)) == ["e0", "e1"]
    assert values(heap.due(2.0)) == ["e0", "e1"]
    assert len(heap) == 3
    assert drain(heap) == ["e0", "e1", "e2"]


def test_due_before_the_head_is_empty() -> None:
    heap, _ = filled(1.0, 2.0)
    assert heap.due(0.999) == []


def test_due_skips_stale_items() -> None:
    heap, entries = filled(1.0, 2.0, 3.0, 4.0)
    heap.cancel(entries[2])
    heap.reschedule(entries[3], 0.5)  # its item at 4.0 is stale now
    heap.reschedule(entries[1], 50.0)
    assert values(heap.due(10.0)) == ["e3", "e0"]


def test_due_walks_only_what_it_must() -> None:
    heap, _ = filled(*range(1000))
    assert values(heap.due(2.0)) == ["e0", "e1", "e2"]
    assert values(heap.due(999.0)) == [f"e{index}" for index in range(1000)]


def test_ordered_lists_live_entries_in_order() -> None:
    heap, entries = filled(3.0, 1.0, 3.0, 2.0)
    heap.cancel(entries[3])
    assert values(heap.ordered()) == ["e1", "e0", "e2"]
    assert len(heap) == 3


def test_clear_unschedules_every_entry() -> None:
    heap, entries = filled(1.0, 2.0, 3.0)
    heap.cancel(entries[1])
    heap.clear()
    assert len(heap) == 0
    assert heap.size == 0
    assert heap.stale_count == 0
    assert not any(entry.scheduled for entry in entries)
    heap.push(entries[0], 1.0)
    assert heap.peek() is entries[0]


def test_heap_compacts_after_half_cancelled() -> None:
    count = 2 * MIN_HEAP
    heap, entries = filled(*range(count))
    threshold = int(MAX_STALE_FRACTION * count)  # compaction once stale > threshold
    # cancel from the back, so that no stale item reaches the head and gets popped
    for cancelled, entry in enumerate(reversed(entries[-threshold:]), start=1):
        heap.cancel(entry)
        assert heap.stale_count == cancelled
        assert heap.size == count
    heap.cancel(entries[-threshold - 1])
    assert heap.stale_count == 0
    assert heap.size == len(heap) == count - threshold - 1
    heap._check_invariants()
    assert drain(heap) == [f"e{index}" for index in range(count - threshold - 1)]


def test_heap_compacts_after_many_reschedules() -> None:
    count = 2 * MIN_HEAP
    heap, entries = filled(*range(count))
    for entry in entries[1:]:
        assert entry.when is not None
        heap.reschedule(entry, entry.when + 0.5)
        heap._check_invariants()
    assert heap.size <= 2 * count
    assert heap.stale_count <= MAX_STALE_FRACTION * heap.size
    assert drain(heap) == [f"e{index}" for index in range(count)]


def test_small_heap_is_never_compacted() -> None:
    heap, entries = filled(*range(MIN_HEAP))
    for entry in entries[1:]:
        heap.cancel(entry)
    assert heap.size == MIN_HEAP
    assert heap.stale_count == MIN_HEAP - 1
    assert drain(heap) == ["e0"]


def test_randomized_operations_match_a_naive_model(monkeypatch: pytest.MonkeyPatch) -> None:
    compactions = []
    compact = DeadlineHeap._compact

    def counting_compact(self: DeadlineHeap[int]) -> None:
        compactions.append(self.size)
        compact(self)

    monkeypatch.setattr(DeadlineHeap, "_compact", counting_compact)
    rng = random.Random(20240611)
    heap: DeadlineHeap[int] = DeadlineHeap()
    entries = [HeapEntry(number) for number in range(300)]
    model: dict[int, tuple[float, int]] = {}  # value -> (when, order of scheduling)
    order = 0
    for _ in range(5000):
        entry = rng.choice(entries)
        when = float(rng.randrange(60))  # few distinct deadlines: plenty of ties
        operation = rng.random()
        if operation < 0.35:
            if entry.scheduled:
                with pytest.raises(ValueError, match=r"^.* is already scheduled$"):
                    heap.push(entry, when)
            else:
                heap.push(entry, when)
                model[entry.value] = (when, order)
                order += 1
        elif operation < 0.6:
            if entry.scheduled:
                heap.reschedule(entry, when)
                if model[entry.value][0] != when:
                    model[entry.value] = (when, order)
                    order += 1
            else:
                with pytest.raises(ValueError, match=r"^.* is not scheduled$"):
                    heap.reschedule(entry, when)
        elif operation < 0.8:
            heap.cancel(entry)
            model.pop(entry.value, None)
        elif operation < 0.9:
            if model:
                expected = min(model, key=model.__getitem__)
                assert heap.pop().value == expected
                del model[expected]
            else:
                with pytest.raises(IndexError):
                    heap.pop()
        else:
            expected_due = sorted(
                (key for key, value in model.items() if value[0] <= when),
                key=model.__getitem__,
            )
            assert [item.value for item in heap.due(when)] == expected_due

        heap._check_invariants()
        assert len(heap) == len(model)
        head = heap.peek()
        if model:
            assert head is not None
            assert head.value == min(model, key=model.__getitem__)
        else:
            assert head is None
        for item in entries:
            assert item.scheduled == (item.value in model)
            if item.scheduled:
                assert item.when == model[item.value][0]

    assert [item.value for item in heap.ordered()] == sorted(model, key=model.__getitem__)
    assert compactions, "the operations never made the heap compact itself"


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
