"""Packaging for the abalone MLOps project: one console script, `mlops`."""

from pathlib import Path

from setuptools import find_packages, setup

#: Every package folder of the repository ships; tests and benchmarks stay behind.
PACKAGES = find_packages(exclude=["tests", "tests.*", "benchmarks", "benchmarks.*"])
#: The job scripts and the bundled data stay top-level folders of the repository and install
#: inside `core`, next to the settings that find them (core/settings.py: SCRIPTS_DIR, DEFAULT_DATA).
ASSETS = {"core._scripts": "scripts", "core._data": "data"}

setup(
    name="sagemaker-sfn-mlops",
    version="0.1.0",
    description=(
        "SageMaker Pipelines driven by AWS Step Functions, with human approval, "
        "that also runs offline against an embedded local AWS"
    ),
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.11,<3.13",
    packages=[*PACKAGES, *ASSETS],
    package_dir=ASSETS,
    package_data={"core._scripts": ["README.md"], "core._data": ["abalone.csv", "README.md"]},
    install_requires=[
        # v3 removed sagemaker.workflow, which stepfunctions 2.3.0 imports.
        "sagemaker>=2.257,<3",
        "stepfunctions==2.3.0",
        # stepfunctions imports pkg_resources, gone from setuptools 81.
        "setuptools<81",
        "boto3>=1.40",
        # The same xgboost as the SageMaker XGBoost 3.0-5 container, so models move both ways.
        "xgboost==3.0.5",
        "pandas>=2.2",
        "numpy>=1.26",
        "scikit-learn>=1.5",
        # The embedded local AWS is part of the product; its seams subclass moto 5.2 backends.
        "moto[server]>=5.2.5,<5.3",
    ],
    extras_require={
        "dev": [
            "pytest>=8",
            "ruff>=0.6",
            "cfn-lint>=1.20",
            "selenium>=4.20",
            # tests/test_packaging.py builds the wheel without build isolation; wheel 0.46
            # moved bdist_wheel into setuptools>=70.1, newer than Python 3.11's venv ships.
            "wheel>=0.41,<0.46",
        ],
    },
    entry_points={"console_scripts": ["mlops=mlops.cli:console"]},
    classifiers=[
        "Programming Language :: Python :: 3.11",
        "License :: OSI Approved :: Apache Software License",
    ],
)
