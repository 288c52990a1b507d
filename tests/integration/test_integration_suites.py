"""Flask-APScheduler's and django-apscheduler's own test suites pass on greensched, through
the ``apscheduler`` alias (``integrations/``: the suites, with their licences)."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.support.processes import run_python

INTEGRATIONS = Path(__file__).resolve().parents[2] / "integrations"

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("suite", "count"),
    [
        pytest.param("flask_apscheduler", 48, id="flask-apscheduler-1.13.1"),
        pytest.param("django_apscheduler", 79, id="django-apscheduler-0.7.0"),
    ],
)
def test_integration_suite_passes_in_full(suite: str, count: int, tmp_path: Path) -> None:
    report = tmp_path / "report.xml"
    env = {**os.environ, "PYTHONPATH": str(INTEGRATIONS)}
    command = ["-m", "pytest", "-p", "apscheduler_alias", "-p", "no:cacheprovider"]
    # a whole test suite: far longer than one script
    result = run_python(
        *command, "-q", f"--junitxml={report}", cwd=INTEGRATIONS / suite, env=env, timeout=300
    )
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]
    totals = ET.parse(report).getroot().find("testsuite")
    assert totals is not None
    ran = {key: int(totals.get(key, "0")) for key in ("tests", "failures", "errors", "skipped")}
    assert ran == {"tests": count, "failures": 0, "errors": 0, "skipped": 0}
