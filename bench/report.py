"""Print a markdown table from a pytest-benchmark JSON file of bench_memory_store.py.

Usage::

    pytest bench/bench_memory_store.py --benchmark-only --benchmark-json=memory.json
    python bench/report.py memory.json

Times are in microseconds per job (a call that handles k jobs, ``get_due_jobs`` or a fire
cycle, is divided by k), as "median / mean": the median is a typical call, the mean is the
amortized cost (it includes the rare calls that compact greensched's heap, and garbage
collection pauses). The speedup compares means.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

IMPLEMENTATIONS = ("greensched", "apscheduler")
HEADERS = {
    "greensched": "greensched µs (median / mean)",
    "apscheduler": "APScheduler 3.11 µs (median / mean)",
}


def size_label(size: int) -> str:
    if size >= 1_000_000 and size % 1_000_000 == 0:
        return f"{size // 1_000_000}M"
    if size >= 1_000 and size % 1_000 == 0:
        return f"{size // 1_000}k"
    return str(size)


Stats = dict[str, float]  # "median" and "mean", in µs per job


def collect(data: dict[str, Any]) -> dict[tuple[str, int], dict[str, Stats]]:
    """Return ``{(operation, size): {implementation: stats}}`` in first-seen order."""
    rows: dict[tuple[str, int], dict[str, Stats]] = {}
    for entry in data["benchmarks"]:
        info = entry.get("extra_info", {})
        if "operation" not in info:
            continue
        scale = 1e6 / info.get("jobs_per_call", 1)
        stats = {key: entry["stats"][key] * scale for key in ("median", "mean")}
        rows.setdefault((info["operation"], info["size"]), {})[info["implementation"]] = stats
    return rows


def render(rows: dict[tuple[str, int], dict[str, Stats]]) -> str:
    lines = [
        "| operation | n | "
        + " | ".join(HEADERS[name] for name in IMPLEMENTATIONS)
        + " | speedup |",
        "|---|---:|" + "---:|" * (len(IMPLEMENTATIONS) + 1),
    ]
    operations = list(dict.fromkeys(operation for operation, _ in rows))
    sizes = sorted({size for _, size in rows})
    for operation in operations:
        for size in sizes:
            times = rows.get((operation, size))
            if not times:
                continue
            cells = [
                f"{times[name]['median']:.2f} / {times[name]['mean']:.2f}"
                if name in times
                else "-"
                for name in IMPLEMENTATIONS
            ]
            if all(name in times for name in IMPLEMENTATIONS):
                speedup = f"{times['apscheduler']['mean'] / times['greensched']['mean']:.1f}x"
            else:
                speedup = "-"
            lines.append(
                f"| {operation} | {size_label(size)} | " + " | ".join(cells) + f" | {speedup} |"
            )

    scaling = []
    for operation in operations:
        known = {
            size: rows[operation, size]["greensched"]
            for size in sizes
            if "greensched" in rows.get((operation, size), {})
        }
        if len(known) >= 2:
            smallest, largest = min(known), max(known)
            ratios = [known[largest][key] / known[smallest][key] for key in ("median", "mean")]
            scaling.append(
                f"- {operation}: {size_label(largest)} / {size_label(smallest)} = "
                f"{ratios[0]:.2f} (median), {ratios[1]:.2f} (mean)"
            )
    if scaling:
        lines += ["", "greensched scaling (target for update: at most 2):", *scaling]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json_file", help="the file written by --benchmark-json")
    args = parser.parse_args(argv)
    with open(args.json_file, encoding="utf-8") as stream:
        data = json.load(stream)
    print(render(collect(data)))
    print()
    print("µs per job; speedup = APScheduler mean / greensched mean")


if __name__ == "__main__":
    main()
