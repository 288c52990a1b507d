"""Helpers shared by test modules: waiting with the suite's one :data:`PATIENCE`
(:mod:`tests.support.waiting`), real OS threads (:mod:`tests.support.threads`), subprocesses
(:mod:`tests.support.processes`) and a trigger that never fires (:mod:`tests.support.triggers`).
"""

from __future__ import annotations

from tests.support.threads import assert_another_thread_can_take, start_thread
from tests.support.triggers import NeverTrigger
from tests.support.waiting import PATIENCE, hub_wait_until, wait_until

__all__ = (
    "PATIENCE",
    "NeverTrigger",
    "assert_another_thread_can_take",
    "hub_wait_until",
    "start_thread",
    "wait_until",
)
