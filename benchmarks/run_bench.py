"""Wall time of the main job, `mlops run --approve auto`, on Abalone, with its breakdown.

Each timed run gets a fresh runs folder (so the step cache never hides work); the definition
build cache is warmed once first, the state of every run after the first. The breakdown comes
from the run's own summary.json: start-up (process start to the execution's start: imports,
the local AWS, the build cache, the pipeline upsert and the stack), of which stack (deploying
the workflow template into the local CloudFormation), then pipeline, approval and deploy
(from the execution history's timestamps), and of deploy the smoke test (its first state to
its verdict: what the smoke test adds to the run; target at most 0.5 s).

What the reviewer's view adds (target: at most 1 s together): `pictures`, the time
scripts/evaluate.py spent drawing its three pictures (from its log, matplotlib's import
included), and `report`, rendering report.html from the run folder (re-rendered here, as
`mlops run` renders it). With `--champion`, every timed run follows an earlier run in the same
folder, so it has a champion: FindChampion finds it, Evaluate scores both models and the
pictures show both.

    python benchmarks/run_bench.py [--runs 3] [--champion]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PHASES = ("startup", "stack", "pipeline", "approval", "deploy", "smoke_test")
REVIEWER_VIEW = ("pictures", "report")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
_DRAWN = re.compile(r"drawn in ([0-9.]+) s")


def reviewer_view(folder: Path) -> dict[str, float]:
    """Seconds the run spent on its pictures (Evaluate's log) and on its report."""
    from mlops.report import render

    found = _DRAWN.search((folder / "logs" / "Evaluate.log").read_text())
    start = time.perf_counter()
    render(folder)
    return {
        "pictures": float(found.group(1)) if found else float("nan"),
        "report": time.perf_counter() - start,
    }


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
    summary = max(runs_dir.glob("*/summary.json"))  # the newest run (ids sort by time)
    timings = json.loads(summary.read_text())["timings"]
    return wall, {**timings, **reviewer_view(summary.parent)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--champion", action="store_true", help="time runs that have a champion to compare"
    )
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    with tempfile.TemporaryDirectory(prefix="mlops-bench-") as tmp:
        env["XDG_CACHE_HOME"] = str(Path(tmp) / "cache")
        cold, _ = timed_run(Path(tempfile.mkdtemp(dir=tmp)), env)
        print(f"first run with an empty build cache: {cold:.1f} s (target: at most 14 s)")
        columns = (*PHASES, *REVIEWER_VIEW)
        print(f"{'run':>4} {'wall s':>7} " + " ".join(f"{p:>9}" for p in columns))
        walls, smokes, views = [], [], []
        for index in range(1, args.runs + 1):
            folder = Path(tempfile.mkdtemp(dir=tmp))
            if args.champion:
                timed_run(folder, env)  # deploys the model the timed run compares with
            wall, timings = timed_run(folder, env)
            walls.append(wall)
            smokes.append(timings.get("smoke_test", float("nan")))
            views.append(sum(timings[name] for name in REVIEWER_VIEW))
            print(
                f"{index:>4} {wall:>7.2f} "
                + " ".join(f"{timings.get(p, float('nan')):>9.2f}" for p in columns),
                flush=True,
            )
        print(f"median wall: {statistics.median(walls):.2f} s (target: at most 10 s)")
        print(f"median smoke test: {statistics.median(smokes):.2f} s (target: at most 0.5 s)")
        print(f"median pictures + report: {statistics.median(views):.2f} s (target: at most 1 s)")


if __name__ == "__main__":
    main()
