"""A binary min-heap of reschedulable entries with lazy deletion (private)."""

from __future__ import annotations

from heapq import heapify, heappop, heappush, heapreplace
from itertools import count
from typing import Generic, TypeVar

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

    __slots__ = ("_seq", "tie", "value", "when")

    def __init__(self, value: T, tie: str = "") -> None:
        self.value = value
        #: orders entries with the same deadline (then first in, first out)
        self.tie = tie
        self.when: float | None = None
        #: The sequence number of the one heap item that currently represents this entry, or
        #: ``None`` when the entry is not scheduled. Any other heap item pointing at this
        #: entry is stale.
        self._seq: int | None = None

    @property
    def scheduled(self) -> bool:
        """``True`` if the entry is in a heap."""
        return self._seq is not None

    def __repr__(self) -> str:
        return f"<HeapEntry when={self.when!r} value={self.value!r}>"


class DeadlineHeap(Generic[T]):
    """A priority queue of :class:`HeapEntry` objects ordered by a float deadline.

    The underlying list holds ``(when, tie, seq, entry)`` tuples. ``tie`` is the entry's own
    tie-breaker (a job store gives the job id, so that jobs due at the same time come in job id
    order); ``seq`` comes from one :func:`itertools.count` per heap, so it is unique: entries with
    the same deadline and tie-breaker are ordered first in, first out, and tuple comparison
    never reaches the entry.

    Unscheduling and rescheduling are lazy. The entry remembers the ``seq`` of its current
    item; :meth:`cancel` forgets it, :meth:`reschedule` pushes a new item. Either way the old
    item stays in the list as a *stale* item, counted but otherwise untouched (O(1)). Stale
    items are dropped when they reach the head of the heap, and the whole list is rebuilt in
    one pass (compacted) when it is longer than :data:`MIN_HEAP` and more than
    :data:`MAX_STALE_FRACTION` of it is stale, which keeps that O(n) pass amortized O(1) per
    stale item.

    Costs, with n items in the list: :meth:`push` and :meth:`reschedule` O(log n), amortized;
    :meth:`cancel` O(1), amortized; :meth:`peek` O(1), amortized; :meth:`pop` O(log n),
    amortized; :meth:`due` O(k log k) for k due entries, stale ones included.

    .. important:: Not thread-safe and not greenlet-safe: the owner serializes access (a job
       store runs under its scheduler's jobstore lock).
    """

    __slots__ = ("_counter", "_items", "_live", "_stale")

    def __init__(self) -> None:
        self._items: list[tuple[float, str, int, HeapEntry[T]]] = []
        self._counter = count()
        self._live = 0  # scheduled entries; each has exactly one item in the list
        self._stale = 0  # items in the list that no longer represent their entry

    def __len__(self) -> int:
        """Return the number of scheduled entries (stale items are not counted)."""
        return self._live

    def __repr__(self) -> str:
        return f"<DeadlineHeap (live={self._live}, stale={self._stale})>"

    @property
    def stale_count(self) -> int:
        """The number of stale items still in the list."""
        return self._stale

    @property
    def size(self) -> int:
        """The length of the list: scheduled entries plus stale items."""
        return len(self._items)

    def push(self, entry: HeapEntry[T], when: float) -> None:
        """Schedule an entry that is not scheduled.

        :param entry: the entry to schedule
        :param when: its deadline
        :raises ValueError: if the entry is already scheduled
        """
        if entry._seq is not None:
            raise ValueError(f"{entry!r} is already scheduled")
        seq = next(self._counter)
        heappush(self._items, (when, entry.tie, seq, entry))
        entry.when = when
        entry._seq = seq
        self._live += 1

    def reschedule(self, entry: HeapEntry[T], when: float) -> None:
        """Move a scheduled entry to a new deadline.

        A deadline equal to the current one changes nothing (the entry keeps its place among
        entries with the same deadline). The entry at the head of the heap is moved in place,
        in one sift, leaving no stale item: that is what a scheduler does to each due job.

        :param entry: a scheduled entry
        :param when: its new deadline
        :raises ValueError: if the entry is not scheduled
        """
        old_seq = entry._seq
        if old_seq is None:
            raise ValueError(f"{entry!r} is not scheduled")
        if when == entry.when:
            return
        items = self._items
        head = items[0]
        if head[3]._seq != head[2]:
            self._discard_stale_heads()
            head = items[0]
        seq = next(self._counter)
        if head[2] == old_seq:
            heapreplace(items, (when, entry.tie, seq, entry))
            entry.when = when
            entry._seq = seq
        else:
            heappush(items, (when, entry.tie, seq, entry))
            entry.when = when
            entry._seq = seq
            self._stale = stale = self._stale + 1
            if stale > MAX_STALE_FRACTION * len(items) and len(items) > MIN_HEAP:
                self._compact()

    def cancel(self, entry: HeapEntry[T]) -> None:
        """Unschedule an entry; its item in the list becomes stale.

        Does nothing if the entry is not scheduled.
        """
        if entry._seq is None:
            return
        entry._seq = None
        entry.when = None
        self._live -= 1
        self._stale = stale = self._stale + 1
        if stale > MAX_STALE_FRACTION * len(self._items) and len(self._items) > MIN_HEAP:
            self._compact()

    def peek(self) -> HeapEntry[T] | None:
        """Return the entry with the earliest deadline without removing it (``None`` if the
        heap is empty). Stale items found at the head are dropped on the way."""
        items = self._items
        if items:
            head = items[0]
            if head[3]._seq == head[2]:
                return head[3]
            self._discard_stale_heads()
        return items[0][3] if items else None

    def pop(self) -> HeapEntry[T]:
        """Unschedule and return the entry with the earliest deadline.

        :raises IndexError: if the heap is empty
        """
        self._discard_stale_heads()
        if not self._items:
            raise IndexError("pop from an empty DeadlineHeap")
        entry = heappop(self._items)[3]
        entry._seq = None
        entry.when = None
        self._live -= 1
        self._maybe_compact()
        return entry

    def due(self, limit: float) -> list[HeapEntry[T]]:
        """Return the scheduled entries whose deadline is ``limit`` or earlier, in heap order
        (deadline, then first in first out), without unscheduling them.

        The items at or before ``limit`` form a subtree at the root of the heap, so only that
        subtree and its border are visited, then sorted: O(k log k) for k items found (stale
        ones included). Stale items at the head are dropped first.
        """
        self._discard_stale_heads()
        items = self._items
        if not items or items[0][0] > limit:
            return []
        size = len(items)
        found: list[tuple[float, str, int, HeapEntry[T]]] = []
        append = found.append
        stack = [0]
        pop = stack.pop
        push = stack.append
        while stack:
            index = pop()
            item = items[index]
            if item[0] <= limit:
                append(item)
                child = 2 * index + 1
                if child < size:
                    push(child)
                    if child + 1 < size:
                        push(child + 1)
        found.sort()
        return [entry for _, _, seq, entry in found if entry._seq == seq]

    def ordered(self) -> list[HeapEntry[T]]:
        """Return every scheduled entry in heap order: O(n log n)."""
        live = [item for item in self._items if item[3]._seq == item[2]]
        live.sort()
        return [item[3] for item in live]

    def clear(self) -> None:
        """Unschedule every entry."""
        for _, _, seq, entry in self._items:
            if entry._seq == seq:
                entry._seq = None
                entry.when = None
        self._items = []
        self._live = self._stale = 0

    def _discard_stale_heads(self) -> None:
        items = self._items
        while items:
            _, _, seq, entry = items[0]
            if entry._seq == seq:
                return
            heappop(items)
            self._stale -= 1

    def _maybe_compact(self) -> None:
        size = len(self._items)
        if size > MIN_HEAP and self._stale > MAX_STALE_FRACTION * size:
            self._compact()

    def _compact(self) -> None:
        """Rebuild the list from its live items: O(n)."""
        items = [item for item in self._items if item[3]._seq == item[2]]
        heapify(items)
        self._items = items
        self._stale = 0
        assert self._live == len(items), (self._live, len(items))

    def _check_invariants(self) -> None:
        """Assert the heap property and the item counts: O(n). For tests and debugging."""
        items = self._items
        for index in range(1, len(items)):
            parent = items[(index - 1) // 2]
            assert parent[:3] <= items[index][:3], (index, parent, items[index])
        live = [item for item in items if item[3]._seq == item[2]]
        assert len(live) == self._live, (len(live), self._live)
        assert len(items) - len(live) == self._stale, (len(items) - len(live), self._stale)
        assert len({id(item[3]) for item in live}) == len(live), "an entry has two live items"
        for when, _, _, entry in live:
            assert entry.when == when, (entry, when)
        for item in items:
            if item[3]._seq is None:
                assert item[3].when is None, item
        assert self._stale <= MAX_STALE_FRACTION * len(items) or len(items) <= MIN_HEAP, (
            self._stale,
            len(items),
        )
