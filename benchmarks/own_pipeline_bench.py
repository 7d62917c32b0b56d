"""Wall time of a user's own pipeline: the AWS-style Abalone example, `--pipeline-only`.

    python benchmarks/own_pipeline_bench.py [--runs 5]

Runs `mlops run --pipeline-only --module-name pipelines.abalone.pipeline --input
InputDataUrl=data/abalone.csv` from examples/abalone_aws_style, as a user would, each time
with a fresh runs folder (so the step cache never hides work), and prints the median wall
time (process start to exit) with its breakdown from summary.json: build (the child
interpreter that imports the user's module and renders the definition) and each step.
Target: the example's seven steps in at most 10 s.
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

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "abalone_aws_style"
DATA = ROOT / "data" / "abalone.csv"


def timed_run(runs_dir: Path) -> tuple[float, dict[str, float]]:
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "mlops",
            "run",
            "--pipeline-only",
            "--module-name",
            "pipelines.abalone.pipeline",
            "--input",
            f"InputDataUrl={DATA}",
            "--runs-dir",
            str(runs_dir),
        ],
        cwd=EXAMPLE,
        env=os.environ,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - start
    (summary_file,) = runs_dir.glob("*/summary.json")
    summary = json.loads(summary_file.read_text())
    parts = {"build": summary["timings"]["build"]}
    parts.update({step["name"]: step["seconds"] or 0.0 for step in summary["steps"]})
    return wall, parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    walls: list[float] = []
    parts: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for index in range(args.runs):
            wall, breakdown = timed_run(Path(tmp) / str(index))
            walls.append(wall)
            for name, seconds in breakdown.items():
                parts.setdefault(name, []).append(seconds)
            print(f"run {index + 1}: {wall:.2f} s", file=sys.stderr)
    print(
        f"own pipeline (example, {len(parts) - 1} steps): median wall "
        f"{statistics.median(walls):.2f} s (min {min(walls):.2f}, max {max(walls):.2f}, "
        f"n={len(walls)})"
    )
    for name, values in parts.items():
        print(f"  {name:<36} median {statistics.median(values):6.2f} s")


if __name__ == "__main__":
    main()
