"""Fixtures shared by the whole suite: a controllable clock and a DST zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from greensched.testing import MockClock


@pytest.fixture(scope="session")
def timezone() -> ZoneInfo:
    """A zone with daylight saving time."""
    return ZoneInfo("Europe/Berlin")


@pytest.fixture
def mock_clock(timezone: ZoneInfo) -> MockClock:
    """A clock stopped at 2024-06-03 12:00 Europe/Berlin (a Monday)."""
    return MockClock(datetime(2024, 6, 3, 12, 0, tzinfo=timezone))
