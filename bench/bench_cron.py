"""Cron next-fire-time computation: greensched side by side with APScheduler 3.11 and croniter.

Run with ``pytest bench/bench_cron.py -o python_files='bench_*.py' --benchmark-only`` (or
``tox -e bench``); add ``--benchmark-json=out.json`` and run ``python bench/report.py out.json``
for a table.

Each round computes ``FIRES`` successive fire times of one expression from a fixed instant, the
way a scheduler walks a job's schedule: each answer is the previous fire time of the next call.
APScheduler 3.11 gets the keyword form of each expression (its ``from_crontab`` reads weekday
numbers differently and knows no ``L``); croniter gets the crontab text.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger as APSCronTrigger
from croniter import croniter

from greensched.triggers.cron import CronTrigger

FIRES = 200
START = datetime(2024, 1, 1, 0, 0, 0, 1, tzinfo=timezone.utc)

#: crontab text -> (APScheduler keyword arguments, zone)
EXPRESSIONS: dict[str, tuple[dict[str, Any], str]] = {
    "*/5 * * * *": ({"minute": "*/5"}, "UTC"),
    "0 9 * * mon-fri": ({"minute": 0, "hour": 9, "day_of_week": "mon-fri"}, "UTC"),
    "0 0 L * *": ({"minute": 0, "hour": 0, "day": "last"}, "UTC"),
    "30 2 * * * (Europe/Berlin)": ({"minute": 30, "hour": 2}, "Europe/Berlin"),
    "*/15 * * * * (Europe/Berlin)": ({"minute": "*/15"}, "Europe/Berlin"),
}


def crontab_text(name: str) -> str:
    return name.split(" (")[0]


def trigger_walker(trigger: Any, zone: ZoneInfo) -> Callable[[], datetime]:
    """Return a function computing FIRES successive fire times of a 3.x-style trigger."""
    now = START.astimezone(zone)

    def walk() -> datetime:
        previous = None
        fire_time = None
        for _ in range(FIRES):
            fire_time = trigger.get_next_fire_time(previous, now)
            previous = fire_time
        assert fire_time is not None
        return fire_time

    return walk


def croniter_walker(text: str, zone: ZoneInfo) -> Callable[[], datetime]:
    start = START.astimezone(zone)

    def walk() -> datetime:
        iterator = croniter(text, start)
        fire_time = start
        for _ in range(FIRES):
            fire_time = iterator.get_next(datetime)
        return fire_time

    return walk


@pytest.mark.parametrize("implementation", ["greensched", "apscheduler", "croniter"])
@pytest.mark.parametrize("name", list(EXPRESSIONS))
def test_next_fire_times(benchmark: Any, name: str, implementation: str) -> None:
    keywords, zone_name = EXPRESSIONS[name]
    zone = ZoneInfo(zone_name)
    text = crontab_text(name)
    if implementation == "greensched":
        walk = trigger_walker(CronTrigger.from_crontab(text, timezone=zone), zone)
    elif implementation == "apscheduler":
        walk = trigger_walker(APSCronTrigger(timezone=zone, **keywords), zone)
    else:
        walk = croniter_walker(text, zone)
    benchmark.extra_info.update(
        operation=f"cron `{name}`",
        size=FIRES,
        implementation=implementation,
        jobs_per_call=FIRES,
    )
    benchmark.pedantic(walk, rounds=30, warmup_rounds=2)
