"""What is kept: the newest ``history_limit`` runs per job, none past ``history_max_age``,
the runs of a removed job; and nothing at all with ``history=False``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from greensched.history import OUTCOME_EXECUTED
from greensched.testing import MockClock
from tests.history.conftest import T0, Ends


def run_ticks(scheduler: Any, clock: MockClock, ends: Ends, number: int) -> None:
    """Run the job ``tick`` (every second from T0) ``number`` times."""
    ends.wait(1)
    for seconds in range(1, number):
        clock.jump(1)
        ends.wait(seconds + 1)


def test_the_newest_runs_of_each_job_are_kept(make_scheduler: Any, clock: MockClock) -> None:
    scheduler = make_scheduler(history_limit=3)
    ends = Ends(scheduler)
    scheduler.add_job(lambda: None, "interval", seconds=1, next_run_time=T0, id="tick")
    scheduler.add_job(lambda: None, id="once")
    scheduler.start()
    run_ticks(scheduler, clock, ends, 5)

    assert [run.scheduled for run in scheduler.get_runs("tick")] == [
        T0 + timedelta(seconds=seconds) for seconds in (4, 3, 2)
    ]
    assert [run.job_id for run in scheduler.get_runs("once")] == ["once"]  # a job of its own
    assert len(scheduler.get_runs(limit=2)) == 2


def test_runs_older_than_the_max_age_are_dropped(make_scheduler: Any, clock: MockClock) -> None:
    scheduler = make_scheduler(history_max_age=2.5)
    ends = Ends(scheduler)
    scheduler.add_job(lambda: None, "interval", seconds=1, next_run_time=T0, id="tick")
    scheduler.start()
    run_ticks(scheduler, clock, ends, 5)

    assert [run.scheduled for run in scheduler.get_runs("tick")] == [
        T0 + timedelta(seconds=seconds) for seconds in (4, 3, 2)
    ]


def test_the_runs_of_a_removed_job_are_kept(make_scheduler: Any) -> None:
    scheduler = make_scheduler()
    ends = Ends(scheduler)
    scheduler.add_job(lambda: None, "interval", hours=1, next_run_time=T0, id="gone")
    scheduler.start()
    ends.wait(1)
    scheduler.remove_job("gone")

    [run] = scheduler.get_runs("gone")
    assert run.outcome == OUTCOME_EXECUTED


def test_pages_of_runs_follow_each_other(make_scheduler: Any, clock: MockClock) -> None:
    scheduler = make_scheduler()
    ends = Ends(scheduler)
    scheduler.add_job(lambda: None, "interval", seconds=1, next_run_time=T0, id="tick")
    scheduler.start()
    run_ticks(scheduler, clock, ends, 5)

    first = scheduler.get_runs(limit=2)
    second = scheduler.get_runs(limit=2, before=first[-1].sort_time)
    rest = scheduler.get_runs(before=second[-1].sort_time)
    assert [run.scheduled for run in first + second + rest] == [
        T0 + timedelta(seconds=seconds) for seconds in (4, 3, 2, 1, 0)
    ]


def test_history_off_records_nothing(make_scheduler: Any) -> None:
    scheduler = make_scheduler(history=False)
    ends = Ends(scheduler)
    scheduler.add_job(lambda: None, id="once")
    scheduler.start()
    ends.wait(1)

    assert not scheduler.history_enabled
    assert scheduler.run_history is None
    assert scheduler.get_runs() == []
    assert scheduler.get_processes() == []
