"""Job functions for the process pool tests: worker processes import them by reference, so they
live in a module of their own that imports little (a worker starts faster)."""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

#: set by :func:`initialize` in a worker process
INITIALIZED: list[Any] = []


def collatz_steps(start: int) -> int:
    """A CPU-bound job: the total number of Collatz steps for every number up to ``start``."""
    total = 0
    for number in range(1, start + 1):
        while number != 1:
            number = number // 2 if number % 2 == 0 else 3 * number + 1
            total += 1
    return total


def fail(message: str) -> None:
    raise ValueError(message)


def kill_own_process() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def spin_forever() -> None:
    """Burn CPU without ever yielding: only killing the process stops it."""
    while True:
        pass


def sleep_then_return(seconds: float, value: Any) -> Any:
    time.sleep(seconds)
    return value


def return_unpicklable() -> Any:
    return threading.Lock()


def exit_process() -> None:
    raise SystemExit(3)


def initialize(value: Any) -> None:
    INITIALIZED.append(value)


def initialized() -> list[Any]:
    return INITIALIZED


def initialize_badly() -> None:
    raise RuntimeError("no database")


class Holder:
    """An object with a method: a bound method of an instance runs in a worker process on a
    copy of the instance."""

    def __init__(self, value: int) -> None:
        self.value = value

    def method(self) -> int:
        return self.value + 1
