"""A monkey-patched gevent program that schedules date, interval and cron jobs and prints each
run.

Run it with ``python examples/basic.py [seconds]`` (default: 6 seconds).
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import sys
from datetime import datetime, timedelta, timezone

import gevent

from greensched.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED
from greensched.schedulers.gevent import GeventScheduler
from greensched.triggers.cron import CronTrigger


def tick(label):
    print(f"{datetime.now(timezone.utc):%H:%M:%S.%f} tick from {label}", flush=True)
    return label


def once():
    print(f"{datetime.now(timezone.utc):%H:%M:%S.%f} the one-off date job ran", flush=True)


def report(event):
    outcome = "failed" if event.exception else "done"
    print(f"    event: job {event.job_id!r} {outcome}", flush=True)


def main(seconds):
    scheduler = GeventScheduler(timezone="UTC")
    scheduler.add_listener(report, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    scheduler.add_job(tick, "interval", seconds=1, args=["every second"], id="every-second")
    scheduler.add_job(tick, "interval", seconds=2, args=["every 2 s"], id="every-2s")
    # six-field crontab: second minute hour day month day-of-week
    scheduler.add_job(
        tick, CronTrigger.from_crontab("*/3 * * * * *", timezone="UTC"), args=["cron"], id="cron"
    )
    scheduler.add_job(
        once, "date", run_date=datetime.now(timezone.utc) + timedelta(seconds=2), id="once"
    )
    loop = scheduler.start()
    scheduler.print_jobs()
    gevent.sleep(seconds)
    scheduler.shutdown()
    loop.join()
    print("scheduler shut down", flush=True)


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 6.0)
