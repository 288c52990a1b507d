"""A program that ends while its BackgroundScheduler (unpatched: a real thread) runs a job on
the default thread pool: the job is waited for, as APScheduler 3.x's thread pool waits for its
jobs, and the interpreter exits cleanly (a daemon thread that ran greenlets, woken while the
interpreter is torn down, crashed it)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]

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
started.wait(10)
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
        result = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(PROGRAM.format(ending=ending))],
            capture_output=True,
            check=False,
            text=True,
            timeout=60,
            cwd=ROOT,
        )
        assert (result.returncode, result.stdout) == (0, "main ended\njob ended\n"), result.stderr
