"""``greensched run --dashboard-port``: a port already taken is a clear error, and nothing
runs."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from tests.support.processes import greensched

pytestmark = pytest.mark.slow


def test_a_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    records = tmp_path / "records.jsonl"
    jobs = tmp_path / "jobs.toml"
    jobs.write_text(
        f'[[jobs]]\nid = "tick"\nfunc = "tests.cli.jobfuncs:record"\n'
        f'args = [{json.dumps(str(records))}]\ntrigger = "interval"\nseconds = 0.1\n',
        encoding="utf-8",
    )
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = greensched("run", str(jobs), "--dashboard-port", str(port))
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith(
        f"greensched: error: cannot serve the dashboard on 127.0.0.1:{port}: "
    )
    assert "Address already in use" in result.stderr
    assert not records.exists()  # the scheduler was never resumed
