"""The memory run log's fast path (``append``, what the scheduler uses) and its writes by
``run_id`` agree: a record appended and then written again (a copy) is replaced, not
doubled; the rings stay bounded."""

from __future__ import annotations

import gc
from datetime import timedelta

from greensched.history import OUTCOME_ERROR, OUTCOME_EXECUTED, OUTCOME_RUNNING, RunRecord
from greensched.history.memory import RING_SHARDS, MemoryRunLog
from tests.history.conftest import T0


def record(number: int, outcome: str = OUTCOME_RUNNING, job_id: str = "job") -> RunRecord:
    when = T0 + timedelta(seconds=number)
    return RunRecord(f"run-{number:03d}", job_id, job_id, when, outcome, started=when, owner="me")


def test_a_copy_written_after_appends_replaces_the_appended_record() -> None:
    log = MemoryRunLog(limit=3)
    for number in range(5):
        log.append(record(number, OUTCOME_EXECUTED))
    ended = record(4, OUTCOME_ERROR)
    ended.duration = 1.5
    log.write([ended])

    runs = log.read()
    assert [run.run_id for run in runs] == ["run-004", "run-003", "run-002"]  # bounded
    assert runs[0].outcome == OUTCOME_ERROR
    assert runs[0].ended == T0 + timedelta(seconds=5.5)  # started + duration
    assert runs[0].lateness == 0.0

    log.append(record(5))
    log.write([record(3, OUTCOME_ERROR)])
    assert [(run.run_id, run.outcome) for run in log.read()] == [
        ("run-005", OUTCOME_RUNNING),
        ("run-004", OUTCOME_ERROR),
        ("run-003", OUTCOME_ERROR),
        ("run-002", OUTCOME_EXECUTED),
    ]


def test_running_records_stay_until_they_end_then_join_the_bounded_ring() -> None:
    """The limit bounds the finished runs; a run that is running is kept until it ends
    (``max_instances`` bounds those), and the ring takes it then."""
    log = MemoryRunLog(limit=2)
    running = [record(number) for number in range(3)]
    for run in running:
        log.append(run)
    assert [run.run_id for run in log.read()] == ["run-002", "run-001", "run-000"]
    for run in running:
        run.outcome = OUTCOME_EXECUTED
        log.append(run)  # what the recorder does when a run ends
    assert [(run.run_id, run.outcome) for run in log.read()] == [
        ("run-002", OUTCOME_EXECUTED),
        ("run-001", OUTCOME_EXECUTED),
    ]


def test_close_running_and_prune_see_the_appended_records() -> None:
    log = MemoryRunLog(limit=10, max_age=2.5)
    for number in range(4):
        log.append(record(number))
    assert log.close_running(["me"], T0, "greensched.ProcessDied", "gone") == 4
    assert {run.outcome for run in log.read()} == {OUTCOME_ERROR}
    assert log.prune(T0 + timedelta(seconds=4)) == 2
    assert [run.run_id for run in log.read()] == ["run-003", "run-002"]
    log.write([record(3, OUTCOME_EXECUTED)])
    assert [run.outcome for run in log.read()] == [OUTCOME_EXECUTED, OUTCOME_ERROR]


def test_a_job_with_one_run_keeps_it_through_replace_prune_and_a_new_limit() -> None:
    """A job's one finished run (a burst of date jobs runs each once) goes through every
    operation, as do the rings that follow it."""
    log = MemoryRunLog(limit=3, max_age=10)
    log.append(record(1, OUTCOME_EXECUTED, job_id="once"))
    log.write([record(1, OUTCOME_ERROR, job_id="once")])  # written again: replaced
    assert [(run.run_id, run.outcome) for run in log.read("once")] == [("run-001", OUTCOME_ERROR)]
    log.write([record(1, OUTCOME_RUNNING, job_id="once")])  # running again: out of the ring
    assert [(run.run_id, run.outcome) for run in log.read()] == [("run-001", OUTCOME_RUNNING)]
    log.append(record(1, OUTCOME_EXECUTED, job_id="once"))
    for number in (2, 3, 4):
        log.append(record(number, OUTCOME_EXECUTED, job_id="once"))
    assert [run.run_id for run in log.read("once")] == ["run-004", "run-003", "run-002"]
    assert log.prune(T0 + timedelta(seconds=13.5)) == 2  # leaves one
    log.configure(limit=1, max_age=10)
    log.append(record(5, OUTCOME_EXECUTED, job_id="once"))
    assert [run.run_id for run in log.read("once")] == ["run-005"]  # the new limit: one
    assert log.prune(T0 + timedelta(seconds=30)) == 1
    assert log.read() == []


def test_a_begun_run_written_finished_is_kept_once() -> None:
    """A run begun through the scheduler's path (begin) and then written finished through
    write (as another writer would) is one record, finished."""
    log = MemoryRunLog(limit=5)
    started = T0 + timedelta(seconds=1)
    token = log.begin("run-001", "job", "job", started, started, "h", 1, "me")
    assert [(run.run_id, run.outcome) for run in log.read()] == [("run-001", OUTCOME_RUNNING)]
    log.write([record(1, OUTCOME_EXECUTED)])
    assert [(run.run_id, run.outcome) for run in log.read()] == [("run-001", OUTCOME_EXECUTED)]
    log.finish(token, OUTCOME_ERROR, 1.0)  # already closed: nothing more
    assert [(run.run_id, run.outcome) for run in log.read()] == [("run-001", OUTCOME_EXECUTED)]


def test_runs_begun_through_the_journal_read_back_with_their_run_ids() -> None:
    """The recorder's way (``_journal``): a run begun as a number is read as its writer's
    prefix and that number, running, then as written by ``finish``."""
    log = MemoryRunLog(limit=5)
    begun, writer = log._journal("h", 1, "me", "me-")
    started = T0 + timedelta(seconds=1)
    begun[1000000000007] = ("job", "Job", T0, started, writer)

    [running] = log.read()
    assert (running.run_id, running.outcome) == ("me-1000000000007", OUTCOME_RUNNING)
    assert (running.job_id, running.job_name, running.scheduled, running.started) == (
        "job",
        "Job",
        T0,
        started,
    )
    assert (running.host, running.pid, running.owner) == ("h", 1, "me")
    assert running.lateness == 1.0

    log.finish(1000000000007, OUTCOME_EXECUTED, 2.0, "'done'")
    [record] = log.read("job")
    assert (record.run_id, record.outcome, record.retval) == (
        "me-1000000000007",
        OUTCOME_EXECUTED,
        "'done'",
    )
    assert record.ended == started + timedelta(seconds=2)
    assert (record.host, record.pid, record.owner) == ("h", 1, "me")


def test_a_journal_run_written_finished_elsewhere_is_kept_once_and_closed_by_owner() -> None:
    log = MemoryRunLog(limit=5)
    begun, writer = log._journal("h", 1, "me", "me-")
    begun[1000000000001] = ("job", "job", T0, T0, writer)
    begun[1000000000002] = ("job", "job", T0, T0, writer)

    done = RunRecord("me-1000000000001", "job", "job", T0, OUTCOME_EXECUTED, started=T0)
    log.write([done])
    assert [(run.run_id, run.outcome) for run in log.read()] == [
        ("me-1000000000002", OUTCOME_RUNNING),
        ("me-1000000000001", OUTCOME_EXECUTED),
    ]
    log.finish(1000000000001, OUTCOME_ERROR, 1.0)  # already closed: nothing more
    assert len(log.read()) == 2

    assert log.close_running(["someone else"], T0, "greensched.ProcessDied", "gone") == 0
    assert log.close_running(["me"], T0, "greensched.ProcessDied", "gone") == 1
    assert [(run.run_id, run.outcome, run.exc_type) for run in log.read()] == [
        ("me-1000000000002", OUTCOME_ERROR, "greensched.ProcessDied"),
        ("me-1000000000001", OUTCOME_EXECUTED, None),
    ]
    log.finish(1000000000002, OUTCOME_EXECUTED, 1.0)  # closed meanwhile: nothing more
    assert [run.outcome for run in log.read()] == [OUTCOME_ERROR, OUTCOME_EXECUTED]


def test_a_record_written_again_replaces_a_journal_run_of_the_ring() -> None:
    log = MemoryRunLog(limit=5)
    begun, writer = log._journal("h", 1, "me", "me-")
    begun[1000000000003] = ("job", "job", T0, T0, writer)
    log.finish(1000000000003, OUTCOME_EXECUTED, 1.0, "None")
    again = RunRecord("me-1000000000003", "job", "job", T0, OUTCOME_ERROR, started=T0, owner="me")
    log.write([again])
    [record] = log.read()
    assert (record.run_id, record.outcome, record.retval) == (
        "me-1000000000003",
        OUTCOME_ERROR,
        None,
    )


def rings_of(log: MemoryRunLog) -> list[tuple[object, ...]]:
    """Every job's ring in ``log``, from all its shards."""
    return [ring for shard in log._rings for ring in shard.values()]


def test_the_rings_are_no_containers_the_garbage_collector_tracks() -> None:
    """A job's runs are kept in nothing the collector keeps tracking: a young collection, the
    first to see a run's ring, untracks it (a ring left tracked may be promoted to the oldest
    generation, and enough of those start a full collection, which walks every job while the
    hub waits). The newest ``limit`` runs stay, in order, through every change."""
    log = MemoryRunLog(limit=3, max_age=100)
    for number in range(40):
        log.append(record(number, OUTCOME_EXECUTED, job_id=f"job-{number % 4}"))
    gc.collect()  # the log is old, as a scheduler's is
    gc.disable()
    try:
        for number in range(40, 80):
            log.append(record(number, OUTCOME_EXECUTED, job_id=f"job-{number % 4}"))
        assert all(gc.is_tracked(ring) for ring in rings_of(log))
        gc.collect(0)
        assert not any(gc.is_tracked(ring) for ring in rings_of(log))
    finally:
        gc.enable()
    log.write([record(77, OUTCOME_ERROR, job_id="job-1")])  # replaced in its ring
    log.configure(limit=2, max_age=100)
    log.prune(T0 + timedelta(seconds=1))
    assert [(run.run_id, run.outcome) for run in log.read("job-1")] == [
        ("run-077", OUTCOME_ERROR),
        ("run-073", OUTCOME_EXECUTED),
    ]
    assert [run.run_id for run in log.read()][:4] == ["run-079", "run-078", "run-077", "run-076"]


def test_the_runs_of_jobs_in_every_shard_are_read_pruned_and_cleared_together() -> None:
    """The rings are kept in shards by job id (no dict of every job to grow at once): the
    history of many jobs reads as one, newest first, and is bounded, pruned and cleared as
    one."""
    jobs = 4 * RING_SHARDS
    log = MemoryRunLog(limit=2, max_age=1000)
    for number in range(3 * jobs):  # three runs of each job: the oldest falls out
        log.append(record(number, OUTCOME_EXECUTED, job_id=f"job-{number % jobs}"))
    assert sum(1 for shard in log._rings if shard) > RING_SHARDS // 2
    newest = [run.run_id for run in log.read(limit=3 * jobs)]
    assert newest == [f"run-{number:03d}" for number in reversed(range(jobs, 3 * jobs))]
    assert [run.run_id for run in log.read("job-7")] == [
        f"run-{2 * jobs + 7:03d}",
        f"run-{jobs + 7:03d}",
    ]
    log.configure(limit=1, max_age=1000)
    assert len(log.read(limit=3 * jobs)) == jobs
    # the runs of the first half of the jobs are older than the cut-off
    assert log.prune(T0 + timedelta(seconds=1000 + 2 * jobs + jobs // 2)) == jobs // 2
    assert len(log.read(limit=3 * jobs)) == jobs - jobs // 2
    log.clear()
    assert log.read() == []
    assert rings_of(log) == []
