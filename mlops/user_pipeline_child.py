"""Build a user's pipeline: run as a script, in a child interpreter, never imported by mlops.

The parent (mlops.user_pipeline) starts `python -I <this file> <request.json>` with the user's
working folder as cwd and the local AWS in the standard environment. It does what the
SageMaker Projects seed code's `run-pipeline` does (`get_pipeline_driver`: import the module,
call `get_pipeline(**kwargs)`), then answers one JSON line on the file descriptor it was
given: `{"name", "definition"}` or `{"error"}`, one line a person can read.

It imports the standard library only (the user's code imports what it needs), and before
the user's module it takes this project's top-level packages off the import system: ours is
called `pipelines` too, as the seed code's is, and a user's must never resolve to ours.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import inspect
import json
import os
import sys
import traceback
from collections.abc import Sequence
from types import ModuleType
from typing import Any


class _Hidden(importlib.abc.MetaPathFinder):
    """Finds the project's top-level names only in the user's folder, or not at all.

    An editable install resolves them through a finder on sys.meta_path and a regular install
    through site-packages, either of which would outrank a user's namespace package of the
    same name; first on sys.meta_path, this finder answers for those names itself.
    """

    def __init__(self, names: Sequence[str], folder: str) -> None:
        self.names = frozenset(names)
        self.folder = folder

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.names:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, [self.folder])
        if spec is None:
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return spec


def isolate(folder: str, project_names: Sequence[str], project_root: str) -> None:
    """The user's folder first on sys.path; the project's packages unreachable by name."""
    root = os.path.realpath(project_root)
    dropped = {root, os.path.realpath(folder)}
    sys.path[:] = [folder] + [
        p
        for p in sys.path
        if p and not p.startswith("__editable__") and os.path.realpath(p) not in dropped
    ]
    # setuptools' editable installs put a finder class on sys.meta_path from a module named
    # `__editable___<dist>_finder` (setuptools/command/editable_wheel.py).
    sys.meta_path[:] = [
        finder
        for finder in sys.meta_path
        if not str(getattr(finder, "__module__", "")).startswith("__editable__")
    ]
    sys.meta_path.insert(0, _Hidden(project_names, folder))
    sys.meta_path.insert(0, _ValidateOnce())
    for name in list(sys.modules):
        if name.partition(".")[0] in project_names:
            del sys.modules[name]


#: The SDK module that defines validate_sagemaker_config (sagemaker/config/config.py).
_SDK_CONFIG_MODULE = "sagemaker.config.config"


class _ValidateOnce(importlib.abc.MetaPathFinder):
    """Validate the SDK's defaults configuration once per distinct content, not per lookup.

    With a defaults file in place, the SDK validates the whole configuration against its JSON
    schema on every value it looks up (sagemaker/utils.py, get_sagemaker_config_value, through
    jsonschema.validate, which re-checks the schema itself each time): about 0.13 s a lookup
    and some 80 lookups to build a small pipeline. The same configuration validates the same
    way every time, so repeated validations of an unchanged one are skipped; a new or changed
    configuration is still validated, with the SDK's own errors. The function is replaced as
    soon as its module has run, before any other SDK module imports it by name.
    """

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != _SDK_CONFIG_MODULE:
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        loader = spec and spec.loader
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        run = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            run(module)
            name = "validate_sagemaker_config"
            setattr(module, name, _once(getattr(module, name)))

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def _once(validate: Any) -> Any:
    valid: set[str] = set()

    def validate_once(sagemaker_config: dict[str, Any] | None = None) -> None:
        key = json.dumps(sagemaker_config, sort_keys=True, default=repr)
        if key not in valid:
            validate(sagemaker_config)
            valid.add(key)

    return validate_once


def call(module_name: str, function: str, kwargs: dict[str, Any], fill: dict[str, Any]) -> Any:
    """`function(**kwargs)` from `module_name`, with `fill` for the parameters it declares."""
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise _UserError(
                f"no module named {module_name!r} in {os.getcwd()} (the module is imported "
                "from the current folder)"
            ) from None
        raise _UserError(f"importing {module_name}: {_last_line(exc)}") from exc
    except Exception as exc:
        raise _UserError(f"importing {module_name}: {_last_line(exc)}") from exc
    target = getattr(module, function, None)
    if not callable(target):
        raise _UserError(f"module {module_name} has no function {function!r}")
    arguments = dict(kwargs)
    declared = _declared(target)
    for name, value in fill.items():
        if name in declared and name not in arguments:
            arguments[name] = value
    try:
        return target(**arguments)
    except Exception as exc:
        raise _UserError(f"{module_name}:{function}() raised {_last_line(exc)}") from exc


def _declared(function: Any) -> set[str]:
    """The parameters a function names (a `**kwargs` catch-all names none)."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return set()
    named = {inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY}
    return {p.name for p in parameters if p.kind in named}


class _UserError(Exception):
    """A problem in the user's module: one line for the person, the traceback for the log."""


def _last_line(exc: BaseException) -> str:
    """`Type: message` and where in the user's code it was raised."""
    frames = traceback.extract_tb(exc.__traceback__)
    # The innermost frame of the user's own code: not a library's, not ours, not importlib's.
    where = next(
        (
            f" at {f.filename}:{f.lineno}"
            for f in reversed(frames)
            if "site-packages" not in f.filename
            and not f.filename.startswith("<frozen")
            and f.filename != __file__
        ),
        "",
    )
    message = " ".join(str(exc).split())
    return f"{type(exc).__name__}{': ' + message if message else ''}{where}"


def main(argv: Sequence[str]) -> int:
    with open(argv[1], encoding="utf-8") as fh:
        request = json.load(fh)
    # The answer goes to our own copy of stdout; the user's prints go to stderr (the log).
    answer = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    isolate(os.getcwd(), request["project_packages"], request["project_root"])
    try:
        pipeline = call(request["module"], request["function"], request["kwargs"], request["fill"])
        if not _is_pipeline(pipeline):
            raise _UserError(
                f"{request['module']}:{request['function']}() returned "
                f"{type(pipeline).__name__}, not a sagemaker.workflow.pipeline.Pipeline"
            )
        try:
            definition = pipeline.definition()
        except Exception as exc:
            raise _UserError(f"Pipeline.definition() raised {_last_line(exc)}") from exc
        reply: dict[str, Any] = {"name": pipeline.name, "definition": definition}
    except _UserError as exc:
        traceback.print_exception(exc.__cause__ or exc, file=sys.stderr)
        reply = {"error": str(exc)}
    answer.write(json.dumps(reply) + "\n")
    answer.close()
    return 0


def _is_pipeline(value: Any) -> bool:
    pipeline = sys.modules.get("sagemaker.workflow.pipeline")
    return pipeline is not None and isinstance(value, pipeline.Pipeline)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
