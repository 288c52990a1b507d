"""DeadlineHeap(fifo=False): entries with distinct tie-breakers (a job store's job ids), no
sequence number per item."""

from __future__ import annotations

import random

from greensched._heap import DeadlineHeap, HeapEntry


def test_equal_deadlines_come_in_tie_breaker_order() -> None:
    heap: DeadlineHeap[str] = DeadlineHeap(fifo=False)
    entries = [HeapEntry(name, name) for name in ("c", "a", "b")]
    for entry in entries:
        heap.push(entry, 5.0)
    assert [entry.value for entry in heap.due(5.0)] == ["a", "b", "c"]
    assert [heap.pop().value for _ in range(3)] == ["a", "b", "c"]


def test_an_entry_moved_back_to_a_former_deadline_leaves_one_live_item() -> None:
    heap: DeadlineHeap[str] = DeadlineHeap(fifo=False)
    first, moved = HeapEntry("first", "a"), HeapEntry("moved", "b")
    heap.push(first, 1.0)
    heap.push(moved, 3.0)
    heap.reschedule(moved, 4.0)  # leaves a stale item at 3.0 ...
    heap.reschedule(moved, 3.0)  # ... equal to the new one but for being stale
    heap._check_invariants()
    assert [entry.value for entry in heap.ordered()] == ["first", "moved"]
    assert [entry.value for entry in heap.due(10.0)] == ["first", "moved"]
    assert len(heap) == 2


def test_a_removed_entry_and_its_successor_with_the_same_tie_breaker() -> None:
    heap: DeadlineHeap[str] = DeadlineHeap(fifo=False)
    heap.push(HeapEntry("head", "0"), 0.0)
    old = HeapEntry("old", "x")
    heap.push(old, 2.0)
    heap.cancel(old)
    new = HeapEntry("new", "x")
    heap.push(new, 2.0)  # an item equal to the stale one in (deadline, tie-breaker)
    heap._check_invariants()
    assert [entry.value for entry in heap.due(2.0)] == ["head", "new"]


def test_random_operations_match_a_sorted_model() -> None:
    rng = random.Random(18)
    heap: DeadlineHeap[int] = DeadlineHeap(fifo=False)
    entries = [HeapEntry(number, f"{number:04d}") for number in range(300)]
    model: dict[int, float] = {}
    for step in range(6000):
        entry = rng.choice(entries)
        when = float(rng.randrange(30))  # few deadlines: many equal ones
        operation = rng.random()
        if entry.value not in model:
            heap.push(entry, when)
            model[entry.value] = when
        elif operation < 0.5:
            heap.reschedule(entry, when)
            model[entry.value] = when
        elif operation < 0.7:
            heap.cancel(entry)
            del model[entry.value]
        elif operation < 0.8 and model:
            popped = heap.pop()
            expected = min(model, key=lambda value: (model[value], value))
            assert popped.value == expected
            del model[expected]
        if step % 250 == 0:
            heap._check_invariants()
        limit = float(rng.randrange(30))
        expected_due = sorted(
            (value for value in model if model[value] <= limit),
            key=lambda value: (model[value], value),
        )
        assert [entry.value for entry in heap.due(limit)] == expected_due
        assert [entry.value for entry in heap.due(limit, 7)] == expected_due[:7]
    heap._check_invariants()
    assert len(heap) == len(model)
