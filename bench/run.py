"""``make bench``: every benchmark in turn, their JSON lines collected into one file
and their summaries printed as Markdown. Not a test: figures drift on shared
machines; compare the ratios within one run.

    python -m bench.run                  # writes bench-results.json beside the cwd
    python -m bench.run --quick          # fewer repeats and cells
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def _run(module: str, args: list[str]) -> list[dict[str, Any]]:
    started = time.perf_counter()
    print(f"== python -m {module} {' '.join(args)}", file=sys.stderr, flush=True)
    proc = subprocess.run(
        [sys.executable, "-m", module, *args], capture_output=True, text=True, check=False
    )
    records = []
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    if proc.returncode != 0:
        records.append({"bench": module, "error": proc.stderr.strip()[-500:]})
    print(f"   {len(records)} records in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return records


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    return head + "".join(
        "| " + " | ".join(str(row.get(c, "-")) for c in columns) + " |\n" for row in rows
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default="bench-results.json")
    args = parser.parse_args()
    repeat = "3" if args.quick else "20"
    plan = [
        ("bench.setup", ["--repeat", repeat]),
        ("bench.datachannel", ["--peers", "rtcpeer", "aiortc", "chromium", "--repeat", "3"]),
        ("bench.media", []),
        (
            "bench.path",
            ["--rtt", "0.1", "0.3", "--loss", "0", "0.01"]
            if args.quick
            else ["--rtt", "0.05", "0.1", "0.3", "--loss", "0", "0.01", "0.05"],
        ),
    ]
    results: list[dict[str, Any]] = []
    for module, module_args in plan:
        results.extend(_run(module, module_args))
    Path(args.out).write_text(json.dumps(results, indent=1))
    setup = [r for r in results if r.get("bench") == "setup-median"]
    if setup:
        print("## Time to open (ms, median)\n")
        print(_table(setup, ["row", "median_ms", "after_answer_median_ms", "range_ms"]))
    data = [r for r in results if r.get("bench") == "datachannel-median"]
    if data:
        print("## Data channel throughput\n")
        print(_table(data, ["peer", "MB_per_s", "messages_per_s", "MB_per_s_range"]))
    path = [r for r in results if r.get("bench") == "path" and "seconds" in r]
    if path:
        print("## 10 MB over an impaired path (s)\n")
        print(_table(path, ["stack", "rtt", "loss", "seconds", "Mbit_per_s"]))
    errors = [r for r in results if "error" in r]
    for error in errors:
        print(f"error in {error.get('bench')}: {error['error']}", file=sys.stderr)
    print(f"all records: {args.out}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
