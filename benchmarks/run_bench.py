"""Wall time of the main job, `mlops run --approve auto`, on Abalone, with its breakdown.

Each timed run gets a fresh runs folder (so the step cache never hides work); the definition
build cache is warmed once first, the state of every run after the first. The breakdown comes
from the run's own summary.json: start-up (process start to the execution's start: imports,
the local AWS, the build cache, the pipeline upsert and the stack), of which stack (deploying
the workflow template into the local CloudFormation), then pipeline, approval and deploy
(from the execution history's timestamps), and of deploy the smoke test (its first state to
its verdict: what the smoke test adds to the run; target at most 0.5 s).

    python benchmarks/run_bench.py [--runs 3]
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

PHASES = ("startup", "stack", "pipeline", "approval", "deploy", "smoke_test")


def timed_run(runs_dir: Path, env: dict[str, str]) -> tuple[float, dict[str, float]]:
    start = time.perf_counter()
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
    wall = time.perf_counter() - start
    (summary,) = runs_dir.glob("*/summary.json")
    return wall, json.loads(summary.read_text())["timings"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    with tempfile.TemporaryDirectory(prefix="mlops-bench-") as tmp:
        env["XDG_CACHE_HOME"] = str(Path(tmp) / "cache")
        cold, _ = timed_run(Path(tempfile.mkdtemp(dir=tmp)), env)
        print(f"first run with an empty build cache: {cold:.1f} s (target: at most 14 s)")
        print(f"{'run':>4} {'wall s':>7} " + " ".join(f"{p:>9}" for p in PHASES))
        walls, smokes = [], []
        for index in range(1, args.runs + 1):
            wall, timings = timed_run(Path(tempfile.mkdtemp(dir=tmp)), env)
            walls.append(wall)
            smokes.append(timings.get("smoke_test", float("nan")))
            print(
                f"{index:>4} {wall:>7.2f} "
                + " ".join(f"{timings.get(p, float('nan')):>9.2f}" for p in PHASES),
                flush=True,
            )
        print(f"median wall: {statistics.median(walls):.2f} s (target: at most 10 s)")
        print(f"median smoke test: {statistics.median(smokes):.2f} s (target: at most 0.5 s)")


if __name__ == "__main__":
    main()
