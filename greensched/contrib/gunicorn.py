"""gunicorn server hooks that run a scheduler in each ``gevent`` worker and shut it down
gracefully.

In the gunicorn configuration file (``gunicorn -c gunicorn.conf.py myapp:app``)::

    from greensched.contrib.gunicorn import SchedulerHooks

    worker_class = "gevent"
    _scheduler = SchedulerHooks("myapp:scheduler")
    post_worker_init = _scheduler.post_worker_init
    worker_int = _scheduler.worker_int
    worker_exit = _scheduler.worker_exit

and in ``myapp.py``, a scheduler that is configured and given its jobs at import, but not
started::

    scheduler = GeventScheduler()
    scheduler.add_job(refresh, "interval", seconds=30, id="refresh", replace_existing=True)

Why these hooks:

* ``post_worker_init`` runs in the worker after the gevent worker has monkey-patched the standard
  library, reinitialized the hub and imported the app, and just before it serves requests: the
  scheduler's loop and jobs become greenlets of the hub that serves the requests. ``post_fork``
  runs before the patching and before the app is imported; ``on_starting`` and ``when_ready``
  run in the master, which never runs gevent's hub.
* ``worker_exit`` runs in the worker once it has stopped serving, after ``SIGTERM`` (gunicorn's
  graceful stop, and the old workers' stop on ``SIGHUP`` or a restart): the scheduler starts no
  new job and, with ``wait=True``, waits for the running ones. gunicorn's master kills a worker
  still alive ``graceful_timeout`` seconds (30 by default) after the signal, so set it above your
  longest job.
* ``worker_int`` runs on ``SIGINT`` and ``SIGQUIT``, gunicorn's quick stop: the scheduler shuts
  down without waiting for its running jobs.

Each worker runs its own scheduler: with ``-w 4`` and the memory job store, every job runs in
each of the 4 workers, and jobs added at run time exist only in the worker that added them.

The reference is imported in the worker as gunicorn imports the app: with gunicorn's ``chdir``
(the directory it starts in) and ``pythonpath`` directories on ``sys.path``. A reference to the
module of the app under a shorter name, as seen from its own directory (``gunicorn_app`` for
``gunicorn examples.gunicorn_app:app`` run from the directory above ``examples``), is that
module: it is never imported a second time under another name, which would make a second
scheduler that the app does not use. A module that cannot be imported stops the worker with one
line, as gunicorn stops for an app it cannot import.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import sys
from types import ModuleType
from typing import Any

from greensched.schedulers.base import BaseScheduler
from greensched.util import ref_to_obj

__all__ = ("SchedulerHooks",)

logger = logging.getLogger(__name__)


class SchedulerHooks:
    """gunicorn server hooks for one scheduler: assign its methods to the hooks of the same name
    in the gunicorn configuration file.

    :param scheduler: the scheduler, or preferably a ``'package.module:attribute'`` reference to
        it, which is resolved in the worker: the configuration file is read by the master, and
        importing the app there is what ``--preload`` does (see below)
    :param wait: whether :meth:`worker_exit` waits for running jobs (``True``)
    :raises TypeError: if ``scheduler`` is neither a scheduler nor a string

    With ``--preload`` the app module, and the scheduler with it, is imported in the master
    before gevent patches anything. These hooks still start the scheduler in each worker. A
    scheduler that the app starts at import, however, starts in the master: it logs a warning
    then, and the hooks leave it as it is.
    """

    __slots__ = ("_reference", "_scheduler", "wait")

    def __init__(self, scheduler: BaseScheduler | str, *, wait: bool = True) -> None:
        if isinstance(scheduler, str):
            self._reference: str | None = scheduler
            self._scheduler: BaseScheduler | None = None
        elif isinstance(scheduler, BaseScheduler):
            self._reference = None
            self._scheduler = scheduler
        else:
            raise TypeError(
                f"scheduler must be a scheduler or a 'module:attribute' reference to one, got: "
                f"{scheduler!r}"
            )
        self.wait = wait

    def scheduler(self, *, imported_only: bool = False) -> BaseScheduler | None:
        """Return the scheduler, resolving its reference on first use.

        :param imported_only: return ``None`` rather than import the scheduler's module
        :raises TypeError: if the reference points to something else than a scheduler
        """
        if self._scheduler is None:
            assert self._reference is not None
            module_name = self._reference.partition(":")[0]
            if imported_only and module_name not in sys.modules:
                return None
            found = ref_to_obj(self._reference)
            if not isinstance(found, BaseScheduler):
                raise TypeError(f"{self._reference!r} must refer to a scheduler, got: {found!r}")
            self._scheduler = found
        return self._scheduler

    def post_worker_init(self, worker: Any) -> None:
        """Start the scheduler in the worker (gunicorn's ``post_worker_init`` hook).

        :raises gunicorn.errors.AppImportError: if the reference's module cannot be imported, or
            has no such attribute (gunicorn stops with its one-line message)
        :raises TypeError: if the reference points to something else than a scheduler
        """
        if self._scheduler is None:
            assert self._reference is not None
            found = _resolve_in_worker(self._reference, worker)
            if not isinstance(found, BaseScheduler):
                raise TypeError(f"{self._reference!r} must refer to a scheduler, got: {found!r}")
            self._scheduler = found
        scheduler = self._scheduler
        if scheduler.running:
            logger.warning(
                "greensched: the scheduler %r was already running when gunicorn worker %s "
                "started, so it was not started again: it is the copy of a scheduler started "
                "in the master (at import with --preload, or by a master-side hook), which "
                "this worker inherited at fork",
                self._reference or scheduler,
                os.getpid(),
            )
            return
        scheduler.start()
        logger.info(
            "greensched: started %s in gunicorn worker %s",
            scheduler.__class__.__name__,
            os.getpid(),
        )

    def worker_int(self, worker: Any) -> None:
        """Shut the scheduler down without waiting for its running jobs (gunicorn's
        ``worker_int`` hook: ``SIGINT`` or ``SIGQUIT``, a quick stop)."""
        self._shutdown(worker, wait=False)

    def worker_exit(self, server: Any, worker: Any) -> None:
        """Shut the scheduler down once the worker has stopped serving, waiting for its running
        jobs unless ``wait=False`` (gunicorn's ``worker_exit`` hook)."""
        self._shutdown(worker, wait=self.wait)

    def _shutdown(self, worker: Any, *, wait: bool) -> None:
        # The master, too, calls worker_exit for a worker that is already gone
        if getattr(worker, "pid", None) != os.getpid():
            return
        # A worker that failed before it imported the app must not import it while exiting
        scheduler = self.scheduler(imported_only=True)
        if scheduler is None or not scheduler.running:
            return
        if wait:
            logger.info(
                "greensched: shutting the scheduler of gunicorn worker %s down; running jobs "
                "have until gunicorn's graceful timeout (%ss after the signal) to finish",
                os.getpid(),
                getattr(getattr(worker, "cfg", None), "graceful_timeout", "?"),
            )
        scheduler.shutdown(wait=wait)


def _resolve_in_worker(reference: str, worker: Any) -> Any:
    """The object a ``'module:attribute'`` reference names, imported in a gunicorn worker as
    gunicorn imported the app (see the module's docstring).

    :raises gunicorn.errors.AppImportError: with a one-line message, if the module cannot be
        imported or lacks the attribute
    """
    module_name, _, attribute = reference.partition(":")
    app_uri = getattr(getattr(worker, "app", None), "app_uri", None)
    app_module_name = app_uri.partition(":")[0] if isinstance(app_uri, str) else ""
    module = _app_module_as(module_name, sys.modules.get(app_module_name))
    if module is None:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            missing = exc.name or ""
            if missing != module_name and not module_name.startswith(missing + "."):
                raise  # the module was found, and failed to import something of its own
            raise _app_import_error(
                _cannot_import(reference, missing, app_uri, app_module_name, worker)
            ) from None
    found: Any = module
    try:
        for name in attribute.split("."):
            found = getattr(found, name)
    except AttributeError:
        raise _app_import_error(
            f"greensched: SchedulerHooks({reference!r}): module {module.__name__!r} has no "
            f"attribute {attribute!r}"
        ) from None
    return found


def _app_module_as(module_name: str, app_module: ModuleType | None) -> ModuleType | None:
    """The module already imported by that name; else the app's module, if ``module_name``
    names it by another name (the same file on ``sys.path``, or the end of the app's dotted
    name when ``module_name`` itself cannot be found); else ``None``."""
    if module_name in sys.modules:
        return sys.modules[module_name]
    if app_module is None:
        return None
    try:
        spec = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        return app_module if app_module.__name__.endswith("." + module_name) else None
    app_file = getattr(app_module, "__file__", None)
    if spec.origin and app_file and os.path.realpath(spec.origin) == os.path.realpath(app_file):
        return app_module
    return None


def _cannot_import(
    reference: str, missing: str, app_uri: Any, app_module_name: str, worker: Any
) -> str:
    """The one-line message of a reference whose module (or its package) cannot be found."""
    cfg = getattr(worker, "cfg", None)
    places = [f"{getattr(cfg, 'chdir', None) or os.getcwd()} (its chdir)"]
    pythonpath = getattr(cfg, "pythonpath", None)
    if pythonpath:
        places.append(f"{pythonpath} (its pythonpath)")
    module_name, _, attribute = reference.partition(":")
    package = app_module_name.rpartition(".")[0]
    example = f", e.g. '{package}.{module_name}:{attribute}'" if package else ""
    app = f" the app as {app_uri!r}" if app_uri else ""
    return (
        f"greensched: SchedulerHooks({reference!r}) cannot import {missing!r}: gunicorn imports"
        f"{app} with {' and '.join(places)} on sys.path; name the module as gunicorn would "
        f"import it{example}, or add its directory to gunicorn's pythonpath setting"
    )


def _app_import_error(message: str) -> Exception:
    """gunicorn's :exc:`~gunicorn.errors.AppImportError` (its worker exits printing the message
    alone, and the master stops: "App failed to load"), or a :exc:`LookupError` without
    gunicorn."""
    try:
        from gunicorn.errors import AppImportError
    except ImportError:  # pragma: no cover (the hooks run in gunicorn)
        return LookupError(message)
    error: Exception = AppImportError(message)
    return error
