"""A QualityCheck step (CheckType DATA_QUALITY): Model Monitor's baselining job, run here.

The sagemaker SDK's QualityCheckStep (sagemaker/workflow/quality_check_step.py) serialises as
step type "QualityCheck": its Arguments are a CreateProcessingJob request for the
`sagemaker-model-monitor-analyzer` image, whose Environment names the dataset
(`dataset_source`, `dataset_format`) and the output folder (`output_path`), and beside them
the step carries CheckType, SkipCheck, FailOnViolation, RegisterNewBaseline,
SuppliedBaselineStatistics, SuppliedBaselineConstraints and ModelPackageGroupName. The image
cannot run here, so the job's inputs are downloaded as a Processing step's are (processing.py),
the analysis is `localaws.model_monitor`'s, and the output folder, holding statistics.json and
constraints.json (and constraint_violations.json when a check ran), is uploaded to the output's
S3Uri. The processing job is recorded like a Processing step's.

Which baseline the step checks against and passes on is SageMaker's "Baseline calculation,
drift detection and lifecycle with ClarifyCheck and QualityCheck steps" (developer guide,
pipelines-quality-clarify-baseline-lifecycle):

- CalculatedBaselineStatistics/Constraints: always the files this run computed.
- The previous baseline: SuppliedBaselineStatistics/Constraints, "always prioritized", else
  the DriftCheckBaselines.ModelDataQuality of the group's latest Approved model package.
- SkipCheck false: the new statistics are checked against the previous baseline (its
  constraints, and its statistics for drift); violations are written to
  constraint_violations.json, named in the step's Metadata (ViolationReport), and with
  FailOnViolation the step fails naming the violated features.
- BaselineUsedForDriftCheckStatistics/Constraints: the calculated files when
  RegisterNewBaseline is true, else the previous baseline.
- The API reference (QualityCheckStepMetadata) requires the previous baseline when SkipCheck
  is false and when RegisterNewBaseline is false: without one the step fails saying so.

The step's Metadata is QualityCheckStepMetadata (CheckType, the four URIs, ModelPackageGroupName,
ViolationReport, CheckJobArn, SkipCheck, RegisterNewBaseline). MODEL_QUALITY checks, record
preprocessor and post-analytics scripts are not emulated; `check_quality_check` refuses them
before anything runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from localaws.executor import s3files
from localaws.executor.containers import Sandbox, write_header
from localaws.executor.errors import DefinitionError, StepFailed, fit_reason
from localaws.executor.expressions import render
from localaws.executor.jobs import Artifact, StepContext, StepOutcome, record_job
from localaws.executor.processing import CREATE, parse_input, parse_output, write_config

DATA_QUALITY = "DATA_QUALITY"
#: The step's own fields beside Arguments (QualityCheckStep.to_request).
CHECK_FIELDS = (
    "CheckType",
    "SkipCheck",
    "FailOnViolation",
    "RegisterNewBaseline",
    "SuppliedBaselineStatistics",
    "SuppliedBaselineConstraints",
    "ModelPackageGroupName",
)
#: What later steps may read, as QualityCheckStep's Properties declare them.
PROPERTIES = (
    "CalculatedBaselineStatistics",
    "CalculatedBaselineConstraints",
    "BaselineUsedForDriftCheckStatistics",
    "BaselineUsedForDriftCheckConstraints",
)
STATISTICS_FILE = "statistics.json"
CONSTRAINTS_FILE = "constraints.json"
VIOLATIONS_FILE = "constraint_violations.json"
_FORMATS = ("csv", "json", "sagemakerCaptureJson")
_UNSUPPORTED_ENVIRONMENT = ("record_preprocessor_script", "post_analytics_processor_script")


def check_fields(spec: dict[str, Any]) -> dict[str, Any]:
    """The step's check fields, to resolve beside its Arguments."""
    return {key: spec[key] for key in CHECK_FIELDS if key in spec}


def check_quality_check(name: str, spec: dict[str, Any]) -> None:
    """DefinitionError for what a local QualityCheck cannot run, before any step runs."""
    kind = spec.get("CheckType")
    if kind != DATA_QUALITY:
        raise DefinitionError(
            f"step {name}: CheckType {kind!r}: the local executor runs only DATA_QUALITY "
            "checks (Model Monitor's data-quality analysis); MODEL_QUALITY is not emulated"
        )
    environment = (spec.get("Arguments") or {}).get("Environment") or {}
    for key in _UNSUPPORTED_ENVIRONMENT:
        if key in environment:
            raise DefinitionError(
                f"step {name}: Environment.{key}: Model Monitor's {key} is not emulated locally"
            )
    analysis = environment.get("analysis_type", DATA_QUALITY)
    if analysis != DATA_QUALITY:
        raise DefinitionError(f"step {name}: Environment.analysis_type {analysis!r} is not run")
    text = environment.get("dataset_format")
    if isinstance(text, str):
        try:
            dataset_format = json.loads(text)
        except ValueError:
            dataset_format = None
        if not isinstance(dataset_format, dict) or not set(dataset_format) & set(_FORMATS):
            raise DefinitionError(
                f"step {name}: Environment.dataset_format {text!r}: expected the JSON of a "
                f"DatasetFormat ({', '.join(_FORMATS)})"
            )


@dataclass(frozen=True)
class _Check:
    """The step's resolved check fields."""

    skip: bool
    fail_on_violation: bool
    register_new: bool
    supplied_statistics: str | None
    supplied_constraints: str | None
    group: str | None


@dataclass(frozen=True)
class _Baseline:
    statistics: str
    constraints: str


def run_quality_check(ctx: StepContext) -> StepOutcome:
    """Run one QualityCheck step; raises StepFailed with a readable reason."""
    from localaws import model_monitor  # pandas loads when a QualityCheck runs, not before

    args = ctx.arguments
    check = _check(ctx)
    environment = {k: render(v) for k, v in (args.get("Environment") or {}).items()}
    output_path = _required(ctx, environment, "output_path")
    source = _required(ctx, environment, "dataset_source")
    dataset_format = json.loads(_required(ctx, environment, "dataset_format"))
    inputs = [parse_input(ctx.name, item) for item in args.get("ProcessingInputs") or []]
    outputs = [
        parse_output(ctx.name, item)
        for item in (args.get("ProcessingOutputConfig") or {}).get("Outputs", [])
    ]
    output_uri = _output_uri(ctx, outputs, output_path)
    previous = _previous_baseline(ctx, check)
    request = {k: v for k, v in args.items() if k not in CHECK_FIELDS}
    request["ProcessingJobName"] = ctx.job_name
    arn = record_job(ctx.sagemaker, CREATE, request)

    sandbox = Sandbox(ctx.work)
    write_header(
        ctx.log,
        f"{ctx.name} (QualityCheck {DATA_QUALITY}) job {ctx.job_name}",
        [
            f"image {(args.get('AppSpecification') or {}).get('ImageUri', '?')} is not pulled: "
            "localaws.model_monitor computes its files",
            *(f"input {name}: {uri} -> {path}" for name, uri, path in inputs),
            *(f"output {name}: {path} -> {uri}" for name, uri, path in outputs),
            *(f"env {k}={v}" for k, v in environment.items()),
            f"SkipCheck {check.skip}, RegisterNewBaseline {check.register_new}, "
            f"FailOnViolation {check.fail_on_violation}",
            f"previous baseline: {previous or 'none'}",
        ],
    )
    for _, uri, path in inputs:
        s3files.download(ctx.objects, uri, sandbox.local(path))
    folder = sandbox.local(output_path)
    folder.mkdir(parents=True, exist_ok=True)
    write_config(ctx, sandbox, request, arn)

    try:
        frame = model_monitor.read_dataset(sandbox.local(source), dataset_format)
    except ValueError as exc:
        raise StepFailed(f"Step {ctx.name}: the baseline dataset: {exc}") from None
    if frame.empty:
        raise StepFailed(f"Step {ctx.name}: the baseline dataset under {source} has no rows")
    statistics = model_monitor.statistics(frame)
    _write(folder / STATISTICS_FILE, statistics)
    _write(folder / CONSTRAINTS_FILE, model_monitor.suggest_constraints(statistics))
    _log(ctx, f"statistics of {len(frame)} rows, {frame.shape[1]} features")

    found: list[dict[str, str]] = []
    if not check.skip and previous is not None:
        found = _check_against(ctx, statistics, previous)
        _write(folder / VIOLATIONS_FILE, {"violations": found})
    s3files.upload_tree(ctx.objects, folder, output_uri)

    calculated = _Baseline(f"{output_uri}/{STATISTICS_FILE}", f"{output_uri}/{CONSTRAINTS_FILE}")
    report = f"{output_uri}/{VIOLATIONS_FILE}" if found else None
    if found and check.fail_on_violation:
        raise StepFailed(_failure(ctx.name, found, previous, report))
    used = calculated if check.register_new or previous is None else previous
    properties = {
        "CalculatedBaselineStatistics": calculated.statistics,
        "CalculatedBaselineConstraints": calculated.constraints,
        "BaselineUsedForDriftCheckStatistics": used.statistics,
        "BaselineUsedForDriftCheckConstraints": used.constraints,
    }
    metadata = {
        "CheckType": DATA_QUALITY,
        **properties,
        "CheckJobArn": arn,
        "SkipCheck": check.skip,
        "RegisterNewBaseline": check.register_new,
    }
    if check.group:
        metadata["ModelPackageGroupName"] = check.group
    if report:
        metadata["ViolationReport"] = report
    return StepOutcome(
        properties=properties,
        metadata={"QualityCheck": metadata},
        artifacts=[Artifact(output_uri, folder)],
        job=(CREATE, request),
    )


# --- the step's fields --------------------------------------------------------------------


def _check(ctx: StepContext) -> _Check:
    args = ctx.arguments
    return _Check(
        skip=_flag(ctx, "SkipCheck", False),
        fail_on_violation=_flag(ctx, "FailOnViolation", True),
        register_new=_flag(ctx, "RegisterNewBaseline", False),
        supplied_statistics=_uri(args.get("SuppliedBaselineStatistics")),
        supplied_constraints=_uri(args.get("SuppliedBaselineConstraints")),
        group=_uri(args.get("ModelPackageGroupName")),
    )


def _flag(ctx: StepContext, key: str, default: bool) -> bool:
    value = ctx.arguments.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise StepFailed(f"Step {ctx.name}: {key} {value!r}: expected true or false")


def _uri(value: Any) -> str | None:
    text = render(value) if value is not None else ""
    return text or None


def _required(ctx: StepContext, environment: dict[str, str], key: str) -> str:
    value = environment.get(key)
    if not value:
        raise StepFailed(f"Step {ctx.name}: the analyzer's Environment has no {key}")
    return value


def _output_uri(ctx: StepContext, outputs: list[tuple[str, str, str]], path: str) -> str:
    """The S3Uri of the output whose LocalPath is the analyzer's output_path."""
    for _, uri, local in outputs:
        if local.rstrip("/") == path.rstrip("/"):
            return uri.rstrip("/")
    raise StepFailed(f"Step {ctx.name}: no ProcessingOutput has LocalPath {path} (output_path)")


# --- the previous baseline ----------------------------------------------------------------


def _previous_baseline(ctx: StepContext, check: _Check) -> _Baseline | None:
    """The supplied baseline, completed from the group's latest approved model package."""
    statistics, constraints = check.supplied_statistics, check.supplied_constraints
    if (statistics is None or constraints is None) and check.group:
        approved = _approved_baseline(ctx, check.group)
        statistics = statistics or approved.get("Statistics")
        constraints = constraints or approved.get("Constraints")
    if statistics and constraints:
        return _Baseline(statistics, constraints)
    needed = [
        reason
        for reason, applies in (
            ("SkipCheck is false (a drift check)", not check.skip),
            ("RegisterNewBaseline is false", not check.register_new),
        )
        if applies
    ]
    if needed:
        where = f"model package group {check.group}" if check.group else "no ModelPackageGroupName"
        raise StepFailed(
            f"Step {ctx.name}: {' and '.join(needed)}, which needs the previous data-quality "
            "baseline, and there is none: supply SuppliedBaselineStatistics and "
            f"SuppliedBaselineConstraints, or approve a model package with "
            f"DriftCheckBaselines.ModelDataQuality ({where})"
        )
    return None


def _approved_baseline(ctx: StepContext, group: str) -> dict[str, str]:
    """{"Statistics": uri, "Constraints": uri} of the group's latest Approved package."""
    try:
        pages = ctx.sagemaker.get_paginator("list_model_packages").paginate(
            ModelPackageGroupName=group, ModelApprovalStatus="Approved"
        )
        packages = [p for page in pages for p in page.get("ModelPackageSummaryList", [])]
    except ClientError:
        return {}  # no such group yet
    if not packages:
        return {}
    latest = max(packages, key=lambda p: (p.get("ModelPackageVersion") or 0, p.get("CreationTime")))
    try:
        described = ctx.sagemaker.describe_model_package(ModelPackageName=latest["ModelPackageArn"])
    except (ClientError, BotoCoreError) as exc:
        raise StepFailed(f"Step {ctx.name}: DescribeModelPackage failed: {exc}") from None
    quality = (described.get("DriftCheckBaselines") or {}).get("ModelDataQuality") or {}
    return {
        key: str(quality[key]["S3Uri"])
        for key in ("Statistics", "Constraints")
        if (quality.get(key) or {}).get("S3Uri")
    }


def _check_against(
    ctx: StepContext, statistics: dict[str, Any], previous: _Baseline
) -> list[dict[str, str]]:
    from localaws import model_monitor

    documents = []
    for uri in (previous.constraints, previous.statistics):
        try:
            documents.append(s3files.read_json_object(ctx.objects, uri))
        except (ClientError, BotoCoreError) as exc:
            raise StepFailed(f"Step {ctx.name}: cannot read the baseline {uri}: {exc}") from None
    try:
        found = model_monitor.violations(statistics, documents[0], documents[1])["violations"]
    except ValueError as exc:
        raise StepFailed(f"Step {ctx.name}: the baseline {previous.constraints}: {exc}") from None
    _log(ctx, f"checked against {previous.constraints}: {len(found)} violation(s)")
    for item in found:
        kind, text = item["constraint_check_type"], item["description"]
        _log(ctx, f"  {item['feature_name']} {kind}: {text}")
    return found


def _failure(
    name: str, found: list[dict[str, str]], previous: _Baseline | None, report: str | None
) -> str:
    features = ", ".join(f"{v['feature_name']} ({v['constraint_check_type']})" for v in found)
    baseline = previous.constraints if previous else "?"
    return fit_reason(
        f"Step {name}: data quality check failed: {len(found)} violation(s) of the baseline "
        f"{baseline}, report {report}; violated features: {features}"
    )


# --- files --------------------------------------------------------------------------------


def _write(path: Path, document: dict[str, Any]) -> None:
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def _log(ctx: StepContext, line: str) -> None:
    with ctx.log.open("a", encoding="utf-8") as out:
        out.write(f"# {line}\n")
