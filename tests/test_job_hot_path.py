"""The Job's share of the processing loop's fast path, and of memory per job."""

from __future__ import annotations

from datetime import timedelta

from tests.test_job import NOON, StubTrigger, make_job


def test_due_run_times_come_with_the_next_run_time_after_them() -> None:
    job = make_job()
    assert job._get_due_run_times(NOON + timedelta(seconds=25)) == (
        [NOON, NOON + timedelta(seconds=10), NOON + timedelta(seconds=20)],
        NOON + timedelta(seconds=30),
    )


def test_with_nothing_due_the_next_run_time_is_the_jobs_own() -> None:
    job = make_job()
    assert job._get_due_run_times(NOON - timedelta(seconds=1)) == ([], NOON)


def test_with_the_trigger_done_there_is_no_next_run_time() -> None:
    job = make_job(trigger=StubTrigger(10, end=NOON + timedelta(seconds=5)))
    assert job._get_due_run_times(NOON + timedelta(minutes=1)) == ([NOON], None)


def test_jobs_of_one_function_share_its_reference_string() -> None:
    first = make_job(id="first")
    second = make_job(id="second")
    assert first.func_ref == "tests.test_job:job_func"
    assert first.func_ref is second.func_ref
