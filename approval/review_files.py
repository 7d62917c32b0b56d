"""What a reviewer reads beside the metrics: the comparison with the champion, the pictures.

The pipeline registers both with the model package as CustomerMetadataProperties (the S3 URI
of comparison.json, and of the pictures' folder; names in core.contracts), which the state
machine passes in the request (`reviewFiles`). They are read once,
when the approval opens: the comparison goes into the messages and the page, each picture is
made safe to inline (approval.svg) and stored, compressed, with the approval, so showing the
page later reads one item and nothing from S3.

Nothing here may stop an approval from opening: a package without these properties (a user's
own pipeline), a file that cannot be read or a picture that is refused leaves that part out,
with one log line.
"""

from __future__ import annotations

import json
import logging
import zlib
from dataclasses import dataclass, field
from typing import Any

from approval import aws
from core.contracts import PACKAGE_COMPARISON, PACKAGE_PICTURES, PICTURES

_LOG = logging.getLogger(__name__)

#: Largest comparison.json read (it is a few hundred bytes; anything larger is not ours).
MAX_COMPARISON_BYTES = 64 * 1024
#: Pictures are left out when, compressed, they would make the approval's item larger than
#: this (DynamoDB's item limit is 400 KB).
MAX_STORED_PICTURES_BYTES = 300 * 1024


@dataclass(frozen=True)
class ReviewFiles:
    comparison: dict[str, Any] | None = None
    #: Picture name -> safe inline SVG markup.
    pictures: dict[str, str] = field(default_factory=dict)


def fetch(model_package_arn: str, properties: dict[str, Any] | None = None) -> ReviewFiles:
    """The package's comparison and pictures, as far as they can be read.

    `properties` are the package's CustomerMetadataProperties as the state machine passes
    them (`reviewFiles`); without them (an older state machine) the package is described.
    """
    if properties is None:
        try:
            described = aws.client("sagemaker").describe_model_package(
                ModelPackageName=model_package_arn
            )
        except Exception as exc:  # the approval opens without them
            _LOG.warning("review files of %s: %s", model_package_arn, aws.error_code(exc))
            return ReviewFiles()
        properties = described.get("CustomerMetadataProperties") or {}
    comparison = _comparison(properties.get(PACKAGE_COMPARISON))
    pictures = _pictures(properties.get(PACKAGE_PICTURES))
    return ReviewFiles(comparison, pictures)


def _read(uri: str, limit: int) -> bytes | None:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not uri.startswith("s3://") or not bucket or not key:
        _LOG.warning("review file %s: not an s3:// URI", uri[:200])
        return None
    try:
        body = aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read(limit + 1)
    except Exception as exc:
        _LOG.warning("review file %s: %s", uri[:200], aws.error_code(exc))
        return None
    if len(body) > limit:
        _LOG.warning("review file %s: larger than %d bytes, left out", uri[:200], limit)
        return None
    return body


def _comparison(uri: Any) -> dict[str, Any] | None:
    if not isinstance(uri, str):
        return None
    body = _read(uri, MAX_COMPARISON_BYTES)
    try:
        document = json.loads(body) if body is not None else None
    except ValueError:
        _LOG.warning("review file %s: not JSON", uri[:200])
        return None
    return document if isinstance(document, dict) else None


def _pictures(folder: Any) -> dict[str, str]:
    if not isinstance(folder, str):
        return {}
    # Only opening an approval parses pictures: the page's cold start does not import XML.
    from approval.svg import SvgRejected, sanitize

    pictures = {}
    for name, file in PICTURES.items():
        body = _read(f"{folder.rstrip('/')}/{file}", 2 * 1024 * 1024)
        if body is None:
            continue
        try:
            pictures[name] = sanitize(body.decode("utf-8"), f"pic-{name.replace('_', '-')}")
        except (SvgRejected, UnicodeDecodeError) as refused:
            _LOG.warning("picture %s refused: %s", file, refused)
    if len(pack(pictures)) > MAX_STORED_PICTURES_BYTES:
        _LOG.warning("pictures left out: larger than %d bytes", MAX_STORED_PICTURES_BYTES)
        return {}
    return pictures


def pack(pictures: dict[str, str]) -> bytes:
    """The pictures as stored with the approval: compressed JSON."""
    return zlib.compress(json.dumps(pictures, separators=(",", ":")).encode("utf-8"), 6)


def unpack(stored: bytes) -> dict[str, str]:
    pictures = json.loads(zlib.decompress(stored))
    return {str(k): str(v) for k, v in pictures.items()} if isinstance(pictures, dict) else {}
