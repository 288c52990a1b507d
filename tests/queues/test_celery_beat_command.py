"""``greensched celery-beat`` as a command: what it refuses, before touching any store."""

from __future__ import annotations

import pytest

from tests.support.processes import greensched

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["-A", "tests.queues.beat_apps:custom_app"],
            "beat_schedule entry 'desk': its schedule <business_hours> has no greensched trigger",
        ),
        (["-A", "tests.queues.beat_apps:ping"], "must name a Celery app"),
        (["-A", "tests.queues.no_such_module:app"], "cannot be imported"),
    ],
)
def test_an_unusable_app_is_a_usage_error_naming_it(argv: list[str], message: str) -> None:
    result = greensched("celery-beat", *argv, "--store", "memory:")
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert result.stderr.startswith("greensched: error: ")


def test_the_app_is_required() -> None:
    result = greensched("celery-beat", "--store", "memory:")
    assert result.returncode == 2
    assert "-A/--app" in result.stderr
