"""Real task-queue workers for the tests: a ``celery worker`` or ``rq worker`` subprocess, ready
once its log says so, stopped at teardown."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from tests.support.processes import ROOT, Run
from tests.support.waiting import PATIENCE, wait_until


class WorkerProcess:
    """A worker subprocess started in the project's root, whose output goes to ``log_path``;
    :meth:`wait_ready` waits for it to be ready.

    :param command: the command after ``python -m``
    :param ready_line: the text its log shows once it consumes messages
    :param env: variables added to this process's environment
    """

    def __init__(
        self,
        command: Sequence[str],
        log_path: Path,
        ready_line: str,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.log_path = log_path
        self.command = command
        self.ready_line = ready_line
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", *command],
                cwd=ROOT,
                env={**os.environ, **(env or {})},
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self) -> WorkerProcess:
        """Wait until the log shows the ready line; fail, with the log, if the process exits
        first or takes too long (it is stopped then)."""
        name = self.command[0]
        try:
            wait_until(
                lambda: self.process.poll() is not None or self.ready_line in self.log(),
                2 * PATIENCE,
                what=f"{name} to be ready",
            )
        except AssertionError:
            self.stop()
            pytest.fail(f"{name} not ready:\n{self.log()}")
        if self.process.poll() is not None:
            pytest.fail(f"{name} exited ({self.process.returncode}):\n{self.log()}")
        return self

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    # a signal once the process handles it, as for a greensched run process
    catches = Run.catches
    send = Run.send

    def stop(self) -> None:
        """Stop the worker (SIGTERM, then SIGKILL if it lingers)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=PATIENCE)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=PATIENCE)


def celery_worker(
    app: str, log_path: Path, env: Mapping[str, str], queues: str = "celery"
) -> WorkerProcess:
    """A ``celery -A app worker`` with a pool of 4 threads on ``queues`` (comma-separated),
    ready when it says so."""
    return WorkerProcess(
        [
            "celery",
            "-A",
            app,
            "worker",
            "--pool=threads",
            "--concurrency=4",
            f"--hostname=tests-{os.getpid()}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            f"--queues={queues}",
            "--loglevel=INFO",
        ],
        log_path,
        " ready.",
        env,
    ).wait_ready()


def rq_worker(url: str, queues: Sequence[str], log_path: Path) -> WorkerProcess:
    """An ``rq worker`` (one that runs jobs in its own process, without forking) on ``queues``,
    ready once it listens."""
    return WorkerProcess(
        ["rq.cli", "worker", "--url", url, "--worker-class", "rq.worker.SimpleWorker", *queues],
        log_path,
        "Listening on",
    ).wait_ready()
