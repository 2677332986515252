"""Benchmark: generate the district profile (600,000 residents, 3 years of history) into a
temporary folder and print wall time, peak RSS and record counts per entity.

Usage: PYTHONPATH=src python benchmarks/bench_generate.py [--residents N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def _tree_rss_kib(root: int) -> int:
    """Summed VmRSS of ``root`` and its descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--residents", type=int, default=600_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--as-of", default="2026-11-22")
    parser.add_argument("--start-year", type=int, default=2024)
    parser.add_argument("--keep", type=Path, default=None, help="write here and keep the output")
    args = parser.parse_args()
    out = args.keep or Path(tempfile.mkdtemp(prefix="phw-bench-"))
    cmd = [
        sys.executable,
        "-m",
        "phwarehouse.platform",
        "generate",
        "--seed",
        str(args.seed),
        "--residents",
        str(args.residents),
        "--start-year",
        str(args.start_year),
        "--as-of",
        args.as_of,
        "--out",
        str(out),
    ]
    t0 = time.perf_counter()
    # the generator runs in a child process (itself with worker processes): RUSAGE_CHILDREN
    # reports the largest resident set among the waited-for descendants
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    tree_peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal tree_peak
        while not stop.is_set():
            tree_peak = max(tree_peak, _tree_rss_kib(proc.pid))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    if proc.wait() != 0:
        raise SystemExit(f"generator failed with exit code {proc.returncode}")
    wall = time.perf_counter() - t0
    stop.set()
    sampler.join()
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    size = sum(p.stat().st_size for p in (out / "jsonl").glob("*.jsonl"))
    print(f"residents        {args.residents}")
    print(f"wall time        {wall:.1f} s")
    print(f"peak RSS         {peak_kib / 1024:.0f} MiB (largest single process, getrusage)")
    print(f"peak tree RSS    {tree_peak / 1024:.0f} MiB (all processes together, sampled)")
    print(f"jsonl size       {size / 2**20:.0f} MiB")
    total = 0
    for entity, info in manifest["entities"].items():
        print(f"  {entity:<24} {info['lines']:>10}")
        total += info["lines"]
    print(f"  {'TOTAL':<24} {total:>10}")
    if args.keep is None:
        shutil.rmtree(out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
