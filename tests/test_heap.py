"""Tests for the private deadline heap: ordering (deadline, then tie-breaker), the items as the
caller's handles, lazy deletion, compaction, and the hot paths (the first due values of a
burst, the head moved in place)."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest

from greensched._heap import MAX_STALE_FRACTION, MIN_HEAP, STALE, DeadlineHeap, Item


def filled(
    *whens: float, ties: Sequence[str] | None = None
) -> tuple[DeadlineHeap[str], list[Item]]:
    """Return a heap with one value per deadline, ``"e0"``, ``"e1"``, ..., and their items.
    The tie-breakers are ``ties``, or ``"0000"``, ``"0001"``, ... (the order of the values)."""
    heap: DeadlineHeap[str] = DeadlineHeap()
    if ties is None:
        ties = [f"{index:04d}" for index in range(len(whens))]
    items = [
        heap.push(f"e{index}", when, tie) for index, (when, tie) in enumerate(zip(whens, ties))
    ]
    return heap, items


def drain(heap: DeadlineHeap[str]) -> list[str]:
    result = []
    while heap:
        result.append(heap.pop())
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


def test_equal_deadlines_come_in_tie_breaker_order() -> None:
    """Not in the order of the pushes: there is no first-in-first-out order."""
    heap: DeadlineHeap[str] = DeadlineHeap()
    for value, when in (("d", 7.0), ("b", 3.0), ("a", 7.0), ("e", 3.0), ("c", 7.0)):
        heap.push(value, when, value)
    assert heap.ordered() == ["b", "e", "a", "c", "d"]
    assert heap.due(7.0) == ["b", "e", "a", "c", "d"]
    assert heap.due(7.0, 3) == ["b", "e", "a"]
    assert drain(heap) == ["b", "e", "a", "c", "d"]


def test_peek_does_not_remove() -> None:
    heap, _ = filled(2.0, 1.0)
    assert heap.peek() == "e1"
    assert heap.peek() == "e1"
    assert len(heap) == 2


def test_push_returns_the_live_item_and_pop_makes_it_stale() -> None:
    heap: DeadlineHeap[str] = DeadlineHeap()
    item = heap.push("job", 4.5, "tie")
    assert item == [4.5, "tie", "job"]
    assert repr(heap) == "<DeadlineHeap (live=1, stale=0)>"
    assert heap.pop() == "job"
    assert item[2] is STALE
    assert repr(STALE) == "<stale>"
    assert len(heap) == 0
    assert heap.size == 0
    assert heap.stale_count == 0  # the popped item is no longer kept


def test_cancel_is_lazy() -> None:
    heap, items = filled(1.0, 2.0, 3.0)
    heap.cancel(items[1])
    assert len(heap) == 2
    assert heap.size == 3
    assert heap.stale_count == 1
    assert items[1][2] is STALE
    assert items[0][2] == "e0"
    assert items[2][2] == "e2"
    assert drain(heap) == ["e0", "e2"]
    assert heap.size == 0
    assert heap.stale_count == 0


def test_cancel_of_a_stale_item_does_nothing() -> None:
    heap, items = filled(1.0, 2.0, 3.0)
    heap.cancel(items[1])
    heap.cancel(items[1])  # cancelled already
    assert heap.stale_count == 1
    assert len(heap) == 2
    assert heap.pop() == "e0"
    heap.cancel(items[0])  # popped already
    assert heap.stale_count == 1
    assert len(heap) == 1
    assert drain(heap) == ["e2"]
    heap._check_invariants()


def test_reschedule_of_a_stale_item_raises() -> None:
    heap, items = filled(1.0, 2.0)
    heap.cancel(items[1])
    with pytest.raises(ValueError, match=r"is stale: its value is not scheduled$"):
        heap.reschedule(items[1], 5.0)
    assert heap.pop() == "e0"
    with pytest.raises(ValueError, match=r"is stale"):
        heap.reschedule(items[0], 5.0)
    assert len(heap) == 0
    heap._check_invariants()


def test_peek_discards_stale_heads() -> None:
    heap, items = filled(1.0, 2.0, 3.0)
    heap.cancel(items[0])
    heap.cancel(items[1])
    assert heap.peek() == "e2"
    assert heap.size == 1
    assert heap.stale_count == 0


def test_cancelled_value_can_be_pushed_again_with_its_tie_breaker() -> None:
    heap, items = filled(1.0, 2.0)
    heap.cancel(items[0])
    again = heap.push("e0", 3.0, items[0][1])
    assert again is not items[0]
    assert items[0][2] is STALE
    assert drain(heap) == ["e1", "e0"]
    heap._check_invariants()


def test_a_removed_value_and_its_successor_with_the_same_tie_breaker() -> None:
    heap: DeadlineHeap[str] = DeadlineHeap()
    heap.push("head", 0.0, "0")
    old = heap.push("old", 2.0, "x")
    heap.cancel(old)
    heap.push("new", 2.0, "x")  # an item equal to the stale one in (deadline, tie-breaker)
    heap._check_invariants()
    assert heap.due(2.0) == ["head", "new"]
    assert heap.due(2.0, 1) == ["head"]
    assert heap.ordered() == ["head", "new"]
    assert drain(heap) == ["head", "new"]


def test_reschedule_moves_the_value() -> None:
    heap, items = filled(1.0, 2.0, 3.0)
    moved = heap.reschedule(items[1], 0.5)
    assert moved == [0.5, "0001", "e1"]
    head = heap.reschedule(items[0], 9.0)
    assert head is items[0]  # the front of the run: moved
    assert head == [9.0, "0000", "e0"]
    heap._check_invariants()
    assert drain(heap) == ["e1", "e2", "e0"]


def test_reschedule_of_the_head_leaves_no_stale_item() -> None:
    heap, items = filled(1.0, 2.0, 3.0)
    assert heap.reschedule(items[0], 10.0) is items[0]
    assert items[0][:2] == [10.0, "0000"]
    assert heap.stale_count == 0
    assert heap.size == 3
    assert heap.peek() == "e1"
    heap._check_invariants()


def test_reschedule_of_another_value_leaves_a_stale_item() -> None:
    heap, items = filled(1.0, 2.0, 3.0)
    moved = heap.reschedule(items[2], 0.5)
    assert moved is not items[2]
    assert moved == [0.5, "0002", "e2"]
    assert items[2][2] is STALE
    assert heap.stale_count == 1
    assert heap.size == 4
    assert len(heap) == 3
    heap._check_invariants()
    assert drain(heap) == ["e2", "e0", "e1"]


def test_reschedule_to_the_same_deadline_keeps_the_item() -> None:
    heap, items = filled(5.0, 5.0, 5.0)
    assert heap.reschedule(items[1], 5.0) is items[1]  # not at a front: would leave a stale
    assert items[1] == [5.0, "0001", "e1"]
    assert heap.stale_count == 0
    assert heap.size == 3
    assert drain(heap) == ["e0", "e1", "e2"]


def test_value_moved_to_an_equal_deadline_goes_in_tie_breaker_order() -> None:
    heap: DeadlineHeap[str] = DeadlineHeap()
    heap.push("a", 5.0, "a")
    heap.push("c", 5.0, "c")
    heap.push("z", 0.0, "z")  # the heap head
    b = heap.push("b", 1.0, "b")  # on the heap, not at its front
    moved = heap.reschedule(b, 5.0)
    assert b[2] is STALE
    assert moved[2] == "b"
    heap._check_invariants()
    assert heap.ordered() == ["z", "a", "b", "c"]
    assert drain(heap) == ["z", "a", "b", "c"]


def test_rescheduled_head_goes_in_tie_breaker_order() -> None:
    heap: DeadlineHeap[str] = DeadlineHeap()
    b = heap.push("b", 1.0, "b")
    heap.push("a", 5.0, "a")
    heap.push("c", 5.0, "c")
    assert heap.reschedule(b, 5.0) is b  # in place
    assert heap.stale_count == 0
    heap._check_invariants()
    assert heap.ordered() == ["a", "b", "c"]
    assert heap.due(5.0) == ["a", "b", "c"]
    assert drain(heap) == ["a", "b", "c"]


def test_an_item_moved_back_to_a_former_deadline_leaves_one_live_item() -> None:
    heap: DeadlineHeap[str] = DeadlineHeap()
    heap.push("first", 1.0, "a")
    item = heap.push("moved", 3.0, "b")
    later = heap.reschedule(item, 4.0)  # leaves a stale item at 3.0 ...
    back = heap.reschedule(later, 3.0)  # ... equal to the new one but for being stale
    assert item[2] is STALE
    assert later[2] is STALE
    assert back == [3.0, "b", "moved"]
    heap._check_invariants()
    assert heap.ordered() == ["first", "moved"]
    assert heap.due(10.0) == ["first", "moved"]
    assert len(heap) == 2
    assert heap.stale_count == 2


def test_due_includes_the_exact_limit() -> None:
    heap, _ = filled(10.0, 10.000001, 9.0)
    assert heap.due(10.0) == ["e2", "e0"]


def test_due_is_sorted_by_deadline_then_tie_breaker() -> None:
    # tie-breakers in the reverse order of the pushes
    heap, _ = filled(5.0, 3.0, 5.0, 1.0, 3.0, 8.0, ties=["5", "4", "3", "2", "1", "0"])
    assert heap.due(5.0) == ["e3", "e4", "e1", "e2", "e0"]
    assert heap.due(5.0, 4) == ["e3", "e4", "e1", "e2"]


def test_due_does_not_remove() -> None:
    heap, _ = filled(1.0, 2.0, 3.0)
    assert heap.due(2.0) == ["e0", "e1"]
    assert heap.due(2.0) == ["e0", "e1"]
    assert len(heap) == 3
    assert drain(heap) == ["e0", "e1", "e2"]


def test_due_before_the_head_is_empty() -> None:
    heap, _ = filled(1.0, 2.0)
    assert heap.due(0.999) == []


def test_due_skips_stale_items() -> None:
    heap, items = filled(1.0, 2.0, 3.0, 4.0)
    heap.cancel(items[2])
    heap.reschedule(items[3], 0.5)  # its item at 4.0 is stale now
    heap.reschedule(items[1], 50.0)
    assert heap.due(10.0) == ["e3", "e0"]


def test_due_walks_only_what_it_must() -> None:
    heap, _ = filled(*range(1000))
    assert heap.due(2.0) == ["e0", "e1", "e2"]
    assert heap.due(999.0) == [f"e{index}" for index in range(1000)]


def test_ordered_lists_live_values_in_order() -> None:
    heap, items = filled(3.0, 1.0, 3.0, 2.0)
    heap.cancel(items[3])
    assert heap.ordered() == ["e1", "e0", "e2"]
    assert len(heap) == 3


def test_clear_unschedules_every_value() -> None:
    heap, items = filled(1.0, 2.0, 3.0)
    heap.cancel(items[1])
    heap.clear()
    assert len(heap) == 0
    assert heap.size == 0
    assert heap.stale_count == 0
    assert all(item[2] is STALE for item in items)
    heap.push("e0", 1.0, "0000")
    assert heap.peek() == "e0"
    heap._check_invariants()


def test_heap_compacts_after_half_cancelled() -> None:
    count = 2 * MIN_HEAP
    heap, items = filled(*range(count))
    threshold = int(MAX_STALE_FRACTION * count)  # compaction once stale > threshold
    # cancel from the back, so that no stale item reaches the head and gets popped
    for cancelled, item in enumerate(reversed(items[-threshold:]), start=1):
        heap.cancel(item)
        assert heap.stale_count == cancelled
        assert heap.size == count
    heap.cancel(items[-threshold - 1])
    assert heap.stale_count == 0
    assert heap.size == len(heap) == count - threshold - 1
    heap._check_invariants()
    assert drain(heap) == [f"e{index}" for index in range(count - threshold - 1)]


def test_heap_compacts_after_many_reschedules() -> None:
    count = 2 * MIN_HEAP
    heap, items = filled(*range(count))
    for index in range(1, count):
        item = items[index]
        items[index] = heap.reschedule(item, item[0] + 0.5)
        assert items[index][:2] == [index + 0.5, f"{index:04d}"]
        assert items[index][2] == f"e{index}"
        assert item[2] is STALE  # never the head: a new item each time
        heap._check_invariants()
    assert heap.size <= 2 * count
    assert heap.stale_count <= MAX_STALE_FRACTION * heap.size
    assert drain(heap) == [f"e{index}" for index in range(count)]


def test_small_heap_is_never_compacted() -> None:
    heap, items = filled(*range(MIN_HEAP))
    for item in items[1:]:
        heap.cancel(item)
    assert heap.size == MIN_HEAP
    assert heap.stale_count == MIN_HEAP - 1
    assert drain(heap) == ["e0"]


@pytest.mark.parametrize(("seed", "deadlines", "steps"), [(20240611, 60, 5000), (18, 30, 6000)])
def test_randomized_operations_match_a_sorted_model(
    monkeypatch: pytest.MonkeyPatch, seed: int, deadlines: int, steps: int
) -> None:
    """Random pushes, reschedules, cancellations (of live and stale items), pops and due
    queries, checked against a dict sorted by (deadline, tie-breaker) after every step."""
    compactions = []
    compact = DeadlineHeap._compact

    def counting_compact(self: DeadlineHeap[int]) -> None:
        compactions.append(self.size)
        compact(self)

    monkeypatch.setattr(DeadlineHeap, "_compact", counting_compact)
    rng = random.Random(seed)
    heap: DeadlineHeap[int] = DeadlineHeap()
    model: dict[int, float] = {}  # scheduled value -> deadline
    current: dict[int, Item] = {}  # value -> its last item (stale once it is unscheduled)

    def tie(value: int) -> str:
        return f"{value:04d}"

    def in_order(values: list[int]) -> list[int]:
        return sorted(values, key=lambda value: (model[value], tie(value)))

    for _ in range(steps):
        value = rng.randrange(300)
        item = current.get(value)
        when = float(rng.randrange(deadlines))  # few distinct deadlines: plenty of ties
        operation = rng.random()
        if operation < 0.35 and value not in model:
            current[value] = heap.push(value, when, tie(value))
            model[value] = when
        elif operation < 0.6 and value in model:
            assert item is not None
            moved = heap.reschedule(item, when)
            if when == model[value]:
                assert moved is item
            elif moved is not item:
                assert item[2] is STALE
            current[value] = moved
            model[value] = when
        elif operation < 0.8:
            if item is not None:
                heap.cancel(item)  # live, or stale: cancelled or popped already
            model.pop(value, None)
        elif operation < 0.9:
            if model:
                expected = in_order(list(model))[0]
                assert heap.pop() == expected
                assert current[expected][2] is STALE
                del model[expected]
            else:
                with pytest.raises(IndexError):
                    heap.pop()

        heap._check_invariants()
        assert len(heap) == len(model)
        head = heap.peek()
        assert head == (in_order(list(model))[0] if model else None)
        for known, known_item in current.items():
            if known in model:
                assert known_item == [model[known], tie(known), known]
            else:
                assert known_item[2] is STALE
        limit = float(rng.randrange(deadlines))
        expected_due = in_order([value for value in model if model[value] <= limit])
        assert heap.due(limit) == expected_due
        assert heap.due(limit, 7) == expected_due[:7]

    assert heap.ordered() == in_order(list(model))
    assert compactions, "the operations never made the heap compact itself"


def test_due_with_most_returns_the_earliest_in_order() -> None:
    heap, _ = filled(5.0, 1.0, 4.0, 1.0, 3.0, 9.0)
    assert heap.due(5.0, 3) == ["e1", "e3", "e4"]
    assert heap.due(5.0, 10) == ["e1", "e3", "e4", "e2", "e0"]
    assert heap.due(5.0, 0) == []
    assert len(heap) == 6  # nothing unscheduled


def test_due_with_most_in_a_large_burst_walks_best_first() -> None:
    """Far more due values than asked for: the first ones, in order, from the best-first
    walk (the cap of the depth-first walk is exceeded)."""
    heap: DeadlineHeap[int] = DeadlineHeap()
    rng = random.Random(7)
    count = 5000
    whens = [float(rng.randrange(1000)) for _ in range(count)]
    ties = rng.sample(range(count), count)  # distinct, and not in the order of the pushes
    for index in range(count):
        heap.push(index, whens[index], ties[index])
    expected = sorted(range(count), key=lambda index: (whens[index], ties[index]))
    assert heap.due(2000.0, 10) == expected[:10]
    assert heap.due(2000.0, 1000) == expected[:1000]
    assert heap.due(2000.0) == expected


def test_due_with_most_skips_stale_items_and_does_not_count_them() -> None:
    heap, items = filled(1.0, 2.0, 3.0, 4.0, 5.0)
    heap.cancel(items[1])
    heap.reschedule(items[2], 9.0)  # leaves a stale item at 3.0
    assert heap.due(6.0, 2) == ["e0", "e3"]
    assert heap.due(6.0, 3) == ["e0", "e3", "e4"]


@pytest.mark.parametrize("seed", range(20))
def test_due_with_most_is_a_prefix_of_all_due(seed: int) -> None:
    rng = random.Random(seed)
    heap: DeadlineHeap[int] = DeadlineHeap()
    count = rng.randrange(1, 400)
    items = [heap.push(index, float(rng.randrange(50)), f"{index:04d}") for index in range(count)]
    for index in rng.sample(range(count), count // 3):
        heap.cancel(items[index])
    for index in rng.sample(range(count), count // 3):
        if items[index][2] is not STALE:
            items[index] = heap.reschedule(items[index], float(rng.randrange(50)))
    limit = float(rng.randrange(60))
    everything = heap.due(limit)
    live = [item for item in items if item[2] is not STALE and item[0] <= limit]
    assert everything == [item[2] for item in sorted(live, key=lambda item: item[:2])]
    for most in (1, 5, 50, 1000):
        assert heap.due(limit, most) == everything[:most]
    heap._check_invariants()


def test_values_added_in_order_are_kept_in_the_run() -> None:
    heap, items = filled(1.0, 2.0, 2.0, 3.0)
    assert heap._items == []
    assert [item[2] for item in heap._run] == ["e0", "e1", "e2", "e3"]
    assert all(kept is item for kept, item in zip(heap._run, items))
    heap._check_invariants()


def test_an_earlier_value_goes_on_the_heap_and_keeps_its_place_in_every_order() -> None:
    heap, _ = filled(2.0, 4.0)
    late = heap.push("late", 3.0, "late")  # before the end of the run: on the heap
    early = heap.push("early", 1.0, "early")
    assert len(heap._items) == 2
    assert heap._items[0] is early
    assert heap._items[1] is late
    assert heap.ordered() == ["early", "e0", "late", "e1"]
    assert heap.due(3.0) == ["early", "e0", "late"]
    assert heap.due(3.0, 2) == ["early", "e0"]
    assert heap.peek() == "early"
    assert [heap.pop() for _ in range(4)] == ["early", "e0", "late", "e1"]
    heap._check_invariants()


def test_a_due_value_moved_past_the_end_of_the_run_reuses_its_item() -> None:
    """What a scheduler does to each due interval job: from the front of the run to its end,
    in O(1), with no stale item and no new item (a new one for each run of each job would
    survive young garbage collections and make full ones frequent)."""
    heap, items = filled(1.0, 2.0, 3.0)
    head_item = heap._run[0]
    assert head_item is items[0]
    assert heap.reschedule(items[0], 10.0) is head_item
    assert heap._run[-1] is head_item
    assert head_item == [10.0, "0000", "e0"]
    assert heap._items == []
    assert heap.stale_count == 0
    assert heap.size == 3
    assert heap.ordered() == ["e1", "e2", "e0"]
    heap._check_invariants()


def test_the_heap_head_moved_past_the_end_of_the_run_joins_the_run() -> None:
    heap, items = filled(5.0)
    early = heap.push("early", 1.0, "early")
    assert heap._items[0] is early
    assert heap.reschedule(early, 9.0) is early
    assert heap._items == []
    assert heap._run[-1] is early
    # the front of the run, not past its end: on the heap
    assert heap.reschedule(items[0], 6.0) is items[0]
    assert heap._items[0] is items[0]
    assert heap._items[0][2] == "e0"
    assert heap.ordered() == ["e0", "early"]
    # the heap head, still before the end of the run
    assert heap.reschedule(items[0], 7.0) is items[0]
    assert heap._items[0] is items[0]
    assert items[0][0] == 7.0
    assert heap.stale_count == 0
    heap._check_invariants()
