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
"""

from __future__ import annotations

import logging
import os
import sys
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
        """Start the scheduler in the worker (gunicorn's ``post_worker_init`` hook)."""
        scheduler = self.scheduler()
        assert scheduler is not None
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
