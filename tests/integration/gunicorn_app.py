"""The WSGI app that tests/integration/test_gunicorn.py serves with real gunicorn.

A job ticks a counter every 0.2 s; ``GET /`` answers ``{"pid": ..., "ticks": ...}``;
``GET /slow`` schedules a job that runs for 1.5 s, writing ``slow-started`` and ``slow-done``
events. Events go, one ``<pid> <event>`` line each, to the file named by ``GREENSCHED_EVENTS``.
With ``GREENSCHED_START_AT_IMPORT=1`` the scheduler starts at import (the mistake that
``--preload`` turns into a warning).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from typing import Any

import gevent

from greensched.schedulers.gevent import GeventScheduler

state = {"ticks": 0}


def record(event: str) -> None:
    """Append ``<pid> <event>`` to the events file (one write: lines never interleave)."""
    with open(os.environ["GREENSCHED_EVENTS"], "a", encoding="utf-8") as file:
        file.write(f"{os.getpid()} {event}\n")


def tick() -> None:
    state["ticks"] += 1


def slow() -> None:
    record("slow-started")
    gevent.sleep(1.5)
    record("slow-done")


scheduler = GeventScheduler(timezone="UTC")
scheduler.add_job(tick, "interval", seconds=0.2, id="tick")

if os.environ.get("GREENSCHED_START_AT_IMPORT") == "1":
    scheduler.start()


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if environ["PATH_INFO"] == "/slow":
        scheduler.add_job(slow, id="slow", replace_existing=True)
    body = json.dumps({"pid": os.getpid(), "ticks": state["ticks"]}).encode()
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]
