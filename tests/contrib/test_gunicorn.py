"""SchedulerHooks and the detection of a scheduler started where gunicorn never runs it, without
a gunicorn process (tests/integration/test_gunicorn.py runs the real thing)."""

from __future__ import annotations

import importlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import FunctionType, ModuleType, SimpleNamespace
from typing import Any

import gunicorn.arbiter
import gunicorn.workers.ggevent
import gunicorn.workers.sync
import pytest
from gunicorn.errors import AppImportError

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


# The reference, resolved in the worker as gunicorn imported the app


def app_worker(app_uri: str, chdir: str = "/srv/app", pythonpath: str | None = None) -> Any:
    """A gunicorn worker whose app was imported by ``app_uri``."""
    return SimpleNamespace(
        pid=os.getpid(),
        app=SimpleNamespace(app_uri=app_uri),
        cfg=SimpleNamespace(graceful_timeout=7, chdir=chdir, pythonpath=pythonpath),
    )


@pytest.fixture
def packaged_app(scheduler: GeventScheduler) -> Iterator[ModuleType]:
    """The module ``greensched_fake_pkg.fake_app`` (not importable as ``fake_app``), as
    gunicorn imports ``greensched_fake_pkg.fake_app:app`` from the package's parent."""
    module = ModuleType("greensched_fake_pkg.fake_app")
    module.scheduler = scheduler  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    yield module
    del sys.modules[module.__name__]


def test_a_reference_to_the_app_module_by_its_short_name_is_the_app_module(
    packaged_app: ModuleType, scheduler: GeventScheduler
) -> None:
    hooks = SchedulerHooks("fake_app:scheduler")
    hooks.post_worker_init(app_worker("greensched_fake_pkg.fake_app:app"))
    assert scheduler.running
    assert hooks.scheduler() is scheduler
    assert "fake_app" not in sys.modules


def test_the_app_file_on_the_path_under_another_name_is_not_imported_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """gunicorn imported ``pkg.samefile_app``; the reference names the same file as
    ``samefile_app`` (its directory on the path, pythonpath=pkg): the app's module is used."""
    (tmp_path / "greensched_pkg").mkdir()
    (tmp_path / "greensched_pkg" / "samefile_app.py").write_text(
        "from greensched.schedulers.gevent import GeventScheduler\n"
        "scheduler = GeventScheduler(timezone='UTC')\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path / "greensched_pkg"))
    monkeypatch.syspath_prepend(str(tmp_path))
    app = importlib.import_module("greensched_pkg.samefile_app")
    try:
        hooks = SchedulerHooks("samefile_app:scheduler")
        hooks.post_worker_init(app_worker("greensched_pkg.samefile_app:app"))
        assert hooks.scheduler() is app.scheduler
        assert app.scheduler.running
        assert "samefile_app" not in sys.modules
        app.scheduler.shutdown(wait=False)
    finally:
        for name in ("greensched_pkg.samefile_app", "greensched_pkg"):
            sys.modules.pop(name, None)


def test_a_module_that_cannot_be_imported_stops_the_worker_with_one_line() -> None:
    hooks = SchedulerHooks("greensched_no_such_tasks:scheduler")
    with pytest.raises(AppImportError) as raised:
        hooks.post_worker_init(app_worker("myproject.app:app", pythonpath="/srv/lib"))
    assert str(raised.value) == (
        "greensched: SchedulerHooks('greensched_no_such_tasks:scheduler') cannot import "
        "'greensched_no_such_tasks': gunicorn imports the app as 'myproject.app:app' with "
        "/srv/app (its chdir) and /srv/lib (its pythonpath) on sys.path; name the module as "
        "gunicorn would import it, e.g. 'myproject.greensched_no_such_tasks:scheduler', or add "
        "its directory to gunicorn's pythonpath setting"
    )
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__  # no traceback of the import


def test_a_missing_attribute_stops_the_worker_with_one_line(app_module: Any) -> None:
    hooks = SchedulerHooks("fake_gunicorn_app:schedular")
    with pytest.raises(AppImportError) as raised:
        hooks.post_worker_init(app_worker("fake_gunicorn_app:app"))
    assert str(raised.value) == (
        "greensched: SchedulerHooks('fake_gunicorn_app:schedular'): module 'fake_gunicorn_app' "
        "has no attribute 'schedular'"
    )


def test_a_module_failing_to_import_something_of_its_own_raises_as_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "greensched_broken_app.py").write_text(
        "import greensched_missing_dependency\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    hooks = SchedulerHooks("greensched_broken_app:scheduler")
    with pytest.raises(ModuleNotFoundError, match="greensched_missing_dependency"):
        hooks.post_worker_init(app_worker("greensched_broken_app:app"))
    sys.modules.pop("greensched_broken_app", None)


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
