"""``greensched runs [JOB_ID] [--outcome OUTCOME] [--limit N] [--json]``: the run history of a
job store (every job's, or one job's), newest first, as the schedulers running on the store
recorded it (see :mod:`greensched.history`)."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import tzinfo
from typing import TYPE_CHECKING

from tzlocal import get_localzone

from greensched.cli.admin import opened
from greensched.cli.errors import EXIT_OK, EXIT_USAGE, CommandError
from greensched.cli.output import format_time, render_table
from greensched.history import OUTCOMES, RunRecord
from greensched.schedulers._history import check_outcomes

if TYPE_CHECKING:
    import argparse

__all__ = ("HEADERS", "runs_command", "runs_table")

#: The columns of the table
HEADERS = ("STARTED", "JOB", "OUTCOME", "DURATION", "LATENESS", "PROCESS", "DETAIL")
#: The most characters of the DETAIL column
DETAIL_WIDTH = 60


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f} s"


def _detail(record: RunRecord) -> str:
    """What a run gave: its exception (type: message), else its return value."""
    if record.exc_type is not None:
        text = record.exc_type.rsplit(".", 1)[-1]
        if record.exc_message:
            text += f": {record.exc_message}"
    else:
        text = record.retval or ""
    text = " ".join(text.split())  # one line
    return text if len(text) <= DETAIL_WIDTH else text[: DETAIL_WIDTH - 1] + "…"


def runs_table(records: Sequence[RunRecord], zone: tzinfo) -> str:
    """The table of ``records``, times in ``zone``: the start (the scheduled time, marked
    ``due``, for a run that never started), job, outcome, duration, lateness, process and
    what it gave."""
    rows = []
    for record in records:
        if record.started is not None:
            when = format_time(record.started, zone)
        else:
            when = f"{format_time(record.sort_time, zone)} (due)"
        rows.append(
            (
                when,
                record.job_id,
                record.outcome,
                _seconds(record.duration),
                _seconds(record.lateness),
                f"{record.host}:{record.pid}" if record.host else "-",
                _detail(record),
            )
        )
    return render_table(HEADERS, rows)


def _outcomes(text: str | None) -> list[str] | None:
    """``--outcome``: one outcome or several, comma-separated.

    :raises CommandError: (usage) naming the bad one and the valid ones
    """
    if text is None:
        return None
    names = [name.strip() for name in text.split(",") if name.strip()]
    try:
        check_outcomes(names)
    except ValueError:
        bad = next(name for name in names if name not in OUTCOMES)
        raise CommandError(
            f"--outcome: {bad!r} is not an outcome; valid: {', '.join(OUTCOMES)}",
            exit_code=EXIT_USAGE,
        ) from None
    return names


def runs_command(args: argparse.Namespace) -> int:
    """``greensched runs [JOB_ID] [--outcome OUTCOME[,...]] [--limit N] [--json]``: the store's
    recorded runs, newest first, as a table (times in local time, as ``jobs list``) or as a
    JSON array of records."""
    outcomes = _outcomes(args.outcome)
    with opened(args) as admin:
        records = admin.scheduler.get_runs(args.job_id, outcome=outcomes, limit=args.limit)
    if args.json:
        sys.stdout.write(json.dumps([record.to_dict() for record in records], indent=2) + "\n")
        return EXIT_OK
    if not records:
        whose = f"job {args.job_id!r}" if args.job_id else "any job"
        sys.stdout.write(f"No recorded runs of {whose} in {admin.where}\n")
        return EXIT_OK
    sys.stdout.write(runs_table(records, get_localzone()))
    return EXIT_OK
