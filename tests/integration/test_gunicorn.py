"""The gunicorn recipe with real gunicorn (``python -m gunicorn -k gevent``) on 127.0.0.1.

Each test starts gunicorn in a subprocess with the app of ``gunicorn_app.py`` and the hooks of
``gunicorn_conf.py`` (``greensched.contrib.gunicorn.SchedulerHooks``), talks HTTP to it, signals
it and always kills it in the end. Every wait is bounded (:data:`tests.support.PATIENCE`).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import gunicorn.config
import pytest

from tests.support import PATIENCE, wait_until

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CONF = Path(__file__).with_name("gunicorn_conf.py")
PYTHON_M_GUNICORN = (sys.executable, "-m", "gunicorn")
#: the ``gunicorn`` command the README runs (its script puts no directory on ``sys.path``)
GUNICORN = (str(Path(sys.executable).with_name("gunicorn")),)
APP = "tests.integration.gunicorn_app:app"
#: the options of the test app's runs (the example's come from its own gunicorn.conf.py)
TEST_APP_OPTIONS = ("--config", str(CONF), "--worker-class", "gevent", "--workers", "1")


def free_port() -> int:
    """A port free on 127.0.0.1 a moment ago (gunicorn cannot bind port 0 and report it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Gunicorn:
    """A running gunicorn master, its log file and the app's events file."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, tmp_path: Path) -> None:
        self.process = process
        self.port = port
        self.log = tmp_path / "gunicorn.log"
        self.events_file = tmp_path / "events"

    def get(self, path: str = "/") -> tuple[int, dict[str, Any]]:
        """``GET path``: the status and the JSON body."""
        url = f"http://127.0.0.1:{self.port}{path}"
        with urllib.request.urlopen(url, timeout=PATIENCE) as response:
            return response.status, json.loads(response.read())

    def answers(self) -> bool:
        try:
            self.get()
        except OSError:
            return False
        return True

    def events(self) -> list[tuple[int, str]]:
        """The ``(pid, event)`` lines the app and the hooks wrote, in order."""
        if not self.events_file.exists():
            return []
        lines = self.events_file.read_text(encoding="utf-8").splitlines()
        return [(int(pid), event) for pid, event in (line.split(" ", 1) for line in lines)]

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Send ``sig`` to the master and return its exit status once it has exited."""
        self.process.send_signal(sig)
        return self.process.wait(PATIENCE)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def gunicorn_command(
    port: int, *args: str, program: Sequence[str] = PYTHON_M_GUNICORN
) -> list[str]:
    """gunicorn's command line, listening on 127.0.0.1:``port``."""
    command = [*program, "--bind", f"127.0.0.1:{port}", *args]
    if any(setting.name == "control_socket_disable" for setting in gunicorn.config.KNOWN_SETTINGS):
        command.append("--no-control-socket")  # newer gunicorn: no socket in $HOME
    return command


def gunicorn_environment(tmp_path: Path, **env: str) -> dict[str, str]:
    """The environment of gunicorn: the project's root on PYTHONPATH unless ``env`` says
    otherwise, and where the test app writes its events."""
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "GREENSCHED_EVENTS": str(tmp_path / "events"),
        **env,
    }


@contextmanager
def gunicorn_running(
    tmp_path: Path,
    *args: str,
    app: str = APP,
    cwd: Path = ROOT,
    program: Sequence[str] = PYTHON_M_GUNICORN,
    **env: str,
) -> Iterator[Gunicorn]:
    """Start gunicorn (by default with the test app and hooks), wait until it answers, kill it
    at the end."""
    port = free_port()
    command = gunicorn_command(port, *args, program=program)
    environment = gunicorn_environment(tmp_path, **env)
    log = (tmp_path / "gunicorn.log").open("wb")
    # A session of its own: the finally block kills the master and its workers together
    process = subprocess.Popen(
        [*command, app],
        cwd=cwd,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = Gunicorn(process, port, tmp_path)
    try:
        wait_until(
            lambda: server.answers() or process.poll() is not None, what="gunicorn to answer"
        )
        assert process.poll() is None, server.output()
        yield server
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass  # the master and its workers have all exited
        process.wait(PATIENCE)
        log.close()


def test_jobs_fire_while_requests_are_served_and_sigterm_waits_for_a_running_job(
    tmp_path: Path,
) -> None:
    with gunicorn_running(tmp_path, *TEST_APP_OPTIONS) as server:
        readings: list[dict[str, Any]] = []

        def read() -> bool:
            status, body = server.get()
            assert status == 200
            readings.append(body)
            return len(readings) == 1 or body["ticks"] > readings[-2]["ticks"]

        for _ in range(4):  # the job ticks between requests the worker answers
            wait_until(read, what="the job to tick")
        assert len({body["pid"] for body in readings}) == 1  # one worker answered

        worker = readings[0]["pid"]
        server.get("/slow")
        wait_until(
            lambda: (worker, "slow-started") in server.events(), what="the slow job to start"
        )
        assert server.stop(signal.SIGTERM) == 0, server.output()

    events = [event for pid, event in server.events() if pid == worker]
    # The worker stopped serving, then its exit hook waited for the job that was running
    assert events == ["slow-started", "worker-exit-begin", "slow-done", "worker-exit-end"]


def test_sighup_replaces_the_worker_and_the_old_one_finishes_its_running_job(
    tmp_path: Path,
) -> None:
    with gunicorn_running(tmp_path, *TEST_APP_OPTIONS) as server:
        _, body = server.get()
        old_worker = body["pid"]
        server.get("/slow")
        wait_until(lambda: (old_worker, "slow-started") in server.events(), what="the slow job")
        server.process.send_signal(signal.SIGHUP)

        def new_worker_ticks() -> bool:
            _, body = server.get()
            return bool(body["pid"] != old_worker and body["ticks"] > 0)

        wait_until(new_worker_ticks, what="a new worker whose scheduler runs")
        wait_until(
            lambda: (old_worker, "worker-exit-end") in server.events(), what="the old worker"
        )
        assert server.stop(signal.SIGTERM) == 0, server.output()

    events = [event for pid, event in server.events() if pid == old_worker]
    assert events == ["slow-started", "worker-exit-begin", "slow-done", "worker-exit-end"]


def test_sigquit_stops_at_once_without_waiting_for_the_running_job(tmp_path: Path) -> None:
    with gunicorn_running(tmp_path, *TEST_APP_OPTIONS) as server:
        worker = server.get()[1]["pid"]
        server.get("/slow")
        wait_until(
            lambda: (worker, "slow-started") in server.events(), what="the slow job to start"
        )
        assert server.stop(signal.SIGQUIT) == 0, server.output()

    events = [event for pid, event in server.events() if pid == worker]
    assert events == ["slow-started", "worker-exit-begin", "worker-exit-end"]


def test_preload_with_a_scheduler_started_at_import_logs_a_warning(tmp_path: Path) -> None:
    with gunicorn_running(
        tmp_path, *TEST_APP_OPTIONS, "--preload", GREENSCHED_START_AT_IMPORT="1"
    ) as server:
        assert server.stop(signal.SIGTERM) == 0, server.output()
    output = server.output()
    assert "GeventScheduler started in the gunicorn master process" in output
    assert "post_worker_init" in output
    # and the hooks did not start it a second time in the worker
    assert "was already running when gunicorn worker" in output


def test_preload_with_the_hooks_alone_starts_the_scheduler_in_the_worker(
    tmp_path: Path,
) -> None:
    """With --preload the app is imported by the master, unpatched; the scheduler created
    there is only started by post_worker_init, in the patched worker: no warning."""
    with gunicorn_running(tmp_path, *TEST_APP_OPTIONS, "--preload") as server:
        wait_until(lambda: server.get()[1]["ticks"] >= 2, what="two ticks")
        assert server.stop(signal.SIGTERM) == 0, server.output()
    assert "gunicorn master process" not in server.output()


def test_the_example_recipe_serves_what_its_job_refreshes(tmp_path: Path) -> None:
    """examples/gunicorn_app.py with examples/gunicorn.conf.py, which gunicorn reads from the
    directory it starts in, as the example says."""
    with gunicorn_running(tmp_path, app="gunicorn_app:app", cwd=ROOT / "examples") as server:
        wait_until(lambda: server.get()[1]["refreshes"] >= 1, what="a first refresh")
        first = server.get()[1]
        wait_until(
            lambda: server.get()[1]["refreshes"] > first["refreshes"], what="another refresh"
        )
        assert server.get()[1]["worker"] == first["worker"]
        assert server.stop(signal.SIGTERM) == 0, server.output()


def test_the_readme_command_from_the_repository_root_starts_the_example_scheduler(
    tmp_path: Path,
) -> None:
    """``gunicorn -c examples/gunicorn.conf.py examples.gunicorn_app:app``, as the README
    gives it, from the repository's root: the hooks' reference ``gunicorn_app:scheduler`` names
    the app's module as seen from ``examples/``, and it is the scheduler of the module gunicorn
    imported the app from (not a second copy) that runs the job the app serves."""
    with gunicorn_running(
        tmp_path,
        "--config",
        "examples/gunicorn.conf.py",
        app="examples.gunicorn_app:app",
        program=GUNICORN,
        PYTHONPATH="",
    ) as server:
        wait_until(lambda: server.get()[1]["refreshes"] >= 1, what="a first refresh")
        assert server.stop(signal.SIGTERM) == 0, server.output()
    assert "Traceback" not in server.output()


def test_a_reference_gunicorn_cannot_import_stops_it_with_one_line(tmp_path: Path) -> None:
    conf = tmp_path / "gunicorn.conf.py"
    conf.write_text(
        "from greensched.contrib.gunicorn import SchedulerHooks\n"
        'worker_class = "gevent"\n'
        'post_worker_init = SchedulerHooks("gunicorn_tasks:scheduler").post_worker_init\n',
        encoding="utf-8",
    )
    command = gunicorn_command(free_port(), "--config", str(conf), program=GUNICORN)
    finished = subprocess.run(
        [*command, "examples.gunicorn_app:app"],
        cwd=ROOT,
        env=gunicorn_environment(tmp_path, PYTHONPATH=""),
        capture_output=True,
        text=True,
        timeout=PATIENCE,
        check=False,
    )
    output = finished.stdout + finished.stderr
    assert finished.returncode == 4, output  # gunicorn's "App failed to load"
    assert (
        "greensched: SchedulerHooks('gunicorn_tasks:scheduler') cannot import 'gunicorn_tasks': "
        "gunicorn imports the app as 'examples.gunicorn_app:app' with "
        f"{ROOT} (its chdir) on sys.path; name the module as gunicorn would import it, e.g. "
        "'examples.gunicorn_tasks:scheduler', or add its directory to gunicorn's pythonpath "
        "setting\n"
    ) in output
    assert "Traceback" not in output
    assert "Reason: App failed to load." in output
