"""`mlops run --module-name`: a user's own pipeline, built in a child interpreter, run locally.

The user modules here are written into a temporary folder that becomes the current folder, as
a user's project would be; the mistakes a user can make are each one line and exit 2 before
anything runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import UsageError
from mlops.cli import main
from mlops.inputs import Input, check_inputs, parse_inputs, upload_inputs
from mlops.user_pipeline import parse_kwargs, parse_module

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "abalone_aws_style"
DATA = Path(__file__).resolve().parents[1] / "data" / "abalone.csv"

#: A small pipeline in a package named as the seed code names its own (and as ours is named),
#: with no __init__.py at the top: a namespace package, which any regular `pipelines` package
#: elsewhere on sys.path would outrank if ours were importable.
TINY = """
import json
import sagemaker
from sagemaker.workflow.fail_step import FailStep
from sagemaker.workflow.parameters import ParameterString
from sagemaker.workflow.pipeline import Pipeline


def get_pipeline(region, role=None, pipeline_name="TinyPipeline", **rest):
    # No default_bucket argument: the SDK's own default bucket, found without STS.
    bucket = sagemaker.Session().default_bucket()
    seen = ParameterString(name="Seen", default_value=json.dumps([region, role, bucket, rest]))
    data = ParameterString(name="InputData", default_value="s3://nowhere/x.csv")
    return Pipeline(
        name=pipeline_name,
        parameters=[seen, data],
        steps=[FailStep(name="Stop", error_message="stopped on purpose")],
    )


def not_a_pipeline():
    return {"Steps": []}


def raises():
    raise ValueError("bad\\nthings happen")


def exits():
    raise SystemExit(3)
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user's folder with `pipelines/tiny/pipeline.py` (namespace packages), as the cwd."""
    package = tmp_path / "pipelines" / "tiny"
    package.mkdir(parents=True)
    (package / "pipeline.py").write_text(TINY)
    (tmp_path / "broken.py").write_text("import no_such_dependency_anywhere\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _run(capsys: pytest.CaptureFixture[str], runs: Path, *args: str) -> tuple[int, str, str]:
    code = main(["run", "--pipeline-only", "--runs-dir", str(runs), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --- parsing, before anything starts --------------------------------------------------------


def test_module_and_function() -> None:
    assert parse_module("pipelines.abalone.pipeline") == (
        "pipelines.abalone.pipeline",
        "get_pipeline",
    )
    assert parse_module("my.mod:build") == ("my.mod", "build")
    for bad in ("", "a..b", "a:b:c", "1x", "a-b.c", "mod:"):
        if bad == "mod:":
            assert parse_module(bad) == ("mod", "get_pipeline")
            continue
        with pytest.raises(UsageError, match="--module-name"):
            parse_module(bad)


def test_kwargs_are_json_or_the_seed_codes_python_literal() -> None:
    assert parse_kwargs(None) == {}
    assert parse_kwargs('{"region": "eu-west-1", "flag": true}') == {
        "region": "eu-west-1",
        "flag": True,
    }
    assert parse_kwargs("{'region': 'eu-west-1', 'flag': True}") == {
        "region": "eu-west-1",
        "flag": True,
    }
    for bad in ("{", "[1, 2]", '"text"', "{1: 2}", "__import__('os')"):
        with pytest.raises(UsageError, match="--kwargs"):
            parse_kwargs(bad)


def test_inputs_are_checked_before_anything_runs(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    for bad, match in (
        ("NoEquals", "expected NAME=PATH"),
        ("Name=", "expected NAME=PATH"),
        (f"Name={tmp_path / 'missing.csv'}", "no such file or folder"),
        (f"Name={tmp_path / 'empty'}", "an empty folder"),
    ):
        with pytest.raises(UsageError, match=match):
            parse_inputs([bad])
    with pytest.raises(UsageError, match="given twice"):
        parse_inputs([f"A={DATA}", f"A={DATA}"])
    definition = {
        "Parameters": [{"Name": "Data", "Type": "String"}, {"Name": "N", "Type": "Integer"}]
    }
    with pytest.raises(
        UsageError, match="not a parameter of the pipeline; its parameters: Data, N"
    ):
        check_inputs([Input("Other", DATA)], definition, {})
    with pytest.raises(UsageError, match="the parameter is Integer"):
        check_inputs([Input("N", DATA)], definition, {})
    with pytest.raises(UsageError, match="also set by --param"):
        check_inputs([Input("Data", DATA)], definition, {"Data": "s3://x/y"})


def test_inputs_keep_base_names_and_relative_paths(tmp_path: Path) -> None:
    folder = tmp_path / "dataset"
    (folder / "part").mkdir(parents=True)
    (folder / "a.csv").write_text("1\n")
    (folder / "part" / "b.csv").write_text("2\n")
    stored: dict[str, bytes] = {}

    class Uploader:
        def upload(self, path: Path, bucket: str, key: str) -> None:
            stored[f"s3://{bucket}/{key}"] = path.read_bytes()

    values = upload_inputs(
        parse_inputs([f"File={DATA}", f"Folder={folder}"]), Uploader(), "bkt", "P/input"
    )
    assert values["File"].startswith("s3://bkt/P/input/")
    assert values["File"].endswith("/abalone.csv")
    assert values["Folder"].endswith("/dataset/")
    assert stored[values["Folder"] + "a.csv"] == b"1\n"
    assert stored[values["Folder"] + "part/b.csv"] == b"2\n"
    again = upload_inputs(parse_inputs([f"File={DATA}"]), Uploader(), "bkt", "P/input")
    assert again["File"] == values["File"]  # content-addressed: same data, same key


def test_flags_of_the_other_pipeline_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--kwargs", "{}"]) == 2
    assert "--kwargs: only with --module-name" in capsys.readouterr().err
    assert main(["run", "--module-name", "m", "--data", str(DATA)]) == 2
    assert "--input NAME=PATH" in capsys.readouterr().err
    assert main(["run", "--module-name", "m", "--param", "NoValue"]) == 2
    assert "--param 'NoValue': expected Name=Value" in capsys.readouterr().err


# --- the user's module, built in the child ----------------------------------------------------


@pytest.mark.parametrize(
    ("module", "expected"),
    [
        ("nosuch.module", "no module named 'nosuch.module' in"),
        ("broken", "importing broken: ModuleNotFoundError: No module named"),
        ("pipelines.tiny.pipeline:nosuch", "has no function 'nosuch'"),
        ("pipelines.tiny.pipeline:raises", "raises() raised ValueError: bad things happen at"),
        ("pipelines.tiny.pipeline:not_a_pipeline", "returned dict, not a sagemaker"),
        ("pipelines.tiny.pipeline:exits", "the build ended without a pipeline (exit code 3)"),
    ],
)
def test_errors_in_the_users_module_are_one_line_and_exit_2(
    project: Path, capsys: pytest.CaptureFixture[str], module: str, expected: str
) -> None:
    code, out, err = _run(capsys, project / "runs", "--module-name", module)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1, err
    assert err.startswith(f"mlops run: error: --module-name {module.split(':')[0]}")
    assert expected in err
    assert "Traceback" not in err
    assert not [p for p in (project / "runs").iterdir() if not p.name.startswith(".")]


def test_a_users_pipelines_package_wins_and_the_sdk_finds_the_local_bucket(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The user's namespace package `pipelines` is imported, not ours; the SDK's default
    bucket comes from its defaults file; region and role are filled where declared, and
    --kwargs wins over them; the run folder is as for the project's pipeline."""
    code, out, err = _run(
        capsys,
        project / "runs",
        "--module-name",
        "pipelines.tiny.pipeline",
        "--kwargs",
        '{"role": "arn:aws:iam::123456789012:role/Mine", "extra": 1}',
        "--input",
        f"InputData={DATA}",
    )
    assert code == 1, err  # the pipeline's Fail step
    (run_dir,) = (p for p in (project / "runs").iterdir() if not p.name.startswith("."))
    definition = json.loads((run_dir / "definition.json").read_text())
    seen = json.loads(
        next(p for p in definition["Parameters"] if p["Name"] == "Seen")["DefaultValue"]
    )
    region, role, bucket, rest = seen
    assert region == "us-east-1"
    assert role == "arn:aws:iam::123456789012:role/Mine"
    assert bucket.startswith("sagemaker-us-east-1-")
    assert rest == {"extra": 1}  # default_bucket was not declared, so not filled
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["pipeline_name"] == "TinyPipeline"
    assert summary["failure_reason"] and "stopped on purpose" in summary["failure_reason"]
    assert summary["parameters"] == {}
    assert (run_dir / "build.log").is_file()
    assert "Pipeline: failed" in out


def test_an_input_that_is_not_a_parameter_stops_before_anything_runs(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(
        capsys,
        project / "runs",
        "--module-name",
        "pipelines.tiny.pipeline",
        "--input",
        f"Nope={DATA}",
    )
    assert code == 2
    assert "--input Nope: not a parameter of the pipeline; its parameters: InputData, Seen" in err


def test_the_full_run_needs_a_register_model_step(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["run", "--runs-dir", str(project / "runs"), "--module-name", "pipelines.tiny.pipeline"]
    )
    assert code == 2
    assert "no RegisterModel step" in capsys.readouterr().err


# --- the example written the way AWS's examples are ------------------------------------------


@pytest.mark.slow
def test_the_aws_style_example_runs_with_every_step_succeeded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(EXAMPLE)
    code, out, err = _run(
        capsys,
        tmp_path,
        "--module-name",
        "pipelines.abalone.pipeline",
        "--input",
        f"InputDataUrl={DATA}",
    )
    assert code == 0, err + out
    (run_dir,) = (p for p in tmp_path.iterdir() if not p.name.startswith("."))
    summary = json.loads((run_dir / "summary.json").read_text())
    steps = {s["name"]: (s["type"], s["status"]) for s in summary["steps"]}
    assert steps == {
        "PreprocessAbaloneData": ("Processing", "Succeeded"),
        "TrainAbaloneModel": ("Training", "Succeeded"),
        "EvaluateAbaloneModel": ("Processing", "Succeeded"),
        "CheckMSEAbaloneEvaluation": ("Condition", "Succeeded"),
        "CreateAbaloneModel-CreateModel": ("Model", "Succeeded"),
        "TransformAbaloneTest": ("Transform", "Succeeded"),
        "RegisterAbaloneModel-RegisterModel": ("RegisterModel", "Succeeded"),
    }
    assert summary["model_approval_status"] == "PendingManualApproval"
    assert 0 < summary["metrics"]["regression_metrics"]["mse"]["value"] < 6.0
    assert (run_dir / "logs" / "TransformAbaloneTest.log").is_file()


@pytest.mark.slow
def test_the_example_through_the_workflow_is_approved_and_deployed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The workflow finds the package this execution registered, whatever the step is called."""
    monkeypatch.chdir(EXAMPLE)
    code = main(
        [
            "run",
            "--approve",
            "auto",
            "--runs-dir",
            str(tmp_path),
            "--module-name",
            "pipelines.abalone.pipeline",
            "--input",
            f"InputDataUrl={DATA}",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err + out
    (run_dir,) = (p for p in tmp_path.iterdir() if not p.name.startswith("."))
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["execution_status"] == "SUCCEEDED"
    assert summary["decision"] == "approved"
    assert summary["endpoint_status"] == "InService"
    assert "abalonepackagegroup" in summary["model_package_arn"].lower()
