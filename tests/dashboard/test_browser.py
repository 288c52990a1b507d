"""The dashboard in a real browser: headless Chromium (Debian's ``chromium``) driven by
Playwright, against a real ``greensched run`` process on an SQLite store with a few example
jobs, one of which fails.

The test opens the jobs page, sees the jobs and their last runs, follows the failing job to its
runs and traceback, sees the action refused without the token, logs in with the token, pauses
the job and sees it paused. It saves a screenshot of each page in ``test-artifacts/dashboard/``.

Without Playwright or Chromium it is skipped, unless ``GREENSCHED_REQUIRE_SERVICES=1`` (CI):
then it fails.
"""

from __future__ import annotations

import json
import os
import re
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import PATIENCE
from tests.support.processes import ROOT, Run

pytestmark = pytest.mark.slow

#: Debian's Chromium, which CI installs (.ci/run)
CHROMIUM = Path("/usr/bin/chromium")
#: Where the screenshots go (gitignored)
ARTIFACTS = ROOT / "test-artifacts" / "dashboard"
TOKEN = "browser-test-token"


def _missing(what: str) -> None:
    message = f"the browser test needs {what}"
    if os.environ.get("GREENSCHED_REQUIRE_SERVICES") == "1":
        pytest.fail(message + " (GREENSCHED_REQUIRE_SERVICES=1)")
    pytest.skip(message)


def _jobs_file(tmp_path: Path) -> Path:
    records = json.dumps(str(tmp_path / "records.jsonl"))
    text = f"""\
[[jobs]]
id = "heartbeat"
name = "Send the heartbeat"
func = "tests.cli.jobfuncs:record"
args = [{records}, "heartbeat"]
trigger = "interval"
seconds = 1

[[jobs]]
id = "import-feed"
name = "Import the partner feed"
func = "tests.cli.jobfuncs:fail"
args = [{records}]
trigger = "interval"
seconds = 1

[[jobs]]
id = "nightly-report"
name = "Nightly report"
func = "tests.cli.jobfuncs:record"
args = [{records}, "report"]
trigger = "cron"
hour = 2
minute = 30
day_of_week = "mon-fri"
timezone = "Europe/Paris"
"""
    path = tmp_path / "jobs.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def dashboard(tmp_path: Path) -> Iterator[tuple[Run, str]]:
    """A ``greensched run`` serving its dashboard (with :data:`TOKEN`) and the dashboard's URL."""
    run = Run(
        tmp_path,
        _jobs_file(tmp_path),
        "--store",
        f"sqlite:///{tmp_path / 'jobs.sqlite'}",
        "--dashboard-port",
        "0",
        "--dashboard-token",
        TOKEN,
    )
    try:
        run.wait_until_running()
        found = re.search(r"Dashboard on (http://127\.0\.0\.1:\d+/)", run.log())
        assert found is not None, run.log()
        # every job has run (the two every-second jobs), the failing one too
        run.wait_for(lambda: len(run.runs(label="fail")) >= 2, "the failing job to run twice")
        run.wait_for(lambda: len(run.runs(label="heartbeat")) >= 2, "heartbeat to run twice")
        yield run, found.group(1)
    finally:
        if run.process.poll() is None:
            run.stop(signal.SIGTERM)


@pytest.fixture
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright (pip install playwright)")
    if not CHROMIUM.exists():
        _missing(f"Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield browser
        finally:
            browser.close()


def test_the_dashboard_of_a_running_scheduler(dashboard: tuple[Run, str], browser: Any) -> None:
    run, url = dashboard
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 560})
    page.set_default_timeout(PATIENCE * 1000)

    # The jobs, with their schedules and last runs
    page.goto(url)
    rows = page.locator("table tr")
    feed = rows.filter(has_text="import-feed")
    heartbeat = rows.filter(has_text="Send the heartbeat")
    report = rows.filter(has_text="nightly-report")
    assert "every second" in feed.inner_text()
    assert "error" in feed.inner_text()
    assert "RuntimeError: this job always fails" in feed.inner_text()
    assert "executed" in heartbeat.inner_text()
    assert "at 02:30 on Mon\u2013Fri (Europe/Paris)" in report.inner_text()
    assert feed.locator("svg rect").count() >= 2  # the chart of its last runs
    page.screenshot(path=str(ARTIFACTS / "jobs.png"), full_page=True)

    # The failing job: its runs and a traceback
    feed.get_by_role("link", name="import-feed").click()
    page.wait_for_url(re.compile(r"/jobs/import-feed$"))
    assert "Import the partner feed" in page.content()
    details = page.locator("details").first
    details.locator("summary").click()
    assert "raise RuntimeError" in details.locator("pre").inner_text()
    assert page.locator("ol li").count() == 10  # the next run times
    page.screenshot(path=str(ARTIFACTS / "job.png"), full_page=True)

    # Not logged in: the action is refused, the job goes on
    page.get_by_role("button", name="Pause").click()
    assert "log in with the dashboard's token first" in page.content()
    page.screenshot(path=str(ARTIFACTS / "refused.png"), full_page=True)

    # Logged in with the token: paused
    page.goto(url + "login")
    page.fill("input[name=token]", TOKEN)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"done=Logged"))
    page.goto(url + "jobs/import-feed")
    page.get_by_role("button", name="Pause").click()
    page.wait_for_url(re.compile(r"done=Paused"))
    assert "Paused job 'import-feed'" in page.inner_text(".msg")
    assert "paused" in page.inner_text("h1")
    assert "Dashboard: pause job import-feed" in run.log()
    page.screenshot(path=str(ARTIFACTS / "paused.png"), full_page=True)
    page.goto(url)
    assert "paused" in page.locator("table tr").filter(has_text="import-feed").inner_text()

    for path in ("processes", "attention"):
        page.goto(url + path)
        page.screenshot(path=str(ARTIFACTS / f"{path}.png"), full_page=True)
    assert "alive" in page.goto(url + "processes").text()
