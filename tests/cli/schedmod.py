"""Schedulers configured in a module, for the ``module:attribute`` form of the jobs files."""

from __future__ import annotations

from greensched.schedulers.background import BackgroundScheduler
from greensched.schedulers.gevent import GeventScheduler

scheduler = GeventScheduler(timezone="UTC", job_defaults={"misfire_grace_time": 5})
scheduler.add_job("tests.cli.jobfuncs:record", "interval", hours=1, id="tick", args=["x"])
scheduler.add_job(
    "tests.cli.jobfuncs:record", "cron", hour=9, id="paused", args=["y"], next_run_time=None
)

lambdas = GeventScheduler(timezone="UTC")
lambdas.add_job(lambda: None, "interval", hours=1, id="anonymous")


class Greeter:
    def greet(self) -> None:
        pass


methods = GeventScheduler(timezone="UTC")
methods.add_job(Greeter().greet, "interval", hours=1, id="method")

background = BackgroundScheduler(timezone="UTC")

not_a_scheduler = 42
