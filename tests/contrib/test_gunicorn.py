"""SchedulerHooks and the detection of a scheduler started where gunicorn never runs it, without
a gunicorn process (tests/integration/test_gunicorn.py runs the real thing)."""

from __future__ import annotations

import logging
import os
import sys
from types import FunctionType, ModuleType, SimpleNamespace
from typing import Any

import gunicorn.arbiter
import gunicorn.workers.ggevent
import gunicorn.workers.sync
import pytest

from greensched.contrib import gunicorn as contrib
from greensched.contrib.gunicorn import SchedulerHooks
from greensched.schedulers._gunicorn import misplaced_start
from greensched.schedulers.gevent import GeventScheduler


def worker(pid: int | None = None) -> SimpleNamespace:
    return SimpleNamespace(
        pid=os.getpid() if pid is None else pid, cfg=SimpleNamespace(graceful_timeout=7)
    )


@pytest.fixture
def scheduler() -> Any:
    scheduler = GeventScheduler(timezone="UTC")
    yield scheduler
    if scheduler.running:
        scheduler.shutdown(wait=False)


@pytest.fixture
def app_module(scheduler: GeventScheduler) -> Any:
    """A module ``fake_gunicorn_app`` holding the scheduler, removed afterwards."""
    module = ModuleType("fake_gunicorn_app")
    module.scheduler = scheduler  # type: ignore[attr-defined]
    module.not_a_scheduler = 42  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    yield module
    del sys.modules[module.__name__]


def test_the_module_exports_the_hooks_only() -> None:
    assert contrib.__all__ == ("SchedulerHooks",)
    assert SchedulerHooks.__module__ == "greensched.contrib.gunicorn"


def test_a_bad_scheduler_argument_is_refused() -> None:
    with pytest.raises(
        TypeError,
        match=r"^scheduler must be a scheduler or a 'module:attribute' reference to one, "
        r"got: 42$",
    ):
        SchedulerHooks(42)  # type: ignore[arg-type]


def test_a_reference_to_something_else_is_refused_when_resolved(app_module: Any) -> None:
    hooks = SchedulerHooks("fake_gunicorn_app:not_a_scheduler")
    with pytest.raises(
        TypeError,
        match=r"^'fake_gunicorn_app:not_a_scheduler' must refer to a scheduler, got: 42$",
    ):
        hooks.post_worker_init(worker())


def test_post_worker_init_starts_and_worker_exit_shuts_down(
    app_module: Any, scheduler: GeventScheduler
) -> None:
    hooks = SchedulerHooks("fake_gunicorn_app:scheduler")
    hooks.post_worker_init(worker())
    assert scheduler.running
    hooks.worker_exit(None, worker())
    assert not scheduler.running
    hooks.worker_exit(None, worker())  # stopped already: nothing to do


def test_worker_int_shuts_down_without_waiting(scheduler: GeventScheduler) -> None:
    waits: list[bool] = []
    hooks = SchedulerHooks(scheduler)
    hooks.post_worker_init(worker())
    original = scheduler.shutdown
    scheduler.shutdown = lambda wait=True: (waits.append(wait), original(wait))  # type: ignore[method-assign]
    hooks.worker_int(worker())
    assert waits == [False]
    assert not scheduler.running


def test_an_already_running_scheduler_is_left_alone_with_a_warning(
    scheduler: GeventScheduler, caplog: pytest.LogCaptureFixture
) -> None:
    scheduler.start()
    with caplog.at_level(logging.WARNING, logger="greensched.contrib.gunicorn"):
        SchedulerHooks(scheduler).post_worker_init(worker())
    assert "was already running when gunicorn worker" in caplog.text
    assert scheduler.running


def test_worker_exit_called_by_the_master_does_nothing(scheduler: GeventScheduler) -> None:
    hooks = SchedulerHooks(scheduler)
    hooks.post_worker_init(worker())
    hooks.worker_exit(None, worker(pid=os.getpid() + 1))
    assert scheduler.running


def test_worker_exit_does_not_import_the_app() -> None:
    """A worker that failed before importing the app must not import it while exiting."""
    hooks = SchedulerHooks("greensched_never_imported_module:scheduler")
    hooks.worker_exit(None, worker())
    assert "greensched_never_imported_module" not in sys.modules


# misplaced_start: the caller's stack tells whether gunicorn's arbiter is running it


def _method(self: Any, function: Any) -> Any:
    return function()


#: ``_method`` as if defined in ``gunicorn.arbiter``: its frames have that module's globals
_arbiter_method = FunctionType(_method.__code__, {"__name__": "gunicorn.arbiter"})


def call_from_arbiter(arbiter: Any, function: Any) -> Any:
    """Call ``function()`` from a frame of a method of ``gunicorn.arbiter`` whose ``self`` is
    ``arbiter``, as gunicorn calls the app import and the server hooks."""
    return _arbiter_method(arbiter, function)


GEVENT = gunicorn.workers.ggevent.GeventWorker
SYNC = gunicorn.workers.sync.SyncWorker


def test_outside_gunicorn_nothing_is_misplaced() -> None:
    assert "gunicorn.arbiter" in sys.modules  # imported above: the stack decides
    assert misplaced_start("GeventScheduler") is None


@pytest.mark.parametrize(
    "arbiter",
    [
        pytest.param(SimpleNamespace(worker_class=GEVENT), id="preload (no pid yet)"),
        pytest.param(SimpleNamespace(worker_class=GEVENT, pid=os.getpid()), id="master hook"),
    ],
)
def test_a_start_in_the_master_is_misplaced(arbiter: Any) -> None:
    warning = call_from_arbiter(arbiter, lambda: misplaced_start("GeventScheduler"))
    assert warning.startswith(
        f"GeventScheduler started in the gunicorn master process (pid {os.getpid()}): with "
        f"--preload the app module is imported there"
    )
    assert warning.endswith("see greensched.contrib.gunicorn.SchedulerHooks.")


def test_a_start_in_a_gevent_worker_is_fine() -> None:
    arbiter = SimpleNamespace(worker_class=GEVENT, pid=os.getpid() + 1)
    assert call_from_arbiter(arbiter, lambda: misplaced_start("GeventScheduler")) is None
    arbiter.worker_class = gunicorn.workers.ggevent.GeventPyWSGIWorker
    assert call_from_arbiter(arbiter, lambda: misplaced_start("GeventScheduler")) is None


def test_a_start_in_another_worker_class_is_misplaced() -> None:
    arbiter = SimpleNamespace(worker_class=SYNC, pid=os.getpid() + 1)
    warning = call_from_arbiter(arbiter, lambda: misplaced_start("GeventScheduler"))
    assert warning == (
        f"GeventScheduler started in a gunicorn SyncWorker worker (pid {os.getpid()}): that "
        f"worker never lets gevent's hub run between requests, so jobs would not run. Use the "
        f"gevent worker (-k gevent), or a BackgroundScheduler with other worker classes."
    )


def test_gevent_scheduler_logs_a_misplaced_start(
    scheduler: GeventScheduler, caplog: pytest.LogCaptureFixture
) -> None:
    arbiter = SimpleNamespace(worker_class=GEVENT)
    with caplog.at_level(logging.WARNING, logger="greensched.scheduler"):
        call_from_arbiter(arbiter, scheduler.start)
    assert [record.levelname for record in caplog.records] == ["WARNING"]
    assert "started in the gunicorn master process" in caplog.text
    assert scheduler.running
