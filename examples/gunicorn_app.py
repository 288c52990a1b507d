"""A WSGI app that serves what a scheduled job keeps fresh, run by gunicorn's gevent worker.

Run it from the repository's root::

    gunicorn -c examples/gunicorn.conf.py examples.gunicorn_app:app

or from this directory (gunicorn reads ``gunicorn.conf.py`` from there by itself)::

    cd examples && gunicorn gunicorn_app:app

then ``curl http://127.0.0.1:8000/``: the refresh count grows every second, and the answer
names the worker whose scheduler did it. Stop it with Ctrl-C or ``kill -TERM <master pid>``.

The scheduler is created, and given its jobs, at import; it is *not* started here. The
``post_worker_init`` hook of ``gunicorn.conf.py`` starts it in each worker, after gevent has
patched the standard library, and ``worker_exit`` shuts it down when the worker stops.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone

from greensched.schedulers.gevent import GeventScheduler

snapshot = {"refreshes": 0, "refreshed_at": None}


def refresh():
    # A real app would fetch from a database or an HTTP API here: in the gevent worker,
    # sockets are patched, so the fetch yields to the requests being served meanwhile
    snapshot["refreshes"] += 1
    snapshot["refreshed_at"] = datetime.now(timezone.utc).isoformat()


scheduler = GeventScheduler(timezone="UTC")
# An id and replace_existing=True: the job is defined once per scheduler, whatever imports this
scheduler.add_job(refresh, "interval", seconds=1, id="refresh", replace_existing=True)


def app(environ, start_response):
    body = json.dumps({"worker": os.getpid(), **snapshot}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
