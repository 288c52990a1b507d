"""A binary min-heap of reschedulable values with lazy deletion (private)."""

from __future__ import annotations

from collections import deque
from heapq import heapify, heappop, heappush, heapreplace
from typing import Any, Generic, TypeVar

__all__ = ("MAX_STALE_FRACTION", "MIN_HEAP", "DeadlineHeap", "Item")

T = TypeVar("T")

#: The heap is never compacted while its list holds this many items or fewer: below that size
#: stale items cost less than rebuilding the list.
MIN_HEAP = 100

#: The heap is compacted (rebuilt from its live items) when more than this fraction of the
#: items in its list are stale.
MAX_STALE_FRACTION = 0.5

#: A heap item, ``[when, tie, value]``: a list, so that an item moved to a new deadline is
#: reused (a new item for each run of each job would outlive young garbage collections and
#: make the full ones, which walk every job, frequent).
Item = list[Any]


class _Stale:
    """The value of a stale item: it never sorts before or after another value, so two items
    equal in deadline and tie-breaker (a stale one and its successor) compare as equal."""

    __slots__ = ()

    def __lt__(self, other: object) -> bool:
        return False

    def __gt__(self, other: object) -> bool:
        return False

    def __repr__(self) -> str:
        return "<stale>"


#: the value of every stale item
STALE: Any = _Stale()


class DeadlineHeap(Generic[T]):
    """A priority queue of values ordered by a float deadline, then by a tie-breaker.

    Each scheduled value has one live *item*, a list ``[when, tie, value]``, which is also the
    caller's handle on it: :meth:`push` returns it, :meth:`reschedule` returns the item that
    holds the value afterwards (the same one, moved, or a new one), and :meth:`cancel` takes
    it. ``tie`` orders values with the same deadline; the tie-breakers of the scheduled values
    must differ (a job store gives the job ids), so that item comparison never reaches two
    values. The caller may replace ``item[2]`` (the value) of a live item, but nothing else.

    The items are kept in two places: a binary heap (a list kept by :mod:`heapq`), and a
    *run*, a deque of items in ascending order. An item that sorts after every item of the run
    is appended to the run, in O(1); any other goes on the heap. The earliest item is at the
    front of one of them. A scheduler that moves each due job one interval ahead, or a burst of
    jobs added in order, keeps every item in the run: its jobs are taken from the front and put
    back at the end, and no heap is sifted.

    Unscheduling and rescheduling are lazy: the old item becomes *stale* (its value is replaced
    by :data:`STALE`) and stays where it is, counted but otherwise untouched (O(1)). Stale
    items are dropped when they reach the front of the heap or of the run, and both are rebuilt
    in one pass (compacted) when they hold more than :data:`MIN_HEAP` items and more than
    :data:`MAX_STALE_FRACTION` of them are stale, which keeps that O(n) pass amortized O(1) per
    stale item. An item at the front of the heap or of the run is moved instead, leaving no
    stale item: that is what a scheduler does to each due job.

    Costs, with n items: :meth:`push` and :meth:`reschedule` O(log n), amortized (O(1) to the
    end of the run); :meth:`cancel` O(1), amortized; :meth:`peek` O(1), amortized; :meth:`pop`
    O(log n), amortized (O(1) from the run); :meth:`due` O(k log k) for k due values, stale
    items included (O(k) from the run).

    .. important:: Not thread-safe and not greenlet-safe: the owner serializes access (a job
       store runs under its scheduler's jobstore lock).
    """

    __slots__ = ("_items", "_live", "_run", "_stale")

    def __init__(self) -> None:
        self._items: list[Item] = []  # the heap
        self._run: deque[Item] = deque()  # ascending
        self._live = 0  # scheduled values; each has exactly one item
        self._stale = 0  # items that no longer hold a value

    def __len__(self) -> int:
        """Return the number of scheduled values (stale items are not counted)."""
        return self._live

    def __repr__(self) -> str:
        return f"<DeadlineHeap (live={self._live}, stale={self._stale})>"

    @property
    def stale_count(self) -> int:
        """The number of stale items still kept."""
        return self._stale

    @property
    def size(self) -> int:
        """The number of items kept: scheduled values plus stale items."""
        return len(self._items) + len(self._run)

    def push(self, value: T, when: float, tie: Any) -> Item:
        """Schedule a value at ``when``; return its item.

        :param value: the value (not scheduled yet)
        :param when: its deadline
        :param tie: its tie-breaker, different from every scheduled value's
        """
        item = [when, tie, value]
        run = self._run
        if not run or item > run[-1]:
            run.append(item)
        else:
            heappush(self._items, item)
        self._live += 1
        return item

    def reschedule(self, item: Item, when: float) -> Item:
        """Move a scheduled value to a new deadline; return the item that holds it now.

        A deadline equal to the current one changes nothing (the value keeps its place). An
        item at the front of the heap or of the run is moved, leaving no stale item; any other
        becomes stale and a new item holds the value.

        :param item: the live item of a scheduled value
        :param when: its new deadline
        :raises ValueError: if the item is stale (its value was unscheduled)
        """
        if item[2] is STALE:
            raise ValueError(f"{item!r} is stale: its value is not scheduled")
        if when == item[0]:
            return item
        run = self._run
        items = self._items
        if (run and run[0][2] is STALE) or (items and items[0][2] is STALE):
            self._discard_stale_heads()  # the item may be right behind a stale one
        if run and run[0] is item:
            run.popleft()
            item[0] = when
            if not run or item > run[-1]:
                run.append(item)
            else:
                heappush(items, item)
            return item
        if items and items[0] is item:
            item[0] = when
            if run and item < run[-1]:
                heapreplace(items, item)  # back into the heap, in one sift
            else:
                heappop(items)
                run.append(item)
            return item
        moved = [when, item[1], item[2]]
        item[2] = STALE
        if not run or moved > run[-1]:
            run.append(moved)
        else:
            heappush(items, moved)
        self._stale = stale = self._stale + 1
        size = len(items) + len(run)
        if stale > MAX_STALE_FRACTION * size and size > MIN_HEAP:
            self._compact()
        return moved

    def cancel(self, item: Item) -> None:
        """Unschedule the value of a live item; the item becomes stale. Does nothing if the
        item is stale already."""
        if item[2] is STALE:
            return
        item[2] = STALE
        self._live -= 1
        self._stale = stale = self._stale + 1
        size = len(self._items) + len(self._run)
        if stale > MAX_STALE_FRACTION * size and size > MIN_HEAP:
            self._compact()

    def peek(self) -> T | None:
        """Return the value with the earliest deadline without unscheduling it (``None`` if
        the heap is empty). Stale items found at the fronts are dropped on the way."""
        self._discard_stale_heads()
        items = self._items
        run = self._run
        if items:
            value: T = (items[0] if not run or items[0] < run[0] else run[0])[2]
            return value
        return run[0][2] if run else None

    def pop(self) -> T:
        """Unschedule and return the value with the earliest deadline (its item becomes
        stale: it is no longer in the heap).

        :raises IndexError: if the heap is empty
        """
        self._discard_stale_heads()
        items = self._items
        run = self._run
        if items and (not run or items[0] < run[0]):
            item = heappop(items)
        elif run:
            item = run.popleft()
        else:
            raise IndexError("pop from an empty DeadlineHeap")
        value: T = item[2]
        item[2] = STALE
        self._live -= 1
        self._maybe_compact()
        return value

    def due(self, limit: float, most: int | None = None) -> list[T]:
        """Return the scheduled values whose deadline is ``limit`` or earlier, in order
        (deadline, then tie-breaker), without unscheduling them.

        From the run, the due items are the ones at its front. On the heap they form a subtree
        at the root, so only that subtree and its border are visited, then sorted:
        O(k log k) for k items found there (stale ones included). Stale items at the fronts
        are dropped first.

        :param most: return only the first ``most`` of them (``None``: all). When many more
            are due on the heap, they are found by a best-first walk instead: O(m log m) for
            the m items it visits, however many more are due.
        """
        self._discard_stale_heads()
        items = self._items
        found = self._heap_due(limit, most) if items and items[0][0] <= limit else []
        run = self._run
        if run and run[0][0] <= limit:
            room = len(run) if most is None else most
            first: list[Item] = []
            append = first.append
            for item in run:
                if item[0] > limit or len(first) >= room:
                    break
                if item[2] is not STALE:
                    append(item)
            if found:
                first += found
                first.sort()  # two ascending runs: a merge
            found = first
        values = [item[2] for item in found]
        return values if most is None or len(values) <= most else values[:most]

    def _heap_due(self, limit: float, most: int | None) -> list[Item]:
        """The live heap items due at ``limit`` in order (the first ``most`` at least)."""
        items = self._items
        size = len(items)
        cap = size if most is None else 2 * most  # beyond this many, walk best-first
        found: list[Item] = []
        append = found.append
        stack = [0]
        pop = stack.pop
        push = stack.append
        while stack:
            index = pop()
            item = items[index]
            if item[0] <= limit:
                append(item)
                if len(found) > cap:
                    assert most is not None
                    return self._first_due(limit, most)
                child = 2 * index + 1
                if child < size:
                    push(child)
                    if child + 1 < size:
                        push(child + 1)
        found.sort()
        return [item for item in found if item[2] is not STALE]

    def _first_due(self, limit: float, most: int) -> list[Item]:
        """The first ``most`` live heap items due at ``limit``, in order: a best-first walk of
        the due subtree, with a small heap of the items on its border."""
        items = self._items
        size = len(items)
        found: list[Item] = []
        append = found.append
        # a stale item and its successor are equal in deadline and tie-breaker: neither sorts
        # before the other (STALE), and they come out in either order
        border = [(items[0], 0)]
        while border and len(found) < most:
            item, index = heappop(border)
            if item[2] is not STALE:
                append(item)
            child = 2 * index + 1
            if child < size:
                item = items[child]
                if item[0] <= limit:
                    heappush(border, (item, child))
                child += 1
                if child < size:
                    item = items[child]
                    if item[0] <= limit:
                        heappush(border, (item, child))
        return found

    def ordered(self) -> list[T]:
        """Return every scheduled value in order: O(n log n)."""
        live = [item for item in self._items if item[2] is not STALE]
        live += [item for item in self._run if item[2] is not STALE]
        live.sort()
        return [item[2] for item in live]

    def clear(self) -> None:
        """Unschedule every value (their items become stale)."""
        for items in (self._items, self._run):
            for item in items:
                item[2] = STALE
        self._items = []
        self._run = deque()
        self._live = self._stale = 0

    def _discard_stale_heads(self) -> None:
        items = self._items
        while items and items[0][2] is STALE:
            heappop(items)
            self._stale -= 1
        run = self._run
        while run and run[0][2] is STALE:
            run.popleft()
            self._stale -= 1

    def _maybe_compact(self) -> None:
        size = len(self._items) + len(self._run)
        if size > MIN_HEAP and self._stale > MAX_STALE_FRACTION * size:
            self._compact()

    def _compact(self) -> None:
        """Rebuild the heap and the run from their live items: O(n)."""
        items = [item for item in self._items if item[2] is not STALE]
        heapify(items)
        self._items = items
        self._run = deque(item for item in self._run if item[2] is not STALE)
        self._stale = 0
        assert self._live == len(items) + len(self._run), (self._live, self.size)

    def _check_invariants(self) -> None:
        """Assert the heap property, the order of the run, the item counts and the distinct
        tie-breakers of live items: O(n). For tests and debugging."""
        items = self._items
        for index in range(1, len(items)):
            parent = items[(index - 1) // 2]
            assert parent[:2] <= items[index][:2], (index, parent, items[index])
        run = list(self._run)
        for before, after in zip(run, run[1:]):
            assert before[:2] <= after[:2], (before, after)
        every = items + run
        live = [item for item in every if item[2] is not STALE]
        assert len(live) == self._live, (len(live), self._live)
        assert len(every) - len(live) == self._stale, (len(every) - len(live), self._stale)
        assert len({item[1] for item in live}) == len(live), "two live items share a tie"
        assert len({id(item) for item in every}) == len(every), "an item is kept twice"
        assert self._stale <= MAX_STALE_FRACTION * len(every) or len(every) <= MIN_HEAP, (
            self._stale,
            len(every),
        )
