"""A module whose scheduler has metrics attached already (on prometheus_client's default
registry), for ``greensched run tests.cli.measured:scheduler --metrics-port``. Imported only by
the subprocesses of the tests: importing it registers the metrics for the whole process."""

from __future__ import annotations

from greensched.metrics import SchedulerMetrics
from greensched.schedulers.gevent import GeventScheduler

scheduler = GeventScheduler(timezone="UTC")
metrics = SchedulerMetrics(scheduler)
