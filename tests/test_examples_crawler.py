"""Smoke test of ``examples/crawler.py``, run in a subprocess so its patching never leaks."""

from __future__ import annotations

import re

import pytest

from tests.support.processes import run_python

pytestmark = pytest.mark.slow


def test_crawler_example_fetches_and_prints_a_final_summary() -> None:
    result = run_python("examples/crawler.py", "--jobs=20", "--seconds=2", "--timeout=0.5")
    assert result.returncode == 0, result.stderr
    final = re.search(
        r"^final: fetches=(\d+) errors=\d+ timeouts=\d+", result.stdout, re.MULTILINE
    )
    assert final is not None, result.stdout
    assert int(final.group(1)) > 0, result.stdout
