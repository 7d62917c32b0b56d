"""S3: URIs, buckets and content-addressed uploads."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError


def split_s3_uri(uri: str) -> tuple[str, str]:
    """("bucket", "key/of/object") from "s3://bucket/key/of/object"."""
    if not uri.startswith("s3://"):
        raise ValueError(f"{uri!r}: expected an s3://bucket/key URI")
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def bucket_exists(s3: Any, bucket: str) -> bool:
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError:
        return False
    return True


def ensure_bucket(s3: Any, bucket: str, region: str) -> None:
    """Create `bucket` in `region` unless it exists."""
    if bucket_exists(s3, bucket):
        return
    options = (
        {}
        if region == "us-east-1"
        else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    )
    s3.create_bucket(Bucket=bucket, **options)


def object_exists(s3: Any, bucket: str, key: str) -> bool:
    """True when the object exists; ClientError NoSuchBucket when the bucket does not."""
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return True
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        if code == "NoSuchBucket" or (code == "404" and not bucket_exists(s3, bucket)):
            error = {"Error": {"Code": "NoSuchBucket", "Message": f"bucket {bucket} not found"}}
            raise ClientError(error, "HeadObject") from None
        if code in {"404", "NoSuchKey"}:
            return False
        raise


def read_object(s3: Any, uri: str) -> bytes:
    bucket, key = split_s3_uri(uri)
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def enable_eventbridge(s3: Any, bucket: str) -> bool:
    """Turn on the bucket's EventBridge notifications, keeping its other notifications.

    PutBucketNotificationConfiguration replaces the whole configuration, so the current one
    is read and sent back with EventBridgeConfiguration added (S3 user guide, "Enabling
    Amazon EventBridge"). True when it changed anything.
    """
    current = s3.get_bucket_notification_configuration(Bucket=bucket)
    current.pop("ResponseMetadata", None)
    if "EventBridgeConfiguration" in current:
        return False
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={**current, "EventBridgeConfiguration": {}},
    )
    return True
