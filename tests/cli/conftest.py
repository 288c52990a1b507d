"""Fixtures of the ``greensched`` command's tests: the stores a test runs the command against
(its own SQLite file, or its own PostgreSQL table, dropped afterwards), and the process state
that an in-process ``main()`` changes (logging, ``sys.path``), put back after each test."""

from __future__ import annotations

import json
import logging
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from greensched._clock import using_clock
from greensched.testing import MockClock
from tests.services import POSTGRESQL_URL, drop_store, require, unique_name
from tests.support import PATIENCE
from tests.support.processes import Run


@dataclass
class Store:
    """A job store of one test: its URL and table (``None``: the default table)."""

    engine: str
    url: str
    table: str | None = None

    def args(self) -> list[str]:
        """The command-line options that select this store."""
        return ["--store", self.url] + (["--table", self.table] if self.table else [])

    def has_table(self) -> bool:
        """``True`` if the store's table exists (the store has been touched)."""
        import sqlalchemy

        if self.engine == "sqlite" and not Path(self.url[len("sqlite:///") :]).exists():
            return False
        engine = sqlalchemy.create_engine(self.url)
        try:
            with engine.connect() as connection:
                return sqlalchemy.inspect(connection).has_table(self.table or "apscheduler_jobs")
        finally:
            engine.dispose()


def sqlite_store(tmp_path: Path) -> Store:
    """The SQLite file a jobs file ``tmp_path/jobs.toml`` uses by default."""
    return Store("sqlite", f"sqlite:///{tmp_path / 'jobs.sqlite'}")


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The test's own SQLite file (``tmp_path/jobs.sqlite``) or PostgreSQL table."""
    if request.param == "sqlite":
        yield sqlite_store(tmp_path)
        return
    table = unique_name("cli")
    url = require(POSTGRESQL_URL)
    yield Store("postgresql", url, table)
    drop_store(url, table)


@pytest.fixture
def sqlite(tmp_path: Path) -> Store:
    """The test's own SQLite file."""
    return sqlite_store(tmp_path)


@pytest.fixture(autouse=True)
def _restore_process_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(sys, "path", list(sys.path))
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    executors = logging.getLogger("greensched.executors")
    executors_level = executors.level
    yield
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
    root.setLevel(level)
    executors.setLevel(executors_level)


@pytest.fixture
def berlin_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[MockClock]:
    """The command's clock, stopped at Monday 2024-06-03 12:00 in Europe/Berlin, which is also
    its local zone."""
    zone = ZoneInfo("Europe/Berlin")
    monkeypatch.setattr("greensched.cli.admin.get_localzone", lambda: zone)
    monkeypatch.setattr("greensched.schedulers.base.get_localzone", lambda: zone)
    clock = MockClock(datetime(2024, 6, 3, 12, 0, tzinfo=zone))
    with using_clock(clock):
        yield clock


def toml(value: object) -> str:
    """A TOML string or number (JSON's escapes are TOML's)."""
    return json.dumps(str(value) if isinstance(value, Path) else value)


def write_jobs(path: Path, text: str) -> Path:
    """Write a jobs file (``text`` is dedented) and return its path."""
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def start_run(tmp_path: Path) -> Iterator[Callable[..., Run]]:
    """Start ``greensched run``; processes left running are killed at teardown."""
    runs: list[Run] = []

    def start(jobs_file: Path, *options: str) -> Run:
        run = Run(tmp_path, jobs_file, *options)
        runs.append(run)
        return run

    yield start
    for run in runs:
        if run.process.poll() is None:
            run.process.kill()
            run.process.wait(timeout=PATIENCE)
