"""Counting what a beat delivered: each delivery's task id is ``<entry>@<scheduled time>``
(greensched's :func:`~greensched.executors._queue.message_id`); the expected scheduled times of
an entry firing every ``interval`` seconds are those of its lattice within a window."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

#: one scheduled run: (entry, scheduled time)
Run = tuple[str, datetime]


def scheduled_run(task_id: str) -> Run:
    """The (entry, scheduled time) of a task id ``<entry>@<ISO time>``."""
    entry, _, when = task_id.partition("@")
    return entry, datetime.fromisoformat(when)


@dataclass
class Tally:
    """What became of the runs expected in a window."""

    expected: int
    delivered: int  # expected runs delivered at least once
    duplicated: int  # runs (in or out of the window) delivered more than once
    missed: list[Run]

    def figures(self) -> dict[str, int]:
        return {
            "expected": self.expected,
            "delivered": self.delivered,
            "duplicated": self.duplicated,
            "missed": len(self.missed),
        }


def expected_runs(
    delivered: Iterable[Run], intervals: Mapping[str, float], start: datetime, end: datetime
) -> set[Run]:
    """The runs of each entry scheduled in ``[start, end]``: the lattice of its interval through
    its earliest delivered run."""
    expected = set()
    for entry, interval in intervals.items():
        times = [when for name, when in delivered if name == entry]
        if not times:
            raise AssertionError(f"nothing of {entry!r} was delivered")
        step = timedelta(seconds=interval)
        when = min(times)
        while when < start:
            when += step
        while when <= end:
            expected.add((entry, when))
            when += step
    return expected


def tally(delivered: list[Run], expected: set[Run]) -> Tally:
    counts = Counter(delivered)
    return Tally(
        expected=len(expected),
        delivered=sum(1 for run in expected if counts[run]),
        duplicated=sum(1 for count in counts.values() if count > 1),
        missed=sorted(run for run in expected if not counts[run]),
    )


def rq_scheduled_run(rq_job_id: str) -> Run:
    """The (job, scheduled time) of an RQ job id ``<job id>-<YYYYMMDDTHHMMSSffffff>Z``
    (:func:`greensched.executors.rq.rq_job_id` of a job id RQ accepts)."""
    job_id, _, when = rq_job_id.rpartition("-")
    return job_id, datetime.strptime(when, "%Y%m%dT%H%M%S%fZ").replace(tzinfo=timezone.utc)
