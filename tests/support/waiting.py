"""Waiting for something that happens on its own time (in another greenlet, OS thread or
process), with the one patience setting of the suite. Each wait ends as soon as the awaited
thing is there; :data:`PATIENCE` is only how long it may take before the test fails."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

import gevent

from greensched._clock import SYSTEM_CLOCK

#: The longest a test waits, on the wall clock, for something that should take well under a
#: second (a job to run, a thread to take a lock, a subprocess to answer or to exit). Generous,
#: so that the suite passes on a busy 2-core machine; ``GREENSCHED_TEST_PATIENCE`` (seconds)
#: sets it for a slower one. The one patience setting of the suite: no test has its own.
PATIENCE = float(os.environ.get("GREENSCHED_TEST_PATIENCE", "15"))

#: How often the waits below look again.
POLL_INTERVAL = 0.005


def wait_until(
    predicate: Callable[[], object], timeout: float = PATIENCE, *, what: str = "the condition"
) -> None:
    """Block this OS thread until ``predicate()`` holds, failing after ``timeout`` seconds.

    For what another OS thread or process changes, waited for from a real thread (or from a
    subprocess's script): in an unpatched program this does not run the calling thread's hub;
    use :func:`hub_wait_until` where the hub must keep running.
    """
    deadline = SYSTEM_CLOCK.monotonic() + timeout
    pause = threading.Event()
    while not predicate():
        assert SYSTEM_CLOCK.monotonic() < deadline, f"timed out waiting for {what}"
        pause.wait(POLL_INTERVAL)


def hub_wait_until(
    predicate: Callable[[], object], timeout: float = PATIENCE, *, what: str = "the condition"
) -> None:
    """Let this thread's hub run until ``predicate()`` holds (or fail after ``timeout``), for
    what is seen only by looking: a change made by another OS thread, or by greenlets that
    set no event."""
    deadline = SYSTEM_CLOCK.monotonic() + timeout
    while not predicate():
        assert SYSTEM_CLOCK.monotonic() < deadline, f"timed out waiting for {what}"
        gevent.sleep(POLL_INTERVAL)
