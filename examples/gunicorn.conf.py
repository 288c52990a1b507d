"""gunicorn configuration that runs greensched's scheduler in each gevent worker.

gunicorn reads it from the directory it starts in (or pass ``-c path/to/gunicorn.conf.py``):
``cd examples && gunicorn gunicorn_app:app``, or from the repository's root
``gunicorn -c examples/gunicorn.conf.py examples.gunicorn_app:app``.
"""

from __future__ import annotations

from greensched.contrib.gunicorn import SchedulerHooks

bind = "127.0.0.1:8000"
worker_class = "gevent"
# Each worker runs its own scheduler, and with the memory job store every job runs in every
# worker: keep one worker, or see "Using greensched with gunicorn" in the README
workers = 1
# SIGTERM and SIGHUP stop a worker gracefully: its scheduler starts no new job and waits for the
# running ones, until the master kills the worker this many seconds after the signal
graceful_timeout = 30

# A reference, resolved in the worker: importing the app here would import it in the master.
# Run from the root, the app's module is examples.gunicorn_app: "gunicorn_app" names it too
_scheduler = SchedulerHooks("gunicorn_app:scheduler")
post_worker_init = _scheduler.post_worker_init  # start it in the patched worker
worker_int = _scheduler.worker_int  # SIGINT, SIGQUIT: shut it down, don't wait for jobs
worker_exit = _scheduler.worker_exit  # SIGTERM, SIGHUP: shut it down, wait for running jobs
