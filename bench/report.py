"""Print a markdown table from a pytest-benchmark JSON file of the benchmarks in bench/.

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

#: column titles of the implementations measured side by side; greensched comes first
HEADERS = {
    "greensched": "greensched µs (median / mean)",
    "apscheduler": "APScheduler 3.11 µs (median / mean)",
    "croniter": "croniter µs (median / mean)",
}
PEERS = {"apscheduler": "APScheduler 3.11", "croniter": "croniter"}


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
    present = {name for times in rows.values() for name in times}
    implementations = [name for name in HEADERS if name in present]
    peers = [name for name in PEERS if name in present]
    lines = [
        "| operation | n | "
        + " | ".join(HEADERS[name] for name in implementations)
        + "".join(f" | speedup vs {PEERS[name]}" for name in peers)
        + " |",
        "|---|---:|" + "---:|" * (len(implementations) + len(peers)),
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
                for name in implementations
            ]
            for peer in peers:
                if peer in times and "greensched" in times:
                    cells.append(f"{times[peer]['mean'] / times['greensched']['mean']:.1f}x")
                else:
                    cells.append("-")
            lines.append(f"| {operation} | {size_label(size)} | " + " | ".join(cells) + " |")

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
        lines += ["", "greensched scaling with n:", *scaling]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json_file", help="the file written by --benchmark-json")
    args = parser.parse_args(argv)
    with open(args.json_file, encoding="utf-8") as stream:
        data = json.load(stream)
    print(render(collect(data)))
    print()
    print("µs per job (per fire time for cron); speedup = the peer's mean / greensched's mean")


if __name__ == "__main__":
    main()
