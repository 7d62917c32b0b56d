"""The job scripts (scripts/*.py) imported as modules, from their files, as the containers run
them: they are not part of any installed package."""

from __future__ import annotations

import importlib.util
from types import ModuleType

from core.settings import SCRIPTS_DIR


def load_script(name: str) -> ModuleType:
    """Import scripts/<name>.py as a module, as the serving container imports the entry point."""
    spec = importlib.util.spec_from_file_location(f"script_{name}", SCRIPTS_DIR / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
