"""A non-editable install works from any folder.

The project is built into a wheel (and an sdist) from a copy of this working tree, the wheel is
installed into a folder of its own, and that copy runs in a Python that sees the installed
folder and the venv's dependencies but neither this repository nor the editable install:
`python -S` skips the .pth files, among them the editable install's finder.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from core.settings import INSTALLED_DATA, INSTALLED_SCRIPTS, PROJECT_ROOT

#: What a build must not see: caches, the venv, and earlier builds (whose leftovers would leak in).
_NOT_SOURCES = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "runs", "*.egg-info", "__pycache__", ".*_cache"
)
_SCRIPTS = sorted(p.name for p in (PROJECT_ROOT / "scripts").glob("*.py"))
_APPROVAL = sorted(p.name for p in (PROJECT_ROOT / "approval").glob("*.py"))
_SMOKE_TEST = sorted(p.name for p in (PROJECT_ROOT / "smoketest").glob("*.py"))

_BUILD_SDIST = "import sys; from setuptools import build_meta; build_meta.build_sdist(sys.argv[1])"
#: Runs in the installed copy: where everything resolves, and what a local build uploads.
_PROBE = """
import hashlib, io, json, sys, zipfile

import core
from core.settings import DEFAULT_DATA, SCRIPTS_DIR, Settings
from deploy.bundle import build_bundle
from clients.session import local_account
from mlops.builds import BUILD_INPUTS, build_definition, build_key

settings = Settings.from_env()
with local_account(settings.region) as target:
    build_definition(settings, target)
    bucket = settings.bucket_for(target.account_id)
    s3 = target.client("s3")
    code = {
        f"s3://{bucket}/{o['Key']}": hashlib.sha256(
            s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
        ).hexdigest()
        for o in s3.list_objects_v2(Bucket=bucket, Prefix=settings.prefix("code"))["Contents"]
    }
print(json.dumps({
    "core": core.__file__,
    "scripts": str(SCRIPTS_DIR),
    "data": str(DEFAULT_DATA),
    "build_inputs": [str(path) for path in BUILD_INPUTS.values()],
    "build_key": build_key(settings, "123456789012"),
    "bundle": zipfile.ZipFile(io.BytesIO(build_bundle().data)).namelist(),
    "code": code,
}))
"""


def _python(*args: str, cwd: Path | None = None) -> None:
    """Run this venv's Python; a failure shows its output."""
    result = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The wheel and the sdist, built from a copy so the checkout gets no build/ folder."""
    work = tmp_path_factory.mktemp("build")
    source, dist = work / "source", work / "dist"
    shutil.copytree(PROJECT_ROOT, source, ignore=_NOT_SOURCES)
    _python(
        "-m",
        "pip",
        "wheel",
        "-q",
        "--no-deps",
        "--no-build-isolation",
        "-w",
        str(dist),
        str(source),
    )
    _python("-c", _BUILD_SDIST, str(dist), cwd=source)
    (wheel,) = dist.glob("*.whl")
    (sdist,) = dist.glob("*.tar.gz")
    return wheel, sdist


@pytest.fixture(scope="module")
def site(built: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel installed into a folder of its own."""
    target = tmp_path_factory.mktemp("site")
    _python("-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(built[0]))
    return target


def _installed(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -S <args>` seeing the installed copy and the venv's packages, from `cwd`."""
    venv = dict.fromkeys(sysconfig.get_paths()[kind] for kind in ("purelib", "platlib"))
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "MLOPS_", "PYTHON"))
    }
    env["PYTHONPATH"] = os.pathsep.join([str(site), *venv])
    env["XDG_CACHE_HOME"] = str(cwd / "cache")
    return subprocess.run(
        [sys.executable, "-S", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _inside(path: str, folder: Path) -> bool:
    return Path(path).resolve().is_relative_to(folder.resolve())


def test_wheel_ships_scripts_and_data_and_no_tests(built: tuple[Path, Path]) -> None:
    names = set(zipfile.ZipFile(built[0]).namelist())
    assert {f"core/{INSTALLED_SCRIPTS}/{name}" for name in _SCRIPTS} <= names
    assert f"core/{INSTALLED_SCRIPTS}/preprocess.py" in names
    assert f"core/{INSTALLED_DATA}/abalone.csv" in names
    assert {f"approval/{name}" for name in _APPROVAL} <= names
    assert not [n for n in names if n.startswith(("tests/", "benchmarks/", "scripts/", "data/"))]
    assert not [n for n in names if "__pycache__" in n]


def test_sdist_ships_the_top_level_scripts_and_data(built: tuple[Path, Path]) -> None:
    with tarfile.open(built[1]) as sdist:
        names = {name.split("/", 1)[-1] for name in sdist.getnames()}
    assert {f"scripts/{name}" for name in _SCRIPTS} <= names
    assert {"data/abalone.csv", "data/README.md", "scripts/README.md", "setup.py"} <= names


def test_installed_copy_runs_from_any_folder(site: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    commands = [("-c", _PROBE), ("-m", "mlops", "--help"), ("-m", "mlops", "definition", "--local")]
    with ThreadPoolExecutor() as pool:  # independent processes, a few seconds each
        runs = pool.map(lambda args: _installed(site, elsewhere, *args), commands)
        probe, helped, definition = runs

    assert probe.returncode == 0, probe.stderr
    found = json.loads(probe.stdout)
    assert _inside(found["core"], site), found["core"]
    scripts, data = Path(found["scripts"]), Path(found["data"])
    assert _inside(found["scripts"], site) and scripts.is_dir()
    assert _inside(found["data"], site) and data.is_file()
    assert data.read_bytes() == (PROJECT_ROOT / "data" / "abalone.csv").read_bytes()
    assert all(_inside(path, site) for path in found["build_inputs"])
    assert len(found["build_key"]) == 32
    assert found["bundle"] == sorted(
        [f"approval/{name}" for name in _APPROVAL]
        + [f"smoketest/{name}" for name in _SMOKE_TEST]
        + ["core/__init__.py", "core/contracts.py", "core/function_clients.py"]
    )

    assert helped.returncode == 0, helped.stderr
    assert helped.stdout.startswith("usage: mlops")

    assert definition.returncode == 0, definition.stderr
    steps = {step["Name"]: step for step in json.loads(definition.stdout)["Steps"]}
    for step, script in (("Preprocess", "preprocess.py"), ("Evaluate", "evaluate.py")):
        inputs = steps[step]["Arguments"]["ProcessingInputs"]
        (uri,) = [i["S3Input"]["S3Uri"] for i in inputs if i["InputName"] == "code"]
        assert uri.endswith(f"/{script}")
        # The same build uploaded that object, and it is the installed script.
        assert found["code"][uri] == hashlib.sha256((scripts / script).read_bytes()).hexdigest()
