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
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def make_run(runs_dir: Path) -> Path:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "mlops.cli",
            "run",
            "--approve",
            "auto",
            "--runs-dir",
            str(runs_dir),
        ],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    (summary,) = runs_dir.glob("*/summary.json")
    return summary.parent


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
