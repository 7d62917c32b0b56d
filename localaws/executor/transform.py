"""A Transform step: batch transform with the model's own serving contract (localaws.serving).

CreateTransformJob as SageMaker documents it (Batch Transform; "Associate prediction results
with input records"): every object under TransformInput's S3 prefix is read, split into
records by SplitType (Line: one per line; None: the whole object), each request goes to the
model (SAGEMAKER_BATCH=true, as in batch transform containers), and the answers are assembled
by AssembleWith (Line: newline-terminated; None: concatenated) into `<key>.out` under
S3OutputPath, keeping the key relative to the input prefix. DataProcessing applies, per
record: InputFilter (JSONPath on the request record), JoinSource Input (the answer appended to
the original record: a CSV row gets `,answer`; a JSON object gets "SageMakerOutput"; a JSON
array gets the answer appended), then OutputFilter (JSONPath on the joined record). A CSV
record is read as the JSON array of its fields, so `$[1:]` drops the first column.

BatchStrategy MultiRecord with SplitType Line sends as many (filtered) records per request as
fit in MaxPayloadInMB (default 6), one per line, and splits the answer back into one line per
record before joining and filtering; SingleRecord (and SplitType None) sends one per request.
"""

from __future__ import annotations

import json
import re
from typing import Any

from localaws import serving
from localaws.executor import archives, s3files
from localaws.executor.errors import StepFailed
from localaws.executor.expressions import render
from localaws.executor.jobs import Artifact, StepContext, StepOutcome, record_job

CREATE = "CreateTransformJob"
#: CreateTransformJob's MaxPayloadInMB when it is not given (AWS API reference).
_DEFAULT_PAYLOAD_MB = 6
#: The documented JSONPath subset: $, .name, ['name'], [n], [n,m], [a:b], [*].
_STEP = re.compile(r"""\.([A-Za-z_][\w\-]*)|\[\s*'([^']*)'\s*\]|\[([^\]]*)\]|\.\*""")


def run_transform(ctx: StepContext) -> StepOutcome:
    """Run one Transform step; raises StepFailed with a readable reason."""
    args = ctx.arguments
    source = ((args.get("TransformInput") or {}).get("DataSource") or {}).get("S3DataSource")
    if not isinstance(source, dict) or source.get("S3DataType", "S3Prefix") != "S3Prefix":
        raise StepFailed(f"Step {ctx.name}: only an S3Prefix S3DataSource runs locally")
    transform_input = args.get("TransformInput") or {}
    output = args.get("TransformOutput") or {}
    input_uri, output_uri = render(source.get("S3Uri")), render(output.get("S3OutputPath"))
    split = transform_input.get("SplitType", "None")
    assemble = output.get("AssembleWith", "None")
    if split not in ("None", "Line"):
        raise StepFailed(f"Step {ctx.name}: SplitType {split} is not supported locally")
    if transform_input.get("CompressionType", "None") != "None":
        raise StepFailed(f"Step {ctx.name}: compressed transform input is not supported locally")
    content_type = transform_input.get("ContentType")
    accept = output.get("Accept")
    processing = args.get("DataProcessing") or {}
    request = {**args, "TransformJobName": ctx.job_name}
    arn = record_job(ctx.sagemaker, CREATE, request)

    model = ctx.sagemaker.describe_model(ModelName=args["ModelName"])
    container = model.get("PrimaryContainer") or (model.get("Containers") or [{}])[0]
    model_dir = ctx.work / "model"
    if container.get("ModelDataUrl"):
        files = s3files.download(ctx.objects, container["ModelDataUrl"], ctx.work / "model-data")
        archives.extract(files[0], model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    environment = {
        **(container.get("Environment") or {}),
        **{k: render(v) for k, v in (args.get("Environment") or {}).items()},
        "SAGEMAKER_BATCH": "true",
    }
    with ctx.log.open("a", encoding="utf-8") as log:
        log.write(
            f"# {ctx.name} (Transform) job {ctx.job_name}\n# model {args['ModelName']}: image "
            f"{container.get('Image')}, {container.get('ModelDataUrl')}\n"
            f"# input {input_uri} ({content_type}, SplitType {split}) -> {output_uri} "
            f"(Accept {accept}, AssembleWith {assemble})\n# DataProcessing {processing}\n"
        )
    try:
        served = serving.load(model_dir, container.get("Image"), environment)
    except serving.ServingError as exc:
        raise StepFailed(f"Step {ctx.name}: model {args['ModelName']}: {exc}") from None

    bucket, prefix = s3files.split_uri(input_uri)
    results = ctx.work / "output"
    artifacts = []
    count = 0
    for item in s3files.list_objects(ctx.objects, input_uri):
        if item["Key"].endswith("/"):
            continue
        relative = s3files.relative_key(item["Key"], prefix)
        body = ctx.objects.s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        records = _split(body, split)
        job = _Records(ctx.name, served, content_type, accept, processing, relative)
        if args.get("BatchStrategy") == "MultiRecord" and split == "Line":
            limit = int(args.get("MaxPayloadInMB") or _DEFAULT_PAYLOAD_MB) << 20
            answers = [a for batch in _batches(records, limit) for a in job.many(batch)]
        else:
            answers = [job.one(record) for record in records]
        joined = b"".join(_assemble(answer, assemble) for answer in answers)
        local = s3files.safe_join(results, f"{relative}.out")
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(joined)
        uri = f"{output_uri.rstrip('/')}/{relative}.out"
        s3files.upload_file(ctx.objects, local, uri)
        artifacts.append(Artifact(uri, local))
        count += len(records)
    if not artifacts:
        raise StepFailed(f"Step {ctx.name}: no S3 objects found under {input_uri}")
    with ctx.log.open("a", encoding="utf-8") as log:
        log.write(f"# {count} record(s) from {len(artifacts)} object(s) -> {output_uri}\n")
    properties = {**request, "TransformJobArn": arn, "TransformJobStatus": "Completed"}
    return StepOutcome(
        properties=properties,
        metadata={"TransformJob": {"Arn": arn}},
        artifacts=artifacts,
        job=(CREATE, request),
    )


def _split(body: bytes, split: str) -> list[bytes]:
    if split == "Line":
        return [line for line in body.splitlines() if line.strip()]
    return [body]


def _assemble(answer: bytes, assemble: str) -> bytes:
    if assemble == "Line":
        return answer.rstrip(b"\n") + b"\n"
    return answer


class _Records:
    """Records of one object through InputFilter, the model, JoinSource and OutputFilter."""

    def __init__(
        self,
        step: str,
        served: serving.Served,
        content_type: str | None,
        accept: str | None,
        processing: dict[str, Any],
        where: str,
    ) -> None:
        self.step, self.served, self.where = step, served, where
        self.content_type, self.accept = content_type, accept
        self.kind = serving.media_type(content_type)
        self.input_filter = processing.get("InputFilter", "$")
        self.join = processing.get("JoinSource", "None") == "Input"
        self.output_filter = processing.get("OutputFilter", "$")

    def one(self, record: bytes) -> bytes:
        response = self._invoke(self._request(record))
        return self._result(record, response.body, response.content_type)

    def many(self, records: list[bytes]) -> list[bytes]:
        """One request of many records, one per line; the answer has one line per record."""
        response = self._invoke(b"\n".join(self._request(r) for r in records) + b"\n")
        lines = [line for line in response.body.splitlines() if line.strip()]
        if len(lines) != len(records):
            raise StepFailed(
                f"Step {self.step}: {self.where}: the model answered {len(lines)} record(s) "
                f"for a mini-batch of {len(records)} (BatchStrategy MultiRecord)"
            )
        return [
            self._result(record, line, response.content_type)
            for record, line in zip(records, lines, strict=True)
        ]

    def _request(self, record: bytes) -> bytes:
        if self.input_filter == "$":
            return record
        return _encode(select(_decode(record, self.kind), self.input_filter), self.kind)

    def _invoke(self, request: bytes) -> serving.Response:
        try:
            return self.served.invoke(request, self.content_type, self.accept)
        except serving.ServingError as exc:
            raise StepFailed(
                f"Step {self.step}: {self.where}: the model answered {exc.status}: {exc}"
            ) from None

    def _result(self, record: bytes, answer: bytes, content_type: str | None) -> bytes:
        if not self.join and self.output_filter == "$":
            return answer
        out_kind = serving.media_type(content_type)
        result = _decode(answer, out_kind)
        if self.join:
            original = _decode(record, self.kind)
            if isinstance(original, dict):
                result, out_kind = {**original, "SageMakerOutput": result}, "application/json"
            else:
                head = original if isinstance(original, list) else [original]
                result = [*head, *(result if isinstance(result, list) else [result])]
                out_kind = self.kind
        if self.output_filter != "$":
            result = select(result, self.output_filter)
        return _encode(result, out_kind)


def _batches(records: list[bytes], limit: int) -> list[list[bytes]]:
    """Consecutive records grouped so each request stays within `limit` bytes."""
    batches: list[list[bytes]] = []
    size = 0
    for record in records:
        if batches and size + len(record) + 1 <= limit:
            batches[-1].append(record)
            size += len(record) + 1
        else:
            batches.append([record])
            size = len(record) + 1
    return batches


def _decode(data: bytes, kind: str) -> Any:
    """A record as JSON data: a CSV row is the array of its fields (numbers stay as text)."""
    text = data.decode("utf-8").strip()
    if kind in ("text/csv", "csv"):
        lines = text.split("\n")
        rows = [line.split(",") for line in lines]
        return rows[0] if len(rows) == 1 else rows
    try:
        return json.loads(text)
    except ValueError:
        return text


def _encode(value: Any, kind: str) -> bytes:
    if kind in ("text/csv", "csv"):
        items = value if isinstance(value, list) else [value]
        return ",".join(_cell(v) for v in items).encode("utf-8")
    return json.dumps(value).encode("utf-8")


def _cell(value: Any) -> str:
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


def select(document: Any, path: str) -> Any:
    """The documented JSONPath subset SageMaker accepts for InputFilter and OutputFilter."""
    path = path.strip()
    if not path.startswith("$"):
        raise StepFailed(f"JSONPath {path!r} must start with '$'")
    current, position = document, 1
    while position < len(path):
        match = _STEP.match(path, position)
        if match is None:
            raise StepFailed(f"JSONPath {path!r}: cannot parse {path[position:]!r}")
        position = match.end()
        name, quoted, inside = match.group(1), match.group(2), match.group(3)
        if name is not None or quoted is not None:
            key = name if name is not None else quoted
            if not isinstance(current, dict) or key not in current:
                raise StepFailed(f"JSONPath {path!r}: no {key!r} in the record")
            current = current[key]
        elif inside is None or inside.strip() == "*":
            current = list(current.values()) if isinstance(current, dict) else list(current)
        else:
            current = _index(current, inside.strip(), path)
    return current


def _index(current: Any, inside: str, path: str) -> Any:
    if not isinstance(current, list):
        raise StepFailed(f"JSONPath {path!r}: [{inside}] applies to an array")
    try:
        if ":" in inside:
            start, _, end = inside.partition(":")
            low = int(start) if start.strip() else None
            return current[low : int(end) if end.strip() else None]
        if "," in inside:
            return [current[int(i)] for i in inside.split(",")]
        return current[int(inside)]
    except (ValueError, IndexError):
        raise StepFailed(f"JSONPath {path!r}: [{inside}] is out of the record") from None
