"""Real OS threads for the tests of what is safe across threads."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from tests.support.waiting import PATIENCE


def start_thread(target: Callable[[], None]) -> threading.Thread:
    """Start ``target`` in a daemon thread (a real OS thread where nothing is patched)."""
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def assert_another_thread_can_take(lock: Any) -> None:
    """Assert that an OS thread other than this one takes ``lock`` (a context manager), and
    lets it go, within :data:`PATIENCE`."""
    took_it = threading.Event()

    def take() -> None:
        with lock:
            took_it.set()

    thread = start_thread(take)
    assert took_it.wait(PATIENCE)
    thread.join(PATIENCE)
