"""The functions of the CLI tests' jobs: each records its run as a JSON line in a file, so that
a test can see what a ``greensched run`` process ran and when."""

from __future__ import annotations

import json
import time


def _record(path: str, **fields: object) -> None:
    with open(path, "a", encoding="utf-8") as file:
        file.write(json.dumps({"time": time.time(), **fields}) + "\n")


def record(path: str, label: str = "") -> None:
    """Record one run: ``{"time": ..., "label": label}``."""
    _record(path, label=label)


def slow(path: str, seconds: float) -> None:
    """Record the start and the end of a run that takes ``seconds`` (``time.sleep`` is gevent's
    in the patched ``greensched run``)."""
    _record(path, event="start")
    time.sleep(seconds)
    _record(path, event="end")


def needs_url(url: str) -> None:
    """A function with a required argument."""


NOT_CALLABLE = 42


def fail(path: str) -> None:
    """Record the run, then fail."""
    _record(path, label="fail")
    raise RuntimeError("this job always fails")
