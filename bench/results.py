"""Regenerate ``bench/RESULTS.md``: every table of the benchmarks, from one command, each
measured beside APScheduler 3.11 in the same run.

Usage::

    python bench/results.py [--out bench/RESULTS.md] [--parts hotloop,burst,history,stores]
        [--quick]

The parts, each a benchmark script run in its own child processes, in this order:

* ``hotloop``: ``bench_hotloop.py`` (interval firing at 1,000 to 100,000 due runs/s, bursts of
  10k to 1M due jobs, the job API and memory per job at 10k to 1M jobs, fairness);
* ``burst``: ``bench_api_scale.py --burst`` (100,000 and 1,000,000 date jobs added before
  ``start()``, then run, with and without ids; APScheduler at 100,000 only);
* ``history``: ``bench_history.py`` (what the run history costs per run on the memory store);
* ``stores``: ``bench_stores.py`` (API calls on SQLite, PostgreSQL, MariaDB and Redis, and the
  fire rates 1 and 4 processes sharing each store hold, with the longest hub stall).

The file gets a header (the command, the machine) and a section per part (when it was
measured, the load before and after, how long it took, its arguments, its tables); the text
from :data:`NOTES_MARKER` on, in the file being replaced, is kept: notes written by hand.
With ``--parts``, only those parts are measured again; the file's other sections are kept. The whole run takes about 40 minutes on a 2-core
machine. ``--quick`` runs every part at a tiny size (a smoke run: its figures mean nothing).
Servers: the URLs of ``tests/services.py`` (environment variables ``GREENSCHED_TEST_*_URL``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from _children import ROOT, describe_machine

#: In the results file, the line from which the text is kept when the tables are rewritten
NOTES_MARKER = "<!-- notes: kept when bench/results.py rewrites the tables above -->"

#: (part, title, script, arguments of the full run, arguments of a quick run); the hot
#: loop's report is written to a file (its standard output has its progress)
PARTS: tuple[tuple[str, str, str, list[str], list[str]], ...] = (
    (
        "hotloop",
        "The hot loop (`bench_hotloop.py`)",
        "bench_hotloop.py",
        [],
        [
            "--rates=100",
            "--bursts=200",
            "--api-sizes=100",
            "--seconds=0.5",
            "--warmup=0.2",
            "--grace=0.3",
        ],
    ),
    (
        "burst",
        "Adding a burst of date jobs, then draining it (`bench_api_scale.py --burst`)",
        "bench_api_scale.py",
        ["--burst", "--sizes=100000,1000000"],
        ["--burst", "--sizes=500"],
    ),
    (
        "history",
        "What the run history costs (`bench_history.py`)",
        "bench_history.py",
        ["--rates=1000,10000", "--seconds=3", "--repeat=3"],
        ["--rates=100", "--seconds=0.5", "--warmup=0.2", "--grace=0.3", "--repeat=1"],
    ),
    (
        "stores",
        "Persistent stores (`bench_stores.py`)",
        "bench_stores.py",
        ["--sizes=10000,100000", "--rates=10000,20000", "--processes=1,4", "--seconds=5"],
        ["--engines=sqlite", "--sizes=200", "--calls=20", "--rates=100", "--processes=1",
         "--seconds=1"],
    ),
)  # fmt: skip


def run_part(script: str, arguments: list[str]) -> str:
    """Run ``bench/<script>`` with ``arguments``; return its markdown report."""
    command = [sys.executable, str(ROOT / "bench" / script), *arguments]
    if script != "bench_hotloop.py":
        result = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True, cwd=ROOT)
        return result.stdout.strip()
    with tempfile.TemporaryDirectory() as directory:
        report = Path(directory) / "hotloop.md"
        subprocess.run([*command, f"--markdown={report}"], check=True, cwd=ROOT)
        lines = report.read_text().splitlines()
    # its own header (the machine, its command) is this file's
    return "\n".join(lines[next(i for i, line in enumerate(lines) if not line) + 1 :]).strip()


def part_marker(name: str) -> str:
    """The line that opens part ``name``'s section in the results file."""
    return f"<!-- part: {name} -->"


def kept_sections(text: str) -> tuple[dict[str, str], str]:
    """The parts' sections of a results file's ``text`` (by part) and its notes (from
    :data:`NOTES_MARKER` on; a marker alone if there is none)."""
    notes = NOTES_MARKER + "\n"
    if NOTES_MARKER in text:
        text, notes = text[: text.index(NOTES_MARKER)], text[text.index(NOTES_MARKER) :]
    sections: dict[str, str] = {}
    for name, *_ in PARTS:
        marker = part_marker(name)
        if marker in text:
            section = text[text.index(marker) :]
            ends = [section.find(part_marker(other), 1) for other, *_ in PARTS]
            sections[name] = section[: min([end for end in ends if end > 0], default=None)]
    return sections, notes


def measure_part(name: str, title: str, script: str, arguments: list[str]) -> str:
    """Part ``name``'s section: its title, when and how it was measured, its tables."""
    started, load_before = time.time(), os.getloadavg()[0]
    print(f"--- {name}: {script} {' '.join(arguments)}", file=sys.stderr, flush=True)
    report = run_part(script, arguments)
    return (
        f"{part_marker(name)}\n## {title}\n\n"
        f"Measured {datetime.fromtimestamp(started, timezone.utc):%Y-%m-%d %H:%M} UTC, in "
        f"{(time.time() - started) / 60:.0f} min; load average {load_before:.2f} before, "
        f"{os.getloadavg()[0]:.2f} after. Arguments: `{' '.join(arguments) or '(none)'}`.\n\n"
        f"{report}\n\n"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "RESULTS.md")
    parser.add_argument(
        "--parts",
        type=lambda text: text.split(","),
        default=[part[0] for part in PARTS],
        help="comma-separated: " + ",".join(part[0] for part in PARTS) + " (the file's "
        "sections of the other parts are kept)",
    )
    parser.add_argument("--quick", action="store_true", help="every part at a tiny size")
    options = parser.parse_args(argv)
    unknown = set(options.parts) - {part[0] for part in PARTS}
    if unknown:
        parser.error(f"unknown parts: {', '.join(sorted(unknown))}")
    sections, notes = kept_sections(options.out.read_text() if options.out.exists() else "")
    for name, title, script, full, quick in PARTS:
        if name in options.parts:
            sections[name] = measure_part(name, title, script, quick if options.quick else full)
    header = (
        "# Benchmarks: greensched beside APScheduler 3.11\n\n"
        f"On {describe_machine()}. Regenerated by `python bench/results.py` on a clean "
        "checkout, with the servers of `tests/services.py` (`--parts NAME,...` measures "
        "again only those parts and keeps the others' sections); each section says when it "
        "was measured and with which arguments. Each cell with two figures: greensched / "
        "APScheduler 3.11.\n\n"
    )
    body = "".join(sections[name] for name, *_ in PARTS if name in sections)
    options.out.write_text(header + body + notes)
    print(f"wrote {options.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
