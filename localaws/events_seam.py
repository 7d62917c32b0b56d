"""Seam: EventBridge delivers the S3, CloudWatch and SageMaker events the workflow relies on,
as on AWS.

The workflow is started by EventBridge rules: on S3's "Object Created" event under the
pipeline's input prefix (a bucket with EventBridge notifications on), and on CloudWatch's
"CloudWatch Alarm State Change" event when the model-drift alarm goes to ALARM. The rules
target the Step Functions state machine. A third rule sends SageMaker's "SageMaker Model
Package State Change" events (put by `localaws.sagemaker_seam`) to the approval function.
moto 5.2.5 has the parts (S3 sends events to EventBridge for buckets with an
EventBridgeConfiguration; EventBridge matches EventPatterns, prefix filters included) but not
the path end to end. Each gap is bridged here, through moto's own backends;
tests/test_localaws_events.py and tests/test_localaws_model_registry.py pin each one
(`test_moto_still_...`), so a bridge can go when moto closes its gap.

1. S3's events (moto/s3/notifications.py `_send_event_bridge_message`, moto/s3/models.py). AWS's
   shape is the S3 User Guide's "EventBridge event message structure" (awsdocs/amazon-s3-
   userguide, doc_source/ev-events.md): a UUID id per event, the time as ISO 8601, the bucket's
   ARN in resources, and a detail of version "0", bucket {name}, object {key, size, etag,
   version-id (versioned buckets), sequencer}, request-id, requester, source-ip-address and the
   reason: the API that created the object, PutObject, POST Object, CopyObject or
   CompleteMultipartUpload ("Using EventBridge", doc_source/EventBridge.md). moto says
   "ObjectCreated", spells "eTag", repeats one id, sequencer and request-id, gives "version-id":
   "null" on unversioned buckets and the time as epoch seconds; it sends to the rules of every
   bus of the region (S3 sends to the default bus) and sends several events per write:
   PutObject adds "Object Tags Added" (for the tags it was given, even none), and
   CompleteMultipartUpload an "Object Created" of its inner put and an "Object Tags Added"
   besides its own. CreateBucket sends an "Object Created" to matching rules of every account
   (moto/events/notifications.py), though S3 sends no event for a bucket. Here one event per
   object written, shaped as the guide's, goes to the bucket owner's default bus, none for a
   bucket; the other object events moto sends (deletes, tags, ACLs, restores) get the same
   envelope, and deletes their documented reason (DeleteObject) and deletion-type.
2. Step Functions targets: moto's `Rule.send_to_targets` raises NotImplementedError for them, so
   the S3 path drops the event for that rule and every later one, and PutEvents answers 500.
   Here such a target starts an execution of its state machine (StartExecution in the rule's
   account and region, in the backend the API serves: the ASL interpreter's when it is on) with
   a generated, unique name and the input the EventBridge User Guide describes ("Transforming
   target input", awsdocs/amazon-eventbridge-user-guide, doc_source/eb-transform-target-
   input.md; PutTargets' Target in the API reference): `Input` as given, or the part of the
   event `InputPath` selects, or the `InputTemplate` of `InputTransformer` with its
   `<placeholders>` filled from `InputPathsMap` and the predefined variables, or else the
   event itself, as JSON with its time in ISO 8601. In a JSON template a placeholder outside
   quotes becomes the value as JSON (a string quoted) and inside quotes the value as it is
   (EventBridge does not escape it); a path the event lacks gives null, or nothing inside
   quotes. moto's own InputTransformer (`EventTemplateParser`) inserts every string raw, so
   `{"key": <key>}` is not JSON; it remains what moto's own targets (SQS, logs) get.
3. Rules: moto delivers events to DISABLED rules; here a disabled rule matches nothing, as on
   AWS. moto's PutTargets accepts a state machine target without RoleArn, which EventBridge
   needs to start it; AWS refuses it ("RoleArn is required for target <arn>."), and so does
   this seam. (Such an AWS::Events::Rule in a stack is refused too, but moto's CloudFormation
   answers the stack's call with the error, where CloudFormation would fail the stack.)
4. Delivery: moto delivers in the call that put the event (an S3 PutObject would wait for it).
   EventBridge delivers asynchronously; here every delivery of an event to a target is queued
   on the account (`Account.deliveries`, a `Deliveries`) and made by one worker thread per
   account, in the order the events were put, so none is lost or reordered and no caller
   waits. A delivery that fails (a state machine that is gone, an input Step Functions
   refuses) is logged and kept in the log with its error, where EventBridge would retry and
   then drop it or send it to a dead-letter queue. `close_account` delivers what is queued,
   then stops the worker: nothing runs for the account after its `local_aws()` exits.
5. CloudWatch (moto/cloudwatch/models.py) sends no event when an alarm changes state. The
   CloudWatch User Guide, "Alarm events and EventBridge" (awsdocs/amazon-cloudwatch-user-guide,
   doc_source/cloudwatch-and-eventbridge.md): "CloudWatch sends events to Amazon EventBridge
   whenever a CloudWatch alarm changes alarm state". `Alarm.update_state` (what SetAlarmState
   and `localaws.alarms`' evaluation call) is wrapped: when the state value changes, the
   "CloudWatch Alarm State Change" event (source aws.cloudwatch, the alarm's ARN in resources,
   detail {alarmName, configuration {description, metrics}, previousState, state}, each state
   {value, reason, reasonData, timestamp}) goes to the account's default bus.
6. GetBucketNotificationConfiguration leaves out EventBridgeConfiguration, so a read-modify-
   write of a bucket's notifications would turn EventBridge off; it is put back.
7. Lambda targets: moto's `Rule.send_to_targets` raises NotImplementedError for them too. Here
   such a target invokes its function (moto's Lambda backend: the local one runs the Python
   handler in-process) with the target's input, as EventBridge invokes a function
   asynchronously (EventBridge User Guide, "Lambda functions as targets", and Lambda's
   "Invoking Lambda with events from other AWS services": InvocationType Event). Without a
   RoleArn on the target, EventBridge may invoke it only if the function's resource-based
   policy allows events.amazonaws.com (the rule's ARN as its SourceArn when the statement
   names one); without such a statement the delivery fails, as on AWS (EventBridge User
   Guide, "Using resource-based policies for Amazon EventBridge", AWS Lambda permissions:
   https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html; a
   target with a RoleArn is invoked with that role, which the local AWS does not evaluate,
   as it evaluates no IAM policy). An error of the function is recorded on the delivery
   (`Delivery.function_error`); the delivery itself succeeded, as for Lambda's asynchronous
   invocations, which Lambda retries and then drops.

`install()` swaps the replacements in and keeps moto's originals; `uninstall()` puts those back.
The local AWS installs the seam with the other workflow seams, when the first request for a
service beyond S3 and SageMaker arrives (see `localaws.server`): rules exist only after one.
"""

from __future__ import annotations

import copy
import datetime as dt
import fnmatch
import functools
import itertools
import json
import logging
import queue
import re
import secrets
import string
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from moto.cloudwatch.models import Alarm, MetricDataQuery
from moto.events.exceptions import ValidationException
from moto.events.models import EventsBackend, Rule, events_backends
from moto.events.utils import EventMessageType
from moto.s3 import models as s3_models
from moto.s3 import notifications as s3_notifications
from moto.s3.models import S3Backend
from moto.s3.responses import S3Response

from localaws import accounts
from localaws.accounts import Account
from localaws.patches import Patches

_LOG = logging.getLogger(__name__)

#: Where the local AWS's requests come from: an S3 event's source-ip-address.
LOCAL_IP = "127.0.0.1"
#: The detail's reason of S3's Object Created and Object Deleted events, per S3 event.
S3_REASONS = {
    "s3:ObjectCreated:Put": "PutObject",
    "s3:ObjectCreated:Post": "POST Object",
    "s3:ObjectCreated:Copy": "CopyObject",
    "s3:ObjectCreated:CompleteMultipartUpload": "CompleteMultipartUpload",
    "s3:ObjectRemoved:Delete": "DeleteObject",
}
#: How many deliveries an account's log keeps, newest last.
LOG_LENGTH = 1000
#: How long closing an account waits for its queued deliveries.
CLOSE_SECONDS = 30.0
#: A placeholder of an InputTemplate: <name>.
_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")
_REQUEST_ID_ALPHABET = string.ascii_uppercase + string.digits
#: S3's sequencers only grow: a process-wide clock in nanoseconds that never repeats.
_SEQUENCER = itertools.count(time.time_ns())
#: The writes (on this thread) whose S3 events are held until the write completes.
_WRITING = threading.local()
_MISSING = object()

_PATCHES = Patches()


def install() -> None:
    """Bridge moto's EventBridge gaps (idempotent)."""
    _PATCHES.apply(_replacements)


def uninstall() -> None:
    """Put moto's own functions and methods back."""
    _PATCHES.restore()


def installed() -> bool:
    """Whether moto's functions are currently replaced by this seam's."""
    return _PATCHES.applied


def _replacements() -> list[tuple[Any, str, Callable[[Any], Any]]]:
    """(owner, attribute, make the replacement from moto's original)."""
    return [
        (s3_notifications, "_send_event_bridge_message", lambda _: _s3_event),
        (s3_models, "events_send_notification", _no_bucket_event),
        (S3Response, "put_object", _one_event_per_write),
        (S3Response, "copy_object", _one_event_per_write),
        (S3Backend, "complete_multipart_upload", _one_event_per_write),
        (S3Response, "get_bucket_notification", _with_event_bridge_configuration),
        (Rule, "send_to_targets", lambda _: _send_to_targets),
        (EventsBackend, "put_targets", _role_required),
        (Alarm, "update_state", _state_change_event),
    ]


# -- deliveries ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """One event delivered, or not, to one target of a rule."""

    rule_arn: str
    target_id: str
    target_arn: str
    event_id: str
    #: The execution a state machine target started.
    execution_arn: str | None = None
    #: Why the delivery failed, when it did.
    error: str | None = None
    #: The error a Lambda target's function answered (its Lambda error document), if any.
    function_error: str | None = None


_Job = Callable[[], Delivery]


class Deliveries:
    """One account's EventBridge deliveries, made in the order of their events by one thread."""

    def __init__(self, account_id: str) -> None:
        self.account_id = account_id
        self._log: deque[Delivery] = deque(maxlen=LOG_LENGTH)
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._state = threading.Condition()
        self._pending = 0
        self._closed = False
        self._worker: threading.Thread | None = None

    def submit(self, job: _Job) -> bool:
        """Queue a delivery behind every one queued before; False once the account closed."""
        with self._state:
            if self._closed:
                _LOG.warning("account %s is closed: an event delivery is dropped", self.account_id)
                return False
            if self._worker is None:
                self._worker = threading.Thread(
                    target=self._run, name=f"eventbridge-{self.account_id}", daemon=True
                )
                self._worker.start()
            self._pending += 1
            self._jobs.put(job)  # under the lock: the queue's order is the submitters' order
        return True

    def wait(self, timeout: float) -> bool:
        """Wait until every delivery queued so far is made; False if `timeout` s pass first."""
        with self._state:
            return self._state.wait_for(lambda: self._pending == 0, timeout)

    def made(self) -> list[Delivery]:
        """The deliveries made so far (the last `LOG_LENGTH`), oldest first."""
        with self._state:
            return list(self._log)

    def failed(self) -> list[Delivery]:
        return [d for d in self.made() if d.error is not None]

    def close(self) -> None:
        """Make the deliveries queued, then stop the worker; later events are dropped."""
        with self._state:
            if self._closed:
                return
            self._closed = True
            worker = self._worker
            if worker is not None:
                self._jobs.put(None)
        if worker is not None:
            worker.join(CLOSE_SECONDS)
            if worker.is_alive():
                _LOG.warning("EventBridge deliveries of %s still run at close", self.account_id)

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            delivery = job()
            with self._state:
                self._log.append(delivery)
                self._pending -= 1
                self._state.notify_all()


def deliveries(account: Account) -> Deliveries:
    """The account's deliveries (made on first use)."""
    with account.lock:
        if not isinstance(account.deliveries, Deliveries):
            account.deliveries = Deliveries(account.account_id)
        return account.deliveries


def publish(account_id: str, region: str, event: dict[str, Any], bus: str = "default") -> None:
    """Put an AWS service's event on a bus of the account: each enabled rule it matches
    delivers it to its targets. `event` is in moto's form (its time in epoch seconds)."""
    event.setdefault("ingestion-time", time.time())
    found = events_backends[account_id][region].event_buses.get(bus)
    if found is None:
        return
    for rule in list(found.rules.values()):
        _send_to_targets(rule, event, transform_input=False)


def _send_to_targets(
    self: Rule, original_event: dict[str, Any], transform_input: bool = True
) -> None:
    """Rule.send_to_targets: queue the event's delivery to each target, if the rule is enabled
    and its pattern matches."""
    matched = self.event_pattern.matches_event(cast(EventMessageType, original_event))
    if self.state != "ENABLED" or not matched:
        return
    account = accounts.account(self.account_id)
    for target in list(self.targets):
        job = functools.partial(
            _deliver, self, copy.deepcopy(target), copy.deepcopy(original_event), transform_input
        )
        if account is None:  # moto used without a local AWS: deliver at once
            job()
        else:
            deliveries(account).submit(job)


def _deliver(
    rule: Rule, target: dict[str, Any], event: dict[str, Any], transform_input: bool
) -> Delivery:
    record = functools.partial(
        Delivery, rule.arn, str(target.get("Id", "")), str(target["Arn"]), str(event.get("id"))
    )
    try:
        if is_state_machine(target["Arn"]):
            return record(execution_arn=_start_execution(rule, target, event))
        if is_function(target["Arn"]):
            return record(function_error=_invoke_function(rule, target, event))
        # moto's own targets (SQS, logs, buses, ...) as moto delivers them, one at a time.
        if not transform_input:
            event.pop("ingestion-time", None)
        single = copy.copy(rule)
        single.targets = [target]
        _PATCHES.original(Rule, "send_to_targets")(single, event, transform_input)
        return record()
    except Exception as exc:
        _LOG.warning(
            "EventBridge did not deliver event %s to target %s of %s: %s",
            event.get("id"),
            target.get("Id"),
            rule.arn,
            exc,
        )
        return record(error=f"{type(exc).__name__}: {exc}")


def is_state_machine(arn: str) -> bool:
    parts = arn.split(":")
    return len(parts) > 6 and parts[2] == "states" and parts[5] == "stateMachine"


def is_function(arn: str) -> bool:
    parts = arn.split(":")
    return len(parts) > 6 and parts[2] == "lambda" and parts[5] == "function"


def _invoke_function(rule: Rule, target: dict[str, Any], event: dict[str, Any]) -> str | None:
    """Invoke the target's function with the target's input, if its resource-based policy
    lets EventBridge invoke it for this rule; the function's error document, if it raised."""
    from moto.awslambda.utils import get_backend

    parts = str(target["Arn"]).split(":")  # arn:aws:lambda:<region>:<account>:function:<name>
    backend = get_backend(parts[4], parts[3])
    name, version = parts[6], (parts[7] if len(parts) > 7 else None)
    function = backend.get_function(name, version)
    if not target.get("RoleArn") and not _events_may_invoke(function.policy.statements, rule.arn):
        raise PermissionError(
            f"EventBridge may not invoke {function.function_arn}: its resource-based policy "
            f"has no statement allowing events.amazonaws.com to invoke it for rule {rule.arn}"
        )
    text = target_input(target, event, rule.arn, rule.name)
    headers: dict[str, str] = {}
    payload = backend.invoke(name, version, text.encode(), {}, headers)
    if "x-amz-function-error" not in headers:
        return None
    return payload.decode() if isinstance(payload, bytes) else str(payload)


def _events_may_invoke(statements: list[dict[str, Any]], rule_arn: str) -> bool:
    """Whether a function's policy statements (as moto keeps them) allow EventBridge to invoke
    it for the rule: Allow, lambda:InvokeFunction, the events service (or anyone) as the
    principal, and no condition beyond the rule's ARN (AWS:SourceArn) and account
    (AWS:SourceAccount)."""
    for statement in statements:
        if statement.get("Effect", "Allow") != "Allow":
            continue
        if statement.get("Action") not in ("lambda:InvokeFunction", "lambda:*", "*"):
            continue
        principal = statement.get("Principal")
        if principal not in ("*", {"AWS": "*"}, {"Service": "events.amazonaws.com"}):
            continue
        if statement.get("InvokedViaFunctionUrl") or statement.get("FunctionUrlAuthType"):
            continue  # a Function URL's permission: for requests to the URL only
        conditions = dict(statement.get("Condition") or {})
        source = {
            **conditions.pop("ArnLike", {}),
            **conditions.pop("ArnEquals", {}),
        }
        pattern = source.pop("AWS:SourceArn", None)
        equals = dict(conditions.pop("StringEquals", {}))
        account = equals.pop("AWS:SourceAccount", None)
        if conditions or source or equals:
            continue  # a condition this seam does not evaluate: not a grant it relies on
        if pattern is not None and not fnmatch.fnmatchcase(rule_arn, str(pattern)):
            continue
        if account is None or account == rule_arn.split(":")[4]:
            return True
    return False


def _start_execution(rule: Rule, target: dict[str, Any], event: dict[str, Any]) -> str:
    """StartExecution of the target's state machine in the rule's account and region."""
    from moto.stepfunctions.responses import get_backend  # the backend the API serves

    text = target_input(target, event, rule.arn, rule.name)
    backend = get_backend(rule.account_id, rule.region_name)
    execution = backend.start_execution(target["Arn"], str(uuid.uuid4()), text)
    return str(execution.execution_arn)


def _role_required(original: Callable[..., None]) -> Callable[..., None]:
    def put_targets(
        self: EventsBackend, name: str, event_bus_arn: str | None, targets: list[dict[str, Any]]
    ) -> None:
        for target in targets:
            if is_state_machine(str(target.get("Arn", ""))) and not target.get("RoleArn"):
                raise ValidationException(f"RoleArn is required for target {target['Arn']}.")
        original(self, name, event_bus_arn, targets)

    return put_targets


# -- a target's input ------------------------------------------------------------------------


def delivered_event(event: dict[str, Any]) -> dict[str, Any]:
    """The event as EventBridge hands it to a target: moto's internal fields out, the time in
    ISO 8601."""
    shown = {k: v for k, v in event.items() if k != "ingestion-time"}
    shown["time"] = _iso_seconds(event.get("time"))
    return shown


def target_input(target: dict[str, Any], event: dict[str, Any], rule_arn: str, name: str) -> str:
    """The text a target receives for an event (moto's form): Input, InputPath or
    InputTransformer applied, or the event itself."""
    shown = delivered_event(event)
    if target.get("Input") is not None:
        return str(target["Input"])
    if target.get("InputPath"):
        found = _select(shown, str(target["InputPath"]))
        return json.dumps(None if found is _MISSING else found)
    transformer = target.get("InputTransformer")
    if transformer:
        predefined = {
            "aws.events.rule-arn": rule_arn,
            "aws.events.rule-name": name,
            "aws.events.event.ingestion-time": _iso_seconds(event.get("ingestion-time")),
            "aws.events.event": {k: v for k, v in shown.items() if k != "detail"},
            "aws.events.event.json": shown,
        }
        return transform(transformer, shown, predefined)
    return json.dumps(shown)


def transform(
    transformer: dict[str, Any], event: dict[str, Any], predefined: dict[str, Any] | None = None
) -> str:
    """InputTransformer's output for an event, as the EventBridge User Guide describes it."""
    template = str(transformer.get("InputTemplate", ""))
    values = dict(predefined or {})
    for name, path in (transformer.get("InputPathsMap") or {}).items():
        values[name] = _select(event, str(path))
    # A template of JSON (or a JSON string) places each placeholder in or out of quotes; any
    # other template is text, its placeholders replaced by the values' text.
    is_json = template.lstrip()[:1] in ("{", "[", '"')
    out: list[str] = []
    in_quotes = escaped = False
    at = 0
    while at < len(template):
        char = template[at]
        match = _PLACEHOLDER.match(template, at) if char == "<" else None
        if match is not None and match.group(1) in values:
            value = values[match.group(1)]
            out.append(_as_json(value) if is_json and not in_quotes else _as_text(value))
            at = match.end()
            continue
        if is_json:
            if escaped:
                escaped = False
            elif char == "\\" and in_quotes:
                escaped = True
            elif char == '"':
                in_quotes = not in_quotes
        out.append(char)
        at += 1
    return "".join(out)


def _as_json(value: Any) -> str:
    return "null" if value is _MISSING else json.dumps(value)


def _as_text(value: Any) -> str:
    if value is _MISSING:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


def _select(document: Any, path: str) -> Any:
    """What a JSON path selects: one value, a list of several, or _MISSING."""
    from jsonpath_ng.ext import parse

    found = [match.value for match in parse(path).find(document)]
    if not found:
        return _MISSING
    return found[0] if len(found) == 1 else found


def _iso_seconds(value: Any) -> str:
    """An event time (epoch seconds in moto's events, or text already) as EventBridge's."""
    if isinstance(value, str):
        return value
    seconds = time.time() if value is None else float(value)
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- S3 --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _S3Change:
    account_id: str
    event_name: str
    bucket: Any
    key: Any


def _s3_event(account_id: str, bucket: Any, event_name: Any, key: Any) -> None:
    """moto's S3 -> EventBridge hook, for buckets with EventBridge notifications on."""
    change = _S3Change(account_id, str(getattr(event_name, "value", event_name)), bucket, key)
    held = getattr(_WRITING, "changes", None)
    if held is not None:
        held.append(change)
    else:
        _send_s3_event(change)


def _one_event_per_write(original: Callable[..., Any]) -> Callable[..., Any]:
    """A write of moto's S3 (PutObject, CopyObject, CompleteMultipartUpload) that sends one
    event, when it completes: Object Created by its own API, not the events of its parts."""

    @functools.wraps(original)
    def write(*args: Any, **kwargs: Any) -> Any:
        if getattr(_WRITING, "changes", None) is not None:  # within a write: it sends
            return original(*args, **kwargs)
        held: list[_S3Change] = []
        _WRITING.changes = held
        try:
            result = original(*args, **kwargs)
        finally:
            _WRITING.changes = None
        created = [c for c in held if c.event_name.startswith("s3:ObjectCreated:")]
        if created:
            _send_s3_event(created[-1])
        return result

    return write


def _send_s3_event(change: _S3Change) -> None:
    bucket, key = change.bucket, change.key
    detail_type = s3_notifications._detail_type(change.event_name)
    found: dict[str, Any] = {"key": key.name}
    if detail_type != "Object Deleted" and getattr(key, "size", None) is not None:
        found["size"] = key.size
    if getattr(key, "etag", None):
        found["etag"] = key.etag.strip('"')
    version_id = getattr(key, "version_id", None)
    if version_id not in (None, "null"):
        found["version-id"] = str(version_id)
    found["sequencer"] = f"{next(_SEQUENCER):018X}"
    detail: dict[str, Any] = {
        "version": "0",
        "bucket": {"name": bucket.name},
        "object": found,
        "request-id": "".join(secrets.choice(_REQUEST_ID_ALPHABET) for _ in range(16)),
        "requester": change.account_id,
        "source-ip-address": LOCAL_IP,
    }
    if change.event_name in S3_REASONS:
        detail["reason"] = S3_REASONS[change.event_name]
    if detail_type == "Object Deleted":
        detail["deletion-type"] = "Permanently Deleted"  # moto sends none for delete markers
    event = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": "aws.s3",
        "account": change.account_id,
        "time": time.time(),
        "region": bucket.region_name,
        "resources": [bucket.arn],
        "detail": detail,
    }
    try:
        publish(change.account_id, bucket.region_name, event)
    except Exception:  # the write succeeded: its event must not fail it (as moto's own)
        _LOG.exception("S3 event of s3://%s/%s not sent to EventBridge", bucket.name, key.name)


def _no_bucket_event(original: Callable[..., None]) -> Callable[..., None]:
    """moto's events of S3 calls, less CreateBucket's: S3 sends none for a bucket (CloudTrail
    reports the call, and the local AWS has no CloudTrail)."""

    def send_notification(
        source: str, event_name: str, region: str, resources: Any, detail: Any
    ) -> None:
        if (source, event_name) != ("aws.s3", "CreateBucket"):
            original(source, event_name, region, resources, detail)

    return send_notification


def _with_event_bridge_configuration(original: Callable[..., Any]) -> Callable[..., Any]:
    def get_bucket_notification(self: S3Response) -> Any:
        response = original(self)
        config = self.backend.get_bucket_notification_configuration(self.bucket_name)
        if config is None or config.event_bridge is None or not isinstance(response, tuple):
            return response
        status, headers, body = response
        text = body.decode() if isinstance(body, bytes) else str(body)
        closing = "</NotificationConfiguration>"
        added = "<EventBridgeConfiguration></EventBridgeConfiguration>"
        if closing in text:
            text = text.replace(closing, added + closing)
        else:  # an otherwise empty configuration: <NotificationConfiguration .../>
            text = re.sub(
                r"<NotificationConfiguration([^>]*)/>",
                rf"<NotificationConfiguration\1>{added}{closing}",
                text,
            )
        headers.pop("content-length", None)
        return status, headers, text.encode() if isinstance(body, bytes) else text

    return get_bucket_notification


# -- CloudWatch ------------------------------------------------------------------------------


def _state_change_event(original: Callable[..., None]) -> Callable[..., None]:
    def update_state(self: Alarm, reason: str, reason_data: str, state_value: str) -> None:
        previous = alarm_state(self)
        original(self, reason, reason_data, state_value)
        if self.state_value != previous["value"]:
            try:
                _send_alarm_event(self, previous)
            except Exception:  # the state changed: its event must not undo that
                _LOG.exception("state change of alarm %s not sent to EventBridge", self.name)

    return update_state


def alarm_state(alarm: Alarm) -> dict[str, Any]:
    """An alarm's state as its events give it: value, reason, reasonData, timestamp."""
    state: dict[str, Any] = {"value": alarm.state_value, "reason": alarm.state_reason}
    # moto gives a new alarm reasonData "{}"; CloudWatch's initial state has none.
    if alarm.state_reason_data not in (None, "", "{}"):
        state["reasonData"] = alarm.state_reason_data
    stamp = alarm.state_updated_timestamp.replace(tzinfo=None)
    state["timestamp"] = stamp.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"
    return state


def _send_alarm_event(alarm: Alarm, previous: dict[str, Any]) -> None:
    account_id = alarm.alarm_arn.split(":")[4]
    changed = alarm.state_updated_timestamp.replace(tzinfo=dt.UTC)
    event = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": account_id,
        "time": changed.timestamp(),
        "region": alarm.region_name,
        "resources": [alarm.alarm_arn],
        "detail": {
            "alarmName": alarm.name,
            "configuration": alarm_configuration(alarm),
            "previousState": previous,
            "state": alarm_state(alarm),
        },
    }
    publish(account_id, alarm.region_name, event)


def alarm_configuration(alarm: Alarm) -> dict[str, Any]:
    """The configuration an alarm's events carry: description, and the metrics it watches."""
    config: dict[str, Any] = {}
    if alarm.description:
        config["description"] = alarm.description
    if alarm.rule:  # a composite alarm
        config["alarmRule"] = alarm.rule
    elif alarm.metric_data_queries:
        config["metrics"] = [_query(q) for q in alarm.metric_data_queries]
    else:
        stat = {
            "metric": {
                "dimensions": {d.name: d.value for d in alarm.dimensions},
                "name": alarm.metric_name,
                "namespace": alarm.namespace,
            },
            "period": alarm.period,
            "stat": alarm.statistic or alarm.extended_statistic,
        }
        if alarm.unit:
            stat["unit"] = alarm.unit
        # CloudWatch names a single metric with an id of its own.
        query_id = str(uuid.uuid5(uuid.NAMESPACE_URL, alarm.alarm_arn))
        config["metrics"] = [{"id": query_id, "metricStat": stat, "returnData": True}]
    return config


def _query(query: MetricDataQuery) -> dict[str, Any]:
    shown: dict[str, Any] = {"id": query.id}
    if query.expression:
        shown["expression"] = query.expression
    if query.label:
        shown["label"] = query.label
    if query.metric_stat is not None:
        metric = query.metric_stat.metric
        shown["metricStat"] = {
            "metric": {
                "dimensions": {d.name: d.value for d in metric.dimensions},
                "name": metric.metric_name,
                "namespace": metric.namespace,
            },
            "period": _number(query.metric_stat.period),
            "stat": query.metric_stat.stat,
        }
    shown["returnData"] = str(query.return_data).lower() != "false"
    return shown


def _number(value: Any) -> Any:
    try:
        return int(value)
    except (TypeError, ValueError):
        return value
