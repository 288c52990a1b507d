"""A program that ends while its BackgroundScheduler (unpatched: a real thread) runs a job on
the default thread pool: the job is waited for, as APScheduler 3.x's thread pool waits for its
jobs, and the interpreter exits cleanly (a daemon thread that ran greenlets, woken while the
interpreter is torn down, crashed it)."""

from __future__ import annotations

import textwrap

import pytest

from tests.support import PATIENCE
from tests.support.processes import run_python

pytestmark = pytest.mark.slow

PROGRAM = """
import sys, threading
from greensched.schedulers.background import BackgroundScheduler

started = threading.Event()

def job():
    started.set()
    threading.Event().wait(0.3)  # blocks this pool thread (unpatched)
    print("job ended", flush=True)

scheduler = BackgroundScheduler(timezone="UTC")
scheduler.add_job(job, id="job")
scheduler.start()
started.wait({patience})
{ending}
print("main ended", flush=True)
"""


@pytest.mark.parametrize(
    "ending",
    [
        pytest.param("scheduler.shutdown(wait=False)", id="shutdown-without-waiting"),
        pytest.param("", id="no-shutdown"),
    ],
)
def test_the_program_exits_cleanly_after_the_running_job(ending: str) -> None:
    for _ in range(3):  # the crash this guards against came one time in two
        program = PROGRAM.format(ending=ending, patience=PATIENCE)
        result = run_python("-c", textwrap.dedent(program))
        assert (result.returncode, result.stdout) == (0, "main ended\njob ended\n"), result.stderr
