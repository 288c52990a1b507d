"""Executors that run jobs away from the gevent hub: in native threads (jobs that block) or in
worker processes (CPU-bound jobs).

Both work the same way in a program that called :func:`gevent.monkey.patch_all` and in one that
did not. Each submitted run is looked after in the scheduler's hub (by a greenlet of its own in
the process pool, by a few greenlets shared by every run in the thread pool), which hands the
run's run times one by one to a worker and waits for the outcomes without blocking the hub; the
outcome is then reported from that hub's thread, so event listeners run there, as they do with
:class:`~greensched.executors.gevent.GeventExecutor`.
"""

from __future__ import annotations

from greensched.executors._pool_base import BasePoolExecutor
from greensched.executors._processpool import ProcessPoolExecutor
from greensched.executors._threadpool import ThreadPoolExecutor

__all__ = ("BasePoolExecutor", "ProcessPoolExecutor", "ThreadPoolExecutor")

# Documented, and shown in tracebacks and reprs, where users import them from
for _cls in (BasePoolExecutor, ProcessPoolExecutor, ThreadPoolExecutor):
    _cls.__module__ = __name__
del _cls
