"""Real Python subprocesses for the tests: a script or module run to its end, and a
``greensched run`` process with its log and what its jobs recorded (``tests/cli/jobfuncs.py``).
Every wait is bounded by :data:`~tests.support.waiting.PATIENCE`."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.support.waiting import PATIENCE, wait_until

#: The project's root, where the subprocesses run (``tests`` and ``examples`` are importable).
ROOT = Path(__file__).resolve().parents[2]

#: The longest a script may run: a few waits of :data:`PATIENCE` each, plus its start.
SCRIPT_TIMEOUT = 4 * PATIENCE


def run_python(
    *args: str,
    timeout: float = SCRIPT_TIMEOUT,
    cwd: Path = ROOT,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``python *args`` (this interpreter) in ``cwd`` to its end, in ``env`` (by default
    this process's environment); its output is captured as text."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def greensched(*argv: str) -> subprocess.CompletedProcess[str]:
    """Run a (short) greensched command to its end."""
    return run_python("-m", "greensched", *argv, timeout=PATIENCE)


class Run:
    """A ``greensched run`` process, its log (stderr) and what its jobs recorded."""

    def __init__(self, tmp_path: Path, jobs_file: Path, *options: str) -> None:
        self.records = tmp_path / "records.jsonl"
        self.log_path = tmp_path / "run.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "greensched", "run", str(jobs_file), *options],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8")

    def runs(self, **match: Any) -> list[dict[str, Any]]:
        """The recorded runs whose fields equal ``match``."""
        if not self.records.exists():
            return []
        lines = self.records.read_text(encoding="utf-8").splitlines()
        runs = [json.loads(line) for line in lines if line.endswith("}")]
        return [run for run in runs if all(run.get(k) == v for k, v in match.items())]

    def wait_for(self, condition: Callable[[], object], what: str) -> None:
        """Wait until ``condition()`` holds; fail, with the log, if the process exits first."""
        try:
            wait_until(lambda: self.process.poll() is not None or condition(), what=what)
        except AssertionError:
            pytest.fail(f"timed out waiting for {what}:\n{self.log()}")
        if not condition():
            pytest.fail(f"greensched run exited ({self.process.returncode}):\n{self.log()}")

    def wait_until_running(self) -> None:
        self.wait_for(lambda: "Running the jobs of" in self.log(), "the scheduler to run")

    def catches(self, signum: int) -> bool:
        """``True`` once the process has a handler for ``signum`` (always, where the kernel
        does not say: without ``/proc``)."""
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text(encoding="ascii")
        except OSError:
            return True
        caught = next(line for line in status.splitlines() if line.startswith("SigCgt:"))
        return bool(int(caught.split()[1], 16) >> (signum - 1) & 1)

    def send(self, signum: int) -> None:
        """Send ``signum`` once the process handles it (or has exited): its log says it runs
        a moment before its signal handlers are in place."""
        wait_until(
            lambda: self.process.poll() is not None or self.catches(signum),
            what=f"greensched run to handle {signal.Signals(signum).name}",
        )
        self.process.send_signal(signum)

    def stop(self, signum: int = signal.SIGTERM) -> int:
        """Send ``signum`` (see :meth:`send`) and return the exit status."""
        self.send(signum)
        return self.process.wait(timeout=PATIENCE)
