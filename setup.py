"""Packaging for the abalone MLOps project; the metadata is in pyproject.toml (PEP 621).

This file holds what pyproject.toml's [project] table cannot express: which packages ship,
and that the job scripts and the bundled data, top-level folders of the repository, install
inside `core`, next to the settings that find them (core/settings.py: SCRIPTS_DIR,
DEFAULT_DATA).
"""

from setuptools import find_packages, setup

#: Every package folder of the repository ships; tests and benchmarks stay behind.
PACKAGES = find_packages(exclude=["tests", "tests.*", "benchmarks", "benchmarks.*"])
#: Installed package -> the repository folder it is made of.
ASSETS = {"core._scripts": "scripts", "core._data": "data"}

setup(
    packages=[*PACKAGES, *ASSETS],
    package_dir=ASSETS,
    package_data={
        "core": ["prices.json"],
        "core._scripts": ["README.md"],
        "core._data": ["abalone.csv", "README.md"],
    },
)
