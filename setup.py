"""Packaging for the abalone MLOps project: one console script, `mlops`."""

from pathlib import Path

from setuptools import find_packages, setup

PACKAGES = ["mlops", "pipelines", "workflow", "approval", "localaws", "deploy"]

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
    packages=find_packages(include=[f"{name}*" for name in PACKAGES]),
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
        ],
    },
    entry_points={"console_scripts": ["mlops=mlops.cli:console"]},
    classifiers=[
        "Programming Language :: Python :: 3.11",
        "License :: OSI Approved :: Apache Software License",
    ],
)
