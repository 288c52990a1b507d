"""``greensched check JOBS_FILE``: validate a jobs file (as ``run`` does, touching no store) and
print the next fire times of each job, in the job's zone."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import TYPE_CHECKING

from greensched._clock import current_clock
from greensched.cli.errors import EXIT_OK
from greensched.cli.jobsfile import load
from greensched.cli.output import format_time, relative_time

if TYPE_CHECKING:
    import argparse

    from greensched.job import Job

__all__ = ("check_command", "fire_times")


def fire_times(job: Job, count: int) -> list[datetime]:
    """Return the first ``count`` run times of a complete job (fewer if its trigger ends),
    from its first run time on."""
    times: list[datetime] = []
    when = job.next_run_time
    while when is not None and len(times) < count:
        times.append(when)
        when = job.trigger.get_next_fire_time(when, when)
    return times


def check_command(args: argparse.Namespace) -> int:
    """Run ``greensched check``; return the exit code.

    :raises JobsFileError: naming the first bad value
    """
    source = load(args.jobs)
    now = current_clock().now()
    out = sys.stdout
    for job in source.jobs:
        zone = getattr(job.trigger, "timezone", None) or source.scheduler.timezone
        out.write(f"{job.id}: {job.trigger} (times in {zone})\n")
        times = fire_times(job, args.count)
        for when in times:
            out.write(f"  {format_time(when, zone, weekday=True)}  ({relative_time(when, now)})\n")
        if not times:
            out.write("  (never runs)\n")
    jobs = "1 job" if len(source.jobs) == 1 else f"{len(source.jobs)} jobs"
    out.write(f"{source.target}: {jobs}, valid\n")
    return EXIT_OK
