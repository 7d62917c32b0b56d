"""How much the local orchestration adds to the job scripts themselves.

For each data size it runs the three scripts directly in sequence (what a person would do by
hand) and `mlops run --pipeline-only` on the same data, in pairs, and prints both wall times,
their ratio and difference, the time the pipeline spent outside its jobs, and peak memory.
Every pipeline run gets a fresh runs folder, so the step cache never hides work; the
definition build cache is warmed first (a cold first build is printed separately), because
that is the state every run after the first one is in.

    python benchmarks/pipeline_bench.py                 # Abalone and 1,000,000 rows
    python benchmarks/pipeline_bench.py --sizes abalone --repeat 5
"""

from __future__ import annotations

import argparse
import os
import re
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
_PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
#: The line a step log ends with when its job succeeded.
_JOB_TIME = re.compile(r"^# exit code 0 after ([\d.]+) s$", re.MULTILINE)
#: Seconds between memory samples.
_SAMPLE_SECONDS = 0.1


def _tree_rss_kib(root: int) -> int:
    """Resident memory of a process and all its descendants, from /proc/<pid>/stat (Linux).

    One small read per process keeps each sample to a couple of milliseconds, so sampling
    barely competes with what it measures.
    """
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        # Fields after "(comm)": state, ppid, ..., rss (pages) is the 22nd of them.
        fields = stat[stat.rindex(b")") + 2 :].split()
        parents[int(name)] = int(fields[1])
        rss[int(name)] = int(fields[21]) * _PAGE_KIB
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
        time.sleep(_SAMPLE_SECONDS)
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


def pipeline(data: Path, work: Path, env: dict[str, str]) -> tuple[float, float, float]:
    """`mlops run --pipeline-only` in a fresh runs folder; (seconds, peak MiB, jobs' seconds).

    The jobs' seconds are their own run times as the step logs record them, so the wall time
    minus them is what the orchestration spent outside the jobs, free of the jobs' own jitter.
    """
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
    jobs = sum(
        float(seconds)
        for log in runs.glob("*/logs/*.log")
        for seconds in _JOB_TIME.findall(log.read_text(encoding="utf-8"))
    )
    return result["wall"], result["peak_mib"], jobs


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
        cold, _, _ = pipeline(ABALONE, work, env)
        print(f"first run with an empty build cache (SDK import and build): {cold:.1f} s")
        header = (
            f"{'data':>10} {'scripts s':>10} {'pipeline s':>11} {'ratio':>6} {'added s':>8} "
            f"{'outside jobs s':>14} {'scripts MiB':>11} {'pipeline MiB':>12}"
        )
        print(header)
        for size in args.sizes:
            data = dataset(size, work)
            scripts, pipelines = [], []
            for index in range(args.repeat):
                # Every other pair runs the pipeline first, so going second (warmer caches,
                # or a machine that has slowed down) favours neither side.
                if index % 2:
                    pipelines.append(pipeline(data, work, env))
                    scripts.append(direct(data, Path(tempfile.mkdtemp(dir=work, prefix="dir-"))))
                else:
                    scripts.append(direct(data, Path(tempfile.mkdtemp(dir=work, prefix="dir-"))))
                    pipelines.append(pipeline(data, work, env))
                (by_hand, _), (orchestrated, _, jobs) = scripts[-1], pipelines[-1]
                print(
                    f"  {size}, pair {index + 1}: scripts {by_hand:.2f} s, pipeline "
                    f"{orchestrated:.2f} s (added {orchestrated - by_hand:+.2f} s; "
                    f"{orchestrated - jobs:.2f} s outside the jobs)",
                    file=sys.stderr,
                    flush=True,
                )
            # Each pair ran back to back, so comparing within pairs cancels the machine's drift.
            pairs = [(s, p) for (s, _), (p, _, _) in zip(scripts, pipelines, strict=True)]
            ratio = statistics.median(p / s for s, p in pairs)
            added = statistics.median(p - s for s, p in pairs)
            outside = statistics.median(p - jobs for p, _, jobs in pipelines)
            print(
                f"{size:>10} {statistics.median(s for s, _ in pairs):>10.2f} "
                f"{statistics.median(p for _, p in pairs):>11.2f} {ratio:>6.2f} {added:>8.2f} "
                f"{outside:>14.2f} {max(peak for _, peak in scripts):>11.0f} "
                f"{max(peak for _, peak, _ in pipelines):>12.0f}",
                flush=True,
            )
    print(
        f"seconds: medians of {args.repeat} pairs of runs (the scripts and the pipeline back to "
        "back, each first in turn); ratio and added: medians over the pairs; outside jobs: the "
        "pipeline's wall time minus its jobs' own run times (from the step logs); peak MiB: the "
        "highest total resident memory of a whole process tree, sampled every "
        f"{_SAMPLE_SECONDS:g} s: the scripts' tree, then the pipeline run's (mlops, the local "
        "AWS, the jobs)"
    )


if __name__ == "__main__":
    main()
