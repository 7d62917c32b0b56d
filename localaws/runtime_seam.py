"""Seam: `InvokeEndpoint` (sagemaker-runtime) answers with the endpoint's own model.

moto's runtime backend returns canned results. This subclass resolves the endpoint as SageMaker
does: Endpoint -> its current EndpointConfig -> a production variant (TargetVariant, else
chosen at random by variant weight; a weight defaults to 1.0) -> Model -> its container
(PrimaryContainer or the first of Containers; a ModelPackageName resolves to the package's
InferenceSpecification container) -> Image, ModelDataUrl and Environment. The model data is
read from the local S3 and served by `localaws.hosting` with the container's contract
(`localaws.serving`), loaded once per model. Instance-backed and serverless variants serve alike.

As on SageMaker, the model loads when the endpoint's instances start, not on the first request:
`provision` (the same resolution and loading) is what `localaws.deployments` runs while the
endpoint is Creating, and for the green fleet of an UpdateEndpoint before any traffic moves. A
model that cannot load leaves the endpoint Failed (an update: InService on its old config),
with a FailureReason carrying the container's error. An image of its own, which the local AWS
cannot run, is not loaded: its endpoint goes InService and requests answer ModelError 500.

Errors are SageMaker's (API reference, InvokeEndpoint, "Errors"; botocore's sagemaker-runtime
model): a missing endpoint or variant is `ValidationError` (400), and so is an endpoint that is
not serving (Creating, Failed, OutOfService, Deleting; Updating, RollingBack and SystemUpdating
serve); a container that refuses or fails a request is `ModelError` (424) with
`OriginalStatusCode`, `OriginalMessage` and `LogStreamArn`, its message worded as SageMaker
words it ("Received client error (415) from primary with message ...").

While an UpdateEndpoint deploys blue/green (`localaws.deployments`), each request goes to the
new config (green) with the deployment's current traffic share, else to the old one (blue);
either way the variant is chosen within that config as above and named in
`x-Amzn-Invoked-Production-Variant`.

Every request that reaches a model, ModelErrors included, puts SageMaker's invocation metrics
into the account's CloudWatch (developer guide, "Metrics for monitoring Amazon SageMaker AI
with Amazon CloudWatch"): namespace `AWS/SageMaker`, dimensions EndpointName and VariantName,
`Invocations` (1), `Invocation4XXErrors` and `Invocation5XXErrors` (1 when the model answered
4xx or 5xx, else 0), and `ModelLatency` and `OverheadLatency` in microseconds (the model's
time; the rest of the request's time here). During a deployment the same datapoints are also
put with a third dimension, EndpointConfigName, the fleet's config, as the guide's
"Auto-Rollback Configuration and Monitoring" describes for alarms on one fleet. CloudWatch keeps
datapoints for weeks; moto keeps every one in memory (about 3 KB a request), so the local
CloudWatch keeps these metrics' datapoints for METRICS_RETENTION (3 hours): a runtime backend
drops the older ones at most every PRUNE_SECONDS (a minute), not per request. Alarms and
GetMetricStatistics see no invocation data older than that.

Data capture follows the endpoint config's DataCaptureConfig (EnableCapture,
InitialSamplingPercentage, CaptureOptions, CaptureContentTypeHeader) and writes SageMaker's
JSON lines (captureData.endpointInput/endpointOutput with observedContentType, mode, data,
encoding; eventMetadata with eventId, inferenceId when given, inferenceTime; eventVersion "0")
to `<DestinationS3Uri>/<endpoint>/<variant>/yyyy/mm/dd/hh/<mm-ss-mmm>-<uuid>.jsonl`, as
documented in the SageMaker developer guide, "Capture data from real-time endpoint"
(awsdocs/amazon-sagemaker-developer-guide, doc_source/model-monitor-data-capture-endpoint.md).
Content types listed as CSV or JSON are captured as text (encoding CSV or JSON), anything else
base64 (API reference, CaptureContentTypeHeader: "If no headers are specified SageMaker will by
default base64 encode"). Locally a capture file takes up to `CAPTURE_FILE_RECORDS` records of
one hour and is rewritten as records arrive, so a capture is readable as soon as it is made.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import unquote

from moto.cloudwatch.models import CloudWatchBackend, cloudwatch_backends
from moto.core.exceptions import JsonRESTError
from moto.core.routing import get_service_router
from moto.sagemakerruntime.models import SageMakerRuntimeBackend, sagemakerruntime_backends
from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

from localaws import alarms, hosting, serving

__all__ = ["Invocation", "LocalSageMakerRuntimeBackend", "ModelError", "install"]

#: InvokeEndpoint's payload limit for real-time endpoints (API reference, InvokeEndpoint, Body).
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
#: Records per local capture file before a new file starts.
CAPTURE_FILE_RECORDS = 1000
#: Bytes per local capture file before a new file starts.
CAPTURE_FILE_BYTES = 8 << 20
#: Where SageMaker puts its endpoint invocation metrics.
METRICS_NAMESPACE = "AWS/SageMaker"
#: The invocation metrics each request puts (see the module docstring).
INVOCATION_METRICS = frozenset(
    {"Invocations", "Invocation4XXErrors", "Invocation5XXErrors", "ModelLatency", "OverheadLatency"}
)
#: How long the local CloudWatch keeps the invocation metrics' datapoints.
METRICS_RETENTION = dt.timedelta(hours=3)
#: How often, at most, a runtime backend drops the datapoints older than that.
PRUNE_SECONDS = 60.0
#: The endpoint statuses in which InvokeEndpoint is answered (API reference, DescribeEndpoint,
#: EndpointStatus): InService, and while an update, a rollback or maintenance runs, by the
#: fleet that serves meanwhile.
SERVING_STATUSES = frozenset({"InService", "Updating", "SystemUpdating", "RollingBack"})


class ValidationError(JsonRESTError):
    """SageMaker runtime's ValidationError (HTTP 400)."""

    def __init__(self, message: str) -> None:
        super().__init__("ValidationError", message)


class ModelError(JsonRESTError):
    """The container answered an error: HTTP 424 with the container's status and message."""

    code = 424

    def __init__(self, message: str, original_status: int, original_message: str, log: str):
        super().__init__("ModelError", message)
        self.description = json.dumps(
            {
                "__type": "ModelError",
                "message": message,
                "OriginalStatusCode": original_status,
                "OriginalMessage": original_message,
                "LogStreamArn": log,
            }
        )


@dataclass(frozen=True)
class Invocation:
    """An answer: the container's body and content type, and the variant that served it."""

    body: bytes
    content_type: str
    variant: str


@dataclass
class _CaptureFile:
    key: str
    hour: str
    lines: list[bytes] = field(default_factory=list)
    size: int = 0


class LocalSageMakerRuntimeBackend(SageMakerRuntimeBackend):
    """moto's SageMaker runtime backend whose endpoints run their models."""

    # moto derives URL routing from the backend's module: keep moto's own.
    __module__ = SageMakerRuntimeBackend.__module__

    def __init__(self, region_name: str, account_id: str) -> None:
        super().__init__(region_name, account_id)
        self._capture_lock = threading.Lock()
        self._capture_files: dict[tuple[str, str, str, str], _CaptureFile] = {}
        self._cloudwatch: CloudWatchBackend | None = None
        #: When (time.perf_counter) `_metrics` next drops the datapoints past METRICS_RETENTION.
        self._next_prune = 0.0

    def invoke(
        self,
        endpoint_name: str,
        body: bytes,
        content_type: str | None,
        accept: str | None,
        target_variant: str | None = None,
        inference_id: str | None = None,
    ) -> Invocation:
        """One InvokeEndpoint: the chosen variant's model answers, and the call is captured."""
        from moto.sagemaker.models import sagemaker_backends

        started = time.perf_counter()
        sagemaker = sagemaker_backends[self.account_id][self.region_name]
        endpoint = sagemaker.endpoints.get(endpoint_name)
        if endpoint is None:
            raise ValidationError(
                f"Endpoint {endpoint_name} of account {self.account_id} not found."
            )
        _check_in_service(endpoint, self.account_id)
        if len(body) > MAX_PAYLOAD_BYTES:
            raise ValidationError(
                f"Request payload of {len(body)} bytes is larger than the real-time endpoint "
                f"limit of {MAX_PAYLOAD_BYTES} bytes."
            )
        config_name, current, deploying = _fleet(sagemaker, endpoint)
        config = sagemaker.endpoint_configs.get(config_name)
        if config is None:
            raise ValidationError(
                f"Endpoint {endpoint_name} names endpoint configuration "
                f"{config_name}, which does not exist."
            )
        variant = _choose_variant(
            endpoint_name, config.production_variants, target_variant, current
        )
        container = _container(sagemaker, variant)
        fleet = config_name if deploying else None
        model_started = time.perf_counter()
        try:
            # Loaded when the endpoint's instances started (localaws.deployments): a lookup.
            response = _load(self.account_id, container).invoke(body, content_type, accept)
        except Exception as exc:
            status, message = _container_error(exc)
            self._metrics(
                endpoint_name, variant["VariantName"], fleet, status, started, model_started
            )
            raise self._model_error(endpoint_name, status, message) from None
        model_done = time.perf_counter()
        invocation = Invocation(response.body, response.content_type, variant["VariantName"])
        capture = config.data_capture_config or {}
        if capture.get("EnableCapture"):
            self._capture(capture, endpoint_name, invocation, body, content_type, inference_id)
        self._metrics(
            endpoint_name, invocation.variant, fleet, 200, started, model_started, model_done
        )
        return invocation

    # --- metrics ----------------------------------------------------------------------------

    def _metrics(
        self,
        endpoint_name: str,
        variant: str,
        fleet: str | None,
        status: int,
        started: float,
        model_started: float,
        model_done: float | None = None,
    ) -> None:
        """Put one request's invocation metrics (see the module docstring)."""
        done = time.perf_counter()
        model_us = ((model_done or done) - model_started) * 1e6
        overhead_us = max((done - started) * 1e6 - model_us, 0.0)
        client, server = float(400 <= status < 500), float(status >= 500)
        dimensions = [
            {"Name": "EndpointName", "Value": endpoint_name},
            {"Name": "VariantName", "Value": variant},
        ]
        series = [dimensions]
        if fleet is not None:
            series.append([*dimensions, {"Name": "EndpointConfigName", "Value": fleet}])
        data = [
            {"MetricName": name, "Value": value, "Unit": unit, "Dimensions": dims}
            for dims in series
            for name, value, unit in (
                ("Invocations", 1.0, "None"),
                ("Invocation4XXErrors", client, "None"),
                ("Invocation5XXErrors", server, "None"),
                ("ModelLatency", model_us, "Microseconds"),
                ("OverheadLatency", overhead_us, "Microseconds"),
            )
        ]
        cloudwatch = self._cloudwatch
        if cloudwatch is None:
            cloudwatch = self._cloudwatch = cloudwatch_backends[self.account_id][self.region_name]
        cloudwatch.put_metric_data(METRICS_NAMESPACE, data)
        if done >= self._next_prune:
            self._next_prune = done + PRUNE_SECONDS
            self._prune(cloudwatch)

    @staticmethod
    def _prune(cloudwatch: CloudWatchBackend) -> None:
        """Drop the invocation datapoints older than METRICS_RETENTION (module docstring)."""
        if isinstance(cloudwatch, alarms.LocalCloudWatchBackend):
            now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
            cloudwatch.prune(METRICS_NAMESPACE, INVOCATION_METRICS, now - METRICS_RETENTION)

    def _model_error(self, endpoint_name: str, status: int, message: str) -> ModelError:
        side = "client" if 400 <= status < 500 else "server"
        region, account = self.region_name, self.account_id
        group = f"/aws/sagemaker/Endpoints/{endpoint_name}"
        return ModelError(
            f'Received {side} error ({status}) from primary with message "{message}". See '
            f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
            f"#logEventViewer:group={group} in account {account} for more information.",
            status,
            message,
            f"arn:aws:logs:{region}:{account}:log-group:{group}",
        )

    # --- data capture -----------------------------------------------------------------------

    def _capture(
        self,
        config: dict[str, Any],
        endpoint_name: str,
        invocation: Invocation,
        body: bytes,
        content_type: str | None,
        inference_id: str | None,
    ) -> None:
        percentage = float(config.get("InitialSamplingPercentage", 0))
        if random.uniform(0, 100) >= percentage:
            return
        now = dt.datetime.now(dt.UTC)
        line = capture_record(
            config, body, content_type, invocation.body, invocation.content_type, now, inference_id
        )
        bucket, _, prefix = str(config["DestinationS3Uri"]).removeprefix("s3://").partition("/")
        folder = "/".join(
            p for p in (prefix.strip("/"), endpoint_name, invocation.variant) if p
        ) + now.strftime("/%Y/%m/%d/%H/")
        with self._capture_lock:
            slot = (bucket, prefix, endpoint_name, invocation.variant)
            current = self._capture_files.get(slot)
            hour = now.strftime("%Y%m%d%H")
            if (
                current is None
                or current.hour != hour
                or len(current.lines) >= CAPTURE_FILE_RECORDS
                or current.size >= CAPTURE_FILE_BYTES
            ):
                name = f"{now:%M-%S}-{now.microsecond // 1000:03d}-{uuid.uuid4()}.jsonl"
                current = self._capture_files[slot] = _CaptureFile(folder + name, hour)
            current.lines.append(line)
            current.size += len(line)
            self._put(bucket, current.key, b"".join(current.lines))

    def _put(self, bucket: str, key: str, data: bytes) -> None:
        from moto.s3.models import s3_backends

        try:
            s3_backends[self.account_id]["aws"].put_object(bucket, key, data)
        except Exception:  # SageMaker drops what it cannot deliver; the request still answers
            return


def provision(sagemaker: Any, variant: dict[str, Any]) -> serving.Served | None:
    """A production variant's model loaded as its instances load it when they start: container
    resolved as InvokeEndpoint resolves it, model data and code from the local S3 (None for a
    container the local AWS does not run: `_runs_locally`).

    `localaws.deployments` calls this for every variant of an endpoint config before the
    endpoint (or its green fleet) takes traffic; `localaws.hosting` keeps the model loaded, so
    InvokeEndpoint finds it in memory. Raises ValidationError when the variant's model does not
    exist, and whatever the container raises when the model cannot load (`container_error`
    words it).
    """
    container = _container(sagemaker, variant)
    _prepare(str(sagemaker.account_id), str(sagemaker.region_name))
    if not _runs_locally(container):
        return None
    return _load(str(sagemaker.account_id), container)


def _runs_locally(container: dict[str, Any]) -> bool:
    """Whether `localaws.serving` runs the container: the XGBoost algorithm's image, or a model
    with an inference entry point. Another image brings a server of its own, which the local
    AWS cannot start: whether it would come up cannot be told, so its endpoint goes InService
    and every request answers ModelError 500 saying why (serving.load's error)."""
    environment = container.get("Environment") or {}
    return bool(environment.get("SAGEMAKER_PROGRAM")) or serving.is_xgboost_image(
        container.get("Image")
    )


def _prepare(account_id: str, region: str) -> None:
    """Make now what moto makes on the first InvokeEndpoint (tens of milliseconds): its router
    for the runtime API (from botocore's service model; cached for the process) and the
    account's CloudWatch backend, where the invocation metrics go."""
    get_service_router("sagemaker-runtime")
    cloudwatch_backends[account_id][region]


def container_error(exc: BaseException) -> str:
    """What the container says of an error: its own message, or the exception it did not
    expect (the container answers 500 to those)."""
    return _container_error(exc)[1]


def _container_error(exc: BaseException) -> tuple[int, str]:
    if isinstance(exc, serving.ServingError):
        return exc.status, str(exc)
    if isinstance(exc, JsonRESTError):
        return 500, str(exc.message)
    return 500, f"{type(exc).__name__}: {exc}"


def _load(account_id: str, container: dict[str, Any]) -> serving.Served:
    """The container's model from `localaws.hosting` (loaded on the first call, then cached)."""
    environment = container.get("Environment") or {}
    model_data, model_etag = _source(account_id, container.get("ModelDataUrl"))
    code, code_etag = _source(account_id, _submit_directory(environment))
    return hosting.load_archive(
        model_data,
        f"{container.get('ModelDataUrl')}:{model_etag}:{code_etag}",
        container.get("Image"),
        environment,
        code,
    )


def _source(account_id: str, uri: str | None) -> tuple[Callable[[], bytes] | None, str]:
    """An S3 object's bytes (read only if called) and ETag; (None, "") without a URI."""
    if not uri:
        return None, ""
    from moto.s3.models import s3_backends

    bucket, _, key = uri.removeprefix("s3://").partition("/")
    try:
        found = s3_backends[account_id]["aws"].get_object(bucket, key)
    except Exception:
        found = None
    if found is None:
        raise serving.ServingError(500, f"Failed to download model data from {uri}")
    stored = found
    return (lambda: bytes(stored.value)), str(stored.etag)


def _check_in_service(endpoint: Any, account_id: str) -> None:
    """ValidationError unless the endpoint serves: InService, or updating with its old fleet.

    SageMaker's wording for this refusal is not documented, and none was found in public
    reports; this one follows the form of its "Endpoint <name> of account <id> not found."
    """
    status = str(endpoint.endpoint_status)
    if status in SERVING_STATUSES:
        return
    message = (
        f"Endpoint {endpoint.endpoint_name} of account {account_id} is not in service: its "
        f"status is {status}; it takes requests once InService."
    )
    if status == "Failed" and endpoint.failure_reason:
        message += f" FailureReason: {endpoint.failure_reason}"
    raise ValidationError(message)


#: What `invoke` reads when the SageMaker backend keeps no deployments (not the local one).
_NO_DEPLOYMENTS: dict[str, Any] = {}


def capture_record(
    config: dict[str, Any],
    body: bytes,
    content_type: str | None,
    output: bytes,
    output_type: str,
    when: dt.datetime,
    inference_id: str | None = None,
) -> bytes:
    """One capture line in SageMaker's format (see the module docstring), newline-terminated."""
    modes = {str(o.get("CaptureMode", "")) for o in config.get("CaptureOptions") or []}
    headers = config.get("CaptureContentTypeHeader") or {}
    data: dict[str, Any] = {}
    if modes & {"Input", "InputAndOutput"}:
        data["endpointInput"] = _captured(body, content_type or "", "INPUT", headers)
    if modes & {"Output", "InputAndOutput"}:
        data["endpointOutput"] = _captured(output, output_type, "OUTPUT", headers)
    metadata = {"eventId": str(uuid.uuid4())}
    if inference_id:
        metadata["inferenceId"] = inference_id
    metadata["inferenceTime"] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    record = {"captureData": data, "eventMetadata": metadata, "eventVersion": "0"}
    return (json.dumps(record, separators=(",", ":")) + "\n").encode()


def _captured(payload: bytes, observed: str, mode: str, headers: dict[str, Any]) -> dict[str, str]:
    kind = serving.media_type(observed)
    encoding = "BASE64"
    if kind in {serving.media_type(t) for t in headers.get("CsvContentTypes") or []}:
        encoding = "CSV"
    elif kind in {serving.media_type(t) for t in headers.get("JsonContentTypes") or []}:
        encoding = "JSON"
    text = None
    if encoding != "BASE64":
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError:
            encoding = "BASE64"
    if text is None:
        text = base64.b64encode(payload).decode("ascii")
    return {"observedContentType": observed, "mode": mode, "data": text, "encoding": encoding}


def _submit_directory(environment: dict[str, str]) -> str | None:
    """SAGEMAKER_SUBMIT_DIRECTORY when it is a source archive on S3 the container downloads.

    The SDK sets it to the uploaded sourcedir.tar.gz of a framework model that was not
    repacked (otherwise to /opt/ml/model/code, already in the model data); the container
    downloads and imports it (sagemaker-xgboost-container serving_mms.py, modules.import_module).
    """
    directory = str(environment.get("SAGEMAKER_SUBMIT_DIRECTORY") or "")
    return directory if directory.startswith("s3://") else None


def _choose_variant(
    endpoint_name: str,
    variants: list[dict[str, Any]],
    target: str | None,
    current: dict[str, float] | None = None,
) -> dict[str, Any]:
    """TargetVariant when given, else a variant drawn by weight.

    A variant's weight is the endpoint's CurrentWeight for it, else its config's
    InitialVariantWeight, else 1.0 (API reference, ProductionVariant).
    """
    if not variants:
        raise ValidationError(f"Endpoint {endpoint_name} has no production variant.")
    if target:
        for variant in variants:
            if variant["VariantName"] == target:
                return variant
        raise ValidationError(
            f'The variant(s) "[{target}]" is/are not valid for endpoint "{endpoint_name}".'
        )
    if len(variants) == 1:
        return variants[0]
    current = current or {}
    weights = [
        current.get(v["VariantName"], float(v.get("InitialVariantWeight", 1.0))) for v in variants
    ]
    if sum(weights) <= 0:
        raise ValidationError(f"Endpoint {endpoint_name} has no variant with a positive weight.")
    return random.choices(variants, weights=weights)[0]


def _fleet(sagemaker: Any, endpoint: Any) -> tuple[str, dict[str, float], bool]:
    """The config that answers this request, its variants' current weights, and whether the
    endpoint is deploying: during a blue/green deployment green answers by its traffic share."""
    config_name = str(endpoint.endpoint_config_name)
    current = {
        v["VariantName"]: float(v["CurrentWeight"])
        for v in endpoint.production_variants
        if "CurrentWeight" in v
    }
    deployment = getattr(sagemaker, "_deployments", _NO_DEPLOYMENTS).get(endpoint.endpoint_name)
    fleet = deployment.fleet(config_name) if deployment is not None else None
    if fleet is None:
        return config_name, current, False
    return fleet, current if fleet == config_name else {}, True


def _container(sagemaker: Any, variant: dict[str, Any]) -> dict[str, Any]:
    """The variant's model container, a model package resolved to its inference container."""
    model = sagemaker._models.get(variant.get("ModelName"))
    if model is None:
        raise ValidationError(f'Could not find model "{variant.get("ModelName")}".')
    container = dict(model.primary_container or (model.containers or [{}])[0] or {})
    package_name = container.get("ModelPackageName")
    if package_name:
        try:
            package = sagemaker.describe_model_package(package_name)
        except Exception:
            raise ValidationError(f"Model package {package_name} not found") from None
        spec = getattr(package, "inference_specification", None) or {}
        inner = (spec.get("Containers") or [{}])[0]
        container = {**inner, **{k: v for k, v in container.items() if k != "ModelPackageName"}}
        container["Environment"] = {
            **(inner.get("Environment") or {}),
            **(container.get("Environment") or {}),
        }
    return container


def _invoke_endpoint(self: SageMakerRuntimeResponse) -> Any:
    backends = sagemakerruntime_backends[self.current_account]
    backend = cast(LocalSageMakerRuntimeBackend, backends[self.region])
    name = unquote(self.path.split("/")[2])
    body = self.body if isinstance(self.body, bytes) else str(self.body or "").encode()
    invocation = backend.invoke(
        name,
        body,
        self.headers.get("Content-Type"),
        self.headers.get("Accept"),
        self.headers.get("X-Amzn-SageMaker-Target-Variant"),
        self.headers.get("X-Amzn-SageMaker-Inference-Id"),
    )
    headers = {
        "Content-Type": invocation.content_type,
        "x-Amzn-Invoked-Production-Variant": invocation.variant,
    }
    return 200, headers, invocation.body


def install() -> None:
    """Make every runtime backend moto creates from now on the local one (idempotent)."""
    SageMakerRuntimeResponse.invoke_endpoint = _invoke_endpoint  # type: ignore[method-assign]
    # Bodies stay bytes: application/x-npy and other binary payloads are not UTF-8.
    SageMakerRuntimeResponse.use_raw_body = True
    sagemakerruntime_backends.backend = LocalSageMakerRuntimeBackend
