"""Generated job ids: valid uuid4 hex strings that sort in the order they were made."""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timezone

import pytest

from greensched import job as job_module
from greensched.testing import MockClock

from .schedulers.conftest import RecordingScheduler


def noop() -> None:
    """The job function."""


def test_generated_ids_are_uuid4_hex() -> None:
    for _ in range(1000):
        job_id = job_module._new_id()
        parsed = uuid.UUID(job_id)
        assert parsed.hex == job_id
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122


def test_generated_ids_sort_in_the_order_they_were_made() -> None:
    made = [job_module._new_id() for _ in range(10_000)]
    assert sorted(made) == made
    assert len(set(made)) == len(made)


def test_jobs_without_ids_due_together_come_in_the_order_they_were_added() -> None:
    when = datetime(2040, 1, 1, tzinfo=timezone.utc)
    scheduler = RecordingScheduler(clock=MockClock(when), timezone="UTC")
    scheduler.start(paused=True)
    added = [scheduler.add_job(noop, "date", run_date=when) for _ in range(300)]
    assert [job.id for job in scheduler.get_jobs()] == [job.id for job in added]
    scheduler.shutdown()


def test_a_new_generator_starts_elsewhere() -> None:
    before = job_module._new_id()
    job_module._reseed_ids()
    after = job_module._new_id()
    assert before[12:] != after[12:]
    assert uuid.UUID(after).version == 4


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    reading, writing = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: send the id it generates, and leave
        try:
            os.write(writing, job_module._new_id().encode())
        finally:
            os._exit(0)
    os.close(writing)
    child_id = os.read(reading, 64).decode()
    os.close(reading)
    os.waitpid(pid, 0)
    parent_id = job_module._new_id()
    assert uuid.UUID(child_id).version == 4
    assert child_id[12:] != parent_id[12:]


def test_an_explicit_id_is_kept() -> None:
    scheduler = RecordingScheduler(timezone="UTC")
    assert scheduler.add_job(noop, "date", id="mine").id == "mine"
    assert len(scheduler.add_job(noop, "date", id="").id) == 32  # as in APScheduler 3.x
