"""Real ``greensched`` processes for the CLI tests: a short command run to its end, and a
``greensched run`` process with its log and what its jobs recorded (``tests/cli/jobfuncs.py``).
Every wait is bounded."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

#: The project's root, where the commands run (``tests.cli.jobfuncs`` is importable there).
ROOT = Path(__file__).resolve().parents[2]

#: The longest a test waits for something that should happen within a second or two.
PATIENCE = 15.0


def toml(value: object) -> str:
    """A TOML string or number (JSON's escapes are TOML's)."""
    return json.dumps(str(value) if isinstance(value, Path) else value)


def greensched(*argv: str) -> subprocess.CompletedProcess[str]:
    """Run a (short) greensched command to its end."""
    return subprocess.run(
        [sys.executable, "-m", "greensched", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=PATIENCE,
        check=False,
    )


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
        deadline = time.monotonic() + PATIENCE
        while not condition():
            if self.process.poll() is not None:
                pytest.fail(f"greensched run exited ({self.process.returncode}):\n{self.log()}")
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {what}:\n{self.log()}")
            time.sleep(0.02)

    def wait_until_running(self) -> None:
        self.wait_for(lambda: "Running the jobs of" in self.log(), "the scheduler to run")

    def stop(self, signum: int = signal.SIGTERM) -> int:
        self.process.send_signal(signum)
        return self.process.wait(timeout=PATIENCE)
