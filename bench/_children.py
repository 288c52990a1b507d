"""What the benchmark scripts share: running a scenario in a fresh interpreter, counting the
scheduler's warnings there (runs skipped for max_instances, runs missed, anything else), and
describing the machine the figures come from.

Imported by the scripts at their top, in the child too: it imports nothing that gevent's
monkey-patching must come before (its imports are inside its functions).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
#: how the tables name the implementations measured
LABELS = {"greensched": "greensched", "apscheduler": "APScheduler 3.11"}


def run_in_child(script: str, arguments: list[str], timeout: float) -> dict[str, Any]:
    """Run ``script`` (a benchmark file) with ``--child ...`` in a fresh interpreter; return
    the figures it printed as JSON on its last line."""
    import json
    import subprocess

    result = subprocess.run(
        [sys.executable, str(Path(script).resolve()), "--child", *arguments],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=timeout,
    )
    figures: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    return figures


def count_warnings() -> dict[str, int]:
    """Count the warnings logged from now on in this process, by kind (``skipped``: a run
    refused for ``max_instances``; ``missed``; ``other_warnings``, the first five of which are
    printed to stderr); return the live counts."""
    import logging

    warnings = {"skipped": 0, "missed": 0, "other_warnings": 0}

    class Counter(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            message = str(record.msg)
            if "maximum number of running instances" in message:
                warnings["skipped"] += 1
            elif "was missed by" in message:
                warnings["missed"] += 1
            else:
                warnings["other_warnings"] += 1
                if warnings["other_warnings"] <= 5:
                    print(record.getMessage(), file=sys.stderr)

    root = logging.getLogger()
    root.addHandler(Counter(logging.WARNING))
    root.setLevel(logging.WARNING)
    return warnings


def describe_machine() -> str:
    """The machine and versions the figures come from."""
    import os
    import platform
    from importlib.metadata import version

    model = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"{model}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}, gevent {version('gevent')}, "
        f"greenlet {version('greenlet')}, APScheduler {version('apscheduler')}"
    )
