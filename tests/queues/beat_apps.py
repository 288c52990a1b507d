"""Celery apps with a ``beat_schedule`` for the mapping tests (no broker is contacted)."""

from __future__ import annotations

from datetime import timedelta

from celery import Celery, shared_task
from celery.schedules import crontab, schedule


@shared_task
def ping(*args: object, **kwargs: object) -> None:
    """A task every app here has (never run: these tests send nothing)."""


mapped = Celery("mapped", broker="memory://")
mapped.conf.timezone = "Europe/Berlin"
mapped.conf.beat_schedule = {
    "seconds": {"task": ping.name, "schedule": 2.5, "args": ["key", 1], "kwargs": {"a": 1}},
    "delta": {"task": ping.name, "schedule": timedelta(minutes=5), "args": ["key"]},
    "schedule": {"task": ping.name, "schedule": schedule(timedelta(hours=1)), "args": ["k"]},
    "cron": {
        "task": ping.name,
        "schedule": crontab(minute="0,30", hour="9-17", day_of_week="sun,sat"),
        "args": ["key"],
        "options": {"queue": "special", "priority": 5, "headers": {"x": "1"}, "expires": 60},
    },
}


class business_hours(schedule):
    """A schedule class of one's own (``solar`` is one too, but needs the ephem library)."""

    def __repr__(self) -> str:
        return "<business_hours>"


custom_app = Celery("custom_app", broker="memory://")
custom_app.conf.beat_schedule = {
    "desk": {"task": ping.name, "schedule": business_hours(timedelta(hours=1)), "args": ["k"]},
}

unknown_task = Celery("unknown_task", broker="memory://")
unknown_task.conf.beat_schedule = {"ghost": {"task": "no.such.task", "schedule": 5}}

bad_option = Celery("bad_option", broker="memory://")
bad_option.conf.beat_schedule = {
    "late": {"task": ping.name, "schedule": 5, "args": ["k"], "options": {"countdown": 3}}
}
