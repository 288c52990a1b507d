"""A binary min-heap of reschedulable entries with lazy deletion (private)."""

from __future__ import annotations

from collections import deque
from heapq import heapify, heappop, heappush, heapreplace
from itertools import count, repeat
from typing import Any, Generic, TypeVar

__all__ = ("MAX_STALE_FRACTION", "MIN_HEAP", "DeadlineHeap", "HeapEntry")

T = TypeVar("T")

#: The heap is never compacted while its list holds this many items or fewer: below that size
#: stale items cost less than rebuilding the list.
MIN_HEAP = 100

#: The heap is compacted (rebuilt from its live items) when more than this fraction of the
#: items in its list are stale.
MAX_STALE_FRACTION = 0.5


class HeapEntry(Generic[T]):
    """One value that a :class:`DeadlineHeap` can schedule, reschedule and unschedule.

    An entry is created once and reused: a job store keeps one entry per job for as long as the
    job is stored, whether the job is scheduled (in the heap) or paused (not in the heap).

    :ivar value: the payload (for a job store: the :class:`~greensched.job.Job`)
    :ivar when: the deadline the entry is scheduled at, or ``None`` if it is not scheduled
    :ivar tie: the tie-breaker among entries with the same deadline
    """

    __slots__ = ("_item", "tie", "value", "when")

    def __init__(self, value: T, tie: str = "") -> None:
        self.value = value
        #: orders entries with the same deadline (then first in, first out)
        self.tie = tie
        self.when: float | None = None
        #: The one heap item that currently represents this entry, or ``None`` when the entry
        #: is not scheduled. Any other heap item pointing at this entry is stale.
        self._item: list[Any] | None = None

    @property
    def scheduled(self) -> bool:
        """``True`` if the entry is in a heap."""
        return self._item is not None

    # Entries are compared only by a heap without first-in-first-out order (``fifo=False``),
    # for two items with the same deadline and tie-breaker: then they are equal
    def __lt__(self, other: object) -> bool:
        return False

    def __gt__(self, other: object) -> bool:
        return False

    def __repr__(self) -> str:
        return f"<HeapEntry when={self.when!r} value={self.value!r}>"


class DeadlineHeap(Generic[T]):
    """A priority queue of :class:`HeapEntry` objects ordered by a float deadline.

    Items are ``[when, tie, seq, entry]`` lists. ``tie`` is the entry's own tie-breaker (a job
    store gives the job id, so that jobs due at the same time come in job id order); ``seq``
    comes from one :func:`itertools.count` per heap, so it is unique: entries with the same
    deadline and tie-breaker are ordered first in, first out, and item comparison never reaches
    the entry. A heap made with ``fifo=False`` is for entries whose tie-breakers differ (a job
    store's job ids): its ``seq`` is always 0, which saves an int per item, and entries with
    the same deadline and tie-breaker come in no particular order.

    The items are kept in two places: a binary heap (a list kept by :mod:`heapq`), and a
    *run*, a deque of items in ascending order. An item that sorts after every item of the run
    is appended to the run, in O(1); any other goes on the heap. The earliest item is at the
    front of one of them. A scheduler that moves each due job one interval ahead, or a burst of
    jobs added in order, keeps every item in the run: its jobs are taken from the front and put
    back at the end, and no heap is sifted.

    Unscheduling and rescheduling are lazy. The entry remembers its current item; :meth:`cancel` forgets it, :meth:`reschedule` adds a new item. Either way the old
    item stays where it is as a *stale* item, counted but otherwise untouched (O(1)). Stale
    items are dropped when they reach the front of the heap or of the run, and both are rebuilt
    in one pass (compacted) when they hold more than :data:`MIN_HEAP` items and more than
    :data:`MAX_STALE_FRACTION` of them are stale, which keeps that O(n) pass amortized O(1) per
    stale item. An entry whose item is at the front of the heap or of the run is moved with its
    item instead, leaving no stale item: that is what a scheduler does to each due job.

    Costs, with n items: :meth:`push` and :meth:`reschedule` O(log n), amortized (O(1) to the
    end of the run); :meth:`cancel` O(1), amortized; :meth:`peek` O(1), amortized; :meth:`pop`
    O(log n), amortized (O(1) from the run); :meth:`due` O(k log k) for k due entries, stale
    ones included (O(k) from the run).

    .. important:: Not thread-safe and not greenlet-safe: the owner serializes access (a job
       store runs under its scheduler's jobstore lock).
    """

    __slots__ = ("_counter", "_items", "_live", "_run", "_stale")

    def __init__(self, *, fifo: bool = True) -> None:
        # Items are lists, not tuples, so that a moved item is reused: a new item for each run
        # of each job would outlive young garbage collections and make the full ones (which
        # walk every job) frequent
        self._items: list[list[Any]] = []  # the heap
        self._run: deque[list[Any]] = deque()  # ascending
        self._counter = count() if fifo else repeat(0)
        self._live = 0  # scheduled entries; each has exactly one item
        self._stale = 0  # items that no longer represent their entry

    def __len__(self) -> int:
        """Return the number of scheduled entries (stale items are not counted)."""
        return self._live

    def __repr__(self) -> str:
        return f"<DeadlineHeap (live={self._live}, stale={self._stale})>"

    @property
    def stale_count(self) -> int:
        """The number of stale items still kept."""
        return self._stale

    @property
    def size(self) -> int:
        """The number of items kept: scheduled entries plus stale items."""
        return len(self._items) + len(self._run)

    def push(self, entry: HeapEntry[T], when: float) -> None:
        """Schedule an entry that is not scheduled.

        :param entry: the entry to schedule
        :param when: its deadline
        :raises ValueError: if the entry is already scheduled
        """
        if entry._item is not None:
            raise ValueError(f"{entry!r} is already scheduled")
        item = [when, entry.tie, next(self._counter), entry]
        self._add(item)
        entry.when = when
        entry._item = item
        self._live += 1

    def reschedule(self, entry: HeapEntry[T], when: float) -> None:
        """Move a scheduled entry to a new deadline.

        A deadline equal to the current one changes nothing (the entry keeps its place among
        entries with the same deadline). An entry whose item is at the front of the heap or of
        the run is moved with its item, leaving no stale item.

        :param entry: a scheduled entry
        :param when: its new deadline
        :raises ValueError: if the entry is not scheduled
        """
        old_item = entry._item
        if old_item is None:
            raise ValueError(f"{entry!r} is not scheduled")
        if when == entry.when:
            return
        run = self._run
        items = self._items
        if (run and run[0][3]._item is not run[0]) or (
            items and items[0][3]._item is not items[0]
        ):
            self._discard_stale_heads()  # the entry's item may be right behind a stale one
        seq = next(self._counter)
        entry.when = when
        if run and run[0] is old_item:
            run.popleft()
            old_item[0] = when
            old_item[2] = seq
            self._add(old_item)
        elif items and items[0] is old_item:
            last = run[-1] if run else None
            # seq is the newest (or 0, as every other: then equal (when, tie) go on the heap),
            # so the item sorts before the run's last one only by (when, tie)
            if last is not None and (
                when < last[0] or (when == last[0] and old_item[1] <= last[1])
            ):
                old_item[0] = when  # back into the heap, in one sift
                old_item[2] = seq
                heapreplace(items, old_item)
            else:
                heappop(items)
                old_item[0] = when
                old_item[2] = seq
                run.append(old_item)
        else:
            item = [when, entry.tie, seq, entry]
            entry._item = item  # from now on, the old item of the entry is stale
            self._add(item)
            self._stale = stale = self._stale + 1
            size = len(items) + len(run)
            if stale > MAX_STALE_FRACTION * size and size > MIN_HEAP:
                self._compact()

    def cancel(self, entry: HeapEntry[T]) -> None:
        """Unschedule an entry; its item becomes stale.

        Does nothing if the entry is not scheduled.
        """
        if entry._item is None:
            return
        entry._item = None
        entry.when = None
        self._live -= 1
        self._stale = stale = self._stale + 1
        size = len(self._items) + len(self._run)
        if stale > MAX_STALE_FRACTION * size and size > MIN_HEAP:
            self._compact()

    def peek(self) -> HeapEntry[T] | None:
        """Return the entry with the earliest deadline without removing it (``None`` if the
        heap is empty). Stale items found at the fronts are dropped on the way."""
        self._discard_stale_heads()
        items = self._items
        run = self._run
        if items:
            entry: HeapEntry[T] = (items[0] if not run or items[0] < run[0] else run[0])[3]
            return entry
        return run[0][3] if run else None

    def pop(self) -> HeapEntry[T]:
        """Unschedule and return the entry with the earliest deadline.

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
        entry: HeapEntry[T] = item[3]
        entry._item = None
        entry.when = None
        self._live -= 1
        self._maybe_compact()
        return entry

    def due(self, limit: float, most: int | None = None) -> list[HeapEntry[T]]:
        """Return the scheduled entries whose deadline is ``limit`` or earlier, in order
        (deadline, then first in first out), without unscheduling them.

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
            first: list[list[Any]] = []
            append = first.append
            for item in run:
                if item[0] > limit or len(first) >= room:
                    break
                if item[3]._item is item:
                    append(item)
            if found:
                first += found
                first.sort()  # two ascending runs: a merge
            found = first
        entries = [item[3] for item in found]
        return entries if most is None or len(entries) <= most else entries[:most]

    def _heap_due(self, limit: float, most: int | None) -> list[list[Any]]:
        """The live heap items due at ``limit`` in order (the first ``most`` at least)."""
        items = self._items
        size = len(items)
        cap = size if most is None else 2 * most  # beyond this many, walk best-first
        found: list[list[Any]] = []
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
        return [item for item in found if item[3]._item is item]

    def _first_due(self, limit: float, most: int) -> list[list[Any]]:
        """The first ``most`` live heap items due at ``limit``, in order: a best-first walk of
        the due subtree, with a small heap of the items on its border."""
        items = self._items
        size = len(items)
        found: list[list[Any]] = []
        append = found.append
        # two items of one entry can be equal (fifo=False): then their indexes are compared
        border = [(items[0], 0)]
        while border and len(found) < most:
            item, index = heappop(border)
            if item[3]._item is item:
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

    def ordered(self) -> list[HeapEntry[T]]:
        """Return every scheduled entry in order: O(n log n)."""
        live = [item for item in self._items if item[3]._item is item]
        live += [item for item in self._run if item[3]._item is item]
        live.sort()
        return [item[3] for item in live]

    def clear(self) -> None:
        """Unschedule every entry."""
        for items in (self._items, self._run):
            for item in items:
                entry = item[3]
                if entry._item is item:
                    entry._item = None
                    entry.when = None
        self._items = []
        self._run = deque()
        self._live = self._stale = 0

    def _add(self, item: list[Any]) -> None:
        """Put an item at the end of the run if it sorts after all of it, else on the heap."""
        run = self._run
        if not run or item > run[-1]:
            run.append(item)
        else:
            heappush(self._items, item)

    def _discard_stale_heads(self) -> None:
        items = self._items
        while items:
            item = items[0]
            if item[3]._item is item:
                break
            heappop(items)
            self._stale -= 1
        run = self._run
        while run:
            item = run[0]
            if item[3]._item is item:
                break
            run.popleft()
            self._stale -= 1

    def _maybe_compact(self) -> None:
        size = len(self._items) + len(self._run)
        if size > MIN_HEAP and self._stale > MAX_STALE_FRACTION * size:
            self._compact()

    def _compact(self) -> None:
        """Rebuild the heap and the run from their live items: O(n)."""
        items = [item for item in self._items if item[3]._item is item]
        heapify(items)
        self._items = items
        self._run = deque(item for item in self._run if item[3]._item is item)
        self._stale = 0
        assert self._live == len(items) + len(self._run), (self._live, self.size)

    def _check_invariants(self) -> None:
        """Assert the heap property, the order of the run and the item counts: O(n). For
        tests and debugging."""
        items = self._items
        for index in range(1, len(items)):
            parent = items[(index - 1) // 2]
            assert parent[:3] <= items[index][:3], (index, parent, items[index])
        run = list(self._run)
        for before, after in zip(run, run[1:]):
            assert before[:3] < after[:3], (before, after)
        every = items + run
        live = [item for item in every if item[3]._item is item]
        assert len(live) == self._live, (len(live), self._live)
        assert len(every) - len(live) == self._stale, (len(every) - len(live), self._stale)
        assert len({id(item[3]) for item in live}) == len(live), "an entry has two live items"
        for when, _, _, entry in live:
            assert entry.when == when, (entry, when)
        for item in every:
            if item[3]._item is None:
                assert item[3].when is None, item
        assert self._stale <= MAX_STALE_FRACTION * len(every) or len(every) <= MIN_HEAP, (
            self._stale,
            len(every),
        )
