"""A job sees /opt/ml as inside its SageMaker container, and the host's /opt never changes.

Scripts here hard-code their container paths (no arguments, no SM_* variables), as AWS's own
examples do; what they write there must land in the run's outputs on S3.
"""

from __future__ import annotations

import io
import json
import os
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.executions import BUCKET, processing_step, run_definition, sourcedir, training_step

from localaws.executor import containers
from localaws.executor.containers import Isolation, run_logged
from localaws.executor.errors import StepFailed

ISOLATED = containers.isolation()
needs_isolation = pytest.mark.skipif(
    not ISOLATED.prefix, reason=f"no private mount namespaces here: {ISOLATED.problem}"
)

PREPARE = """\
import json, os
config = json.load(open("/opt/ml/config/processingjobconfig.json"))
resources = json.load(open("/opt/ml/config/resourceconfig.json"))
rows = open("/opt/ml/processing/input/data/rows.csv").read()
assert os.path.isdir("/opt/ml/processing/output"), "output folders exist before the job"
with open("/opt/ml/processing/output/x.csv", "w") as out:
    out.write(rows.upper())
print("job", config["ProcessingJobName"], "on", resources["current_host"], resources["hosts"])
"""
TRAIN = """\
import json, os
hyperparameters = json.load(open("/opt/ml/input/config/hyperparameters.json"))
channels = json.load(open("/opt/ml/input/config/inputdataconfig.json"))
rows = open("/opt/ml/input/data/train/x.csv").read()
with open("/opt/ml/model/m.txt", "w") as out:
    out.write(rows + hyperparameters["sagemaker_program"] + " " + ",".join(sorted(channels)))
print("cwd", os.getcwd(), "code", sorted(os.listdir("/opt/ml/code")))
"""


def _opt_snapshot() -> dict[str, tuple[int, int, int]]:
    """/opt's own entries with their mode, size and modification time."""
    snapshot = {}
    for entry in os.scandir("/opt"):
        stat = entry.stat(follow_symlinks=False)
        snapshot[entry.name] = (stat.st_mode, stat.st_size, stat.st_mtime_ns)
    stat = os.stat("/opt")
    snapshot["."] = (stat.st_mode, stat.st_nlink, stat.st_mtime_ns)
    return snapshot


@pytest.fixture
def host_opt() -> Iterator[None]:
    """Fails the test if the host's /opt changed, or gained an /opt/ml, while it ran."""
    had_ml = os.path.lexists("/opt/ml")
    before = _opt_snapshot()
    yield
    assert _opt_snapshot() == before, "the host's /opt changed"
    assert os.path.lexists("/opt/ml") == had_ml, "an /opt/ml appeared on the host"


@needs_isolation
def test_a_job_writes_its_own_opt_ml_not_the_hosts(tmp_path: Path, host_opt: None) -> None:
    root = tmp_path / "step"
    log = tmp_path / "job.log"
    script = "open('/opt/ml/output/data/x.txt', 'w').write('mine'); open('/opt/y', 'w')"
    (root / "opt" / "ml" / "output" / "data").mkdir(parents=True)
    run_logged(
        [sys.executable, "-c", script],
        env=os.environ,
        cwd=tmp_path,
        log=log,
        timeout=60,
        what="job",
        root=root,
    )
    assert (root / "opt" / "ml" / "output" / "data" / "x.txt").read_text() == "mine"
    assert not os.path.lexists("/opt/y")  # /opt is an overlay whose writes die with the job
    assert f"# /opt/ml is {(root / 'opt' / 'ml').resolve()} (a private mount namespace)" in (
        log.read_text()
    )


@needs_isolation
@pytest.mark.slow
def test_hard_coded_container_paths_land_in_s3_and_in_the_model(
    tmp_path: Path, host_opt: None
) -> None:
    prepare = processing_step(
        "Prepare",
        "prepare.py",
        inputs={"data": (f"s3://{BUCKET}/input/rows.csv", "/opt/ml/processing/input/data")},
        outputs={"train": "/opt/ml/processing/output"},
    )
    output = {"Get": "Steps.Prepare.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"}
    train = training_step("Fit", "train.py", {"train": output})
    files = {
        "input/rows.csv": b"a,b\n1,2\n",
        "code/Prepare/prepare.py": PREPARE.encode(),
        "code/Fit/sourcedir.tar.gz": sourcedir({"train.py": TRAIN}),
    }
    run = run_definition(tmp_path, {"Version": "2020-12-01", "Steps": [prepare, train]}, files)
    assert (run.status, run.reason) == ("Succeeded", None), run.reason
    assert run.objects["Prepare/train/x.csv"] == b"A,B\n1,2\n"
    (model_key,) = [key for key in run.objects if key.endswith("model.tar.gz")]
    with tarfile.open(fileobj=io.BytesIO(run.objects[model_key])) as tar:
        member = tar.extractfile("m.txt")
        assert member is not None
        # hyperparameters.json holds the values as sent: strings the SDK JSON-encoded
        assert member.read().decode() == 'A,B\n1,2\n"train.py" train'
    prepared = (run.folder / "logs" / "Prepare.log").read_text()
    assert "job pipelines-" in prepared and "on algo-1 ['algo-1']" in prepared
    config = run.folder / "steps" / "Prepare" / "opt" / "ml" / "config"
    job = json.loads((config / "processingjobconfig.json").read_text())
    assert job["ProcessingJobArn"].endswith(job["ProcessingJobName"])
    assert job["AppSpecification"]["ContainerEntrypoint"][0] == "python3"
    assert "cwd " in (run.folder / "logs" / "Fit.log").read_text()


def test_without_isolation_a_hard_coded_path_failure_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, host_opt: None
) -> None:
    monkeypatch.setattr(containers, "_isolation", Isolation(problem="no namespaces in this test"))
    root = tmp_path / "step"
    missing = "/opt/ml/processing/input/absent/rows.csv"  # read, never written: host stays clean
    with pytest.raises(StepFailed) as failed:
        run_logged(
            [sys.executable, "-c", f"open({missing!r})"],
            env=os.environ,
            cwd=tmp_path,
            log=tmp_path / "job.log",
            timeout=60,
            what="Step Prepare: prepare.py",
            root=root,
        )
    reason = str(failed.value)
    assert reason.startswith("Step Prepare: prepare.py exited with code 1. It ran without its")
    assert "(no namespaces in this test)" in reason and "pass them that way" in reason
    assert reason.endswith(f"No such file or directory: '{missing}'")
    assert len(reason) <= 1024
    assert "is not mounted (no namespaces in this test)" in (tmp_path / "job.log").read_text()


def test_without_isolation_other_failures_keep_their_plain_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(containers, "_isolation", Isolation(problem="no namespaces in this test"))
    mapped = tmp_path / "step" / "opt" / "ml" / "processing" / "absent.csv"  # a mapped path
    with pytest.raises(StepFailed) as failed:
        run_logged(
            [sys.executable, "-c", f"open({str(mapped)!r})"],
            env=os.environ,
            cwd=tmp_path,
            log=tmp_path / "job.log",
            timeout=60,
            what="Step Prepare: prepare.py",
            root=tmp_path / "step",
        )
    assert str(failed.value).startswith("Step Prepare: prepare.py exited with code 1. Last lines")


def test_fstab_fields_escape_blanks_and_backslashes() -> None:
    assert containers._fstab_escape("/tmp/a b\tc\\d") == "/tmp/a\\040b\\011c\\134d"
