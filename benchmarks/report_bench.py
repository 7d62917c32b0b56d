"""Time to render a run's report.html (mlops/report.py), pictures included.

`mlops run` renders the report after summary.json is written, before the run folder is
published: this is what the report adds to every run (target: well under 0.3 s). Renders
the run folder given, or makes one with `mlops run --approve auto` first.

    python benchmarks/report_bench.py [--run runs/<id>] [--renders 20]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path


def make_run(runs_dir: Path) -> Path:
    """One `mlops run --approve auto`, as run_bench.py times it; its run folder."""
    from run_bench import timed_run  # this folder is the script's first import path

    timed_run(runs_dir, {k: v for k, v in os.environ.items() if not k.startswith("AWS_")})
    return max(runs_dir.glob("*/summary.json")).parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, help="a run folder (default: make one)")
    parser.add_argument("--renders", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="report-bench-") as tmp:
        folder = args.run or make_run(Path(tmp))
        start = time.perf_counter()
        from mlops import report  # what `mlops run` imports for it

        imported = time.perf_counter() - start
        times = []
        for _ in range(args.renders):
            start = time.perf_counter()
            page = report.render(folder)
            times.append(time.perf_counter() - start)
        summary = json.loads((folder / "summary.json").read_text())
        pictures = len(summary.get("pictures") or {})
        print(f"run {folder.name}: {len(summary.get('steps') or [])} steps, {pictures} pictures")
        print(f"import mlops.report: {imported * 1000:.0f} ms")
        print(
            f"render ({args.renders} times): median {statistics.median(times) * 1000:.1f} ms, "
            f"max {max(times) * 1000:.1f} ms, page {len(page) / 1024:.0f} KiB "
            "(target: well under 300 ms)"
        )


if __name__ == "__main__":
    main()
