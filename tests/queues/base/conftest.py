"""The executor tests' fake scheduler, mock clock, job factory and check that nothing reaches
the hub's error handler, for the tests of the queue executors' base."""

from __future__ import annotations

from tests.executors.conftest import (  # noqa: F401 (fixtures)
    clock,
    hub_errors,
    make_job,
    scheduler,
)
