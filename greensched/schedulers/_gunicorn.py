"""Tell whether a scheduler is being started where gunicorn will never run its jobs."""

from __future__ import annotations

import os
import sys
from typing import Any

__all__ = ("misplaced_start",)

_FIX = (
    "Create the scheduler at import without starting it, and start it in each worker from "
    "gunicorn's post_worker_init server hook: see greensched.contrib.gunicorn.SchedulerHooks."
)


def _find_arbiter() -> Any:
    """Return the gunicorn ``Arbiter`` whose code is (directly or not) calling us, or ``None``.

    Every gunicorn process, master or worker, runs inside the arbiter's methods: the app import
    of ``--preload`` in ``Arbiter.setup``, the master's hooks in ``Arbiter.start``, a worker's
    whole life in ``Arbiter.spawn_worker``.
    """
    if "gunicorn.arbiter" not in sys.modules:
        return None
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_globals.get("__name__") == "gunicorn.arbiter":
            candidate = frame.f_locals.get("self")
            if candidate is not None and hasattr(candidate, "worker_class"):
                return candidate
        frame = frame.f_back  # type: ignore[assignment]
    return None


def _is_gevent_worker(worker_class: Any) -> bool:
    """``True`` for gunicorn's gevent workers (``-k gevent``, ``gevent_pywsgi``) and their
    subclasses."""
    return any(
        getattr(cls, "__module__", None) == "gunicorn.workers.ggevent"
        for cls in getattr(worker_class, "__mro__", ())
    )


def misplaced_start(kind: str) -> str | None:
    """If a scheduler of class ``kind`` that runs on the calling thread's gevent hub is being
    started where gunicorn never runs that hub, return a warning that says why and what to do;
    otherwise (and outside gunicorn) return ``None``."""
    arbiter = _find_arbiter()
    if arbiter is None:
        return None
    worker_class = getattr(arbiter, "worker_class", None)
    # The master sets its pid when it starts (after the app import of --preload); a worker
    # inherits that attribute at fork
    if getattr(arbiter, "pid", None) in (None, os.getpid()):
        return (
            f"{kind} started in the gunicorn master process (pid {os.getpid()}): with "
            f"--preload the app module is imported there, before any worker exists and before "
            f"gevent patches the standard library (a master-side hook such as on_starting or "
            f"when_ready does the same). The master never runs gevent's hub, so no job runs in "
            f"it; each worker runs the copy it inherits at fork, a snapshot of the master's "
            f"scheduler, so a worker started later (SIGHUP, max_requests, a crash) replays that "
            f"snapshot: one-off jobs run again and jobs added since are lost. {_FIX}"
        )
    if not _is_gevent_worker(worker_class):
        name = getattr(worker_class, "__name__", repr(worker_class))
        return (
            f"{kind} started in a gunicorn {name} worker (pid {os.getpid()}): that worker "
            f"never lets gevent's hub run between requests, so jobs would not run. Use the "
            f"gevent worker (-k gevent), or a BackgroundScheduler with other worker classes."
        )
    return None
