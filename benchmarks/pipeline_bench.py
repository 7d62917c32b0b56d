"""How much the local orchestration adds to the job scripts themselves.

For each data size it runs the three scripts directly in sequence (what a person would do by
hand), then `mlops run --pipeline-only` on the same data, and prints both wall times, the
difference and the ratio, and peak memory. Every pipeline run gets a fresh runs folder, so the
step cache never hides work; the definition build cache is warmed first (a cold first build
is printed separately), because that is the state every run after the first one is in.

    python benchmarks/pipeline_bench.py                 # Abalone and 1,000,000 rows
    python benchmarks/pipeline_bench.py --sizes abalone --repeat 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"
ABALONE = ROOT / "data" / "abalone.csv"


def _tree_rss_kib(root: int) -> int:
    """Resident memory of a process and all its descendants, from /proc (Linux)."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        parents[int(entry.name)] = int(fields["PPid"])
        rss[int(entry.name)] = int(fields.get("VmRSS", "0 kB").split()[0])
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        tree.update(children)
        frontier.extend(children)
    return sum(rss.get(pid, 0) for pid in tree)


def measure(command: list[str], env: dict[str, str] | None = None) -> dict[str, float]:
    """Wall seconds and the peak resident memory (MiB) of the command's whole process tree."""
    start = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    peak = 0
    while process.poll() is None:
        peak = max(peak, _tree_rss_kib(process.pid))
        time.sleep(0.05)
    wall = time.perf_counter() - start
    if process.returncode != 0:
        raise SystemExit(f"benchmark command failed ({process.returncode}): {' '.join(command)}")
    return {"wall": wall, "peak_mib": peak / 1024}


def direct(data: Path, work: Path) -> tuple[float, float]:
    """The three scripts by hand, as SageMaker would run them; (seconds, peak MiB)."""
    py = sys.executable
    out, model, evaluation = work / "splits", work / "model", work / "evaluation"
    model.mkdir()
    steps = [
        [py, str(SCRIPTS / "preprocess.py"), "--input", str(data), "--output-dir", str(out)],
        [
            py,
            str(SCRIPTS / "train.py"),
            "--train",
            str(out / "train"),
            "--validation",
            str(out / "validation"),
            "--model-dir",
            str(model),
        ],
    ]
    seconds, peak = 0.0, 0.0
    for command in steps:
        result = measure(command)
        seconds, peak = seconds + result["wall"], max(peak, result["peak_mib"])
    start = time.perf_counter()
    with tarfile.open(model / "model.tar.gz", "w:gz") as archive:
        archive.add(model / "xgboost-model", arcname="xgboost-model")
    seconds += time.perf_counter() - start
    result = measure(
        [
            py,
            str(SCRIPTS / "evaluate.py"),
            "--model-dir",
            str(model),
            "--test-dir",
            str(out / "test"),
            "--output-dir",
            str(evaluation),
        ]
    )
    return seconds + result["wall"], max(peak, result["peak_mib"])


def pipeline(data: Path, work: Path, env: dict[str, str]) -> tuple[float, float]:
    """`mlops run --pipeline-only` in a fresh runs folder; (seconds, peak MiB)."""
    runs = Path(tempfile.mkdtemp(dir=work, prefix="runs-"))
    command = [
        sys.executable,
        "-m",
        "mlops.cli",
        "run",
        "--pipeline-only",
        "--data",
        str(data),
        "--runs-dir",
        str(runs),
    ]
    result = measure(command, env)
    return result["wall"], result["peak_mib"]


def dataset(size: str, work: Path) -> Path:
    if size == "abalone":
        return ABALONE
    from mlops.synthetic import write_csv

    path = work / f"synthetic-{size}.csv"
    write_csv(path, int(size))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        nargs="+",
        default=["abalone", "1000000"],
        help="'abalone' or a row count of synthetic Abalone-schema data",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="measurements of each kind per size, alternated; medians are printed (default 3)",
    )
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    with tempfile.TemporaryDirectory(prefix="mlops-bench-") as tmp:
        work = Path(tmp)
        env["XDG_CACHE_HOME"] = str(work / "cache")
        cold, _ = pipeline(ABALONE, work, env)
        print(f"first run with an empty build cache (SDK import and build): {cold:.1f} s")
        header = (
            f"{'data':>10} {'scripts s':>10} {'pipeline s':>11} {'added s':>8} "
            f"{'ratio':>6} {'scripts MiB':>11} {'pipeline MiB':>12}"
        )
        print(header)
        for size in args.sizes:
            data = dataset(size, work)
            scripts, pipelines = [], []
            for _ in range(args.repeat):
                scripts.append(direct(data, Path(tempfile.mkdtemp(dir=work, prefix="direct-"))))
                pipelines.append(pipeline(data, work, env))
            scripts_s = statistics.median(wall for wall, _ in scripts)
            pipeline_s = statistics.median(wall for wall, _ in pipelines)
            scripts_peak = max(peak for _, peak in scripts)
            pipeline_peak = max(peak for _, peak in pipelines)
            print(
                f"{size:>10} {scripts_s:>10.2f} {pipeline_s:>11.2f} "
                f"{pipeline_s - scripts_s:>8.2f} {pipeline_s / scripts_s:>6.2f} "
                f"{scripts_peak:>11.0f} {pipeline_peak:>12.0f}",
                flush=True,
            )
    print(
        f"seconds: medians of {args.repeat} alternated runs each; peak MiB: the highest total "
        "resident memory of a whole process tree, sampled every 50 ms: the scripts' tree, then "
        "the pipeline run's (mlops, the local AWS, the jobs)"
    )


if __name__ == "__main__":
    main()
