"""The SDK's repack Training step, done on the job's sandbox where jobs have no /opt/ml.

When a ModelStep's model has an `entry_point`, sagemaker v2 adds a Training step
(`sagemaker/workflow/_utils.py` _RepackModelStep) whose entry point is the shell launcher
`_repack_script_launcher.sh`, which runs `python _repack_model.py` with the hyperparameters
inference_script, model_archive, dependencies and source_dir (from SM_HP_*). That script reads
and writes fixed container paths (/opt/ml/input/data/training, /opt/ml/code, /opt/ml/model).
Where jobs get a private /opt/ml (containers.py) the training step runs the SDK's own launcher
as any entry point. Only where they do not (it could not run, and as root would write into
the host's /opt) does this module do what `_repack_model.py` does, on the sandbox's folders:
the previous model archive's members, plus `code/` holding the inference script (or the
whole source directory) and `code/lib/` the dependencies.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from localaws.executor import archives
from localaws.executor.containers import Sandbox
from localaws.executor.errors import StepFailed

LAUNCHER = "_repack_script_launcher.sh"
SCRIPT = "_repack_model.py"


def is_sdk_repack(program: str, code: Path) -> bool:
    """The SDK's repack job: its launcher as the program and its script beside it."""
    return program == LAUNCHER and (code / SCRIPT).is_file()


def repack(sandbox: Sandbox, hyperparameters: dict[str, Any], log: Path, why: str) -> None:
    """/opt/ml/model := the model archive from the `training` channel + the inference code;
    `why` says why the SDK's launcher could not run (logged)."""
    code = sandbox.local("/opt/ml/code")
    data = sandbox.local("/opt/ml/input/data/training")
    model_dir = sandbox.local("/opt/ml/model")
    script = _text(hyperparameters.get("inference_script")) or "inference.py"
    archive_name = (_text(hyperparameters.get("model_archive")) or "model.tar.gz").split("/")[-1]
    dependencies = _text(hyperparameters.get("dependencies"))
    source_dir = _text(hyperparameters.get("source_dir"))
    archive = data / archive_name
    if not archive.is_file():
        raise StepFailed(f"repack: {archive_name} is not in the training channel")
    with tempfile.TemporaryDirectory(dir=sandbox.work) as scratch:
        source = Path(scratch) / "src"
        archives.extract(archive, source)
        target = source / "code"
        if source_dir:
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(code, target)
        else:
            target.mkdir(parents=True, exist_ok=True)
            if not (code / script).is_file():
                raise StepFailed(f"repack: inference script {script} is not in the source")
            shutil.copy2(code / script, target / script)
        if dependencies:
            lib = target / "lib"
            for dependency in dependencies.split(" "):
                path = code / dependency
                if path.is_file():
                    lib.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(path, lib)
                else:  # a folder: the SDK flattened it into the code, so all of it goes
                    shutil.rmtree(lib, ignore_errors=True)
                    shutil.copytree(code, lib)
                    break
        shutil.copytree(source, model_dir, dirs_exist_ok=True)
    with log.open("a", encoding="utf-8") as out:
        out.write(
            f"# SDK repack ({LAUNCHER} -> {SCRIPT}) done by the executor on the sandbox, as "
            f"jobs have no /opt/ml here ({why}): {archive_name} + "
            f"code/{'' if source_dir else script} -> /opt/ml/model\n"
        )
        for path in sorted(model_dir.rglob("*")):
            out.write(f"#   {path.relative_to(model_dir).as_posix()}\n")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value not in ("", "None", "null") else None
